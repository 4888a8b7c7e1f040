//! Prekeys: each device's signed prekey and its bounded stock of one-time
//! prekeys, and the bundles other devices fetch to start a session, each
//! claiming one one-time prekey that no other fetch can get (SQLite's single
//! writer; `FOR UPDATE SKIP LOCKED` on PostgreSQL), within the fetch limit
//! of `fetch_limit` (so no one can drain them). A device with no one-time
//! prekey left is still fetched, with its signed prekey alone.

use curbside_protocol::audit::{Action, Details};
use curbside_protocol::error::ErrorCode;
use curbside_protocol::frames::{DeviceBundle, OneTimePrekey};
use curbside_protocol::ids::{Address, DeviceId, UserId};
use sqlx::Row;

use super::pool::ReadOn;
use super::rows::{corrupt, device_id};
use super::sql::select;
use super::{now_ms, Backend, Store};
use crate::audit::{Actor, Event};
use crate::error::ServerError;

impl Store {
    /// Stores a new signed prekey and/or one-time prekeys, keeping at most
    /// `max` one-time prekeys. Returns how many one-time prekeys the device has.
    pub async fn publish_prekeys(
        &self,
        user: &UserId,
        device: DeviceId,
        signed_prekey: Option<&[u8]>,
        one_time: &[(u32, Vec<u8>)],
        max: usize,
    ) -> Result<u32, ServerError> {
        let mut tx = self.begin().await?;
        if let Some(spk) = signed_prekey {
            sqlx::query("UPDATE devices SET signed_prekey = $3 WHERE user_id = $1 AND device_id = $2")
                .bind(user.as_str())
                .bind(i64::from(device.0))
                .bind(spk.to_vec())
                .execute(&mut *tx)
                .await?;
        }
        let existing = count_prekeys_in(&mut *tx, user, device).await?;
        let room = max.saturating_sub(existing as usize);
        let take = one_time.len().min(room);
        insert_prekeys(&mut tx, user, device, one_time.get(..take).unwrap_or_default()).await?;
        let count = count_prekeys_in(&mut *tx, user, device).await?;
        tx.commit().await?;
        Ok(count)
    }

    /// Counts a fetch of `target`'s bundles by `requester` against the
    /// fetch limit (see `fetch_limit`). Past it, returns how many
    /// milliseconds until the fetch may be tried again, and records the
    /// first refusal of this requester for this target in the window in the
    /// audit log (a failed `prekey_bundle.fetched`, `rate_limited`).
    pub async fn admit_bundle_fetch(
        &self,
        requester: &Address,
        target: &UserId,
        actor: &Actor,
    ) -> Result<Result<(), u64>, ServerError> {
        let now = now_ms();
        match self.bundle_fetches.admit(requester, target, now) {
            Ok(()) => Ok(Ok(())),
            Err(refused) => {
                tracing::info!(
                    user = %requester.user_id,
                    device = %requester.device_id,
                    target = %target,
                    retry_after_ms = refused.retry_after_ms,
                    "bundle fetch refused: over the fetch limit"
                );
                if refused.record {
                    let event = Event::new(actor, Action::PrekeyBundleFetched)
                        .counterpart(target, None)
                        .failed(ErrorCode::RateLimited);
                    self.record_at(vec![event], now).await?;
                }
                Ok(Err(refused.retry_after_ms))
            }
        }
    }

    /// How many one-time prekeys a device has left.
    pub async fn count_prekeys(&self, user: &UserId, device: DeviceId) -> Result<u32, ServerError> {
        count_prekeys_in(&self.reads, user, device).await
    }

    /// The bundle of every current device of `user`, each claiming (deleting)
    /// one one-time prekey atomically. Returns the bundles and, per device,
    /// how many one-time prekeys it has left.
    pub async fn fetch_bundles(
        &self,
        user: &UserId,
        actor: &Actor,
    ) -> Result<Vec<(DeviceBundle, u32)>, ServerError> {
        let claim = match self.backend() {
            Backend::Sqlite => {
                "DELETE FROM one_time_prekeys WHERE (user_id, device_id, prekey_id) = \
                 (SELECT user_id, device_id, prekey_id FROM one_time_prekeys \
                  WHERE user_id = $1 AND device_id = $2 ORDER BY prekey_id LIMIT 1) \
                 RETURNING prekey_id, public_key"
            }
            Backend::Postgres => {
                "DELETE FROM one_time_prekeys WHERE (user_id, device_id, prekey_id) = \
                 (SELECT user_id, device_id, prekey_id FROM one_time_prekeys \
                  WHERE user_id = $1 AND device_id = $2 ORDER BY prekey_id LIMIT 1 FOR UPDATE SKIP LOCKED) \
                 RETURNING prekey_id, public_key"
            }
        };
        let mut tx = self.begin().await?;
        let devices = sqlx::query(
            "SELECT device_id, identity_key, signed_prekey FROM devices \
             WHERE user_id = $1 AND revoked_at IS NULL ORDER BY device_id",
        )
        .bind(user.as_str())
        .fetch_all(&mut *tx)
        .await?;
        let mut out = Vec::with_capacity(devices.len());
        for row in devices {
            let device = device_id(&row, "device_id")?;
            let otk = sqlx::query(claim)
                .bind(user.as_str())
                .bind(i64::from(device.0))
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| {
                    Ok::<_, ServerError>(OneTimePrekey {
                        id: u32::try_from(r.try_get::<i64, _>("prekey_id")?)
                            .map_err(|_| corrupt("prekey id"))?,
                        public_key: r.try_get::<Vec<u8>, _>("public_key")?.into(),
                    })
                })
                .transpose()?;
            let remaining = count_prekeys_in(&mut *tx, user, device).await?;
            out.push((
                DeviceBundle {
                    device_id: device,
                    identity_key: row.try_get::<Vec<u8>, _>("identity_key")?.into(),
                    signed_prekey: row.try_get::<Vec<u8>, _>("signed_prekey")?.into(),
                    one_time_prekey: otk,
                },
                remaining,
            ));
        }
        let event = Event::new(actor, Action::PrekeyBundleFetched)
            .counterpart(user, None)
            .details(Details {
                devices: Some(out.iter().map(|(b, _)| b.device_id).collect()),
                ..Details::default()
            });
        tx.audit(vec![event], now_ms()).await?;
        tx.commit().await?;
        Ok(out)
    }
}

/// How many one-time prekeys a device has, read on `on` (the read pool, or a transaction).
async fn count_prekeys_in(on: impl ReadOn, user: &UserId, device: DeviceId) -> Result<u32, ServerError> {
    let row = on
        .fetch_one(
            select!("SELECT COUNT(*) AS n FROM one_time_prekeys WHERE user_id = $1 AND device_id = $2")
                .bind(user.as_str())
                .bind(i64::from(device.0)),
        )
        .await?;
    Ok(u32::try_from(row.try_get::<i64, _>("n")?).unwrap_or(u32::MAX))
}

/// Stores one-time prekeys (an id already stored is kept as it was).
pub(super) async fn insert_prekeys(
    conn: &mut sqlx::AnyConnection,
    user: &UserId,
    device: DeviceId,
    keys: &[(u32, Vec<u8>)],
) -> Result<(), ServerError> {
    for (id, public) in keys {
        sqlx::query(
            "INSERT INTO one_time_prekeys (user_id, device_id, prekey_id, public_key) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(user.as_str())
        .bind(i64::from(device.0))
        .bind(i64::from(*id))
        .bind(public.clone())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
