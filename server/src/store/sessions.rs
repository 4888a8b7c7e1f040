//! Proving a device's identity over HTTP: single-use challenges (signed by
//! the device to log in) and the HTTP sessions a login opens, which end
//! after an idle time, at an absolute lifetime, or when the device is
//! revoked. Session tokens are stored only as SHA-256 hashes.

use std::time::Duration;

use curbside_protocol::audit::{Action, Details};
use curbside_protocol::ids::Address;
use sqlx::Row;

use super::rows::{device_id, user_id};
use super::{ms, Store};
use crate::audit::{Actor, Event};
use crate::error::ServerError;

/// What answering a challenge found ([`Store::consume_challenge`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChallengeUse {
    /// It was current and unused: now it is used.
    Consumed,
    /// It was used before (a replay).
    AlreadyUsed,
    /// It was issued but has expired.
    Expired,
    /// This server never issued it (or it expired and was swept).
    Unknown,
}

impl Store {
    /// Stores a single-use challenge.
    pub async fn create_challenge(&self, challenge: &[u8], expires_at: i64) -> Result<(), ServerError> {
        self.writer
            .execute(
                sqlx::query("INSERT INTO challenges (challenge, expires_at) VALUES ($1, $2)")
                    .bind(challenge.to_vec())
                    .bind(expires_at),
            )
            .await?;
        Ok(())
    }

    /// Marks a challenge used, or says why it cannot be: already used
    /// (kept, used, until it expires), expired, or never issued (or
    /// expired and swept since).
    pub async fn consume_challenge(&self, challenge: &[u8], now: i64) -> Result<ChallengeUse, ServerError> {
        let q = sqlx::query(
            "UPDATE challenges SET used_at = $2 WHERE challenge = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(challenge.to_vec())
        .bind(now);
        let done = self.writer.execute(q).await?;
        if done.rows_affected() == 1 {
            return Ok(ChallengeUse::Consumed);
        }
        let q = sqlx::query("SELECT used_at, expires_at FROM challenges WHERE challenge = $1")
            .bind(challenge.to_vec());
        let Some(row) = self.writer.fetch_optional(q).await? else {
            return Ok(ChallengeUse::Unknown);
        };
        let used_at: Option<i64> = row.try_get("used_at")?;
        let expires_at: i64 = row.try_get("expires_at")?;
        Ok(match used_at {
            Some(_) => ChallengeUse::AlreadyUsed,
            None if expires_at <= now => ChallengeUse::Expired,
            // Only a concurrent use of the same challenge gets here.
            None => ChallengeUse::AlreadyUsed,
        })
    }

    /// Deletes the HTTP sessions that ended (logged off, idle, revoked) or
    /// are past their lifetime, and the invites that cannot be used any more:
    /// used ones at once (a replay is `invalid_invite` either way), unused
    /// ones `expired_grace` after they expired (until then a late clinician
    /// is told `invite_expired`). An unused bootstrap token is kept: it is
    /// replaced at start-up. At most `limit` rows of each table per call, so
    /// that one sweep is a bounded statement; returns how many were deleted.
    /// The audit log keeps its own record of each (it refers to no row here).
    pub async fn expire_logins(
        &self,
        now: i64,
        expired_grace: Duration,
        limit: i64,
    ) -> Result<u64, ServerError> {
        let sessions = self
            .writer
            .execute(
                sqlx::query(
                    "DELETE FROM http_sessions WHERE token_hash IN (SELECT token_hash FROM http_sessions \
                     WHERE ended_at IS NOT NULL OR expires_at <= $1 LIMIT $2)",
                )
                .bind(now)
                .bind(limit),
            )
            .await?;
        let invites = self
            .writer
            .execute(
                sqlx::query(
                    "DELETE FROM invites WHERE token_hash IN (SELECT token_hash FROM invites \
                     WHERE used_at IS NOT NULL OR (purpose <> 'bootstrap' AND expires_at <= $1) LIMIT $2)",
                )
                .bind(now.saturating_sub(ms(expired_grace)))
                .bind(limit),
            )
            .await?;
        Ok(sessions.rows_affected() + invites.rows_affected())
    }

    /// Stores a new HTTP session (by token hash).
    pub async fn create_session(
        &self,
        token_hash: &[u8],
        device: &Address,
        actor: &Actor,
        now: i64,
        max: Duration,
    ) -> Result<(), ServerError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO http_sessions (token_hash, user_id, device_id, created_at, last_used_at, expires_at) \
             VALUES ($1, $2, $3, $4, $4, $5)",
        )
        .bind(token_hash.to_vec())
        .bind(device.user_id.as_str())
        .bind(i64::from(device.device_id.0))
        .bind(now)
        .bind(now.saturating_add(ms(max)))
        .execute(&mut *tx)
        .await?;
        let event = Event::new(actor, Action::AuthSucceeded).details(Details {
            transport: Some("https".into()),
            ..Details::default()
        });
        tx.audit(vec![event], now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Looks up a session and records its use. `None` if unknown, ended,
    /// past its lifetime, idle for longer than `idle` (it is then ended), or
    /// if its device was revoked.
    pub async fn use_session(
        &self,
        token_hash: &[u8],
        now: i64,
        idle: Duration,
        source: &Actor,
    ) -> Result<Option<Address>, ServerError> {
        let mut tx = self.begin().await?;
        let Some(row) = sqlx::query(
            "SELECT s.user_id, s.device_id, s.last_used_at, s.expires_at FROM http_sessions s \
             JOIN devices d ON d.user_id = s.user_id AND d.device_id = s.device_id \
             WHERE s.token_hash = $1 AND s.ended_at IS NULL AND d.revoked_at IS NULL",
        )
        .bind(token_hash.to_vec())
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(None);
        };
        let last: i64 = row.try_get("last_used_at")?;
        let expires: i64 = row.try_get("expires_at")?;
        if now >= expires || now.saturating_sub(last) > ms(idle) {
            sqlx::query("UPDATE http_sessions SET ended_at = $2 WHERE token_hash = $1")
                .bind(token_hash.to_vec())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            let actor = Actor {
                user: Some(user_id(&row, "user_id")?),
                device: Some(device_id(&row, "device_id")?),
                role: None,
                source: source.source.clone(),
            };
            let reason = if now >= expires { "absolute" } else { "idle" };
            let event = Event::new(&actor, Action::SessionExpired).details(Details {
                transport: Some("https".into()),
                timeout: Some(reason.into()),
                ..Details::default()
            });
            tx.audit(vec![event], now).await?;
            tx.commit().await?;
            return Ok(None);
        }
        sqlx::query("UPDATE http_sessions SET last_used_at = $2 WHERE token_hash = $1")
            .bind(token_hash.to_vec())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let address = Address {
            user_id: user_id(&row, "user_id")?,
            device_id: device_id(&row, "device_id")?,
        };
        tx.commit().await?;
        Ok(Some(address))
    }
}
