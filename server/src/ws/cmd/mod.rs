//! The requests of an authenticated connection, one file each, as
//! mini-redis's `cmd/`. Every request returns the same [`Reply`]; `Err` ends
//! the connection (a second `auth`, or an `ack` that storage refused, once
//! its commit completes).
//!
//! - `ping`: answered here with `pong`.
//! - `ack`: deliveries received and receipts seen.
//! - `prekeys`: `publish_prekeys`.
//! - `bundles`: `fetch_bundles`.
//! - `directory`: `directory_search`.
//! - `send`: a message for the group commit, answered once it commits.
//! - `urgent`: `acknowledge` (an urgent or stat message) and `recall`.

mod ack;
mod bundles;
mod directory;
mod prekeys;
pub(crate) mod send;
mod urgent;

use std::future::Future;
use std::pin::Pin;

use curbside_protocol::error::ErrorCode;
use curbside_protocol::frames::{ClientFrame, ErrorDetails, ServerFrame};

use super::connection::End;
use super::handler::Handler;
use crate::error::{ApiError, ServerError};

/// How a request is answered.
pub(super) enum Reply {
    /// With nothing: an `ack` of receipts alone.
    Nothing,
    /// With this frame.
    Frame(ServerFrame),
    /// With an `error` frame naming the request.
    Refused(Refusal),
    /// With a frame or a refusal once a commit completes: a `send`.
    Later(Pending),
    /// With nothing once a commit completes, or the connection's end if
    /// storage refused it: an `ack` (the connection goes on meanwhile).
    Committing(Commit),
}

/// An answer that waits for a commit.
pub(super) type Pending = Pin<Box<dyn Future<Output = Result<ServerFrame, Refusal>> + Send>>;

/// A commit whose failure ends the connection.
pub(super) type Commit = Pin<Box<dyn Future<Output = Result<(), End>> + Send>>;

impl From<Result<ServerFrame, Refusal>> for Reply {
    fn from(result: Result<ServerFrame, Refusal>) -> Self {
        match result {
            Ok(frame) => Self::Frame(frame),
            Err(refusal) => Self::Refused(refusal),
        }
    }
}

/// Why a request was refused: the error, and detail for the codes that have some.
pub(super) struct Refusal {
    /// The code and message.
    pub(super) error: ApiError,
    /// `stale_devices`' devices, `rate_limited`'s wait.
    pub(super) details: Option<ErrorDetails>,
}

impl Refusal {
    /// A refusal with details.
    pub(super) fn with_details(error: ApiError, details: ErrorDetails) -> Self {
        Self {
            error,
            details: Some(details),
        }
    }
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        Self { error, details: None }
    }
}

impl From<ServerError> for Refusal {
    fn from(e: ServerError) -> Self {
        ApiError::from(e).into()
    }
}

/// Executes one request of an authenticated connection.
pub(super) async fn execute(handler: &mut Handler, frame: ClientFrame) -> Result<Reply, End> {
    match frame {
        ClientFrame::Auth { .. } => Err(End::Error(
            ErrorCode::ChallengeReplayed,
            "this connection is already authenticated".into(),
        )),
        ClientFrame::Ping { id } => Ok(Reply::Frame(ServerFrame::Pong { id })),
        ClientFrame::Ack {
            delivery_ids,
            receipt_ids,
        } => ack::execute(handler, &delivery_ids, &receipt_ids).await,
        ClientFrame::PublishPrekeys {
            id,
            signed_prekey,
            one_time_prekeys,
        } => {
            let signed_prekey = signed_prekey.as_ref().map(|s| s.as_slice());
            prekeys::execute(handler, id, signed_prekey, &one_time_prekeys).await
        }
        ClientFrame::FetchBundles { id, user_id } => bundles::execute(handler, id, user_id).await,
        ClientFrame::DirectorySearch { id, name, specialty } => {
            directory::execute(handler, id, name.as_deref(), specialty.as_deref()).await
        }
        ClientFrame::Send {
            id,
            message_id,
            kind,
            recipients,
            priority,
            escalation,
            role,
            consult,
        } => {
            let request = send::SendRequest {
                id,
                message_id,
                kind,
                recipients,
                priority,
                escalation,
                role,
                consult,
            };
            send::execute(handler, request).await
        }
        ClientFrame::Acknowledge {
            id,
            sender,
            message_id,
        } => urgent::acknowledge(handler, id, sender, message_id).await,
        ClientFrame::Recall { id, message_id } => urgent::recall(handler, id, message_id).await,
    }
}
