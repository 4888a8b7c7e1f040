//! `ack`: deliveries received (their ciphertext is deleted) and receipts seen.

use std::time::Duration;

use curbside_protocol::ids::{DeliveryId, ReceiptId};

use super::Reply;
use crate::error::ApiError;
use crate::hub::HubEvent;
use crate::store::now_ms;
use crate::ws::connection::End;
use crate::ws::handler::Handler;

/// Frees the acknowledged deliveries' room in the window and pushes what
/// fits at once, while the deletion commits (the senders' receipts stored
/// with it, and the senders woken to push them once it has). The client
/// already has what it acknowledges, so the next page need not wait for
/// that commit; if storage refuses it, the connection ends and what was
/// not deleted is delivered again on the next connection (deliveries are
/// at least once, PROTOCOL.md). Acknowledgements commit in the order they
/// arrived, with the connection's sends.
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
    if ids.is_empty() && receipt_ids.is_empty() {
        return Ok(Reply::Nothing);
    }
    let state = handler.state.clone();
    let device = handler.device.clone();
    let actor = handler.actor.clone();
    let deliveries = ids.to_vec();
    let receipts = receipt_ids.to_vec();
    let ttl = Duration::from_secs(state.config.limits.queue_ttl_secs);
    let commit = async move {
        if !receipts.is_empty() {
            state.store.acknowledge_receipts(&device, &receipts).await?;
        }
        if deliveries.is_empty() {
            return Ok(());
        }
        let acked = state
            .store
            .acknowledge(&device, &deliveries, &actor, now_ms(), ttl)
            .await?;
        crate::metrics::with(|m| m.messages_delivered.inc_by(acked.len() as u64));
        // The receipts are stored: wake each sender's connection to push them.
        for a in acked {
            state.hub.notify(&a.sender, HubEvent::Receipts);
        }
        Ok::<(), End>(())
    };
    let pushed_before = !ids.is_empty();
    for id in ids {
        handler.in_flight.remove(id);
    }
    if pushed_before {
        handler.push_pending().await?;
    }
    Ok(Reply::Committing(Box::pin(commit)))
}
