//! Referral envelopes and their lifecycle. A transition is one conditional
//! UPDATE (`… WHERE status = <the status it starts from>`) in the same
//! transaction as its audit entry: of two conflicting transitions racing,
//! exactly one changes the row (PostgreSQL re-checks the condition after the
//! winner commits; SQLite serialises them), and the loser is told
//! `invalid_transition` with nothing written.

use curbside_protocol::audit::{Action, Details};
use curbside_protocol::ids::{MessageId, ReferralId, UserId};
use curbside_protocol::referral::{CreateReferral, Party, Priority, Referral, Status, Transition};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::rows::{corrupt, user_id};
use super::Store;
use crate::audit::{Actor, Event};
use crate::error::ServerError;

/// Why a referral change was refused (nothing was written).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReferralProblem {
    /// No such referral (or the caller is not party to it).
    NotFound,
    /// The caller is not the party who may make this transition.
    WrongParty,
    /// The current status does not allow it.
    InvalidTransition(Status),
    /// A referral with this id exists.
    Duplicate,
}

const COLUMNS: &str =
    "referral_id, referring_user, receiving_user, specialty, priority, status, message_id, \
                       reason_message_id, created_at, updated_at";

fn referral_from_row(row: &AnyRow) -> Result<Referral, ServerError> {
    let message = |col: &str| -> Result<Option<MessageId>, ServerError> {
        row.try_get::<Option<String>, _>(col)?
            .map(|m| MessageId::new(m).map_err(|_| corrupt("referral message id")))
            .transpose()
    };
    Ok(Referral {
        referral_id: ReferralId::new(row.try_get::<String, _>("referral_id")?)
            .map_err(|_| corrupt("referral id"))?,
        referring: user_id(row, "referring_user")?,
        receiving: user_id(row, "receiving_user")?,
        specialty: row.try_get("specialty")?,
        priority: Priority::parse(&row.try_get::<String, _>("priority")?)
            .ok_or_else(|| corrupt("priority"))?,
        status: Status::parse(&row.try_get::<String, _>("status")?)
            .ok_or_else(|| corrupt("referral status"))?,
        message_id: message("message_id")?.ok_or_else(|| corrupt("referral message id"))?,
        reason_message_id: message("reason_message_id")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// Registers a new referral `id` (status `requested`; `req.referral_id`
    /// is not read) and its audit entry.
    pub async fn create_referral(
        &self,
        id: &ReferralId,
        req: &CreateReferral,
        referring: &UserId,
        actor: &Actor,
        now: i64,
    ) -> Result<Result<Referral, ReferralProblem>, ServerError> {
        let mut tx = self.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO referrals (referral_id, referring_user, receiving_user, specialty, priority, status, \
             message_id, reason_message_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 'requested', $6, NULL, $7, $7) ON CONFLICT DO NOTHING",
        )
        .bind(id.as_str())
        .bind(referring.as_str())
        .bind(req.to.as_str())
        .bind(req.specialty.as_str())
        .bind(req.priority.as_str())
        .bind(req.message_id.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Ok(Err(ReferralProblem::Duplicate));
        }
        let event = Event::new(actor, Action::ReferralCreated)
            .counterpart(&req.to, None)
            .referral(id)
            .message(&req.message_id)
            .details(Details {
                to_status: Some(Status::Requested.as_str().into()),
                specialty: Some(req.specialty.clone()),
                priority: Some(req.priority.as_str().into()),
                ..Details::default()
            });
        tx.audit(vec![event], now).await?;
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM referrals WHERE referral_id = $1"))
            .bind(id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        let referral = referral_from_row(&row)?;
        tx.commit().await?;
        Ok(Ok(referral))
    }

    /// A referral the user is party to.
    pub async fn referral_for(
        &self,
        id: &ReferralId,
        user: &UserId,
    ) -> Result<Option<Referral>, ServerError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM referrals WHERE referral_id = $1 AND (referring_user = $2 OR receiving_user = $2)"
        );
        let q = sqlx::query(&sql).bind(id.as_str()).bind(user.as_str());
        let row = self.writer.fetch_optional(q).await?;
        row.as_ref().map(referral_from_row).transpose()
    }

    /// The user's referrals, newest change first, optionally by status and direction.
    pub async fn referrals_of(
        &self,
        user: &UserId,
        status: Option<Status>,
        party: Option<Party>,
    ) -> Result<Vec<Referral>, ServerError> {
        let who = match party {
            Some(Party::Referring) => "referring_user = $1",
            Some(Party::Receiving) => "receiving_user = $1",
            None => "(referring_user = $1 OR receiving_user = $1)",
        };
        let rows = self
            .writer
            .fetch_all(
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM referrals WHERE {who} AND ($2 IS NULL OR status = $2) \
             ORDER BY updated_at DESC, referral_id LIMIT 500"
                ))
                .bind(user.as_str())
                .bind(status.map(Status::as_str)),
            )
            .await?;
        rows.iter().map(referral_from_row).collect()
    }

    /// Applies a transition for `user`, with its audit entry, or says why not.
    pub async fn transition_referral(
        &self,
        id: &ReferralId,
        user: &UserId,
        transition: Transition,
        reason: Option<&MessageId>,
        actor: &Actor,
        now: i64,
    ) -> Result<Result<Referral, ReferralProblem>, ServerError> {
        let Some(current) = self.referral_for(id, user).await? else {
            return Ok(Err(ReferralProblem::NotFound));
        };
        let party = if current.receiving == *user {
            Party::Receiving
        } else {
            Party::Referring
        };
        if transition.party() != party {
            return Ok(Err(ReferralProblem::WrongParty));
        }
        let Some(next) = transition.apply(current.status) else {
            return Ok(Err(ReferralProblem::InvalidTransition(current.status)));
        };
        let mut tx = self.begin().await?;
        let changed = sqlx::query(
            "UPDATE referrals SET status = $3, updated_at = $4, reason_message_id = COALESCE($5, reason_message_id) \
             WHERE referral_id = $1 AND status = $2",
        )
        .bind(id.as_str())
        .bind(current.status.as_str())
        .bind(next.as_str())
        .bind(now)
        .bind(reason.map(|r| r.as_str().to_owned()))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            // Another transition won the race: report where it left the referral.
            drop(tx);
            let status = self
                .referral_for(id, user)
                .await?
                .map_or(current.status, |r| r.status);
            return Ok(Err(ReferralProblem::InvalidTransition(status)));
        }
        let counterpart = if party == Party::Receiving {
            &current.referring
        } else {
            &current.receiving
        };
        let event = Event::new(actor, Action::ReferralStatusChanged)
            .counterpart(counterpart, None)
            .referral(id)
            .details(Details {
                from_status: Some(current.status.as_str().into()),
                to_status: Some(next.as_str().into()),
                ..Details::default()
            });
        let event = match reason {
            Some(r) => event.message(r),
            None => event,
        };
        tx.audit(vec![event], now).await?;
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM referrals WHERE referral_id = $1"))
            .bind(id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        let referral = referral_from_row(&row)?;
        tx.commit().await?;
        Ok(Ok(referral))
    }
}
