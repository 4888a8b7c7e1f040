//! Curbside consults (PROTOCOL.md, "Curbside consults"): a question put to
//! the verified clinicians of a specialty who opted in to answer. The
//! server chooses the recipients (at most `max_consult_recipients`), the
//! asker's client encrypts the question to their devices; answers go back
//! to the asker (and to every recipient if the asker chose so) until the
//! asker closes it.

use serde::{Deserialize, Serialize};

use crate::ids::{ConsultId, UserId};

/// `PUT /v1/consults/opt-in`: the specialties (of the caller's own) for
/// which the caller answers consults; empty: none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptIn {
    /// Specialties, case-insensitive.
    pub specialties: Vec<String>,
}

/// `POST /v1/consults`: a new consult to a specialty.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostConsult {
    /// The specialty asked.
    pub specialty: String,
    /// Whether answers go to every recipient too (not only to the asker).
    #[serde(default)]
    pub share_answers: bool,
}

/// Open or closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsultStatus {
    /// Answers are accepted.
    Open,
    /// The asker closed it.
    Closed,
}

/// A consult as the asker or a recipient sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consult {
    /// Its id.
    pub consult_id: ConsultId,
    /// Who asked.
    pub asker: UserId,
    /// The specialty asked.
    pub specialty: String,
    /// Whether answers go to every recipient.
    pub share_answers: bool,
    /// How many clinicians it went to.
    pub fan_out: u64,
    /// Open or closed.
    pub status: ConsultStatus,
    /// When it was posted (ms).
    pub created_at: i64,
    /// Who it went to: for the asker (whose client encrypts to them), and
    /// for every recipient when answers are shared; otherwise empty.
    pub recipients: Vec<UserId>,
    /// How many have answered.
    pub answered: u64,
}
