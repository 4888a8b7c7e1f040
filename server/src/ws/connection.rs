//! The connection: sends frames (each write bounded by the write timeout)
//! and closes with an error frame and a close frame.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use curbside_protocol::error::ErrorCode;
use curbside_protocol::frames::{ErrorDetails, ServerFrame};
use curbside_protocol::ids::RequestId;
use futures_util::stream::SplitSink;
use futures_util::SinkExt;

use crate::error::{ApiError, ServerError};
use crate::AppState;

/// Why a connection ends.
pub(super) enum End {
    /// The peer closed or went away.
    Gone,
    /// Close with this error frame.
    Error(ErrorCode, String),
}

impl From<ServerError> for End {
    fn from(e: ServerError) -> Self {
        let error = ApiError::from(e);
        tracing::warn!(code = error.code.as_str(), "connection ended by a server error");
        Self::Error(error.code, error.message)
    }
}

impl End {
    /// The error this connection ends with, if any.
    pub(super) fn as_ref(&self) -> Option<(ErrorCode, &str)> {
        match self {
            Self::Gone => None,
            Self::Error(code, message) => Some((*code, message.as_str())),
        }
    }
}

pub(super) struct Connection {
    pub(super) state: AppState,
    pub(super) sink: SplitSink<WebSocket, Message>,
    pub(super) write_timeout: Duration,
}

impl Connection {
    pub(super) async fn send(&mut self, frame: &ServerFrame) -> Result<(), End> {
        let text =
            serde_json::to_string(frame).map_err(|_| End::Error(ErrorCode::Internal, "encoding".into()))?;
        match tokio::time::timeout(self.write_timeout, self.sink.send(Message::Text(text.into()))).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::Gone),
            Err(_) => {
                tracing::warn!("closing a connection whose peer does not read (write timeout)");
                Err(End::Gone)
            }
        }
    }

    pub(super) async fn send_error(
        &mut self,
        id: Option<RequestId>,
        code: ErrorCode,
        message: String,
        details: Option<ErrorDetails>,
    ) -> Result<(), End> {
        crate::metrics::count_error(code);
        self.send(&ServerFrame::Error {
            id,
            code,
            message,
            details,
        })
        .await
    }

    /// Sends an error frame (if possible) and a close frame.
    pub(super) async fn close(mut self, end: End) {
        if let End::Error(code, message) = end {
            tracing::info!(code = code.as_str(), "closing connection");
            let _ = self.send_error(None, code, message, None).await;
            let close = CloseFrame {
                code: code.ws_close_code(),
                reason: code.as_str().into(),
            };
            let _ =
                tokio::time::timeout(self.write_timeout, self.sink.send(Message::Close(Some(close)))).await;
        }
        let _ = tokio::time::timeout(self.write_timeout, self.sink.close()).await;
    }
}

pub(super) fn read_error(e: &axum::Error) -> End {
    let text = e.to_string();
    if text.contains("too long") || text.contains("Space limit") {
        End::Error(
            ErrorCode::FrameTooLarge,
            "frame exceeds the maximum frame size".into(),
        )
    } else {
        End::Gone
    }
}
