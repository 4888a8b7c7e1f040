//! Messages on their way: accepting a send (one queue row per recipient
//! device, through the group commit of [`batch`](super::batch)), each
//! device's queue, acknowledgements and the delivery receipts they leave for
//! the sender, and the expiry of everything past its lifetime. Only
//! ciphertext is ever stored.

use std::time::Duration;

use curbside_protocol::audit::Action;
use curbside_protocol::frames::MessageKind;
use curbside_protocol::ids::{Address, DeliveryId, MessageId, ReceiptId};
use curbside_protocol::referral::Priority;
use sqlx::Row;

use super::batch::{self, Accepted, NewMessage, Pending};
use super::pool::ReadOn as _;
use super::rows::{count, device_id, kind_from_str, message_id, user_id};
use super::sql::select;
use super::usage::{forget_empty, Deltas};
use super::{ms, Store};
use crate::audit::{Actor, Event};
use crate::error::ServerError;

/// A queued delivery.
#[derive(Clone, Debug)]
pub struct Queued {
    /// Its id.
    pub delivery_id: DeliveryId,
    /// Sender.
    pub sender: Address,
    /// Message id.
    pub message_id: MessageId,
    /// Kind.
    pub kind: MessageKind,
    /// Ciphertext for this device.
    pub ciphertext: Vec<u8>,
    /// Accepted at.
    pub sent_at: i64,
    /// The sender's priority.
    pub priority: Priority,
    /// An escalation copy, released.
    pub escalated: bool,
}

/// An acknowledged delivery, for the sender's receipt.
#[derive(Clone, Debug)]
pub struct Acked {
    /// Who sent it.
    pub sender: Address,
    /// Which message.
    pub message_id: MessageId,
}

/// A delivery receipt waiting for its sending device.
#[derive(Clone, Debug)]
pub struct Receipt {
    /// Its id.
    pub receipt_id: ReceiptId,
    /// The message.
    pub message_id: MessageId,
    /// The device that received it.
    pub recipient: Address,
    /// When.
    pub delivered_at: i64,
}

impl Store {
    /// Stores a message and one queue row per envelope, with its audit
    /// entries, durably (group commit: see `store/batch/`). Returns
    /// `false` (and stores nothing) if this sender already used this
    /// message id.
    pub async fn accept_message(&self, message: NewMessage) -> Result<bool, ServerError> {
        Ok(self.submit_message(message)?.wait().await?.stored)
    }

    /// [`Store::accept_message`] in two steps: the message is queued for the
    /// next group commit at once (so messages submitted one after another
    /// commit in that order), and the returned [`Pending`] resolves after the
    /// commit. A connection uses this to keep reading while its sends commit.
    pub fn submit_message(&self, message: NewMessage) -> Result<Pending<Accepted>, ServerError> {
        self.commits.submit_accept(message)
    }

    /// Up to `limit` queued deliveries for a device after `after`, oldest first.
    pub async fn queued(
        &self,
        device: &Address,
        after: DeliveryId,
        limit: usize,
        now: i64,
    ) -> Result<Vec<Queued>, ServerError> {
        let q = select!(
            "SELECT delivery_id, sender_user, sender_device, message_id, kind, ciphertext, sent_at, priority, \
             escalated FROM queue \
             WHERE recipient_user = $1 AND recipient_device = $2 AND delivery_id > $3 AND expires_at > $4 \
             AND held_until IS NULL ORDER BY delivery_id LIMIT $5",
        )
        .bind(device.user_id.as_str())
        .bind(i64::from(device.device_id.0))
        .bind(after.0)
        .bind(now)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX));
        let rows = self.reads.fetch_all(q).await?;
        rows.iter()
            .map(|r| {
                Ok(Queued {
                    delivery_id: DeliveryId(r.try_get("delivery_id")?),
                    sender: Address {
                        user_id: user_id(r, "sender_user")?,
                        device_id: device_id(r, "sender_device")?,
                    },
                    message_id: message_id(r, "message_id")?,
                    kind: kind_from_str(&r.try_get::<String, _>("kind")?),
                    ciphertext: r.try_get("ciphertext")?,
                    sent_at: r.try_get("sent_at")?,
                    priority: r
                        .try_get::<Option<String>, _>("priority")?
                        .and_then(|p| Priority::parse(&p))
                        .unwrap_or_default(),
                    escalated: r.try_get::<i64, _>("escalated")? != 0,
                })
            })
            .collect()
    }

    /// Deletes acknowledged deliveries of this device (only its own) and, in
    /// the same transaction, records a receipt for each sender and the audit
    /// entries (group commit). Returns what was deleted, to wake the senders.
    pub async fn acknowledge(
        &self,
        device: &Address,
        ids: &[DeliveryId],
        actor: &Actor,
        now: i64,
        receipt_ttl: Duration,
    ) -> Result<Vec<Acked>, ServerError> {
        self.submit_acknowledge(device, ids, actor, now, receipt_ttl)?
            .wait()
            .await
    }

    /// [`Self::acknowledge`], queued for the group commit now (it commits
    /// whether or not the answer is awaited); the answer to wait for.
    pub fn submit_acknowledge(
        &self,
        device: &Address,
        ids: &[DeliveryId],
        actor: &Actor,
        now: i64,
        receipt_ttl: Duration,
    ) -> Result<Pending<Vec<Acked>>, ServerError> {
        self.commits.submit_ack(batch::Ack {
            device: device.clone(),
            ids: ids.to_vec(),
            actor: actor.clone(),
            now,
            receipt_ttl,
        })
    }

    /// Up to `limit` receipts waiting for a sending device after `after`.
    pub async fn receipts(
        &self,
        device: &Address,
        after: ReceiptId,
        limit: usize,
    ) -> Result<Vec<Receipt>, ServerError> {
        let q = select!(
            "SELECT receipt_id, message_id, recipient_user, recipient_device, delivered_at FROM receipts \
             WHERE sender_user = $1 AND sender_device = $2 AND receipt_id > $3 ORDER BY receipt_id LIMIT $4",
        )
        .bind(device.user_id.as_str())
        .bind(i64::from(device.device_id.0))
        .bind(after.0)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX));
        let rows = self.reads.fetch_all(q).await?;
        rows.iter()
            .map(|r| {
                Ok(Receipt {
                    receipt_id: ReceiptId(r.try_get("receipt_id")?),
                    message_id: message_id(r, "message_id")?,
                    recipient: Address {
                        user_id: user_id(r, "recipient_user")?,
                        device_id: device_id(r, "recipient_device")?,
                    },
                    delivered_at: r.try_get("delivered_at")?,
                })
            })
            .collect()
    }

    /// Deletes receipts the sending device acknowledged (only its own).
    pub async fn acknowledge_receipts(&self, device: &Address, ids: &[ReceiptId]) -> Result<(), ServerError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.submit_acknowledge_receipts(device, ids)?.wait().await
    }

    /// [`Self::acknowledge_receipts`], queued for the group commit now.
    pub fn submit_acknowledge_receipts(
        &self,
        device: &Address,
        ids: &[ReceiptId],
    ) -> Result<Pending<()>, ServerError> {
        self.commits.submit_ack_receipts(batch::AckReceipts {
            device: device.clone(),
            ids: ids.to_vec(),
        })
    }

    /// Number of deliveries queued for a device.
    pub async fn queue_depth(&self, device: &Address) -> Result<u64, ServerError> {
        let row = self
            .writer
            .fetch_one(
                sqlx::query(
                    "SELECT COUNT(*) AS n FROM queue WHERE recipient_user = $1 AND recipient_device = $2",
                )
                .bind(device.user_id.as_str())
                .bind(i64::from(device.device_id.0)),
            )
            .await?;
        count(&row)
    }

    /// Number of deliveries queued for all devices.
    pub async fn total_queue_depth(&self) -> Result<u64, ServerError> {
        let row = self
            .writer
            .fetch_one(sqlx::query("SELECT COUNT(*) AS n FROM queue"))
            .await?;
        count(&row)
    }

    /// Deletes expired ciphertext, receipts and challenges, and forgets the
    /// ids of messages accepted more than `message_retention` ago (the
    /// idempotency window equals the queue lifetime). Returns how many
    /// deliveries expired.
    ///
    /// `sent_cutoff` is the retention policy's limit: copies accepted at or
    /// before it are deleted too, expired or not (`i64::MIN`: no policy).
    pub async fn expire(
        &self,
        now: i64,
        message_retention: Duration,
        sent_cutoff: i64,
    ) -> Result<u64, ServerError> {
        let forget = now.saturating_sub(ms(message_retention));
        for statement in [
            "DELETE FROM message_recipients WHERE (sender_user, message_id) IN \
             (SELECT sender_user, message_id FROM messages WHERE accepted_at <= $1)",
            "DELETE FROM escalations WHERE (sender_user, message_id) IN \
             (SELECT sender_user, message_id FROM messages WHERE accepted_at <= $1)",
            "DELETE FROM messages WHERE accepted_at <= $1",
        ] {
            self.writer.execute(sqlx::query(statement).bind(forget)).await?;
        }
        let mut tx = self.begin().await?;
        // The head lock first, as the group commit takes it: the queue and
        // usage rows are then always locked after it (no deadlock with a
        // commit of another node).
        tx.lock_audit_head().await?;
        let rows = sqlx::query(
            "DELETE FROM queue WHERE expires_at <= $1 OR sent_at <= $2 \
             RETURNING recipient_user, recipient_device, message_id, sender_user, sender_device, \
             CAST(length(ciphertext) AS BIGINT) AS size",
        )
        .bind(now)
        .bind(sent_cutoff)
        .fetch_all(&mut *tx)
        .await?;
        let mut deltas = Deltas::default();
        let mut events = Vec::with_capacity(rows.len());
        for r in &rows {
            deltas.note(
                (
                    &r.try_get::<String, _>("recipient_user")?,
                    r.try_get::<i64, _>("recipient_device")?,
                ),
                &r.try_get::<String, _>("sender_user")?,
                r.try_get::<i64, _>("size")?,
                -1,
            );
            let message = message_id(r, "message_id")?;
            events.push(
                Event::new(&Actor::server(), Action::MessageExpired)
                    .counterpart(
                        &user_id(r, "recipient_user")?,
                        Some(device_id(r, "recipient_device")?),
                    )
                    .message(&message),
            );
        }
        deltas.apply(&mut tx).await?;
        forget_empty(&mut tx).await?;
        tx.audit(events, now).await?;
        tx.commit().await?;
        let expired = rows.len() as u64;
        self.writer
            .execute(sqlx::query("DELETE FROM receipts WHERE expires_at <= $1").bind(now))
            .await?;
        self.writer
            .execute(sqlx::query("DELETE FROM challenges WHERE expires_at <= $1").bind(now))
            .await?;
        Ok(expired)
    }
}
