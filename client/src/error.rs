//! The client library's error type.

use curbside_protocol::error::ErrorCode;
use curbside_protocol::frames::ErrorDetails;

/// Errors of the client library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Network or file I/O failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// TLS configuration or handshake failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// The WebSocket failed.
    #[error("WebSocket: {0}")]
    WebSocket(String),
    /// An HTTP request failed before the server answered.
    #[error("HTTP: {0}")]
    Http(String),
    /// The server refused a request.
    #[error("server refused ({code}): {message}")]
    Server {
        /// The stable code.
        code: ErrorCode,
        /// The server's message.
        message: String,
        /// Extra detail, for some codes.
        details: Option<ErrorDetails>,
    },
    /// Cryptography failed (a bad bundle signature, a message that does not decrypt…).
    #[error("crypto: {0}")]
    Crypto(#[from] curbside_crypto::Error),
    /// The server sent something that does not follow the protocol.
    #[error("protocol: {0}")]
    Protocol(String),
    /// Refused on this device before anything was sent (for example: the
    /// recipient has no device to send to). Resending would not help.
    #[error("{0}")]
    Refused(String),
    /// Nothing was sent: these colleagues' identity keys changed since the
    /// user verified them (compare safety numbers again, or choose to send
    /// anyway with [`crate::Client::allow_changed`]).
    #[error("identity keys changed since you verified them: {}", .0.iter().map(|u| u.as_str()).collect::<Vec<_>>().join(", "))]
    KeysChanged(Vec<curbside_protocol::ids::UserId>),
    /// The server did not answer in time.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The connection is closed.
    #[error("connection closed")]
    Closed,
    /// The local profile could not be read or written.
    #[error("profile: {0}")]
    Profile(String),
}

impl ClientError {
    /// The server's error code, if the server refused the request.
    #[must_use]
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Server { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// True when the request may succeed later unchanged: the connection
    /// failed, or the server could not take it now (shutting down, storage
    /// unavailable, rate limited, an internal error). Such a message is
    /// kept in the outbox and resent with the same id (never duplicated).
    /// `recipient_queue_full` is not retryable: it is a refusal the sender
    /// sees (the recipient must come online first), not storage trouble.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Io(_)
                | Self::Tls(_)
                | Self::WebSocket(_)
                | Self::Closed
                | Self::Protocol(_)
                | Self::Timeout(_)
        ) || matches!(
            self.code(),
            Some(
                ErrorCode::ShuttingDown
                    | ErrorCode::Internal
                    | ErrorCode::RateLimited
                    | ErrorCode::StorageUnavailable
            )
        )
    }
}

/// Result alias.
pub type Result<T, E = ClientError> = core::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::{ClientError, ErrorCode};

    #[test]
    fn a_local_refusal_is_not_queued_for_resending_but_a_busy_server_is() {
        assert!(!ClientError::Refused("no device to send to".into()).is_retryable());
        assert!(ClientError::Timeout("no reply".into()).is_retryable());
        assert!(ClientError::Closed.is_retryable());
        let server = |code| ClientError::Server {
            code,
            message: String::new(),
            details: None,
        };
        assert!(server(ErrorCode::StorageUnavailable).is_retryable());
        assert!(server(ErrorCode::ShuttingDown).is_retryable());
        assert!(!server(ErrorCode::StaleDevices).is_retryable());
        assert!(!server(ErrorCode::Forbidden).is_retryable());
        // A full recipient queue is a refusal: the message is not kept for
        // automatic resending (the sender is told to try again later).
        assert!(!server(ErrorCode::RecipientQueueFull).is_retryable());
    }
}
