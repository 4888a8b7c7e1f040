//! `ack`: deliveries received (their ciphertext is deleted) and receipts seen.

use std::time::Duration;

use curbside_protocol::ids::{DeliveryId, ReceiptId};

use super::Reply;
use crate::error::ApiError;
use crate::hub::HubEvent;
use crate::store::now_ms;
use crate::ws::connection::End;
use crate::ws::handler::Handler;

/// Queues the deletion (with the senders' receipts and the audit entries)
/// for the group commit at once, frees the acknowledged deliveries' room in
/// the window and pushes what fits, without waiting for that commit: the
/// client already has what it acknowledges. The commit goes ahead even if
/// the connection then ends; once it has, the senders are woken to push
/// their receipts. If storage refuses it the connection ends, and what was
/// not deleted is delivered again on the next connection (deliveries are
/// at least once, PROTOCOL.md). Only deliveries this connection pushed are
/// acknowledged: ids beyond the last one pushed are ignored.
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
    let pushed: Vec<DeliveryId> = ids
        .iter()
        .copied()
        .filter(|id| *id <= handler.last_pushed)
        .collect();
    if pushed.is_empty() && receipt_ids.is_empty() {
        return Ok(Reply::Nothing);
    }
    let store = &handler.state.store;
    let receipts = if receipt_ids.is_empty() {
        None
    } else {
        Some(store.submit_acknowledge_receipts(&handler.device, receipt_ids)?)
    };
    let deliveries = if pushed.is_empty() {
        None
    } else {
        let ttl = Duration::from_secs(handler.state.config.limits.queue_ttl_secs);
        Some(store.submit_acknowledge(&handler.device, &pushed, &handler.actor, now_ms(), ttl)?)
    };
    let hub = handler.state.hub.clone();
    let commit = async move {
        if let Some(receipts) = receipts {
            receipts.wait().await?;
        }
        let Some(deliveries) = deliveries else {
            return Ok(());
        };
        let acked = deliveries.wait().await?;
        crate::metrics::with(|m| m.messages_delivered.inc_by(acked.len() as u64));
        // The receipts are stored: wake each sender's connection to push them.
        for a in acked {
            hub.notify(&a.sender, HubEvent::Receipts);
        }
        Ok::<(), End>(())
    };
    if !pushed.is_empty() {
        for id in &pushed {
            handler.in_flight.remove(id);
        }
        handler.push_pending().await?;
    }
    Ok(Reply::Committing(Box::pin(commit)))
}
