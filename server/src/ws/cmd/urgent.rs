//! `acknowledge`: an urgent or stat message acknowledged (its held
//! escalation withdrawn); `recall`: a message's undelivered copies deleted.

use curbside_protocol::error::ErrorCode;
use curbside_protocol::frames::ServerFrame;
use curbside_protocol::ids::{MessageId, RequestId, UserId};

use super::{Refusal, Reply};
use crate::error::ApiError;
use crate::store::{now_ms, UrgentProblem};
use crate::ws::connection::End;
use crate::ws::handler::Handler;

/// Answers `acknowledged` once the acknowledgement committed.
pub(super) async fn acknowledge(
    handler: &mut Handler,
    id: RequestId,
    sender: UserId,
    message_id: MessageId,
) -> Result<Reply, End> {
    let store = &handler.state.store;
    let done = store
        .bounded(store.acknowledge_urgent(&handler.device, &handler.actor, &sender, &message_id, now_ms()))
        .await;
    Ok(match done {
        Err(e) => Reply::Refused(Refusal::from(e)),
        Ok(Err(problem)) => Reply::Refused(refusal(problem, &message_id).into()),
        Ok(Ok(ack)) => {
            if ack.first {
                tracing::info!(user = %handler.device.user_id, sender = %sender, message_id = %message_id, "urgent message acknowledged");
            }
            Reply::Frame(ServerFrame::Acknowledged {
                id,
                sender,
                message_id,
                acknowledged_at: ack.acknowledged_at,
                first: ack.first,
                also: ack.also,
            })
        }
    })
}

/// Answers `recalled` once the recall committed.
pub(super) async fn recall(
    handler: &mut Handler,
    id: RequestId,
    message_id: MessageId,
) -> Result<Reply, End> {
    let store = &handler.state.store;
    let window = handler.state.config.limits.recall_window_secs;
    let window_ms = i64::try_from(window.saturating_mul(1000)).unwrap_or(i64::MAX);
    let done = store
        .bounded(store.recall(&handler.device, &handler.actor, &message_id, window_ms, now_ms()))
        .await;
    Ok(match done {
        Err(e) => Reply::Refused(Refusal::from(e)),
        Ok(Err(UrgentProblem::WindowPassed)) => Reply::Refused(
            ApiError::new(
                ErrorCode::RecallWindowPassed,
                format!(
                    "message {message_id} was sent more than {} ago: it can no longer be recalled. Ask \
                     its recipients to delete it",
                    curbside_protocol::time::duration_words(window)
                ),
            )
            .into(),
        ),
        Ok(Err(problem)) => Reply::Refused(refusal(problem, &message_id).into()),
        Ok(Ok(undelivered)) => {
            tracing::info!(user = %handler.device.user_id, message_id = %message_id, undelivered, "message recalled");
            Reply::Frame(ServerFrame::Recalled {
                id,
                message_id,
                undelivered,
            })
        }
    })
}

fn refusal(problem: UrgentProblem, message_id: &MessageId) -> ApiError {
    match problem {
        UrgentProblem::Routine => ApiError::invalid(format!(
            "message {message_id} is routine: only urgent and stat messages are acknowledged"
        )),
        UrgentProblem::NotFound | UrgentProblem::WindowPassed => ApiError::new(
            ErrorCode::NotFound,
            format!(
                "no message {message_id} of yours to act on: it was not sent to you (or by you), was \
                 recalled, or is older than the queue's lifetime"
            ),
        ),
    }
}
