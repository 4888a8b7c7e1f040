//! Users: their roles, verification of their professional details by an
//! admin, deactivation of an account by an admin, the admins' list of
//! users, and the directory of verified clinicians (active accounts only).

use curbside_protocol::audit::{Action, Details};
use curbside_protocol::frames::DirectoryEntry;
use curbside_protocol::http::{DeactivatedUser, Role, UserSummary};
use curbside_protocol::ids::UserId;
use sqlx::Row;

use super::pool::ReadOn;
use super::rows::{device_id, user_id};
use super::sql::select;
use super::{now_ms, Store};
use crate::audit::{Actor, Event};
use crate::error::ServerError;

/// The outcome of [`Store::deactivate_user`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Deactivation {
    /// No such user.
    NotFound,
    /// The account was deactivated before (at this time): nothing changed.
    AlreadyDeactivated(i64),
    /// Deactivated now.
    Done(DeactivatedUser),
}

/// Whether a user exists and is active.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserStatus {
    /// No such user.
    Unknown,
    /// An active account.
    Active,
    /// Deactivated by an admin.
    Deactivated,
}

impl Store {
    /// Whether a user exists, and whether an admin deactivated them.
    pub async fn user_status(&self, user: &UserId) -> Result<UserStatus, ServerError> {
        let row = self
            .reads
            .fetch_optional(
                select!("SELECT deactivated_at FROM users WHERE user_id = $1").bind(user.as_str()),
            )
            .await?;
        Ok(match row {
            None => UserStatus::Unknown,
            Some(r) if r.try_get::<Option<i64>, _>("deactivated_at")?.is_some() => UserStatus::Deactivated,
            Some(_) => UserStatus::Active,
        })
    }

    /// Deactivates an account (an admin's act, `actor`): the user leaves
    /// the directory and can no longer be sent to; every device not yet
    /// revoked is revoked as [`Store::revoke_device`] revokes one (its
    /// one-time prekeys deleted, its HTTP sessions ended, its queue
    /// dropped with its usage rows, so no quota keeps counting what will
    /// never be delivered); unused device invites for the account are
    /// deleted; its NPI may enroll again. One transaction, with its audit
    /// entries: `user.deactivated` (the devices revoked in `details`) and
    /// one `device.revoked` per device. Messages the user sent that wait
    /// in others' queues stay: they were sent, and are delivered.
    pub async fn deactivate_user(
        &self,
        user: &UserId,
        actor: &Actor,
        now: i64,
    ) -> Result<Deactivation, ServerError> {
        let mut tx = self.begin().await?;
        let done =
            sqlx::query("UPDATE users SET deactivated_at = $2 WHERE user_id = $1 AND deactivated_at IS NULL")
                .bind(user.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() != 1 {
            let row = sqlx::query("SELECT deactivated_at FROM users WHERE user_id = $1")
                .bind(user.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            return Ok(match row {
                None => Deactivation::NotFound,
                Some(r) => Deactivation::AlreadyDeactivated(
                    r.try_get::<Option<i64>, _>("deactivated_at")?.unwrap_or_default(),
                ),
            });
        }
        let revoked = sqlx::query(
            "UPDATE devices SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL RETURNING device_id",
        )
        .bind(user.as_str())
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let mut devices = revoked
            .iter()
            .map(|r| device_id(r, "device_id"))
            .collect::<Result<Vec<_>, _>>()?;
        devices.sort();
        // The lock order of `revoke_device`: prekeys and sessions before
        // the audit head, the queue and its usage rows after it.
        for sql in [
            "DELETE FROM one_time_prekeys WHERE user_id = $1",
            "DELETE FROM invites WHERE purpose = 'device' AND user_id = $1 AND used_at IS NULL",
        ] {
            sqlx::query(sql).bind(user.as_str()).execute(&mut *tx).await?;
        }
        sqlx::query("UPDATE http_sessions SET ended_at = $2 WHERE user_id = $1 AND ended_at IS NULL")
            .bind(user.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.lock_audit_head().await?;
        let dropped = sqlx::query("DELETE FROM queue WHERE recipient_user = $1")
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        for sql in [
            "DELETE FROM queue_usage WHERE recipient_user = $1",
            "DELETE FROM queue_pair_usage WHERE recipient_user = $1",
        ] {
            sqlx::query(sql).bind(user.as_str()).execute(&mut *tx).await?;
        }
        let mut events = vec![Event::new(actor, Action::UserDeactivated)
            .counterpart(user, None)
            .details(Details {
                devices: Some(devices.clone()),
                ..Details::default()
            })];
        for device in &devices {
            events.push(Event::new(actor, Action::DeviceRevoked).counterpart(user, Some(*device)));
        }
        tx.audit(events, now).await?;
        tx.commit().await?;
        Ok(Deactivation::Done(DeactivatedUser {
            user_id: user.clone(),
            deactivated_at: now,
            devices_revoked: devices,
            messages_dropped: dropped,
        }))
    }

    /// A user's roles.
    pub async fn roles(&self, user: &UserId) -> Result<Vec<Role>, ServerError> {
        roles_in(&self.reads, user).await
    }

    /// Whether a user exists.
    pub async fn user_exists(&self, user: &UserId) -> Result<bool, ServerError> {
        Ok(self
            .reads
            .fetch_optional(select!("SELECT 1 AS x FROM users WHERE user_id = $1").bind(user.as_str()))
            .await?
            .is_some())
    }

    /// Marks a user's professional details as verified. False if no such user.
    pub async fn verify_user(&self, user: &UserId, actor: &Actor) -> Result<bool, ServerError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("UPDATE users SET verified = 1 WHERE user_id = $1")
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        let event = Event::new(actor, Action::UserVerified).counterpart(user, None);
        tx.audit(vec![event], now_ms()).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Grants a role (idempotent). False if no such user.
    pub async fn grant_role(
        &self,
        user: &UserId,
        role: Role,
        actor: &Actor,
        now: i64,
    ) -> Result<bool, ServerError> {
        if !self.user_exists(user).await? {
            return Ok(false);
        }
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO user_roles (user_id, role, granted_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(user.as_str())
        .bind(role.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let event = Event::new(actor, Action::RoleGranted)
            .counterpart(user, None)
            .details(Details {
                role: Some(role),
                ..Details::default()
            });
        tx.audit(vec![event], now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Every user with roles and devices, for admins.
    pub async fn list_users(&self) -> Result<Vec<UserSummary>, ServerError> {
        let q = sqlx::query(
            "SELECT user_id, display_name, npi, specialty, verified, deactivated_at FROM users \
             ORDER BY created_at, user_id",
        );
        let users = self.writer.fetch_all(q).await?;
        let mut out = Vec::with_capacity(users.len());
        for row in users {
            let user = user_id(&row, "user_id")?;
            let devices = self.devices_of(&user).await?;
            out.push(UserSummary {
                roles: self.roles(&user).await?,
                display_name: row.try_get("display_name")?,
                npi: row.try_get("npi")?,
                specialty: row.try_get("specialty")?,
                verified: row.try_get::<i64, _>("verified")? != 0,
                deactivated_at: row.try_get("deactivated_at")?,
                devices,
                user_id: user,
            });
        }
        Ok(out)
    }

    /// Whether a user is a clinician whose details an admin verified.
    pub async fn is_verified_clinician(&self, user: &UserId) -> Result<bool, ServerError> {
        let q = sqlx::query(
            "SELECT 1 AS x FROM users u JOIN user_roles r ON r.user_id = u.user_id AND r.role = 'clinician' \
             WHERE u.user_id = $1 AND u.verified = 1 AND u.deactivated_at IS NULL",
        )
        .bind(user.as_str());
        Ok(self.writer.fetch_optional(q).await?.is_some())
    }

    /// Verified clinicians whose name contains `name` and whose specialty is
    /// `specialty` (both case-insensitive, both optional), at most 100.
    pub async fn directory(
        &self,
        name: Option<&str>,
        specialty: Option<&str>,
    ) -> Result<Vec<DirectoryEntry>, ServerError> {
        self.directory_search(&DirectoryFilter {
            name,
            specialty,
            ..DirectoryFilter::default()
        })
        .await
    }

    /// Verified clinicians matching every filter given, at most 100, by name.
    pub async fn directory_search(
        &self,
        f: &DirectoryFilter<'_>,
    ) -> Result<Vec<DirectoryEntry>, ServerError> {
        let pattern = f
            .name
            .map(|n| format!("%{}%", n.to_lowercase().replace(['%', '_'], "")));
        let rows = self
            .writer
            .fetch_all(
                sqlx::query(
                    "SELECT u.user_id, u.display_name, u.specialty, u.npi FROM users u \
             JOIN user_roles r ON r.user_id = u.user_id AND r.role = 'clinician' \
             WHERE u.verified = 1 AND u.deactivated_at IS NULL \
               AND ($1 IS NULL OR LOWER(u.display_name) LIKE $1) \
               AND ($2 IS NULL OR LOWER(u.specialty) = $2) \
               AND ($3 IS NULL OR u.npi = $3) \
               AND ($4 IS NULL OR u.user_id = $4) \
             ORDER BY u.display_name LIMIT 100",
                )
                .bind(pattern)
                .bind(f.specialty.map(str::to_lowercase))
                .bind(f.npi)
                .bind(f.user_id),
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(DirectoryEntry {
                    user_id: user_id(r, "user_id")?,
                    display_name: r.try_get("display_name")?,
                    specialty: r.try_get::<Option<String>, _>("specialty")?.unwrap_or_default(),
                    npi: r.try_get::<Option<String>, _>("npi")?.unwrap_or_default(),
                })
            })
            .collect()
    }
}

/// What a directory search matches: every filter given (all optional).
#[derive(Clone, Copy, Debug, Default)]
pub struct DirectoryFilter<'a> {
    /// Text in the display name (case-insensitive).
    pub name: Option<&'a str>,
    /// The specialty (case-insensitive, exact).
    pub specialty: Option<&'a str>,
    /// The NPI (exact).
    pub npi: Option<&'a str>,
    /// The user id (exact).
    pub user_id: Option<&'a str>,
}

/// A user's roles, read on `on` (the read pool, or a transaction).
pub(super) async fn roles_in(on: impl ReadOn, user: &UserId) -> Result<Vec<Role>, ServerError> {
    let rows = on
        .fetch_all(
            select!("SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role").bind(user.as_str()),
        )
        .await?;
    let mut roles: Vec<Role> = rows
        .iter()
        .filter_map(|r| {
            r.try_get::<String, _>("role")
                .ok()
                .as_deref()
                .and_then(Role::parse)
        })
        .collect();
    roles.sort();
    Ok(roles)
}
