//! The handler: an authenticated device's connection, from `auth_ok` to its
//! end. It owns its state: the connection, the device and who it acts as,
//! what was pushed and is not yet acknowledged, the rate limit and the sends
//! waiting for their commit.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;

use curbside_protocol::error::ErrorCode;
use curbside_protocol::frames::{parse_client_frame, ErrorDetails, ServerFrame};
use curbside_protocol::ids::{Address, DeliveryId, ReceiptId, RequestId};
use curbside_protocol::PROTOCOL_VERSION;
use futures_util::stream::FuturesOrdered;
use futures_util::StreamExt;

use super::cmd::{self, Refusal, Reply};
use super::connection::{Connection, End, Incoming};
use super::rate_limit::RateLimit;
use crate::audit::Actor;
use crate::error::ApiError;
use crate::hub::{HubEvent, Subscription};
use crate::store::now_ms;
use crate::AppState;

/// Sends of one connection committing at once, at most. A client may send
/// without waiting for each `accepted`: its sends are validated and queued
/// for the group commit in the order they arrive (so they commit in that
/// order) while the connection goes on reading; replies go out as commits
/// complete, in order. Past this many, the connection stops reading until
/// one completes.
const MAX_PIPELINED_SENDS: usize = 64;

/// Deliveries (and receipts) read per page: one query, then the page's
/// frames written with as few flushes as `Connection::send_all` allows.
/// A page holds at most this many ciphertexts in memory (up to the frame
/// limit each).
const PUSH_PAGE: usize = 64;

/// What a commit waited for gives: a send's reply, or an `ack`'s end (its
/// storage refusing ends the connection).
enum Committed {
    Answer(Result<ServerFrame, Refusal>),
    Ack(Result<(), End>),
}

/// A commit waited for, with the id of the request it answers.
type Waiting = Pin<Box<dyn Future<Output = (Option<RequestId>, Committed)> + Send>>;

/// An authenticated connection and its state. Not `Sync` (the socket is
/// not), so requests take it by `&mut`.
pub(super) struct Handler {
    pub(super) state: AppState,
    conn: Connection,
    /// The authenticated device.
    pub(super) device: Address,
    /// Who it acts as, in the audit log.
    pub(super) actor: Actor,
    /// The last delivery pushed (the next push starts after it; an `ack`
    /// of a later id is ignored).
    pub(super) last_pushed: DeliveryId,
    /// The last receipt pushed.
    last_receipt: ReceiptId,
    /// Deliveries pushed and not yet acknowledged.
    pub(super) in_flight: BTreeSet<DeliveryId>,
    rate: RateLimit,
    /// Sends and acknowledgements waiting for their commit, in the order
    /// they arrived.
    sends: FuturesOrdered<Waiting>,
}

impl Handler {
    /// The handler of `device`, authenticated on `conn`.
    pub(super) fn new(state: AppState, conn: Connection, device: Address, actor: Actor) -> Self {
        let limits = &state.config.limits;
        let rate = RateLimit::new(limits.rate_per_sec, limits.rate_burst);
        Self {
            state,
            conn,
            device,
            actor,
            last_pushed: DeliveryId(0),
            last_receipt: ReceiptId(0),
            in_flight: BTreeSet::new(),
            rate,
            sends: FuturesOrdered::new(),
        }
    }

    /// Answers `auth_ok`, pushes what waits for the device, then serves
    /// requests, pushes and shutdown until the connection ends. However it
    /// ends, the commits its requests started are awaited first: an `ack`
    /// followed at once by a close still deletes what it acknowledged.
    pub(super) async fn run(&mut self, events: Subscription) -> End {
        let end = self.serve(events).await;
        // (A refused commit was logged where its error became an `End`.)
        while self.sends.next().await.is_some() {}
        end
    }

    async fn serve(&mut self, mut events: Subscription) -> End {
        let mut shutdown = self.state.shutdown.clone();
        if let Err(end) = self.start().await {
            return end;
        }
        if *shutdown.borrow_and_update() {
            return shutting_down();
        }
        loop {
            let step = tokio::select! {
                biased;
                _ = shutdown.changed() => {
                    // Sends already queued commit anyway: tell the client they did.
                    while let Some((id, committed)) = self.sends.next().await {
                        if self.committed(id, committed).await.is_err() {
                            break;
                        }
                    }
                    return shutting_down();
                }
                Some((id, committed)) = self.sends.next(), if !self.sends.is_empty() => self.committed_all(id, committed).await,
                event = events.recv() => match event {
                    Some(HubEvent::Wake) => self.push_pending().await,
                    Some(HubEvent::Receipts) => self.push_receipts().await,
                    Some(HubEvent::Frame(frame)) => self.conn.send(&frame).await,
                    Some(HubEvent::Revoked) => return End::Error(ErrorCode::DeviceRevoked, "this device was revoked".into()),
                    Some(HubEvent::Replaced) => return End::Error(ErrorCode::Conflict, "this device connected again elsewhere".into()),
                    None => return End::Gone,
                },
                incoming = self.conn.read(), if self.sends.len() < MAX_PIPELINED_SENDS => match incoming {
                    Err(end) => return end,
                    Ok(Incoming::Text(text)) => self.request(text.as_str()).await,
                    Ok(Incoming::Binary) => self.unused_frame(true).await,
                    Ok(Incoming::Control) => self.unused_frame(false).await,
                },
            };
            if let Err(end) = step {
                return end;
            }
        }
    }

    /// `auth_ok` (and `prekeys_low` when few are left), the receipts and the
    /// deliveries waiting.
    async fn start(&mut self) -> Result<(), End> {
        let store = &self.state.store;
        let device = &self.device;
        let remaining = store
            .bounded(store.count_prekeys(&device.user_id, device.device_id))
            .await?;
        self.conn
            .send(&ServerFrame::AuthOk {
                version: PROTOCOL_VERSION,
                user_id: device.user_id.clone(),
                device_id: device.device_id,
                one_time_prekeys: remaining,
            })
            .await?;
        if remaining < self.state.config.limits.prekeys_low_threshold {
            self.conn.send(&ServerFrame::PrekeysLow { remaining }).await?;
        }
        self.push_receipts().await?;
        self.push_pending().await
    }

    /// Pushes the delivery receipts waiting for this device, a page at a
    /// time (each page one write, bounded by the write timeout).
    async fn push_receipts(&mut self) -> Result<(), End> {
        loop {
            let store = &self.state.store;
            let receipts = store
                .bounded(store.receipts(&self.device, self.last_receipt, PUSH_PAGE))
                .await?;
            let done = receipts.len() < PUSH_PAGE;
            let mut frames = Vec::with_capacity(receipts.len());
            for r in receipts {
                self.last_receipt = r.receipt_id;
                frames.push(ServerFrame::Delivered {
                    receipt_id: r.receipt_id,
                    message_id: r.message_id,
                    recipient: r.recipient,
                    delivered_at: r.delivered_at,
                });
            }
            self.conn.send_all(&frames).await?;
            if done {
                return Ok(());
            }
        }
    }

    /// Pushes queued deliveries until the unacknowledged window is full, a
    /// page at a time (one query, one write).
    pub(super) async fn push_pending(&mut self) -> Result<(), End> {
        let max = self.state.config.limits.max_unacked_deliveries;
        loop {
            let room = max.saturating_sub(self.in_flight.len()).min(PUSH_PAGE);
            if room == 0 {
                return Ok(());
            }
            let store = &self.state.store;
            let batch = store
                .bounded(store.queued(&self.device, self.last_pushed, room, now_ms()))
                .await?;
            if batch.is_empty() {
                return Ok(());
            }
            let full = batch.len() == room;
            let mut frames = Vec::with_capacity(batch.len());
            for q in batch {
                self.last_pushed = q.delivery_id;
                self.in_flight.insert(q.delivery_id);
                frames.push(ServerFrame::Deliver {
                    delivery_id: q.delivery_id,
                    message_id: q.message_id,
                    sender: q.sender,
                    kind: q.kind,
                    ciphertext: q.ciphertext.into(),
                    sent_at: q.sent_at,
                    priority: q.priority,
                    escalated: q.escalated,
                });
            }
            self.conn.send_all(&frames).await?;
            if !full {
                return Ok(());
            }
        }
    }

    /// Answers one text frame: parsed, within the rate limit, executed.
    async fn request(&mut self, text: &str) -> Result<(), End> {
        let parsed = parse_client_frame(text);
        // Read once: refusals name the request they answer.
        let id = match &parsed {
            Ok(frame) => frame.id().cloned(),
            Err(e) => e.id.clone(),
        };
        let reply = if let Err(wait) = self.rate.take() {
            // The refused frame's id, so that a pipelining client knows which
            // request to retry.
            Reply::Refused(Refusal::with_details(
                ApiError::new(ErrorCode::RateLimited, "too many frames"),
                ErrorDetails::RetryAfter { retry_after_ms: wait },
            ))
        } else {
            match parsed {
                Ok(frame) => cmd::execute(self, frame).await?,
                Err(e) => Reply::Refused(ApiError::new(e.code, e.message).into()),
            }
        };
        self.answer(id, reply).await
    }

    /// Counts a binary frame or a ping/pong against the rate limit, as text
    /// frames are: past it the answer is `rate_limited` (no id: these frames
    /// have none), else `invalid_frame` for a binary frame and nothing for a
    /// control frame (the WebSocket layer answers pings).
    async fn unused_frame(&mut self, binary: bool) -> Result<(), End> {
        if let Err(wait) = self.rate.take() {
            let details = ErrorDetails::RetryAfter { retry_after_ms: wait };
            self.conn
                .send_error(
                    None,
                    ErrorCode::RateLimited,
                    "too many frames".into(),
                    Some(details),
                )
                .await
        } else if binary {
            self.conn
                .send_error(
                    None,
                    ErrorCode::InvalidFrame,
                    "binary frames are not used".into(),
                    None,
                )
                .await
        } else {
            Ok(())
        }
    }

    /// Sends a request's reply, or keeps it until its commit completes.
    async fn answer(&mut self, id: Option<RequestId>, reply: Reply) -> Result<(), End> {
        match reply {
            Reply::Nothing => Ok(()),
            Reply::Frame(frame) => self.conn.send(&frame).await,
            Reply::Refused(Refusal { error, details }) => {
                error.log("websocket");
                self.conn.send_error(id, error.code, error.message, details).await
            }
            Reply::Later(pending) => {
                self.sends
                    .push_back(Box::pin(async move { (id, Committed::Answer(pending.await)) }));
                Ok(())
            }
            Reply::Committing(commit) => {
                self.sends
                    .push_back(Box::pin(async move { (id, Committed::Ack(commit.await)) }));
                Ok(())
            }
        }
    }

    /// What a commit waited for gave: a send's reply goes out; an `ack`
    /// that storage refused ends the connection.
    async fn committed(&mut self, id: Option<RequestId>, committed: Committed) -> Result<(), End> {
        match committed {
            Committed::Answer(result) => self.answer(id, result.into()).await,
            Committed::Ack(result) => result,
        }
    }

    /// As [`Self::committed`], for this commit and every one already done
    /// after it (a group commit completes many at once): their replies, in
    /// order, in one write rather than one flush each.
    async fn committed_all(&mut self, id: Option<RequestId>, committed: Committed) -> Result<(), End> {
        let mut frames = Vec::new();
        let mut next = Some((id, committed));
        while let Some((id, committed)) = next.take() {
            match committed {
                Committed::Answer(Ok(frame)) => frames.push(frame),
                Committed::Answer(Err(Refusal { error, details })) => {
                    error.log("websocket");
                    crate::metrics::count_error(error.code);
                    frames.push(ServerFrame::Error {
                        id,
                        code: error.code,
                        message: error.message,
                        details,
                    });
                }
                Committed::Ack(Err(end)) => {
                    self.conn.send_all(&frames).await?;
                    return Err(end);
                }
                Committed::Ack(Ok(())) => {}
            }
            if frames.len() < PUSH_PAGE {
                // Only what is done already: a reply never waits for a later commit.
                next = futures_util::FutureExt::now_or_never(self.sends.next()).flatten();
            }
        }
        self.conn.send_all(&frames).await
    }

    /// Closes the connection, with the error it ends with if any.
    pub(super) async fn close(self, end: End) {
        self.conn.close(end).await;
    }
}

/// How the server's shutdown ends a handler.
fn shutting_down() -> End {
    End::Error(
        ErrorCode::ShuttingDown,
        "the server is shutting down; reconnect later".into(),
    )
}
