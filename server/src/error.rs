//! Server errors: [`ServerError`] for startup and storage, [`ApiError`] for
//! what a client is told (a stable code and a generic message; details go to
//! the log, never to the client).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use curbside_protocol::error::{ErrorBody, ErrorCode};

/// Errors of the server itself.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A file-system operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The cause.
        source: std::io::Error,
    },
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database's schema does not match this server (migrations
    /// missing, changed, unknown, or not applicable by this role): what is
    /// wrong and what to run.
    #[error("database schema: {0}")]
    Schema(String),
    /// TLS setup failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// A file the server needs is empty, damaged, unreadable or cannot be
    /// written (which file, what is wrong, what to do).
    #[error(transparent)]
    File(#[from] crate::durable::FileError),
    /// The configuration is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// Storage refused a request that was part of a failed group commit
    /// (the cause is logged once for the whole batch).
    #[error("storage unavailable")]
    Unavailable,
    /// A send refused whole because a recipient device's queue is at its
    /// quota (`recipient_queue_full`; nothing of it was stored).
    #[error(transparent)]
    QueueFull(#[from] crate::store::QueueFull),
}

impl ServerError {
    pub(crate) fn io(what: &'static str, source: std::io::Error) -> Self {
        Self::Io { what, source }
    }

    /// True when the database or the disk, not a bug, refused: the pool timed
    /// out or is closed, the connection broke, the disk is full or failing,
    /// the database is busy, read-only or shutting down, a statement timed
    /// out. Such a refusal is retryable; nothing of the request was stored.
    #[must_use]
    pub fn is_storage_unavailable(&self) -> bool {
        match self {
            Self::Database(e) => storage_unavailable(e),
            Self::Io { .. } | Self::Unavailable => true,
            _ => false,
        }
    }
}

/// See [`ServerError::is_storage_unavailable`].
fn storage_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // Primary result codes (the low byte of an extended code):
                // BUSY, LOCKED, NOMEM, READONLY, IOERR, CORRUPT, FULL,
                // CANTOPEN, PROTOCOL, NOTADB.
                let code = code.parse::<i64>().unwrap_or_default();
                matches!(code & 0xff, 5 | 6 | 7 | 8 | 10 | 11 | 13 | 14 | 15 | 26)
            } else if db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>().is_some() {
                // SQLSTATE classes: 08 connection exception, 53 insufficient
                // resources (disk full, out of memory, too many connections),
                // 57 operator intervention (statement timeout, shutdown),
                // 58 system error; 40001/40P01 serialisation and deadlock;
                // 25006 read-only transaction (a standby).
                ["08", "53", "57", "58"]
                    .iter()
                    .any(|class| code.starts_with(class))
                    || matches!(&*code, "40001" | "40P01" | "25006")
            } else {
                false
            }
        }
        _ => false,
    }
}

/// An error answered to a client.
#[derive(Debug)]
pub struct ApiError {
    /// The stable code.
    pub code: ErrorCode,
    /// A message safe to show (no secrets, no content, no internals).
    pub message: String,
    /// What went wrong inside, for the log only (never sent): the detail
    /// of an internal error or of a storage refusal. A refusal of the
    /// request itself (a bad field, a missing role) has none.
    pub cause: Option<String>,
}

impl ApiError {
    /// An error with a code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            cause: None,
        }
    }
}

impl ApiError {
    /// `invalid_request`, naming the field and what is wrong with it.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    /// The refusal of a request because storage is unavailable.
    #[must_use]
    pub fn storage_unavailable() -> Self {
        Self::new(
            ErrorCode::StorageUnavailable,
            "the server's storage is unavailable and nothing was stored; retry later with the same ids",
        )
    }
}

impl ApiError {
    /// Logs the error once, where it leaves the server (`edge`: an HTTP
    /// response or a WebSocket error frame), with its cause: an internal
    /// error as an error, a storage refusal as a warning. A refusal of the
    /// request itself is the caller's doing and is not logged here.
    pub fn log(&self, edge: &'static str) {
        let Some(cause) = &self.cause else {
            return;
        };
        if self.code == ErrorCode::Internal {
            tracing::error!(code = self.code.as_str(), edge, cause = %cause, "internal error");
        } else {
            tracing::warn!(code = self.code.as_str(), edge, cause = %cause, "request refused");
        }
    }
}

/// A server error becomes what the client is told, keeping its detail as
/// the cause (logged at the edge, see [`ApiError::log`]).
impl From<ServerError> for ApiError {
    fn from(e: ServerError) -> Self {
        if let ServerError::QueueFull(full) = &e {
            return Self::new(ErrorCode::RecipientQueueFull, full.message());
        }
        let mut error = if e.is_storage_unavailable() {
            Self::storage_unavailable()
        } else {
            Self::new(ErrorCode::Internal, "internal server error")
        };
        error.cause = Some(e.to_string());
        error
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ServerError::Database(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log("http");
        crate::metrics::count_error(self.code);
        let status =
            StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = ErrorBody {
            code: self.code,
            message: self.message,
        };
        (status, axum::Json(body)).into_response()
    }
}
