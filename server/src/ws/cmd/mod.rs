//! One file per request; this one reads a text frame and dispatches it.

mod ack;
mod bundles;
mod prekeys;
mod send;

use curbside_protocol::error::ErrorCode;
use curbside_protocol::frames::{parse_client_frame, ClientFrame, ErrorDetails, ServerFrame};

use super::connection::End;
use super::session::Session;
use crate::error::ApiError;

/// Answers one text frame.
pub(super) async fn handle_text(session: &mut Session, text: &str) -> Result<(), End> {
    let parsed = parse_client_frame(text);
    // Read once: errors name the request they answer.
    let id = match &parsed {
        Ok(frame) => frame.id().cloned(),
        Err(e) => e.id.clone(),
    };
    if let Err(wait) = session.rate.take() {
        // The refused frame's id, so that a pipelining client knows which
        // request to retry.
        return session
            .conn
            .send_error(
                id,
                ErrorCode::RateLimited,
                "too many frames".into(),
                Some(ErrorDetails::RetryAfter { retry_after_ms: wait }),
            )
            .await;
    }
    let frame = match parsed {
        Ok(frame) => frame,
        Err(e) => return session.conn.send_error(id, e.code, e.message, None).await,
    };
    let result = match frame {
        ClientFrame::Auth { .. } => {
            return Err(End::Error(
                ErrorCode::ChallengeReplayed,
                "this connection is already authenticated".into(),
            ));
        }
        ClientFrame::Ping { id } => return session.conn.send(&ServerFrame::Pong { id }).await,
        ClientFrame::Ack {
            delivery_ids,
            receipt_ids,
        } => return ack::acknowledge(session, &delivery_ids, &receipt_ids).await,
        ClientFrame::PublishPrekeys {
            id,
            signed_prekey,
            one_time_prekeys,
        } => prekeys::publish(
            session,
            signed_prekey.as_ref().map(|s| s.as_slice()),
            &one_time_prekeys,
        )
        .await
        .map(|n| (id, n))
        .map(|(id, one_time_prekeys)| ServerFrame::PrekeysPublished { id, one_time_prekeys })
        .map_err(|e| (e, None)),
        ClientFrame::FetchBundles { id, user_id } => bundles::fetch_bundles(session, &user_id)
            .await
            .map(|devices| ServerFrame::Bundles { id, user_id, devices })
            .map_err(|e| (e, None)),
        ClientFrame::DirectorySearch { id, name, specialty } => session
            .state
            .store
            .bounded(
                session
                    .state
                    .store
                    .directory(name.as_deref(), specialty.as_deref()),
            )
            .await
            .map(|clinicians| ServerFrame::DirectoryResults { id, clinicians })
            .map_err(|e| (ApiError::from(e), None)),
        ClientFrame::Send {
            id,
            message_id,
            kind,
            recipients,
        } => match send::send(session, id.clone(), message_id, kind, recipients).await {
            Ok(pending) => {
                session.sends.push_back(pending);
                return Ok(());
            }
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(reply) => session.conn.send(&reply).await,
        Err((error, details)) => {
            session
                .conn
                .send_error(id, error.code, error.message, details)
                .await
        }
    }
}
