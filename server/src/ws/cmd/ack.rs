//! `ack`: deliveries received (their ciphertext is deleted) and receipts seen.

use std::time::Duration;

use curbside_protocol::ids::{DeliveryId, ReceiptId};

use super::Reply;
use crate::error::ApiError;
use crate::hub::HubEvent;
use crate::store::now_ms;
use crate::ws::connection::End;
use crate::ws::handler::Handler;

/// Deletes the acknowledged deliveries (their senders' receipts are
/// stored, and the senders woken to push them), frees their room in the
/// window and pushes what fits. Storage refusing ends the connection.
pub(super) async fn execute(
    handler: &mut Handler,
    ids: &[DeliveryId],
    receipt_ids: &[ReceiptId],
) -> Result<Reply, End> {
    let most = handler.state.config.limits.max_unacked_deliveries.max(1) * 4;
    if ids.len() > most || receipt_ids.len() > most {
        let error = ApiError::invalid("too many ids in one ack");
        return Ok(Reply::Refused(error.into()));
    }
    if !receipt_ids.is_empty() {
        handler
            .state
            .store
            .acknowledge_receipts(&handler.device, receipt_ids)
            .await?;
    }
    if ids.is_empty() {
        return Ok(Reply::Nothing);
    }
    let ttl = Duration::from_secs(handler.state.config.limits.queue_ttl_secs);
    let acked = handler
        .state
        .store
        .acknowledge(&handler.device, ids, &handler.actor, now_ms(), ttl)
        .await?;
    crate::metrics::with(|m| m.messages_delivered.inc_by(acked.len() as u64));
    for id in ids {
        handler.in_flight.remove(id);
    }
    // The receipts are stored: wake each sender's connection to push them.
    for a in acked {
        handler.state.hub.notify(&a.sender, HubEvent::Receipts);
    }
    handler.push_pending().await?;
    Ok(Reply::Nothing)
}
