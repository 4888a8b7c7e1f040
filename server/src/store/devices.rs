//! Devices: each user's devices with their identity keys, the current
//! (not revoked) device lists the send path checks recipients against, and
//! revocation, which ends everything a device holds on the server.

use std::collections::HashMap;

use curbside_protocol::audit::Action;
use curbside_protocol::http::DeviceSummary;
use curbside_protocol::ids::{DeviceId, UserId};
use sqlx::Row;

use super::pool::ReadOn as _;
use super::rows::{device_id, user_id};
use super::sql::{select, ReadOnly};
use super::Store;
use crate::audit::{Actor, Event};
use crate::error::ServerError;

/// A registered device.
#[derive(Clone, Debug)]
pub struct DeviceRecord {
    /// The 128-byte identity key.
    pub identity_key: Vec<u8>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
}

/// The current devices of a list of users (followed by the list); a
/// deactivated user is absent, as an unknown one.
const CURRENT_DEVICES_OF: ReadOnly = ReadOnly::checked(
    "SELECT u.user_id, d.device_id FROM users u LEFT JOIN devices d \
     ON d.user_id = u.user_id AND d.revoked_at IS NULL WHERE u.deactivated_at IS NULL AND u.user_id IN ",
);

impl Store {
    /// A device, revoked or not.
    pub async fn device(&self, user: &UserId, device: DeviceId) -> Result<Option<DeviceRecord>, ServerError> {
        let row = self
            .reads
            .fetch_optional(
                select!("SELECT identity_key, revoked_at FROM devices WHERE user_id = $1 AND device_id = $2")
                    .bind(user.as_str())
                    .bind(i64::from(device.0)),
            )
            .await?;
        row.map(|r| {
            Ok(DeviceRecord {
                identity_key: r.try_get("identity_key")?,
                revoked_at: r.try_get("revoked_at")?,
            })
        })
        .transpose()
    }

    /// Every device of a user, revoked or not.
    pub async fn devices_of(&self, user: &UserId) -> Result<Vec<DeviceSummary>, ServerError> {
        let q = sqlx::query(
            "SELECT device_id, created_at, revoked_at FROM devices WHERE user_id = $1 ORDER BY device_id",
        )
        .bind(user.as_str());
        self.writer
            .fetch_all(q)
            .await?
            .iter()
            .map(|d| {
                Ok(DeviceSummary {
                    device_id: device_id(d, "device_id")?,
                    created_at: d.try_get("created_at")?,
                    revoked_at: d.try_get("revoked_at")?,
                })
            })
            .collect()
    }

    /// The current devices of each of `users` that exists, in one query (the
    /// send path's check of the recipients' device lists). Users that do not
    /// exist, or were deactivated, are absent from the map; users without current devices map to
    /// an empty list.
    pub async fn current_devices_of(
        &self,
        users: &[UserId],
    ) -> Result<HashMap<UserId, Vec<DeviceId>>, ServerError> {
        let mut out = HashMap::new();
        for chunk in users.chunks(100) {
            let sql = CURRENT_DEVICES_OF.in_list(chunk.len());
            let mut q = sql.query();
            for user in chunk {
                q = q.bind(user.as_str());
            }
            for r in self.reads.fetch_all(q).await? {
                let devices: &mut Vec<DeviceId> = out.entry(user_id(&r, "user_id")?).or_default();
                if r.try_get::<Option<i64>, _>("device_id")?.is_some() {
                    devices.push(device_id(&r, "device_id")?);
                }
            }
        }
        Ok(out)
    }

    /// The current (not revoked) devices of a user.
    pub async fn current_devices(&self, user: &UserId) -> Result<Vec<DeviceId>, ServerError> {
        let rows = self
            .reads
            .fetch_all(
                select!(
                    "SELECT device_id FROM devices WHERE user_id = $1 AND revoked_at IS NULL ORDER BY device_id"
                )
                .bind(user.as_str()),
            )
            .await?;
        rows.iter().map(|r| device_id(r, "device_id")).collect()
    }

    /// Revokes a device: it can no longer connect, its queue and one-time
    /// prekeys are deleted and its HTTP sessions end. False if unknown or already revoked.
    pub async fn revoke_device(
        &self,
        user: &UserId,
        device: DeviceId,
        actor: &Actor,
        now: i64,
    ) -> Result<bool, ServerError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE devices SET revoked_at = $3 WHERE user_id = $1 AND device_id = $2 AND revoked_at IS NULL",
        )
        .bind(user.as_str())
        .bind(i64::from(device.0))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        // Rows that other transactions lock before the audit head (a bundle
        // fetch claims a one-time prekey, an expiring session its row) are
        // taken before the head...
        sqlx::query("DELETE FROM one_time_prekeys WHERE user_id = $1 AND device_id = $2")
            .bind(user.as_str())
            .bind(i64::from(device.0))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE http_sessions SET ended_at = $3 WHERE user_id = $1 AND device_id = $2 AND ended_at IS NULL",
        )
        .bind(user.as_str())
        .bind(i64::from(device.0))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        // ...and the queue and its usage rows after it, as the group commit
        // takes them: no order of two transactions' locks is ever reversed.
        tx.lock_audit_head().await?;
        for sql in [
            "DELETE FROM queue WHERE recipient_user = $1 AND recipient_device = $2",
            "DELETE FROM queue_usage WHERE recipient_user = $1 AND recipient_device = $2",
            "DELETE FROM queue_pair_usage WHERE recipient_user = $1 AND recipient_device = $2",
        ] {
            sqlx::query(sql)
                .bind(user.as_str())
                .bind(i64::from(device.0))
                .execute(&mut *tx)
                .await?;
        }
        let event = Event::new(actor, Action::DeviceRevoked).counterpart(user, Some(device));
        tx.audit(vec![event], now).await?;
        tx.commit().await?;
        Ok(true)
    }
}
