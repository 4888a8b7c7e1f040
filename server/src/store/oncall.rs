//! On-call roles and their shifts. Every change is one transaction with
//! its audit entry; a hand-off ends the role's current shifts and starts
//! the new holder's in the same transaction, so that at any instant the
//! role is held by exactly the shifts that cover it.

use curbside_protocol::audit::{Action, Details};
use curbside_protocol::frames::DirectoryEntry;
use curbside_protocol::ids::{OnCallRoleId, UserId};
use curbside_protocol::oncall::{OnCallRole, Shift, DEFAULT_HANDOFF_MS};
use sqlx::Row;

use super::rows::{corrupt, user_id};
use super::Store;
use crate::audit::{Actor, Event};
use crate::error::ServerError;

/// Why an on-call change was refused (nothing was written).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OnCallProblem {
    /// No such role.
    NoSuchRole,
    /// The user is not a verified, active clinician.
    NotAClinician(UserId),
    /// A role with this name exists.
    NameTaken,
    /// The caller may not hand this role off (neither an admin nor a holder).
    NotAHolder,
}

impl Store {
    /// Creates a role, audited.
    pub async fn create_oncall_role(
        &self,
        id: &OnCallRoleId,
        name: &str,
        specialty: Option<&str>,
        actor: &Actor,
        now: i64,
    ) -> Result<Result<(), OnCallProblem>, ServerError> {
        let mut tx = self.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO oncall_roles (role_id, name, name_key, specialty, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT DO NOTHING",
        )
        .bind(id.as_str())
        .bind(name)
        .bind(name.to_lowercase())
        .bind(specialty)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Ok(Err(OnCallProblem::NameTaken));
        }
        let event = Event::new(actor, Action::OnCallRoleCreated).details(Details {
            oncall_role: Some(id.to_string()),
            specialty: specialty.map(str::to_owned),
            ..Details::default()
        });
        tx.audit(vec![event], now).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Schedules `user` to hold the role from `starts_at` until `ends_at`, audited.
    pub async fn schedule_shift(
        &self,
        role: &OnCallRoleId,
        user: &UserId,
        (starts_at, ends_at): (i64, i64),
        actor: &Actor,
        now: i64,
    ) -> Result<Result<i64, OnCallProblem>, ServerError> {
        let mut tx = self.begin().await?;
        if let Err(problem) = check(&mut tx, role, user).await? {
            return Ok(Err(problem));
        }
        let row = sqlx::query(
            "INSERT INTO oncall_shifts (role_id, user_id, starts_at, ends_at) VALUES ($1, $2, $3, $4) \
             RETURNING shift_id",
        )
        .bind(role.as_str())
        .bind(user.as_str())
        .bind(starts_at)
        .bind(ends_at)
        .fetch_one(&mut *tx)
        .await?;
        let shift_id: i64 = row.try_get("shift_id")?;
        let event = Event::new(actor, Action::OnCallShiftScheduled)
            .counterpart(user, None)
            .details(Details {
                oncall_role: Some(role.to_string()),
                first_at_ms: Some(starts_at),
                until_ms: Some(ends_at),
                ..Details::default()
            });
        tx.audit(vec![event], now).await?;
        tx.commit().await?;
        Ok(Ok(shift_id))
    }

    /// Hands the role off to `to` at `now`: the shifts covering now end now
    /// and `to` holds it until `until` (default: the latest end of those
    /// shifts, or 12 hours). Only an administrator (`admin`) or a current
    /// holder (`by`) may. Audited.
    pub async fn hand_off(
        &self,
        role: &OnCallRoleId,
        (by, admin): (&UserId, bool),
        to: &UserId,
        until: Option<i64>,
        actor: &Actor,
        now: i64,
    ) -> Result<Result<i64, OnCallProblem>, ServerError> {
        let mut tx = self.begin().await?;
        if let Err(problem) = check(&mut tx, role, to).await? {
            return Ok(Err(problem));
        }
        let current = sqlx::query(
            "SELECT user_id, ends_at FROM oncall_shifts WHERE role_id = $1 AND starts_at <= $2 AND ends_at > $2",
        )
        .bind(role.as_str())
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let mut holders = Vec::new();
        let mut latest = None;
        for r in &current {
            holders.push(user_id(r, "user_id")?);
            let end: i64 = r.try_get("ends_at")?;
            latest = Some(latest.map_or(end, |l: i64| l.max(end)));
        }
        if !admin && !holders.contains(by) {
            return Ok(Err(OnCallProblem::NotAHolder));
        }
        let until = until
            .or(latest)
            .unwrap_or(now.saturating_add(DEFAULT_HANDOFF_MS))
            .max(now.saturating_add(60_000));
        sqlx::query(
            "UPDATE oncall_shifts SET ends_at = $2 WHERE role_id = $1 AND starts_at <= $2 AND ends_at > $2",
        )
        .bind(role.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO oncall_shifts (role_id, user_id, starts_at, ends_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(role.as_str())
        .bind(to.as_str())
        .bind(now)
        .bind(until)
        .execute(&mut *tx)
        .await?;
        let event = Event::new(actor, Action::OnCallHandedOff)
            .counterpart(to, None)
            .details(Details {
                oncall_role: Some(role.to_string()),
                until_ms: Some(until),
                ..Details::default()
            });
        tx.audit(vec![event], now).await?;
        tx.commit().await?;
        Ok(Ok(until))
    }

    /// Who holds the role at `at` (verified, active clinicians only), by name.
    pub async fn oncall_holders(
        &self,
        role: &OnCallRoleId,
        at: i64,
    ) -> Result<Vec<DirectoryEntry>, ServerError> {
        let rows = self
            .writer
            .fetch_all(
                sqlx::query(
                    "SELECT DISTINCT u.user_id, u.display_name, u.specialty, u.npi FROM oncall_shifts s \
                     JOIN users u ON u.user_id = s.user_id \
                     WHERE s.role_id = $1 AND s.starts_at <= $2 AND s.ends_at > $2 \
                       AND u.verified = 1 AND u.deactivated_at IS NULL ORDER BY u.display_name",
                )
                .bind(role.as_str())
                .bind(at),
            )
            .await?;
        rows.iter().map(entry).collect()
    }

    /// Every role, with its holders at `now` and its current and future shifts.
    pub async fn oncall_roles(&self, now: i64) -> Result<Vec<OnCallRole>, ServerError> {
        let roles = self
            .writer
            .fetch_all(sqlx::query(
                "SELECT role_id, name, specialty FROM oncall_roles ORDER BY name_key",
            ))
            .await?;
        let mut out = Vec::with_capacity(roles.len());
        for r in &roles {
            let role_id = OnCallRoleId::new(r.try_get::<String, _>("role_id")?)
                .map_err(|_| corrupt("on-call role id"))?;
            let shifts = self
                .writer
                .fetch_all(
                    sqlx::query(
                        "SELECT s.shift_id, s.user_id, u.display_name, s.starts_at, s.ends_at FROM oncall_shifts s \
                         JOIN users u ON u.user_id = s.user_id WHERE s.role_id = $1 AND s.ends_at > $2 \
                         ORDER BY s.starts_at, s.shift_id LIMIT 50",
                    )
                    .bind(role_id.as_str())
                    .bind(now),
                )
                .await?
                .iter()
                .map(|s| {
                    Ok(Shift {
                        shift_id: s.try_get("shift_id")?,
                        user_id: user_id(s, "user_id")?,
                        display_name: s.try_get("display_name")?,
                        starts_at: s.try_get("starts_at")?,
                        ends_at: s.try_get("ends_at")?,
                    })
                })
                .collect::<Result<Vec<_>, ServerError>>()?;
            out.push(OnCallRole {
                holders: self.oncall_holders(&role_id, now).await?,
                role_id,
                name: r.try_get("name")?,
                specialty: r.try_get("specialty")?,
                shifts,
            });
        }
        Ok(out)
    }
}

/// The role exists and `user` is a verified, active clinician.
async fn check(
    tx: &mut super::tx::Tx,
    role: &OnCallRoleId,
    user: &UserId,
) -> Result<Result<(), OnCallProblem>, ServerError> {
    let exists = sqlx::query("SELECT 1 AS one FROM oncall_roles WHERE role_id = $1")
        .bind(role.as_str())
        .fetch_optional(&mut **tx)
        .await?
        .is_some();
    if !exists {
        return Ok(Err(OnCallProblem::NoSuchRole));
    }
    let clinician = sqlx::query(
        "SELECT 1 AS one FROM users u JOIN user_roles r ON r.user_id = u.user_id AND r.role = 'clinician' \
         WHERE u.user_id = $1 AND u.verified = 1 AND u.deactivated_at IS NULL",
    )
    .bind(user.as_str())
    .fetch_optional(&mut **tx)
    .await?
    .is_some();
    if !clinician {
        return Ok(Err(OnCallProblem::NotAClinician(user.clone())));
    }
    Ok(Ok(()))
}

fn entry(r: &sqlx::any::AnyRow) -> Result<DirectoryEntry, ServerError> {
    Ok(DirectoryEntry {
        user_id: user_id(r, "user_id")?,
        display_name: r.try_get("display_name")?,
        specialty: r.try_get::<Option<String>, _>("specialty")?.unwrap_or_default(),
        npi: r.try_get::<Option<String>, _>("npi")?.unwrap_or_default(),
    })
}
