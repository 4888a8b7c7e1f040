//! Decoding rows: the typed ids and values the store reads back from its
//! tables. A value the protocol would refuse (an id out of range, a malformed
//! user id) means the database is corrupt, and is reported so, never
//! passed on.

use curbside_protocol::frames::MessageKind;
use curbside_protocol::ids::{AttachmentId, DeviceId, MessageId, UserId};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::error::ServerError;

/// The error for a value the database should never hold.
pub(super) fn corrupt(what: &str) -> ServerError {
    ServerError::Database(sqlx::Error::Protocol(format!("invalid {what} in database")))
}

/// A message kind as stored (`kind` columns); unknown kinds read as messages.
pub(super) fn kind_from_str(s: &str) -> MessageKind {
    match s {
        "referral" => MessageKind::Referral,
        "receipt" => MessageKind::Receipt,
        "control" => MessageKind::Control,
        _ => MessageKind::Message,
    }
}

/// The user id in column `col`.
pub(super) fn user_id(row: &AnyRow, col: &str) -> Result<UserId, ServerError> {
    UserId::new(row.try_get::<String, _>(col)?).map_err(|_| corrupt("user id"))
}

/// The device id in column `col`.
pub(super) fn device_id(row: &AnyRow, col: &str) -> Result<DeviceId, ServerError> {
    u32::try_from(row.try_get::<i64, _>(col)?)
        .map(DeviceId)
        .map_err(|_| corrupt("device id"))
}

/// The message id in column `col`.
pub(super) fn message_id(row: &AnyRow, col: &str) -> Result<MessageId, ServerError> {
    MessageId::new(row.try_get::<String, _>(col)?).map_err(|_| corrupt("message id"))
}

/// The attachment id in column `col`.
pub(super) fn attachment_id(row: &AnyRow, col: &str) -> Result<AttachmentId, ServerError> {
    AttachmentId::new(row.try_get::<String, _>(col)?).map_err(|_| corrupt("attachment id"))
}

/// A `COUNT(*) AS n` as an unsigned number.
pub(super) fn count(row: &AnyRow) -> Result<u64, ServerError> {
    Ok(u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0))
}
