//! `ack`: deliveries received (their ciphertext is deleted) and receipts seen.

use std::time::Duration;

use curbside_protocol::ids::{DeliveryId, ReceiptId};

use super::Reply;
use crate::error::ApiError;
use crate::hub::HubEvent;
use crate::store::now_ms;
use crate::ws::connection::End;
use crate::ws::session::Session;

/// Deletes the acknowledged deliveries (their senders' receipts are
/// stored, and the senders woken to push them), frees their room in the
/// window and pushes what fits. Storage refusing ends the connection.
pub(super) async fn execute(
    session: &mut Session,
    ids: &[DeliveryId],
    receipt_ids: &[ReceiptId],
) -> Result<Reply, End> {
    let most = session.state.config.limits.max_unacked_deliveries.max(1) * 4;
    if ids.len() > most || receipt_ids.len() > most {
        let error = ApiError::invalid("too many ids in one ack");
        return Ok(Reply::Refused(error.into()));
    }
    if !receipt_ids.is_empty() {
        session
            .state
            .store
            .acknowledge_receipts(&session.device, receipt_ids)
            .await?;
    }
    if ids.is_empty() {
        return Ok(Reply::Nothing);
    }
    let ttl = Duration::from_secs(session.state.config.limits.queue_ttl_secs);
    let acked = session
        .state
        .store
        .acknowledge(&session.device, ids, &session.actor, now_ms(), ttl)
        .await?;
    crate::metrics::with(|m| m.messages_delivered.inc_by(acked.len() as u64));
    for id in ids {
        session.in_flight.remove(id);
    }
    // The receipts are stored: wake each sender's connection to push them.
    for a in acked {
        session.state.hub.notify(&a.sender, HubEvent::Receipts);
    }
    session.push_pending().await?;
    Ok(Reply::Nothing)
}
