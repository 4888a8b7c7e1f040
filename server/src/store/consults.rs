//! Curbside consults: who answers which specialty, each consult's envelope
//! and recipients, answers and closing. Each change is one transaction with
//! its audit entry (an answer's entry is written with the answer's message,
//! in the group commit: `batch::accept`).

use curbside_protocol::audit::{Action, Details};
use curbside_protocol::consult::{Consult, ConsultStatus};
use curbside_protocol::ids::{ConsultId, UserId};
use sqlx::Row;

use super::rows::{corrupt, user_id};
use super::Store;
use crate::audit::{Actor, Event};
use crate::error::ServerError;

/// Why a consult change was refused (nothing was written).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsultProblem {
    /// The asker has `max_open_consults` open.
    TooManyOpen(u64),
    /// No verified clinician of the specialty answers consults.
    NobodyAnswers,
    /// No such consult for this caller.
    NotFound,
    /// The consult is closed.
    Closed,
    /// A specialty that is not the caller's own.
    NotYourSpecialty,
}

/// What a send naming a consult may do, as the store sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsultRole {
    /// The asker: to any of `recipients`.
    Asker {
        /// The clinicians the server chose.
        recipients: Vec<UserId>,
    },
    /// A recipient answering: to the asker (and to every recipient when shared).
    Answerer {
        /// Whom the answer may go to.
        allowed: Vec<UserId>,
        /// The asker.
        asker: UserId,
    },
}

impl Store {
    /// Sets the specialties for which `user` (whose own is `own`) answers consults.
    pub async fn set_consult_optins(
        &self,
        user: &UserId,
        own: Option<&str>,
        specialties: &[String],
    ) -> Result<Result<(), ConsultProblem>, ServerError> {
        let own = own.map(str::to_lowercase);
        let keys: Vec<String> = specialties.iter().map(|s| s.trim().to_lowercase()).collect();
        if keys.iter().any(|k| own.as_deref() != Some(k.as_str())) {
            return Ok(Err(ConsultProblem::NotYourSpecialty));
        }
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM consult_optins WHERE user_id = $1")
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?;
        for key in &keys {
            sqlx::query(
                "INSERT INTO consult_optins (user_id, specialty_key) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(user.as_str())
            .bind(key)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// The specialties for which `user` answers consults, spelled as the
    /// directory spells the user's own (the opt-ins are kept lowercased).
    pub async fn consult_optins_of(&self, user: &UserId) -> Result<Vec<String>, ServerError> {
        let rows = self
            .writer
            .fetch_all(
                sqlx::query(
                    "SELECT o.specialty_key, u.specialty FROM consult_optins o \
                     JOIN users u ON u.user_id = o.user_id WHERE o.user_id = $1 ORDER BY o.specialty_key",
                )
                .bind(user.as_str()),
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let key: String = r.try_get("specialty_key")?;
            let own: Option<String> = r.try_get("specialty")?;
            out.push(match own {
                Some(own) if own.trim().to_lowercase() == key => own,
                _ => key,
            });
        }
        Ok(out)
    }

    /// Posts a consult: chooses at most `max` verified clinicians of the
    /// specialty who opted in (not the asker; at random when more did),
    /// records them and the audit entry (`consult.posted`, its fan-out).
    pub async fn post_consult(
        &self,
        id: &ConsultId,
        asker: &UserId,
        (specialty, share_answers): (&str, bool),
        (max, max_open): (usize, u64),
        actor: &Actor,
        now: i64,
    ) -> Result<Result<Vec<UserId>, ConsultProblem>, ServerError> {
        let mut tx = self.begin().await?;
        let open: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM consults WHERE asker = $1 AND closed_at IS NULL")
                .bind(asker.as_str())
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
        if u64::try_from(open).unwrap_or(u64::MAX) >= max_open {
            return Ok(Err(ConsultProblem::TooManyOpen(max_open)));
        }
        let rows = sqlx::query(
            "SELECT u.user_id, u.specialty FROM consult_optins o JOIN users u ON u.user_id = o.user_id \
             JOIN user_roles r ON r.user_id = u.user_id AND r.role = 'clinician' \
             WHERE o.specialty_key = $1 AND LOWER(u.specialty) = $1 AND u.verified = 1 \
               AND u.deactivated_at IS NULL AND u.user_id <> $2",
        )
        .bind(specialty.to_lowercase())
        .bind(asker.as_str())
        .fetch_all(&mut *tx)
        .await?;
        let mut chosen = rows
            .iter()
            .map(|r| user_id(r, "user_id"))
            .collect::<Result<Vec<_>, _>>()?;
        if chosen.is_empty() {
            return Ok(Err(ConsultProblem::NobodyAnswers));
        }
        // The specialty as the directory spells it, not as typed.
        let canonical: Option<String> = rows.first().map(|r| r.try_get("specialty")).transpose()?;
        let specialty = canonical.as_deref().unwrap_or(specialty);
        shuffle(&mut chosen);
        chosen.truncate(max);
        let fan_out = chosen.len() as u64;
        sqlx::query(
            "INSERT INTO consults (consult_id, asker, specialty, share_answers, fan_out, created_at, closed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, NULL)",
        )
        .bind(id.as_str())
        .bind(asker.as_str())
        .bind(specialty)
        .bind(i64::from(share_answers))
        .bind(i64::try_from(fan_out).unwrap_or(i64::MAX))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        for user in &chosen {
            sqlx::query(
                "INSERT INTO consult_recipients (consult_id, user_id, answered_at) VALUES ($1, $2, NULL)",
            )
            .bind(id.as_str())
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?;
        }
        let event = Event::new(actor, Action::ConsultPosted).details(Details {
            consult: Some(id.to_string()),
            specialty: Some(specialty.to_owned()),
            fan_out: Some(fan_out),
            ..Details::default()
        });
        tx.audit(vec![event], now).await?;
        tx.commit().await?;
        Ok(Ok(chosen))
    }

    /// Closes a consult (only its asker), audited; closing twice is a no-op.
    pub async fn close_consult(
        &self,
        id: &ConsultId,
        asker: &UserId,
        actor: &Actor,
        now: i64,
    ) -> Result<Result<(), ConsultProblem>, ServerError> {
        let mut tx = self.begin().await?;
        let closed = sqlx::query(
            "UPDATE consults SET closed_at = $3 WHERE consult_id = $1 AND asker = $2 AND closed_at IS NULL",
        )
        .bind(id.as_str())
        .bind(asker.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if closed == 0 {
            let exists = sqlx::query("SELECT 1 AS one FROM consults WHERE consult_id = $1 AND asker = $2")
                .bind(id.as_str())
                .bind(asker.as_str())
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            return Ok(if exists {
                Ok(())
            } else {
                Err(ConsultProblem::NotFound)
            });
        }
        let event = Event::new(actor, Action::ConsultClosed).details(Details {
            consult: Some(id.to_string()),
            ..Details::default()
        });
        tx.audit(vec![event], now).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// The consults `user` asked or received, newest first (at most 100).
    pub async fn consults_of(&self, user: &UserId) -> Result<Vec<Consult>, ServerError> {
        let rows = self
            .writer
            .fetch_all(
                sqlx::query(
                    "SELECT c.consult_id, c.asker, c.specialty, c.share_answers, c.fan_out, c.created_at, \
                     c.closed_at FROM consults c WHERE c.asker = $1 OR c.consult_id IN \
                     (SELECT consult_id FROM consult_recipients WHERE user_id = $1) \
                     ORDER BY c.created_at DESC LIMIT 100",
                )
                .bind(user.as_str()),
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let consult_id =
                ConsultId::new(r.try_get::<String, _>("consult_id")?).map_err(|_| corrupt("consult id"))?;
            let asker = user_id(r, "asker")?;
            let share_answers = r.try_get::<i64, _>("share_answers")? != 0;
            let members = self
                .writer
                .fetch_all(
                    sqlx::query("SELECT user_id, answered_at FROM consult_recipients WHERE consult_id = $1")
                        .bind(consult_id.as_str()),
                )
                .await?;
            let answered = members
                .iter()
                .filter(|m| {
                    m.try_get::<Option<i64>, _>("answered_at")
                        .ok()
                        .flatten()
                        .is_some()
                })
                .count() as u64;
            let recipients = if asker == *user || share_answers {
                members
                    .iter()
                    .map(|m| user_id(m, "user_id"))
                    .collect::<Result<Vec<_>, _>>()?
            } else {
                Vec::new()
            };
            out.push(Consult {
                consult_id,
                asker,
                specialty: r.try_get("specialty")?,
                share_answers,
                fan_out: u64::try_from(r.try_get::<i64, _>("fan_out")?).unwrap_or(0),
                status: if r.try_get::<Option<i64>, _>("closed_at")?.is_some() {
                    ConsultStatus::Closed
                } else {
                    ConsultStatus::Open
                },
                created_at: r.try_get("created_at")?,
                recipients,
                answered,
            });
        }
        Ok(out)
    }

    /// What `sender` may do with a send naming consult `id`.
    pub async fn consult_role(
        &self,
        id: &ConsultId,
        sender: &UserId,
    ) -> Result<Result<ConsultRole, ConsultProblem>, ServerError> {
        let Some(c) = self
            .writer
            .fetch_optional(
                sqlx::query("SELECT asker, share_answers, closed_at FROM consults WHERE consult_id = $1")
                    .bind(id.as_str()),
            )
            .await?
        else {
            return Ok(Err(ConsultProblem::NotFound));
        };
        if c.try_get::<Option<i64>, _>("closed_at")?.is_some() {
            return Ok(Err(ConsultProblem::Closed));
        }
        let asker = user_id(&c, "asker")?;
        let recipients = self
            .writer
            .fetch_all(
                sqlx::query("SELECT user_id FROM consult_recipients WHERE consult_id = $1").bind(id.as_str()),
            )
            .await?
            .iter()
            .map(|r| user_id(r, "user_id"))
            .collect::<Result<Vec<_>, _>>()?;
        if asker == *sender {
            return Ok(Ok(ConsultRole::Asker { recipients }));
        }
        if !recipients.contains(sender) {
            return Ok(Err(ConsultProblem::NotFound));
        }
        let mut allowed = vec![asker.clone()];
        if c.try_get::<i64, _>("share_answers")? != 0 {
            allowed.extend(recipients);
        }
        Ok(Ok(ConsultRole::Answerer { allowed, asker }))
    }
}

/// Marks `answerer`'s first answer of consult `id`, in the answer's
/// transaction; returns its audit entry (none for a later answer).
pub(super) async fn first_answer(
    conn: &mut sqlx::AnyConnection,
    id: &ConsultId,
    answerer: &UserId,
    asker: &UserId,
    actor: &Actor,
    now: i64,
) -> Result<Option<Event>, ServerError> {
    let first = sqlx::query(
        "UPDATE consult_recipients SET answered_at = $3 WHERE consult_id = $1 AND user_id = $2 AND answered_at IS NULL",
    )
    .bind(id.as_str())
    .bind(answerer.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok((first > 0).then(|| {
        Event::new(actor, Action::ConsultAnswered)
            .counterpart(asker, None)
            .details(Details {
                consult: Some(id.to_string()),
                ..Details::default()
            })
    }))
}

/// Fisher–Yates with the OS's randomness.
fn shuffle<T>(items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = usize::try_from(rand_core::RngCore::next_u64(&mut rand_core::OsRng) % (i as u64 + 1))
            .unwrap_or(0);
        items.swap(i, j);
    }
}
