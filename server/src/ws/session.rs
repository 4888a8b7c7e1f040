//! The session: after authentication, requests, pushes and shutdown in one loop.

use std::collections::BTreeSet;

use curbside_protocol::error::ErrorCode;
use curbside_protocol::frames::{ErrorDetails, ServerFrame};
use curbside_protocol::ids::{Address, DeliveryId, RequestId};
use curbside_protocol::PROTOCOL_VERSION;
use futures_util::StreamExt;

use super::cmd::handle_text;
use super::connection::{Connection, End, Incoming};
use super::rate_limit::RateLimit;
use crate::audit::Actor;
use crate::error::ApiError;
use crate::hub::HubEvent;
use crate::store::now_ms;

/// Sends of one connection committing at once, at most. A client may send
/// without waiting for each `accepted`: its sends are validated and queued
/// for the group commit in the order they arrive (so they commit in that
/// order) while the connection goes on reading; replies go out as commits
/// complete, in order. Past this many, the connection stops reading until
/// one completes.
const MAX_PIPELINED_SENDS: usize = 64;

/// A reply that waits for a commit: the request id (for an error) and the outcome.
/// `Sync` because the session holding these is borrowed across awaits.
pub(super) type PendingReply =
    std::pin::Pin<Box<dyn std::future::Future<Output = (RequestId, SendResult)> + Send + Sync>>;

/// Per-connection state after authentication.
pub(super) struct Session<'a> {
    pub(super) device: &'a Address,
    pub(super) actor: &'a Actor,
    pub(super) last_pushed: DeliveryId,
    pub(super) last_receipt: i64,
    pub(super) in_flight: BTreeSet<DeliveryId>,
    pub(super) rate: RateLimit,
    pub(super) sends: futures_util::stream::FuturesOrdered<PendingReply>,
}

pub(super) async fn authenticated(
    conn: &mut Connection,
    device: &Address,
    actor: &Actor,
    mut events: crate::hub::Subscription,
) -> End {
    let state = conn.state.clone();
    let limits = state.config.limits.clone();
    let mut session = Session {
        device,
        actor,
        last_pushed: DeliveryId(0),
        last_receipt: 0,
        in_flight: BTreeSet::new(),
        rate: RateLimit::new(limits.rate_per_sec, limits.rate_burst),
        sends: futures_util::stream::FuturesOrdered::new(),
    };
    let mut shutdown = state.shutdown.clone();
    let start = async {
        let remaining = state
            .store
            .bounded(state.store.count_prekeys(&device.user_id, device.device_id))
            .await?;
        conn.send(&ServerFrame::AuthOk {
            version: PROTOCOL_VERSION,
            user_id: device.user_id.clone(),
            device_id: device.device_id,
            one_time_prekeys: remaining,
        })
        .await?;
        if remaining < limits.prekeys_low_threshold {
            conn.send(&ServerFrame::PrekeysLow { remaining }).await?;
        }
        Ok::<(), End>(())
    };
    if let Err(end) = start.await {
        return end;
    }
    if let Err(end) = push_receipts(conn, &mut session).await {
        return end;
    }
    if let Err(end) = push_pending(conn, &mut session).await {
        return end;
    }
    if *shutdown.borrow_and_update() {
        return End::Error(
            ErrorCode::ShuttingDown,
            "the server is shutting down; reconnect later".into(),
        );
    }
    loop {
        let step = tokio::select! {
            biased;
            _ = shutdown.changed() => {
                // Sends already queued commit anyway: tell the client they did.
                while let Some((id, result)) = session.sends.next().await {
                    if reply(conn, id, result).await.is_err() {
                        break;
                    }
                }
                return End::Error(ErrorCode::ShuttingDown, "the server is shutting down; reconnect later".into());
            }
            Some((id, result)) = session.sends.next(), if !session.sends.is_empty() => reply(conn, id, result).await,
            event = events.recv() => match event {
                Some(HubEvent::Wake) => push_pending(conn, &mut session).await,
                Some(HubEvent::Receipts) => push_receipts(conn, &mut session).await,
                Some(HubEvent::Frame(frame)) => conn.send(&frame).await,
                Some(HubEvent::Revoked) => return End::Error(ErrorCode::DeviceRevoked, "this device was revoked".into()),
                Some(HubEvent::Replaced) => return End::Error(ErrorCode::Conflict, "this device connected again elsewhere".into()),
                None => return End::Gone,
            },
            incoming = conn.read(), if session.sends.len() < MAX_PIPELINED_SENDS => match incoming {
                Err(end) => return end,
                Ok(Incoming::Text(text)) => handle_text(conn, &mut session, text.as_str()).await,
                Ok(Incoming::Binary) => conn.send_error(None, ErrorCode::InvalidFrame, "binary frames are not used".into(), None).await,
                Ok(Incoming::Control) => Ok(()),
            },
        };
        if let Err(end) = step {
            return end;
        }
    }
}

/// Pushes the delivery receipts waiting for this device, in batches of 64
/// (each write is bounded by the write timeout).
async fn push_receipts(conn: &mut Connection, session: &mut Session<'_>) -> Result<(), End> {
    loop {
        let store = &conn.state.store;
        let receipts = store
            .bounded(store.receipts(session.device, session.last_receipt, 64))
            .await?;
        let done = receipts.len() < 64;
        for r in receipts {
            session.last_receipt = r.receipt_id;
            conn.send(&ServerFrame::Delivered {
                receipt_id: r.receipt_id,
                message_id: r.message_id,
                recipient: r.recipient,
                delivered_at: r.delivered_at,
            })
            .await?;
        }
        if done {
            return Ok(());
        }
    }
}

/// Pushes queued deliveries until the unacknowledged window is full.
pub(super) async fn push_pending(conn: &mut Connection, session: &mut Session<'_>) -> Result<(), End> {
    let max = conn.state.config.limits.max_unacked_deliveries;
    loop {
        let room = max.saturating_sub(session.in_flight.len()).min(64);
        if room == 0 {
            return Ok(());
        }
        let store = &conn.state.store;
        let batch = store
            .bounded(store.queued(session.device, session.last_pushed, room, now_ms()))
            .await?;
        if batch.is_empty() {
            return Ok(());
        }
        for q in batch {
            session.last_pushed = q.delivery_id;
            session.in_flight.insert(q.delivery_id);
            conn.send(&ServerFrame::Deliver {
                delivery_id: q.delivery_id,
                message_id: q.message_id,
                sender: q.sender,
                kind: q.kind,
                ciphertext: q.ciphertext.into(),
                sent_at: q.sent_at,
            })
            .await?;
        }
    }
}

pub(super) type SendResult = Result<ServerFrame, (ApiError, Option<ErrorDetails>)>;

/// Answers a send once its commit completed.
async fn reply(conn: &mut Connection, id: RequestId, result: SendResult) -> Result<(), End> {
    match result {
        Ok(frame) => conn.send(&frame).await,
        Err((error, details)) => {
            conn.send_error(Some(id), error.code, error.message, details)
                .await
        }
    }
}
