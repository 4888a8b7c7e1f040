//! Queue quotas: what each device's queue holds (messages and bytes), in
//! total and per sending user, kept in the tables `queue_usage` and
//! `queue_pair_usage` by the very transactions that change the queue:
//! accepting adds (`batch::accept`), acknowledging and expiring subtract,
//! revoking a device deletes its rows. A send is checked against them
//! inside its group commit, after the audit head lock that serialises every
//! commit of the message path (across nodes on PostgreSQL too), so the
//! check is exact and race-free, and it never counts the queue itself.
//!
//! Per batch: one `SELECT` of each table for the devices and pairs the
//! batch's new messages touch (only when a quota is set), and one upsert of
//! each table with the batch's totals.

use std::collections::HashMap;

use curbside_protocol::ids::{Address, UserId};
use sqlx::{AnyConnection, Row};

use super::sql::placeholders;
use crate::error::ServerError;

/// Rows per multi-row statement (see `batch::ROWS`).
const ROWS: usize = 32;

/// The most a device's queue may hold; 0 in any field: no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueQuota {
    /// Messages queued for one device, from everyone.
    pub device_messages: u64,
    /// Bytes of ciphertext queued for one device, from everyone.
    pub device_bytes: u64,
    /// Messages queued for one device from one sending user (a user's own
    /// other devices are bounded by the device quota only).
    pub pair_messages: u64,
    /// Bytes queued for one device from one sending user.
    pub pair_bytes: u64,
}

impl QueueQuota {
    /// No limit at all (the default of a bare [`Store`](super::Store); the
    /// server sets its configured quota).
    #[must_use]
    pub fn unlimited() -> Self {
        Self::default()
    }

    fn enforced(&self) -> bool {
        self.device_messages > 0 || self.device_bytes > 0 || self.pair_messages > 0 || self.pair_bytes > 0
    }
}

/// Which quota a refused send would have exceeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuotaScope {
    /// Everything queued for the device.
    Device,
    /// What the sender's user has queued for the device.
    Sender,
}

/// A send refused because a recipient device's queue is full: nothing of
/// it was stored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct QueueFull {
    /// The first recipient device over its quota.
    pub recipient: Address,
    /// Which quota.
    pub scope: QuotaScope,
}

impl QueueFull {
    /// What the sender is told: whose queue, which quota, what to do.
    #[must_use]
    pub fn message(&self) -> String {
        let who = format!(
            "device {} of {}",
            self.recipient.device_id, self.recipient.user_id
        );
        match self.scope {
            QuotaScope::Device => format!(
                "the queue of {who} is full (it has not been online to receive its messages); \
                 nothing was sent: try again once the recipient's device has come online and \
                 received its messages, or ask them to revoke a device they no longer use"
            ),
            QuotaScope::Sender => format!(
                "you have too many undelivered messages queued for {who}; nothing was sent: \
                 try again once the recipient's device has come online and received them"
            ),
        }
    }
}

/// Messages and bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Usage {
    pub(super) messages: i64,
    pub(super) bytes: i64,
}

impl Usage {
    fn add(&mut self, other: Usage) {
        self.messages = self.messages.saturating_add(other.messages);
        self.bytes = self.bytes.saturating_add(other.bytes);
    }

    /// Whether adding `more` would exceed `max_messages` or `max_bytes` (0: none).
    fn exceeds(self, more: Usage, max_messages: u64, max_bytes: u64) -> bool {
        let over = |now: i64, more: i64, max: u64| {
            max > 0 && u64::try_from(now.max(0).saturating_add(more)).unwrap_or(u64::MAX) > max
        };
        over(self.messages, more.messages, max_messages) || over(self.bytes, more.bytes, max_bytes)
    }
}

/// A recipient device: (user, device).
pub(super) type DeviceKey = (String, i64);
/// A recipient device and a sending user.
pub(super) type PairKey = (String, i64, String);

/// Changes to usage, summed over a batch (positive: queued; negative:
/// removed).
#[derive(Debug, Default)]
pub(super) struct Deltas {
    devices: HashMap<DeviceKey, Usage>,
    pairs: HashMap<PairKey, Usage>,
}

impl Deltas {
    /// One delivery of `bytes` from `sender` to `recipient`, added (`sign`
    /// 1) or removed (-1).
    pub(super) fn note(&mut self, recipient: (&str, i64), sender: &str, bytes: i64, sign: i64) {
        let change = Usage {
            messages: sign,
            bytes: bytes.saturating_mul(sign),
        };
        self.devices
            .entry((recipient.0.to_owned(), recipient.1))
            .or_default()
            .add(change);
        self.pairs
            .entry((recipient.0.to_owned(), recipient.1, sender.to_owned()))
            .or_default()
            .add(change);
    }

    /// Writes the changes (one upsert per table and chunk, in key order so
    /// that concurrent transactions lock rows in the same order).
    pub(super) async fn apply(self, conn: &mut AnyConnection) -> Result<(), ServerError> {
        let mut devices: Vec<(DeviceKey, Usage)> = self
            .devices
            .into_iter()
            .filter(|(_, u)| *u != Usage::default())
            .collect();
        devices.sort_by(|a, b| a.0.cmp(&b.0));
        for chunk in devices.chunks(ROWS) {
            let sql = format!(
                "INSERT INTO queue_usage (recipient_user, recipient_device, messages, bytes) VALUES {} \
                 ON CONFLICT (recipient_user, recipient_device) DO UPDATE SET \
                 messages = queue_usage.messages + excluded.messages, bytes = queue_usage.bytes + excluded.bytes",
                placeholders(1, chunk.len(), 4)
            );
            let mut q = sqlx::query(&sql);
            for ((user, device), usage) in chunk {
                q = q
                    .bind(user.as_str())
                    .bind(*device)
                    .bind(usage.messages)
                    .bind(usage.bytes);
            }
            q.execute(&mut *conn).await?;
        }
        let mut pairs: Vec<(PairKey, Usage)> = self
            .pairs
            .into_iter()
            .filter(|(_, u)| *u != Usage::default())
            .collect();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        for chunk in pairs.chunks(ROWS) {
            let sql = format!(
                "INSERT INTO queue_pair_usage (recipient_user, recipient_device, sender_user, messages, bytes) \
                 VALUES {} ON CONFLICT (recipient_user, recipient_device, sender_user) DO UPDATE SET \
                 messages = queue_pair_usage.messages + excluded.messages, \
                 bytes = queue_pair_usage.bytes + excluded.bytes",
                placeholders(1, chunk.len(), 5)
            );
            let mut q = sqlx::query(&sql);
            for ((user, device, sender), usage) in chunk {
                q = q
                    .bind(user.as_str())
                    .bind(*device)
                    .bind(sender.as_str())
                    .bind(usage.messages)
                    .bind(usage.bytes);
            }
            q.execute(&mut *conn).await?;
        }
        Ok(())
    }
}

/// The quota check of one batch: the usage of the devices and pairs its
/// messages touch, as read inside the commit, plus what the batch's
/// messages admitted so far add.
#[derive(Debug)]
pub(super) struct Admission {
    quota: QueueQuota,
    devices: HashMap<DeviceKey, Usage>,
    pairs: HashMap<PairKey, Usage>,
}

impl Admission {
    /// Reads the usage of every device of `recipients` and of every pair of
    /// `senders` and those devices (nothing when no quota is set).
    pub(super) async fn load(
        conn: &mut AnyConnection,
        quota: QueueQuota,
        senders: &[&str],
        recipients: &[&str],
    ) -> Result<Self, ServerError> {
        let mut devices = HashMap::new();
        let mut pairs = HashMap::new();
        if quota.enforced() && !recipients.is_empty() {
            for chunk in recipients.chunks(ROWS) {
                let sql = format!(
                    "SELECT recipient_user, recipient_device, messages, bytes FROM queue_usage \
                     WHERE recipient_user IN {}",
                    placeholders(1, 1, chunk.len())
                );
                let mut q = sqlx::query(&sql);
                for user in chunk {
                    q = q.bind(*user);
                }
                for r in q.fetch_all(&mut *conn).await? {
                    devices.insert(
                        (r.try_get("recipient_user")?, r.try_get("recipient_device")?),
                        usage(&r)?,
                    );
                }
            }
            if quota.pair_messages > 0 || quota.pair_bytes > 0 {
                for senders in senders.chunks(ROWS) {
                    for chunk in recipients.chunks(ROWS) {
                        let sql = format!(
                            "SELECT recipient_user, recipient_device, sender_user, messages, bytes \
                             FROM queue_pair_usage WHERE recipient_user IN {} AND sender_user IN {}",
                            placeholders(1, 1, chunk.len()),
                            placeholders(1 + chunk.len(), 1, senders.len())
                        );
                        let mut q = sqlx::query(&sql);
                        for user in chunk {
                            q = q.bind(*user);
                        }
                        for sender in senders {
                            q = q.bind(*sender);
                        }
                        for r in q.fetch_all(&mut *conn).await? {
                            pairs.insert(
                                (
                                    r.try_get("recipient_user")?,
                                    r.try_get("recipient_device")?,
                                    r.try_get("sender_user")?,
                                ),
                                usage(&r)?,
                            );
                        }
                    }
                }
            }
        }
        Ok(Self {
            quota,
            devices,
            pairs,
        })
    }

    /// Admits one message from `sender` with one ciphertext of the given
    /// size per recipient device (counting it for the batch's next
    /// messages), or names the first recipient device it would overflow.
    pub(super) fn admit(&mut self, sender: &UserId, envelopes: &[(Address, i64)]) -> Result<(), QueueFull> {
        let q = self.quota;
        if !q.enforced() {
            return Ok(());
        }
        // Several envelopes never name one device twice (checked before the
        // commit), so each device's addition is one message.
        for (recipient, bytes) in envelopes {
            let one = Usage {
                messages: 1,
                bytes: *bytes,
            };
            let device = (
                recipient.user_id.as_str().to_owned(),
                i64::from(recipient.device_id.0),
            );
            let now = self.devices.get(&device).copied().unwrap_or_default();
            if now.exceeds(one, q.device_messages, q.device_bytes) {
                return Err(QueueFull {
                    recipient: recipient.clone(),
                    scope: QuotaScope::Device,
                });
            }
            if recipient.user_id != *sender {
                let pair = (device.0, device.1, sender.as_str().to_owned());
                let now = self.pairs.get(&pair).copied().unwrap_or_default();
                if now.exceeds(one, q.pair_messages, q.pair_bytes) {
                    return Err(QueueFull {
                        recipient: recipient.clone(),
                        scope: QuotaScope::Sender,
                    });
                }
            }
        }
        for (recipient, bytes) in envelopes {
            let one = Usage {
                messages: 1,
                bytes: *bytes,
            };
            let user = recipient.user_id.as_str().to_owned();
            let device = i64::from(recipient.device_id.0);
            self.devices.entry((user.clone(), device)).or_default().add(one);
            self.pairs
                .entry((user, device, sender.as_str().to_owned()))
                .or_default()
                .add(one);
        }
        Ok(())
    }
}

fn usage(r: &sqlx::any::AnyRow) -> Result<Usage, ServerError> {
    Ok(Usage {
        messages: r.try_get("messages")?,
        bytes: r.try_get("bytes")?,
    })
}

/// Forgets the usage rows of queues that emptied (the periodic expiry runs
/// it, so that the tables hold only devices and pairs with something queued).
pub(super) async fn forget_empty(conn: &mut AnyConnection) -> Result<(), ServerError> {
    for sql in [
        "DELETE FROM queue_usage WHERE messages <= 0",
        "DELETE FROM queue_pair_usage WHERE messages <= 0",
    ] {
        sqlx::query(sql).execute(&mut *conn).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use curbside_protocol::ids::DeviceId;

    fn at(user: &str, device: u32) -> Address {
        Address {
            user_id: UserId::new(user).unwrap(),
            device_id: DeviceId(device),
        }
    }

    fn admission(quota: QueueQuota) -> Admission {
        Admission {
            quota,
            devices: HashMap::new(),
            pairs: HashMap::new(),
        }
    }

    #[test]
    fn the_pair_quota_then_the_device_quota_and_a_refusal_adds_nothing() {
        let mut a = admission(QueueQuota {
            device_messages: 3,
            device_bytes: 0,
            pair_messages: 2,
            pair_bytes: 0,
        });
        let mallory = UserId::new("mallory").unwrap();
        let carol = UserId::new("carol").unwrap();
        let bob = [(at("bob", 1), 10)];
        assert!(a.admit(&mallory, &bob).is_ok());
        assert!(a.admit(&mallory, &bob).is_ok());
        let refused = a.admit(&mallory, &bob).unwrap_err();
        assert_eq!(refused.scope, QuotaScope::Sender);
        assert!(a.admit(&carol, &bob).is_ok(), "another sender still gets through");
        assert_eq!(a.admit(&carol, &bob).unwrap_err().scope, QuotaScope::Device);
        // A send to two devices, one of them full: refused whole, the other
        // device's count unchanged.
        let both = [(at("dan", 1), 10), (at("bob", 1), 10)];
        assert!(a.admit(&carol, &both).is_err());
        assert!(!a.devices.contains_key(&("dan".to_owned(), 1)));
    }

    #[test]
    fn bytes_count_and_own_devices_have_no_pair_quota_and_zero_is_unlimited() {
        let mut a = admission(QueueQuota {
            device_messages: 0,
            device_bytes: 25,
            pair_messages: 1,
            pair_bytes: 0,
        });
        let bob = UserId::new("bob").unwrap();
        let own = [(at("bob", 2), 10)];
        assert!(a.admit(&bob, &own).is_ok());
        assert!(a.admit(&bob, &own).is_ok(), "no pair quota for one's own devices");
        assert_eq!(a.admit(&bob, &own).unwrap_err().scope, QuotaScope::Device);
        let mut free = admission(QueueQuota::unlimited());
        for _ in 0..1000 {
            assert!(free.admit(&bob, &[(at("alice", 1), 1 << 20)]).is_ok());
        }
    }
}
