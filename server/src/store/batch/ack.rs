//! The statements of acknowledgements: deliveries (the ciphertext deleted,
//! a receipt stored) and receipts.

use curbside_protocol::audit::Action;
use curbside_protocol::ids::Address;
use sqlx::{AnyConnection, Row};

use crate::audit::Event;
use crate::error::ServerError;
use crate::store::rows::{device_id, message_id, user_id};
use crate::store::sql::{placeholders, values_list};
use crate::store::usage::Deltas;
use crate::store::{ms, Acked};

use super::{by_device, Ack, AckReceipts, ROWS};

/// Deletes the acknowledged deliveries (each only by its own device), records
/// a receipt for each, and returns per request what it deleted.
pub(super) async fn acknowledge(
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
    // the whole queue: the backlog benchmark showed it), and the chunk's
    // range bounds that walk (without it PostgreSQL, its statistics stale
    // after a burst of sends, read the device's whole queue for each
    // statement: 106 ms instead of 0.2 ms at 100 000 queued).
    for ((user, device), mut ids) in by_device(&keys) {
        ids.sort_unstable();
        for chunk in ids.chunks(ROWS) {
            let (Some(low), Some(high)) = (chunk.first(), chunk.last()) else {
                continue;
            };
            let sql = by_ids(
                "DELETE FROM queue WHERE recipient_user = $1 AND recipient_device = $2 AND held_until IS NULL",
                "delivery_id",
                chunk.len(),
                " RETURNING delivery_id, sender_user, sender_device, message_id, \
                 CAST(length(ciphertext) AS BIGINT) AS size",
            );
            let mut q = sqlx::query(&sql).bind(user).bind(device).bind(*low).bind(*high);
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
            values_list(conn, chunk.len(), 7)
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
pub(super) async fn acknowledge_receipts(
    conn: &mut AnyConnection,
    acks: &[&AckReceipts],
) -> Result<(), ServerError> {
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
    for ((user, device), mut ids) in by_device(&keys) {
        ids.sort_unstable();
        for chunk in ids.chunks(ROWS) {
            let (Some(low), Some(high)) = (chunk.first(), chunk.last()) else {
                continue;
            };
            let sql = by_ids(
                "DELETE FROM receipts WHERE sender_user = $1 AND sender_device = $2",
                "receipt_id",
                chunk.len(),
                "",
            );
            let mut q = sqlx::query(&sql).bind(user).bind(device).bind(*low).bind(*high);
            for id in chunk {
                q = q.bind(*id);
            }
            q.execute(&mut *conn).await?;
        }
    }
    Ok(())
}

/// `head` (which binds $1 and $2) narrowed to `n` ids of `column` (from $5),
/// with the ids' range as $3 and $4: the range bounds the index walk (see
/// `acknowledge`), the list picks the rows.
fn by_ids(head: &str, column: &str, n: usize, tail: &str) -> String {
    format!(
        "{head} AND {column} >= $3 AND {column} <= $4 AND {column} IN {}{tail}",
        placeholders(5, 1, n)
    )
}
