//! The statements of accepting messages: new messages and their queue rows,
//! within the recipients' queue quotas.

use curbside_protocol::audit::{Action, Details, DeviceCiphertext};
use curbside_protocol::frames::Envelope;
use curbside_protocol::ids::{Address, UserId};
use curbside_protocol::referral::Priority;
use sqlx::{AnyConnection, Row};

use crate::audit::{sha256_hex, Event};
use crate::error::ServerError;
use crate::store::ms;
use crate::store::sql::values_list;
use crate::store::usage::{Admission, Deltas, QueueFull, QueueQuota};

use super::{Accepted, NewMessage, ROWS};

/// Inserts the batch's new messages and their queue rows, within the
/// recipients' queue quotas; returns, per request, whether it stored a
/// message (false: a duplicate id) and when the message was first
/// accepted, or the quota it would have exceeded (nothing of it stored).
pub(super) async fn accept(
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
            "INSERT INTO messages (sender_user, message_id, sender_device, kind, accepted_at, recipient_count, \
             priority) VALUES {} ON CONFLICT DO NOTHING RETURNING sender_user, message_id",
            values_list(conn, chunk.len(), 7)
        );
        let mut q = sqlx::query(&sql);
        for (_, a) in chunk {
            q = q
                .bind(a.sender.user_id.as_str())
                .bind(a.message_id.as_str())
                .bind(i64::from(a.sender.device_id.0))
                .bind(a.kind.as_str())
                .bind(a.now)
                .bind(i64::try_from(a.envelopes.len()).unwrap_or(i64::MAX))
                .bind(priority(a));
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
    let mut urgent: Vec<&NewMessage> = Vec::new();
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
        rows.extend(a.all_envelopes().map(|(e, held)| (*a, e, held, expires_at)));
        if a.priority != Priority::Routine {
            urgent.push(*a);
        }
        for (e, _) in a.all_envelopes() {
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
            per_user.entry(&e.user_id).or_default().push(ciphertext_of(e));
        }
        let held = a.escalation.as_ref().map(|e| {
            let ciphertexts = e.envelopes.iter().map(ciphertext_of).collect();
            (&e.backup, ciphertexts, Some(e.after.as_secs()))
        });
        if let Some((consult, asker)) = &a.consult_answer {
            let first = crate::store::consults::first_answer(
                conn,
                consult,
                &a.sender.user_id,
                asker,
                &a.actor,
                a.now,
            )
            .await?;
            if let (Some(event), Some(list)) = (first, events.get_mut(*i)) {
                list.push(event);
            }
        }
        if let (Some(role), Some(list)) = (&a.role, events.get_mut(*i)) {
            list.extend(
                per_user
                    .keys()
                    .filter(|u| ***u != a.sender.user_id)
                    .map(|holder| {
                        Event::new(&a.actor, Action::OnCallResolved)
                            .counterpart(holder, None)
                            .message(&a.message_id)
                            .details(Details {
                                oncall_role: Some(role.to_string()),
                                ..Details::default()
                            })
                    }),
            );
        }
        if let Some(list) = events.get_mut(*i) {
            let entries = per_user.into_iter().map(|(user, c)| (user, c, None)).chain(held);
            list.extend(entries.map(|(user, ciphertexts, escalation_after_secs)| {
                Event::new(&a.actor, Action::MessageAccepted)
                    .counterpart(user, None)
                    .message(&a.message_id)
                    .details(Details {
                        kind: Some(a.kind.as_str().to_owned()),
                        ciphertexts: Some(ciphertexts),
                        priority: priority(a).map(str::to_owned),
                        escalation_after_secs,
                        ..Details::default()
                    })
            }));
        }
    }
    for chunk in rows.chunks(ROWS) {
        let sql = format!(
            "INSERT INTO queue (recipient_user, recipient_device, sender_user, sender_device, message_id, \
             kind, ciphertext, sent_at, expires_at, priority, held_until, escalated) VALUES {}",
            values_list(conn, chunk.len(), 12)
        );
        let mut q = sqlx::query(&sql);
        for (a, e, held_until, expires_at) in chunk {
            q = q
                .bind(e.user_id.as_str())
                .bind(i64::from(e.device_id.0))
                .bind(a.sender.user_id.as_str())
                .bind(i64::from(a.sender.device_id.0))
                .bind(a.message_id.as_str())
                .bind(a.kind.as_str())
                .bind(e.ciphertext.0.clone())
                .bind(a.now)
                .bind(*expires_at)
                .bind(priority(a))
                .bind(*held_until)
                .bind(i64::from(held_until.is_some()));
        }
        q.execute(&mut *conn).await?;
    }
    deltas.apply(conn).await?;
    record_urgent(conn, &urgent).await?;
    Ok(out)
}

/// The priority column: `NULL` for routine.
fn priority(a: &NewMessage) -> Option<&'static str> {
    (a.priority != Priority::Routine).then(|| a.priority.as_str())
}

fn ciphertext_of(e: &Envelope) -> DeviceCiphertext {
    DeviceCiphertext {
        device: e.device_id,
        size: e.ciphertext.len() as u64,
        sha256: sha256_hex(e.ciphertext.as_slice()),
    }
}

/// For the urgent and stat messages stored: who may acknowledge them (their
/// recipient users) and their escalations, held.
async fn record_urgent(conn: &mut AnyConnection, urgent: &[&NewMessage]) -> Result<(), ServerError> {
    for a in urgent {
        let mut users: Vec<&str> = a
            .envelopes
            .iter()
            .map(|e| e.user_id.as_str())
            .filter(|u| *u != a.sender.user_id.as_str())
            .collect();
        users.sort_unstable();
        users.dedup();
        for chunk in users.chunks(ROWS) {
            let sql = format!(
                "INSERT INTO message_recipients (sender_user, message_id, recipient_user) VALUES {}",
                values_list(conn, chunk.len(), 3)
            );
            let mut q = sqlx::query(&sql);
            for user in chunk {
                q = q
                    .bind(a.sender.user_id.as_str())
                    .bind(a.message_id.as_str())
                    .bind(*user);
            }
            q.execute(&mut *conn).await?;
        }
        if let Some(e) = &a.escalation {
            sqlx::query(
                "INSERT INTO escalations (sender_user, message_id, backup_user, after_secs, release_at, state) \
                 VALUES ($1, $2, $3, $4, $5, 'held')",
            )
            .bind(a.sender.user_id.as_str())
            .bind(a.message_id.as_str())
            .bind(e.backup.as_str())
            .bind(i64::try_from(e.after.as_secs()).unwrap_or(i64::MAX))
            .bind(a.now.saturating_add(ms(e.after)))
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
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
        .flat_map(|(_, a)| a.all_envelopes().map(|(e, _)| e.user_id.as_str()))
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
            .all_envelopes()
            .map(|(e, _)| {
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
            values_list(conn, chunk.len(), 2)
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
