//! Users: their roles, verification of their professional details by an
//! admin, the admins' list of users, and the directory of verified
//! clinicians.

use curbside_protocol::audit::{Action, Details};
use curbside_protocol::frames::DirectoryEntry;
use curbside_protocol::http::{Role, UserSummary};
use curbside_protocol::ids::UserId;
use sqlx::Row;

use super::pool::ReadOn;
use super::rows::user_id;
use super::sql::select;
use super::{now_ms, Store};
use crate::audit::{Actor, Event};
use crate::error::ServerError;

impl Store {
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
            "SELECT user_id, display_name, npi, specialty, verified FROM users ORDER BY created_at, user_id",
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
             WHERE u.user_id = $1 AND u.verified = 1",
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
        let pattern = name.map(|n| format!("%{}%", n.to_lowercase().replace(['%', '_'], "")));
        let rows = self
            .writer
            .fetch_all(
                sqlx::query(
                    "SELECT u.user_id, u.display_name, u.specialty, u.npi FROM users u \
             JOIN user_roles r ON r.user_id = u.user_id AND r.role = 'clinician' \
             WHERE u.verified = 1 \
               AND ($1 IS NULL OR LOWER(u.display_name) LIKE $1) \
               AND ($2 IS NULL OR LOWER(u.specialty) = $2) \
             ORDER BY u.display_name LIMIT 100",
                )
                .bind(pattern)
                .bind(specialty.map(str::to_lowercase)),
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
