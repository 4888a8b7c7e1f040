//! The connection: one WebSocket, read a frame at a time and written a frame
//! or a batch of frames at a time (a batch is fed whole, then flushed once:
//! one write to the socket rather than one per frame). Every write is
//! bounded by the write timeout; a read says what arrived, or why the
//! connection ends; closing sends an error frame and a close frame.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use curbside_protocol::error::ErrorCode;
use curbside_protocol::frames::{ErrorDetails, ServerFrame};
use curbside_protocol::ids::RequestId;
use futures_util::{SinkExt, StreamExt};

use crate::error::{ApiError, ServerError};

/// Bytes of frames fed before a flush: a page of 1 KiB messages is one
/// write, a page of large ones a write per MiB or so, each within the write
/// timeout.
const FLUSH_BYTES: usize = 1 << 20;

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
        error.log("websocket");
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

/// What the peer sent.
pub(super) enum Incoming {
    /// A text frame: a client frame, to be parsed.
    Text(Utf8Bytes),
    /// A binary frame (the protocol uses none).
    Binary,
    /// A ping or a pong (the WebSocket layer answers pings).
    Control,
}

/// One WebSocket connection.
pub(super) struct Connection {
    socket: WebSocket,
    write_timeout: Duration,
}

impl Connection {
    /// A connection whose writes each wait at most `write_timeout`.
    pub(super) fn new(socket: WebSocket, write_timeout: Duration) -> Self {
        Self {
            socket,
            write_timeout,
        }
    }

    /// Reads the next frame: `Err(End::Gone)` when the peer closed or went
    /// away, `frame_too_large` for an oversized frame. Cancel-safe (nothing
    /// is lost when another branch of a `select!` wins).
    pub(super) async fn read(&mut self) -> Result<Incoming, End> {
        match self.socket.next().await {
            None | Some(Ok(Message::Close(_))) => Err(End::Gone),
            Some(Err(e)) => Err(read_error(&e)),
            Some(Ok(Message::Text(text))) => Ok(Incoming::Text(text)),
            Some(Ok(Message::Binary(_))) => Ok(Incoming::Binary),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => Ok(Incoming::Control),
        }
    }

    /// Sends one frame.
    pub(super) async fn send(&mut self, frame: &ServerFrame) -> Result<(), End> {
        self.send_all(std::slice::from_ref(frame)).await
    }

    /// Sends these frames, in order: fed to the socket and flushed once per
    /// [`FLUSH_BYTES`] (one write for a page of small frames), each flush's
    /// share bounded by the write timeout.
    pub(super) async fn send_all(&mut self, frames: &[ServerFrame]) -> Result<(), End> {
        let mut texts = Vec::new();
        let mut bytes = 0;
        for (i, frame) in frames.iter().enumerate() {
            let text = serde_json::to_string(frame)
                .map_err(|_| End::Error(ErrorCode::Internal, "encoding".into()))?;
            bytes += text.len();
            texts.push(text);
            if bytes >= FLUSH_BYTES || i + 1 == frames.len() {
                self.write(std::mem::take(&mut texts)).await?;
                bytes = 0;
            }
        }
        Ok(())
    }

    /// Feeds these texts and flushes, within the write timeout.
    async fn write(&mut self, texts: Vec<String>) -> Result<(), End> {
        let socket = &mut self.socket;
        let write = async move {
            for text in texts {
                socket.feed(Message::Text(text.into())).await?;
            }
            socket.flush().await
        };
        match tokio::time::timeout(self.write_timeout, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::Gone),
            Err(_) => {
                tracing::warn!("closing a connection whose peer does not read (write timeout)");
                Err(End::Gone)
            }
        }
    }

    /// Sends an `error` frame (and counts it).
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
                tokio::time::timeout(self.write_timeout, self.socket.send(Message::Close(Some(close)))).await;
        }
        let _ = tokio::time::timeout(self.write_timeout, self.socket.close()).await;
    }
}

/// Why a read failed: an oversized frame (tungstenite's `Error::Capacity`,
/// which axum's error wraps), or the peer went away.
fn read_error(e: &axum::Error) -> End {
    let oversized = std::error::Error::source(e)
        .and_then(|cause| cause.downcast_ref::<tungstenite::Error>())
        .is_some_and(|cause| matches!(cause, tungstenite::Error::Capacity(_)));
    if oversized {
        End::Error(
            ErrorCode::FrameTooLarge,
            "frame exceeds the maximum frame size".into(),
        )
    } else {
        End::Gone
    }
}

#[cfg(test)]
mod tests {
    use tungstenite::error::CapacityError;

    use super::*;

    #[test]
    fn an_oversized_frame_is_told_by_its_error_type() {
        let too_long = CapacityError::MessageTooLong { size: 2, max_size: 1 };
        let e = axum::Error::new(tungstenite::Error::Capacity(too_long));
        assert!(matches!(read_error(&e), End::Error(ErrorCode::FrameTooLarge, _)));
        let e = axum::Error::new(tungstenite::Error::ConnectionClosed);
        assert!(matches!(read_error(&e), End::Gone));
        // Text alone does not make a frame oversized.
        let e = axum::Error::new(std::io::Error::other("Space limit exceeded: Message too long"));
        assert!(matches!(read_error(&e), End::Gone));
    }
}
