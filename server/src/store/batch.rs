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
//! with `recipient_queue_full`, while the rest of the batch commits. Sequence-allocated ids (queue, receipts) are still allocated
//! under the audit head lock (see `audit::lock_head`).

use std::sync::Arc;
use std::time::Duration;

use curbside_protocol::audit::{Action, Details, DeviceCiphertext};
use curbside_protocol::frames::{Envelope, MessageKind};
use curbside_protocol::ids::{Address, DeliveryId, MessageId, ReceiptId, UserId};
use sqlx::{AnyConnection, Row};
use tokio::sync::{mpsc, oneshot};

use super::pool::{Health, Writer};
use super::rows::{corrupt, device_id, message_id, user_id};
use super::sql::placeholders;
use super::usage::{Admission, Deltas, QueueFull, QueueQuota};
use super::{ms, Acked};
use crate::audit::{sha256_hex, Actor, Event};
use crate::error::ServerError;

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
    /// Who sends it, in the audit log.
    pub actor: Actor,
    /// When it was accepted.
    pub now: i64,
    /// How long it stays queued undelivered.
    pub ttl: Duration,
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

    pub(crate) async fn acknowledge(&self, a: Ack) -> Result<Vec<Acked>, ServerError> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(Request::Ack(a, reply)).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    pub(crate) async fn acknowledge_receipts(&self, a: AckReceipts) -> Result<(), ServerError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Request::AckReceipts(a, reply))
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
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

/// Inserts the batch's new messages and their queue rows, within the
/// recipients' queue quotas; returns, per request, whether it stored a
/// message (false: a duplicate id) and when the message was first
/// accepted, or the quota it would have exceeded (nothing of it stored).
async fn accept(
    conn: &mut AnyConnection,
    accepts: &[(usize, &NewMessage)],
    events: &mut [Vec<Event>],
    quota: QueueQuota,
) -> Result<Vec<(usize, Result<Accepted, QueueFull>)>, ServerError> {
    // A repeated id inside the batch is a duplicate of its first occurrence.
    let mut seen = std::collections::HashSet::new();
    let fresh: Vec<&(usize, &NewMessage)> = accepts
        .iter()
        .filter(|(_, a)| seen.insert((a.sender.user_id.as_str(), a.message_id.as_str())))
        .collect();
    let mut inserted = std::collections::HashSet::new();
    for chunk in fresh.chunks(ROWS) {
        let sql = format!(
            "INSERT INTO messages (sender_user, message_id, sender_device, kind, accepted_at, recipient_count) \
             VALUES {} ON CONFLICT DO NOTHING RETURNING sender_user, message_id",
            placeholders(1, chunk.len(), 6)
        );
        let mut q = sqlx::query(&sql);
        for (_, a) in chunk {
            q = q
                .bind(a.sender.user_id.as_str())
                .bind(a.message_id.as_str())
                .bind(i64::from(a.sender.device_id.0))
                .bind(a.kind.as_str())
                .bind(a.now)
                .bind(i64::try_from(a.envelopes.len()).unwrap_or(i64::MAX));
        }
        for row in q.fetch_all(&mut *conn).await? {
            inserted.insert((
                row.try_get::<String, _>("sender_user")?,
                row.try_get::<String, _>("message_id")?,
            ));
        }
    }
    let refused = admit(conn, accepts, &mut inserted, quota).await?;
    let mut out = Vec::with_capacity(accepts.len());
    let mut rows = Vec::new();
    let mut deltas = Deltas::default();
    let mut first_in_batch: std::collections::HashMap<(String, String), i64> =
        std::collections::HashMap::new();
    for (i, a) in accepts {
        let key = (
            a.sender.user_id.as_str().to_owned(),
            a.message_id.as_str().to_owned(),
        );
        if let Some(full) = refused.get(&key) {
            // Its resends in the same batch are refused with it.
            out.push((*i, Err(full.clone())));
            continue;
        }
        // `remove`: only the first request with this id stores it.
        let stored = inserted.remove(&key);
        let accepted_at = if stored {
            first_in_batch.insert(key, a.now);
            a.now
        } else if let Some(at) = first_in_batch.get(&key) {
            *at
        } else {
            let at =
                sqlx::query("SELECT accepted_at FROM messages WHERE sender_user = $1 AND message_id = $2")
                    .bind(&key.0)
                    .bind(&key.1)
                    .fetch_optional(&mut *conn)
                    .await?
                    .map(|row| row.try_get::<i64, _>("accepted_at"))
                    .transpose()?
                    .unwrap_or(a.now);
            first_in_batch.insert(key, at);
            at
        };
        out.push((*i, Ok(Accepted { stored, accepted_at })));
        if !stored {
            continue;
        }
        let expires_at = a.now.saturating_add(ms(a.ttl));
        rows.extend(a.envelopes.iter().map(|e| (*a, e, expires_at)));
        for e in &a.envelopes {
            deltas.note(
                (e.user_id.as_str(), i64::from(e.device_id.0)),
                a.sender.user_id.as_str(),
                len(e),
                1,
            );
        }
        // One entry per recipient user, listing that user's devices with the
        // size and SHA-256 of the ciphertext each received.
        let mut per_user: std::collections::BTreeMap<&UserId, Vec<DeviceCiphertext>> =
            std::collections::BTreeMap::new();
        for e in &a.envelopes {
            per_user.entry(&e.user_id).or_default().push(DeviceCiphertext {
                device: e.device_id,
                size: e.ciphertext.len() as u64,
                sha256: sha256_hex(e.ciphertext.as_slice()),
            });
        }
        if let Some(list) = events.get_mut(*i) {
            list.extend(per_user.into_iter().map(|(user, ciphertexts)| {
                Event::new(&a.actor, Action::MessageAccepted)
                    .counterpart(user, None)
                    .message(&a.message_id)
                    .details(Details {
                        kind: Some(a.kind.as_str().to_owned()),
                        ciphertexts: Some(ciphertexts),
                        ..Details::default()
                    })
            }));
        }
    }
    for chunk in rows.chunks(ROWS) {
        let sql = format!(
            "INSERT INTO queue (recipient_user, recipient_device, sender_user, sender_device, message_id, \
             kind, ciphertext, sent_at, expires_at) VALUES {}",
            placeholders(1, chunk.len(), 9)
        );
        let mut q = sqlx::query(&sql);
        for (a, e, expires_at) in chunk {
            q = q
                .bind(e.user_id.as_str())
                .bind(i64::from(e.device_id.0))
                .bind(a.sender.user_id.as_str())
                .bind(i64::from(a.sender.device_id.0))
                .bind(a.message_id.as_str())
                .bind(a.kind.as_str())
                .bind(e.ciphertext.0.clone())
                .bind(a.now)
                .bind(*expires_at);
        }
        q.execute(&mut *conn).await?;
    }
    deltas.apply(conn).await?;
    Ok(out)
}

fn len(e: &Envelope) -> i64 {
    i64::try_from(e.ciphertext.len()).unwrap_or(i64::MAX)
}

/// The quota check of the batch's new messages (those `inserted` holds),
/// in arrival order, each counting for the next: the refused ones are taken
/// out of `inserted` and their message rows deleted again, so that a retry
/// later is a new message, not a duplicate. Returns the refused, by
/// (sender user, message id).
async fn admit(
    conn: &mut AnyConnection,
    accepts: &[(usize, &NewMessage)],
    inserted: &mut std::collections::HashSet<(String, String)>,
    quota: QueueQuota,
) -> Result<std::collections::HashMap<(String, String), QueueFull>, ServerError> {
    let mut refused = std::collections::HashMap::new();
    if inserted.is_empty() || quota == QueueQuota::unlimited() {
        return Ok(refused);
    }
    let mut senders: Vec<&str> = accepts.iter().map(|(_, a)| a.sender.user_id.as_str()).collect();
    let mut recipients: Vec<&str> = accepts
        .iter()
        .flat_map(|(_, a)| a.envelopes.iter().map(|e| e.user_id.as_str()))
        .collect();
    senders.sort_unstable();
    senders.dedup();
    recipients.sort_unstable();
    recipients.dedup();
    let mut admission = Admission::load(conn, quota, &senders, &recipients).await?;
    let mut seen = std::collections::HashSet::new();
    for (_, a) in accepts {
        let key = (
            a.sender.user_id.as_str().to_owned(),
            a.message_id.as_str().to_owned(),
        );
        if !inserted.contains(&key) || !seen.insert(key.clone()) {
            continue;
        }
        let sizes: Vec<(Address, i64)> = a
            .envelopes
            .iter()
            .map(|e| {
                (
                    Address {
                        user_id: e.user_id.clone(),
                        device_id: e.device_id,
                    },
                    len(e),
                )
            })
            .collect();
        if let Err(full) = admission.admit(&a.sender.user_id, &sizes) {
            tracing::info!(
                user = %a.sender.user_id,
                device = %a.sender.device_id,
                message_id = %a.message_id,
                recipient = %full.recipient.user_id,
                recipient_device = %full.recipient.device_id,
                scope = ?full.scope,
                "send refused: recipient queue full"
            );
            refused.insert(key, full);
        }
    }
    let keys: Vec<&(String, String)> = refused.keys().collect();
    for chunk in keys.chunks(ROWS) {
        let sql = format!(
            "DELETE FROM messages WHERE (sender_user, message_id) IN (VALUES {})",
            placeholders(1, chunk.len(), 2)
        );
        let mut q = sqlx::query(&sql);
        for (user, id) in chunk {
            q = q.bind(user.as_str()).bind(id.as_str());
        }
        q.execute(&mut *conn).await?;
    }
    for key in refused.keys() {
        inserted.remove(key);
    }
    Ok(refused)
}

/// Deletes the acknowledged deliveries (each only by its own device), records
/// a receipt for each, and returns per request what it deleted.
async fn acknowledge(
    conn: &mut AnyConnection,
    acks: &[(usize, &Ack)],
    events: &mut [Vec<Event>],
) -> Result<Vec<(usize, Vec<Acked>)>, ServerError> {
    // (recipient user, recipient device, delivery id) → the first request naming it.
    let mut wanted: std::collections::HashMap<(String, i64, i64), usize> = std::collections::HashMap::new();
    let mut keys = Vec::new();
    for (i, a) in acks {
        for id in &a.ids {
            let key = (
                a.device.user_id.as_str().to_owned(),
                i64::from(a.device.device_id.0),
                id.0,
            );
            if !wanted.contains_key(&key) {
                wanted.insert(key.clone(), *i);
                keys.push(key);
            }
        }
    }
    let mut deleted: std::collections::HashMap<usize, Vec<(i64, Acked)>> = std::collections::HashMap::new();
    let mut deltas = Deltas::default();
    // One statement per device and chunk: `device = … AND delivery_id IN (…)`
    // walks the queue's index (an OR of per-row conditions made SQLite scan
    // the whole queue: the backlog benchmark showed it).
    for ((user, device), ids) in by_device(&keys) {
        for chunk in ids.chunks(ROWS) {
            let sql = format!(
                "DELETE FROM queue WHERE recipient_user = $1 AND recipient_device = $2 AND delivery_id IN {} \
                 RETURNING delivery_id, sender_user, sender_device, message_id, \
                 CAST(length(ciphertext) AS BIGINT) AS size",
                placeholders(3, 1, chunk.len())
            );
            let mut q = sqlx::query(&sql).bind(user).bind(device);
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&mut *conn).await? {
                let id = r.try_get::<i64, _>("delivery_id")?;
                deltas.note(
                    (user, device),
                    &r.try_get::<String, _>("sender_user")?,
                    r.try_get::<i64, _>("size")?,
                    -1,
                );
                let Some(i) = wanted.get(&(user.to_owned(), device, id)) else {
                    continue;
                };
                let acked = Acked {
                    sender: Address {
                        user_id: user_id(&r, "sender_user")?,
                        device_id: device_id(&r, "sender_device")?,
                    },
                    message_id: message_id(&r, "message_id")?,
                };
                deleted.entry(*i).or_default().push((id, acked));
            }
        }
    }
    deltas.apply(conn).await?;
    let mut out = Vec::with_capacity(acks.len());
    let mut receipts = Vec::new();
    for (i, a) in acks {
        let mut mine = deleted.remove(i).unwrap_or_default();
        mine.sort_by_key(|(id, _)| *id);
        let mine: Vec<Acked> = mine.into_iter().map(|(_, acked)| acked).collect();
        let expires_at = a.now.saturating_add(ms(a.receipt_ttl));
        receipts.extend(mine.iter().map(|acked| (acked.clone(), *a, expires_at)));
        if let Some(list) = events.get_mut(*i) {
            list.extend(mine.iter().map(|acked| {
                Event::new(&a.actor, Action::MessageDelivered)
                    .counterpart(&acked.sender.user_id, Some(acked.sender.device_id))
                    .message(&acked.message_id)
            }));
        }
        out.push((*i, mine));
    }
    for chunk in receipts.chunks(ROWS) {
        let sql = format!(
            "INSERT INTO receipts (sender_user, sender_device, message_id, recipient_user, \
             recipient_device, delivered_at, expires_at) VALUES {}",
            placeholders(1, chunk.len(), 7)
        );
        let mut q = sqlx::query(&sql);
        for (acked, a, expires_at) in chunk {
            q = q
                .bind(acked.sender.user_id.as_str())
                .bind(i64::from(acked.sender.device_id.0))
                .bind(acked.message_id.as_str())
                .bind(a.device.user_id.as_str())
                .bind(i64::from(a.device.device_id.0))
                .bind(a.now)
                .bind(*expires_at);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(out)
}

/// Deletes acknowledged receipts, each only by its own sending device.
async fn acknowledge_receipts(conn: &mut AnyConnection, acks: &[&AckReceipts]) -> Result<(), ServerError> {
    let keys: Vec<(String, i64, i64)> = acks
        .iter()
        .flat_map(|a| {
            a.ids.iter().map(|id| {
                (
                    a.device.user_id.as_str().to_owned(),
                    i64::from(a.device.device_id.0),
                    id.0,
                )
            })
        })
        .collect();
    for ((user, device), ids) in by_device(&keys) {
        for chunk in ids.chunks(ROWS) {
            let sql = format!(
                "DELETE FROM receipts WHERE sender_user = $1 AND sender_device = $2 AND receipt_id IN {}",
                placeholders(3, 1, chunk.len())
            );
            let mut q = sqlx::query(&sql).bind(user).bind(device);
            for id in chunk {
                q = q.bind(*id);
            }
            q.execute(&mut *conn).await?;
        }
    }
    Ok(())
}
