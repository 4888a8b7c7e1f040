//! Urgent and stat messages (their acknowledgement, the release or
//! withdrawal of a held escalation), recall, and the retention policy.
//!
//! Each change is one transaction with its audit entries, taking the audit
//! head lock first (as the group commit does): the queue and usage rows are
//! locked after it, and the queue rows a release re-inserts take their ids
//! from the sequence under it. An acknowledgement, a recall and a release
//! of the same message are therefore serialised, on every node: a held
//! escalation is either released or withdrawn, never both.

use curbside_protocol::audit::{Action, Details};
use curbside_protocol::http::Policy;
use curbside_protocol::ids::{Address, MessageId, UserId};
use sqlx::{AnyConnection, Row};

use super::rows::{device_id, user_id};
use super::tx::Tx;
use super::usage::{forget_empty, Deltas};
use super::Store;
use crate::audit::{Actor, Event};
use crate::error::ServerError;

/// Why an acknowledgement or a recall was refused (nothing was written).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrgentProblem {
    /// No such message for this caller (not received, recalled, forgotten).
    NotFound,
    /// The message is routine: there is nothing to acknowledge.
    Routine,
    /// A recall after the recall window.
    WindowPassed,
}

/// An acknowledgement recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acknowledgement {
    /// When the message was first acknowledged.
    pub acknowledged_at: i64,
    /// Whether this call was the first acknowledgement.
    pub first: bool,
    /// Everyone else who has the message: its other recipients, and the
    /// backup once released (not the caller, not the sender).
    pub also: Vec<UserId>,
}

/// A held escalation released: the devices to wake.
#[derive(Clone, Debug)]
pub struct Released {
    /// The sender and message.
    pub sender: UserId,
    /// The message.
    pub message_id: MessageId,
    /// The backup's devices that now have a delivery.
    pub devices: Vec<Address>,
}

/// Keys of `server_meta` for the retention policy.
const RETENTION: &str = "retention_secs";
const RETENTION_CHANGED: &str = "retention_changed_at";

impl Store {
    /// Records `by`'s acknowledgement of `sender`'s urgent or stat message
    /// and withdraws its held escalation, with the audit entries. Only a
    /// recipient (or the backup once released) may acknowledge; only the
    /// first acknowledgement is recorded and audited.
    pub async fn acknowledge_urgent(
        &self,
        by: &Address,
        actor: &Actor,
        sender: &UserId,
        message_id: &MessageId,
        now: i64,
    ) -> Result<Result<Acknowledgement, UrgentProblem>, ServerError> {
        let mut tx = self.begin().await?;
        tx.lock_audit_head().await?;
        let row = sqlx::query(
            "SELECT priority, acknowledged_at, recalled_at FROM messages WHERE sender_user = $1 AND message_id = $2",
        )
        .bind(sender.as_str())
        .bind(message_id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(Err(UrgentProblem::NotFound));
        };
        if row.try_get::<Option<i64>, _>("recalled_at")?.is_some() {
            return Ok(Err(UrgentProblem::NotFound));
        }
        let allowed = sqlx::query(
            "SELECT 1 AS one FROM message_recipients WHERE sender_user = $1 AND message_id = $2 \
             AND recipient_user = $3 UNION ALL SELECT 1 AS one FROM escalations WHERE sender_user = $1 \
             AND message_id = $2 AND backup_user = $3 AND state = 'released'",
        )
        .bind(sender.as_str())
        .bind(message_id.as_str())
        .bind(by.user_id.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
        if row.try_get::<Option<String>, _>("priority")?.is_none() {
            // A routine message has no recipient rows: tell a recipient why.
            return Ok(Err(UrgentProblem::Routine));
        }
        if !allowed {
            return Ok(Err(UrgentProblem::NotFound));
        }
        let also = sqlx::query(
            "SELECT recipient_user AS user_id FROM message_recipients WHERE sender_user = $1 AND message_id = $2 \
             UNION SELECT backup_user AS user_id FROM escalations WHERE sender_user = $1 AND message_id = $2 \
             AND state = 'released'",
        )
        .bind(sender.as_str())
        .bind(message_id.as_str())
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| user_id(r, "user_id"))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|u| *u != by.user_id && u != sender)
        .collect::<Vec<_>>();
        if let Some(at) = row.try_get::<Option<i64>, _>("acknowledged_at")? {
            return Ok(Ok(Acknowledgement {
                acknowledged_at: at,
                first: false,
                also,
            }));
        }
        sqlx::query(
            "UPDATE messages SET acknowledged_at = $3, acknowledged_by = $4 \
             WHERE sender_user = $1 AND message_id = $2",
        )
        .bind(sender.as_str())
        .bind(message_id.as_str())
        .bind(now)
        .bind(by.user_id.as_str())
        .execute(&mut *tx)
        .await?;
        let mut events = vec![Event::new(actor, Action::MessageAcknowledged)
            .counterpart(sender, None)
            .message(message_id)];
        events.extend(withdraw(&mut tx, actor, sender, message_id).await?);
        tx.audit(events, now).await?;
        tx.commit().await?;
        Ok(Ok(Acknowledgement {
            acknowledged_at: now,
            first: true,
            also,
        }))
    }

    /// Recalls a message `by` sent: deletes its undelivered copies (held
    /// escalation copies too) within `window_ms` of its acceptance, with the
    /// audit entries. Returns how many copies were deleted (0 for a second
    /// recall).
    pub async fn recall(
        &self,
        by: &Address,
        actor: &Actor,
        message_id: &MessageId,
        window_ms: i64,
        now: i64,
    ) -> Result<Result<u64, UrgentProblem>, ServerError> {
        let mut tx = self.begin().await?;
        tx.lock_audit_head().await?;
        let row = sqlx::query(
            "SELECT accepted_at, recalled_at FROM messages WHERE sender_user = $1 AND message_id = $2",
        )
        .bind(by.user_id.as_str())
        .bind(message_id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(Err(UrgentProblem::NotFound));
        };
        if row.try_get::<Option<i64>, _>("recalled_at")?.is_some() {
            return Ok(Ok(0));
        }
        if now.saturating_sub(row.try_get::<i64, _>("accepted_at")?) > window_ms {
            return Ok(Err(UrgentProblem::WindowPassed));
        }
        let deleted = delete_copies(&mut tx, &by.user_id, message_id, false).await?;
        sqlx::query("UPDATE messages SET recalled_at = $3 WHERE sender_user = $1 AND message_id = $2")
            .bind(by.user_id.as_str())
            .bind(message_id.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let mut events = vec![Event::new(actor, Action::MessageRecalled)
            .message(message_id)
            .details(Details {
                deleted: Some(deleted),
                ..Details::default()
            })];
        events.extend(withdraw(&mut tx, actor, &by.user_id, message_id).await?);
        tx.audit(events, now).await?;
        tx.commit().await?;
        Ok(Ok(deleted))
    }

    /// Releases the held escalations due at `now` (at most `limit`): their
    /// copies become deliveries (new delivery ids, after everything queued
    /// so far, so that a connected backup's next push finds them), each
    /// with its `escalation.released` entry. Returns what was released.
    pub async fn release_escalations(&self, now: i64, limit: usize) -> Result<Vec<Released>, ServerError> {
        // A cheap look first: most seconds nothing is due.
        let due = self
            .writer
            .fetch_all(
                sqlx::query(
                    "SELECT sender_user, message_id FROM escalations WHERE state = 'held' AND release_at <= $1 \
                     ORDER BY release_at LIMIT $2",
                )
                .bind(now)
                .bind(i64::try_from(limit).unwrap_or(i64::MAX)),
            )
            .await?;
        if due.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin().await?;
        tx.lock_audit_head().await?;
        let mut released = Vec::new();
        let mut events = Vec::new();
        for r in &due {
            let sender = user_id(r, "sender_user")?;
            let message_id = super::rows::message_id(r, "message_id")?;
            // Under the head lock: withdrawn meanwhile (acknowledged, recalled) is not released.
            let Some(esc) = sqlx::query(
                "UPDATE escalations SET state = 'released' WHERE sender_user = $1 AND message_id = $2 \
                 AND state = 'held' RETURNING backup_user, after_secs",
            )
            .bind(sender.as_str())
            .bind(message_id.as_str())
            .fetch_optional(&mut *tx)
            .await?
            else {
                continue;
            };
            let backup = user_id(&esc, "backup_user")?;
            let copies = sqlx::query(
                "INSERT INTO queue (recipient_user, recipient_device, sender_user, sender_device, message_id, \
                 kind, ciphertext, sent_at, expires_at, priority, held_until, escalated) \
                 SELECT recipient_user, recipient_device, sender_user, sender_device, message_id, kind, \
                 ciphertext, sent_at, expires_at, priority, NULL, 1 FROM queue \
                 WHERE sender_user = $1 AND message_id = $2 AND held_until IS NOT NULL \
                 RETURNING recipient_user, recipient_device",
            )
            .bind(sender.as_str())
            .bind(message_id.as_str())
            .fetch_all(&mut *tx)
            .await?;
            sqlx::query(
                "DELETE FROM queue WHERE sender_user = $1 AND message_id = $2 AND held_until IS NOT NULL",
            )
            .bind(sender.as_str())
            .bind(message_id.as_str())
            .execute(&mut *tx)
            .await?;
            let devices = copies
                .iter()
                .map(|c| {
                    Ok(Address {
                        user_id: user_id(c, "recipient_user")?,
                        device_id: device_id(c, "recipient_device")?,
                    })
                })
                .collect::<Result<Vec<_>, ServerError>>()?;
            let after = esc.try_get::<i64, _>("after_secs")?;
            events.push(
                Event::new(&Actor::server(), Action::EscalationReleased)
                    .counterpart(&backup, None)
                    .message(&message_id)
                    .details(Details {
                        escalation_after_secs: u64::try_from(after).ok(),
                        devices: Some(devices.iter().map(|d| d.device_id).collect()),
                        ..Details::default()
                    }),
            );
            released.push(Released {
                sender,
                message_id,
                devices,
            });
        }
        tx.audit(events, now).await?;
        tx.commit().await?;
        Ok(released)
    }

    /// The organisation's policy (`recall_window_secs` is the server's configuration).
    pub async fn policy(&self, recall_window_secs: u64) -> Result<Policy, ServerError> {
        let rows = self
            .writer
            .fetch_all(
                sqlx::query("SELECT key, value FROM server_meta WHERE key = $1 OR key = $2")
                    .bind(RETENTION)
                    .bind(RETENTION_CHANGED),
            )
            .await?;
        let mut policy = Policy {
            retention_secs: None,
            recall_window_secs,
            changed_at: None,
        };
        for r in &rows {
            let value: String = r.try_get("value")?;
            match r.try_get::<String, _>("key")?.as_str() {
                RETENTION => policy.retention_secs = value.parse().ok(),
                _ => policy.changed_at = value.parse().ok(),
            }
        }
        Ok(policy)
    }

    /// Sets the retention policy (`None`: no limit), audited.
    pub async fn set_retention(
        &self,
        retention_secs: Option<u64>,
        actor: &Actor,
        now: i64,
    ) -> Result<(), ServerError> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM server_meta WHERE key = $1 OR key = $2")
            .bind(RETENTION)
            .bind(RETENTION_CHANGED)
            .execute(&mut *tx)
            .await?;
        let mut values = vec![(RETENTION_CHANGED, now.to_string())];
        if let Some(secs) = retention_secs {
            values.push((RETENTION, secs.to_string()));
        }
        for (key, value) in values {
            sqlx::query("INSERT INTO server_meta (key, value) VALUES ($1, $2)")
                .bind(key)
                .bind(value)
                .execute(&mut *tx)
                .await?;
        }
        let event = Event::new(actor, Action::RetentionChanged).details(Details {
            retention_secs,
            ..Details::default()
        });
        tx.audit(vec![event], now).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Withdraws the message's held escalation, if any: its copies deleted,
/// the `escalation.withdrawn` entry returned.
async fn withdraw(
    tx: &mut Tx,
    actor: &Actor,
    sender: &UserId,
    message_id: &MessageId,
) -> Result<Option<Event>, ServerError> {
    let Some(esc) = sqlx::query(
        "UPDATE escalations SET state = 'withdrawn' WHERE sender_user = $1 AND message_id = $2 \
         AND state = 'held' RETURNING backup_user",
    )
    .bind(sender.as_str())
    .bind(message_id.as_str())
    .fetch_optional(&mut **tx)
    .await?
    else {
        return Ok(None);
    };
    let deleted = delete_copies(tx, sender, message_id, true).await?;
    Ok(Some(
        Event::new(actor, Action::EscalationWithdrawn)
            .counterpart(&user_id(&esc, "backup_user")?, None)
            .message(message_id)
            .details(Details {
                deleted: Some(deleted),
                ..Details::default()
            }),
    ))
}

/// Deletes the message's queued copies (only the held ones if
/// `held_only`), with their queue-quota bookkeeping; returns how many.
async fn delete_copies(
    conn: &mut AnyConnection,
    sender: &UserId,
    message_id: &MessageId,
    held_only: bool,
) -> Result<u64, ServerError> {
    let sql = format!(
        "DELETE FROM queue WHERE sender_user = $1 AND message_id = $2{} \
         RETURNING recipient_user, recipient_device, CAST(length(ciphertext) AS BIGINT) AS size",
        if held_only {
            " AND held_until IS NOT NULL"
        } else {
            ""
        }
    );
    let rows = sqlx::query(&sql)
        .bind(sender.as_str())
        .bind(message_id.as_str())
        .fetch_all(&mut *conn)
        .await?;
    let mut deltas = Deltas::default();
    for r in &rows {
        deltas.note(
            (
                &r.try_get::<String, _>("recipient_user")?,
                r.try_get::<i64, _>("recipient_device")?,
            ),
            sender.as_str(),
            r.try_get::<i64, _>("size")?,
            -1,
        );
    }
    deltas.apply(conn).await?;
    forget_empty(conn).await?;
    Ok(rows.len() as u64)
}
