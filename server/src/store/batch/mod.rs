//! Group commit for the message path. Accepting a message, acknowledging
//! deliveries and acknowledging receipts are each durable before the client
//! is answered, and each appends audit entries under the single audit head
//! lock. Committing them one by one costs one fsync (and one lock turn) each.
//! Instead, one writer task takes every request waiting at that moment and
//! runs them all in one transaction: the head is locked once, each request's
//! statements run in arrival order, all their audit entries are appended in
//! one go, one commit makes them durable together, then each caller gets its
//! own answer. Under load a batch holds as many requests as arrived during
//! the previous commit; alone, a request commits as before.
//!
//! Semantics are unchanged: a caller is answered only after its commit; a
//! request that fails makes the batch roll back and every request of it is
//! retried in a transaction of its own, so one bad request never fails
//! another. A send over a recipient device's queue quota (`usage`) is not
//! a failure of the batch: checked inside the commit, it is left out of it
//! whole (no message row, no queue row, no audit entry) and refused alone
//! with `recipient_queue_full`, while the rest of the batch commits.
//! Sequence-allocated ids (queue, receipts) are still allocated under the
//! audit head lock (see `audit::lock_head`).
//!
//! ## Layout
//! - this file: the requests, the writer task, batching, retries and answers;
//! - `accept`: the statements of accepting messages (within the quotas);
//! - `ack`: the statements of acknowledging deliveries and receipts.

use std::sync::Arc;
use std::time::Duration;

use curbside_protocol::frames::{Envelope, MessageKind};
use curbside_protocol::ids::{Address, DeliveryId, MessageId, ReceiptId, UserId};
use curbside_protocol::referral::Priority;
use tokio::sync::{mpsc, oneshot};

use super::pool::{Health, Writer};
use super::rows::corrupt;
use super::usage::{QueueFull, QueueQuota};
use super::Acked;
use crate::audit::{Actor, Event};
use crate::error::ServerError;

mod accept;
mod ack;

use accept::accept;
use ack::{acknowledge, acknowledge_receipts};

/// Most requests in one transaction.
const MAX_BATCH: usize = 512;

/// A message to accept: what [`Store::submit_message`](super::Store::submit_message) stores.
#[derive(Debug)]
pub struct NewMessage {
    /// Who sent it.
    pub sender: Address,
    /// The sender's id for it (a second message with the same id is a resend).
    pub message_id: MessageId,
    /// What it is (message, receipt, …).
    pub kind: MessageKind,
    /// One ciphertext per recipient device.
    pub envelopes: Vec<Envelope>,
    /// The priority (routine for every kind but `message`).
    pub priority: Priority,
    /// An urgent or stat message's escalation: copies held for the backup.
    pub escalation: Option<HeldEscalation>,
    /// Sent to this on-call role (its holders are the recipients): one
    /// `oncall.resolved` entry per holder.
    pub role: Option<curbside_protocol::ids::OnCallRoleId>,
    /// An answer to a curbside consult (its id, and the asker): the
    /// answerer's first is audited (`consult.answered`) with the message.
    pub consult_answer: Option<(curbside_protocol::ids::ConsultId, UserId)>,
    /// Who sends it, in the audit log.
    pub actor: Actor,
    /// When it was accepted.
    pub now: i64,
    /// How long it stays queued undelivered.
    pub ttl: Duration,
}

/// The escalation of a message: one envelope per device of the backup,
/// stored held until `after` (from acceptance) unless acknowledged first.
#[derive(Debug)]
pub struct HeldEscalation {
    /// Who receives the copies if nobody acknowledges in time.
    pub backup: UserId,
    /// The delay.
    pub after: Duration,
    /// One ciphertext per current device of the backup.
    pub envelopes: Vec<Envelope>,
}

impl NewMessage {
    /// Every envelope to store, each with when it is held until (an
    /// escalation copy) or `None` (delivered at once).
    pub(crate) fn all_envelopes(&self) -> impl Iterator<Item = (&Envelope, Option<i64>)> {
        let held = self.escalation.as_ref().map(|e| {
            let until = self.now.saturating_add(super::ms(e.after));
            e.envelopes.iter().map(move |env| (env, Some(until)))
        });
        self.envelopes
            .iter()
            .map(|e| (e, None))
            .chain(held.into_iter().flatten())
    }
}

/// Deliveries acknowledged by their device.
#[derive(Debug)]
pub(crate) struct Ack {
    pub(crate) device: Address,
    pub(crate) ids: Vec<DeliveryId>,
    pub(crate) actor: Actor,
    pub(crate) now: i64,
    pub(crate) receipt_ttl: Duration,
}

/// Receipts acknowledged by their sending device.
#[derive(Debug)]
pub(crate) struct AckReceipts {
    pub(crate) device: Address,
    pub(crate) ids: Vec<ReceiptId>,
}

#[derive(Debug)]
enum Request {
    Accept(NewMessage, oneshot::Sender<Result<Accepted, ServerError>>),
    Ack(Ack, oneshot::Sender<Result<Vec<Acked>, ServerError>>),
    AckReceipts(AckReceipts, oneshot::Sender<Result<(), ServerError>>),
}

/// The outcome of an accepted send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// False if this sender had already used this message id (nothing new
    /// was stored).
    pub stored: bool,
    /// When the message was first accepted (for a duplicate, the original
    /// acceptance, not the resend).
    pub accepted_at: i64,
}

enum Outcome {
    Accepted(Result<Accepted, QueueFull>),
    Acked(Vec<Acked>),
    Receipts,
}

/// The answer to a submitted request, once its batch committed (or failed).
#[derive(Debug)]
pub struct Pending<T>(oneshot::Receiver<Result<T, ServerError>>);

impl<T> Pending<T> {
    /// Waits for the commit.
    pub async fn wait(self) -> Result<T, ServerError> {
        self.0.await.map_err(|_| stopped())?
    }
}

/// The handle requests go through.
#[derive(Clone, Debug)]
pub(crate) struct GroupCommit {
    tx: mpsc::UnboundedSender<Request>,
}

fn stopped() -> ServerError {
    ServerError::Database(sqlx::Error::PoolClosed)
}

impl GroupCommit {
    /// Starts the writer task on `writer`.
    ///
    /// The writer runs on a thread of its own (a single-threaded runtime):
    /// a batch is a dozen statements, each a round trip to the database, and
    /// on the shared runtime each of them waited in the run queue behind the
    /// connections' TLS and JSON work (BENCHMARKS.md, profiles). It ends when
    /// the last [`GroupCommit`] handle is dropped.
    pub(crate) fn start(
        writer: Writer,
        health: Arc<Health>,
        deadline: Duration,
        quota: QueueQuota,
    ) -> Result<Self, ServerError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ServerError::io("starting the database writer", e))?;
        std::thread::Builder::new()
            .name("curbside-writer".into())
            .spawn(move || {
                runtime.block_on(run(
                    Batches {
                        writer,
                        health,
                        deadline,
                        quota,
                    },
                    rx,
                ));
            })
            .map_err(|e| ServerError::io("starting the database writer", e))?;
        Ok(Self { tx })
    }

    /// Queues `a` for the next batch now (requests commit in the order they
    /// were submitted) and returns the answer to wait for.
    pub(crate) fn submit_accept(&self, a: NewMessage) -> Result<Pending<Accepted>, ServerError> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(Request::Accept(a, reply)).map_err(|_| stopped())?;
        Ok(Pending(answer))
    }

    /// Queues an acknowledgement for the next batch now, as
    /// [`Self::submit_accept`].
    pub(crate) fn submit_ack(&self, a: Ack) -> Result<Pending<Vec<Acked>>, ServerError> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(Request::Ack(a, reply)).map_err(|_| stopped())?;
        Ok(Pending(answer))
    }

    /// Queues receipts seen for the next batch now, as [`Self::submit_accept`].
    pub(crate) fn submit_ack_receipts(&self, a: AckReceipts) -> Result<Pending<()>, ServerError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Request::AckReceipts(a, reply))
            .map_err(|_| stopped())?;
        Ok(Pending(answer))
    }
}

/// What the writer task commits with.
struct Batches {
    writer: Writer,
    health: Arc<Health>,
    /// The longest one commit may take: a database that stops answering (a
    /// cut network) fails the batch instead of stalling every send behind it.
    deadline: Duration,
    /// What a device's queue may hold.
    quota: QueueQuota,
}

impl Batches {
    /// Commits `batch` within the deadline and records the outcome in the
    /// store's health. A timed-out commit's outcome is unknown to us (its
    /// COMMIT may have reached the database): its callers are refused, and
    /// their retries, with the same ids, are answered as duplicates if it
    /// did commit. Nothing is reported accepted that did not commit.
    async fn commit(&self, batch: &[Request]) -> Result<Vec<Outcome>, ServerError> {
        let result = tokio::time::timeout(self.deadline, commit(&self.writer, batch, self.quota))
            .await
            .unwrap_or(Err(ServerError::Database(sqlx::Error::PoolTimedOut)));
        self.health.observe(&result);
        result
    }
}

async fn run(batches: Batches, mut rx: mpsc::UnboundedReceiver<Request>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        crate::metrics::with(|m| m.batch_size.observe(batch.len() as f64));
        match batches.commit(&batch).await {
            Ok(outcomes) => {
                for (request, outcome) in batch.drain(..).zip(outcomes) {
                    answer(request, Ok(outcome));
                }
            }
            Err(e) if batch.len() == 1 => {
                if let Some(request) = batch.pop() {
                    answer(request, Err(e));
                }
            }
            // Storage itself failed (full, unreachable): every request of
            // the batch would fail alone too; answer them all at once.
            Err(e) if e.is_storage_unavailable() => {
                tracing::warn!(error = %e, requests = batch.len(), "batch refused: storage unavailable");
                for request in batch.drain(..) {
                    answer(request, Err(ServerError::Unavailable));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, requests = batch.len(), "batch failed; retrying its requests one by one");
                for request in batch.drain(..) {
                    let result = batches
                        .commit(std::slice::from_ref(&request))
                        .await
                        .and_then(|mut o| o.pop().ok_or_else(|| corrupt("empty batch outcome")));
                    answer(request, result);
                }
            }
        }
    }
}

fn answer(request: Request, result: Result<Outcome, ServerError>) {
    match (request, result) {
        (Request::Accept(_, reply), Ok(Outcome::Accepted(admitted))) => {
            let _ = reply.send(admitted.map_err(ServerError::QueueFull));
        }
        (Request::Ack(_, reply), Ok(Outcome::Acked(acked))) => {
            let _ = reply.send(Ok(acked));
        }
        (Request::AckReceipts(_, reply), Ok(Outcome::Receipts)) => {
            let _ = reply.send(Ok(()));
        }
        (Request::Accept(_, reply), result) => {
            let _ = reply.send(result.and(Err(corrupt("batch outcome"))));
        }
        (Request::Ack(_, reply), result) => {
            let _ = reply.send(result.and(Err(corrupt("batch outcome"))));
        }
        (Request::AckReceipts(_, reply), result) => {
            let _ = reply.send(result.and(Err(corrupt("batch outcome"))));
        }
    }
}

/// Runs `batch` in one transaction; one outcome per request, in order.
/// Statements are shared by the whole batch (multi-row inserts, row-value
/// deletes): with sqlx each statement is a round trip to the database
/// connection's worker, which the profile showed to be the cost that
/// mattered, not the bytes written.
async fn commit(writer: &Writer, batch: &[Request], quota: QueueQuota) -> Result<Vec<Outcome>, ServerError> {
    let mut tx = writer.begin().await?;
    tx.lock_audit_head().await?;
    let mut now = 0;
    let mut accepts = Vec::new();
    let mut acks = Vec::new();
    let mut receipt_acks = Vec::new();
    for (i, request) in batch.iter().enumerate() {
        match request {
            Request::Accept(a, _) => {
                now = now.max(a.now);
                accepts.push((i, a));
            }
            Request::Ack(a, _) => {
                now = now.max(a.now);
                acks.push((i, a));
            }
            Request::AckReceipts(a, _) => receipt_acks.push(a),
        }
    }
    let mut events: Vec<Vec<Event>> = std::iter::repeat_with(Vec::new).take(batch.len()).collect();
    let mut outcomes: Vec<Option<Outcome>> = std::iter::repeat_with(|| None).take(batch.len()).collect();
    for (i, stored) in accept(&mut tx, &accepts, &mut events, quota).await? {
        if let Some(slot) = outcomes.get_mut(i) {
            *slot = Some(Outcome::Accepted(stored));
        }
    }
    for (i, acked) in acknowledge(&mut tx, &acks, &mut events).await? {
        if let Some(slot) = outcomes.get_mut(i) {
            *slot = Some(Outcome::Acked(acked));
        }
    }
    acknowledge_receipts(&mut tx, &receipt_acks).await?;
    tx.audit(events.into_iter().flatten().collect(), now.max(super::now_ms()))
        .await?;
    tx.commit().await?;
    Ok(outcomes
        .into_iter()
        .map(|o| o.unwrap_or(Outcome::Receipts))
        .collect())
}

/// Rows per multi-row statement: SQLite binds parameters by a linear name
/// lookup, so one statement of n parameters costs O(n²) to bind.
const ROWS: usize = 32;

/// Ids grouped by (user, device), in first-seen order.
fn by_device(keys: &[(String, i64, i64)]) -> Vec<((&str, i64), Vec<i64>)> {
    let mut out: Vec<((&str, i64), Vec<i64>)> = Vec::new();
    for (user, device, id) in keys {
        match out
            .iter_mut()
            .find(|((u, d), _)| *u == user.as_str() && *d == *device)
        {
            Some((_, ids)) => ids.push(*id),
            None => out.push(((user.as_str(), *device), vec![*id])),
        }
    }
    out
}
