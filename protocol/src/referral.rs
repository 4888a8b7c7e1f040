//! Referrals: the server-visible envelope (no PHI) and the lifecycle the
//! server enforces. The clinical content (a FHIR R4 ServiceRequest with its
//! Patient) travels only inside the end-to-end-encrypted message named by
//! `message_id`.
//!
//! ```text
//! requested ──accept──▶ accepted ──complete──▶ completed
//!     │ ──decline──▶ declined      (receiving clinician)
//!     └ ──cancel───▶ cancelled     (referring clinician)
//! ```

use serde::{Deserialize, Serialize};

use crate::ids::{MessageId, ReferralId, UserId};

/// How soon the receiving clinician should act.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Routine.
    #[default]
    Routine,
    /// Urgent.
    Urgent,
    /// Immediately.
    Stat,
}

impl Priority {
    /// Whether this is the default priority (omitted on the wire).
    #[must_use]
    pub fn is_routine(&self) -> bool {
        *self == Self::Routine
    }

    /// The stable name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Routine => "routine",
            Self::Urgent => "urgent",
            Self::Stat => "stat",
        }
    }

    /// Parses [`Priority::as_str`] output.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Routine, Self::Urgent, Self::Stat]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// Where a referral is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Sent, awaiting the receiving clinician.
    Requested,
    /// The receiving clinician took it.
    Accepted,
    /// The receiving clinician declined it (an encrypted reason travels separately).
    Declined,
    /// The referring clinician withdrew it (an encrypted reason travels separately).
    Cancelled,
    /// The receiving clinician completed it.
    Completed,
}

impl Status {
    /// The stable name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Accepted => "accepted",
            Self::Declined => "declined",
            Self::Cancelled => "cancelled",
            Self::Completed => "completed",
        }
    }

    /// Parses [`Status::as_str`] output.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Requested,
            Self::Accepted,
            Self::Declined,
            Self::Cancelled,
            Self::Completed,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }
}

/// Which side of a referral may make a transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Party {
    /// The clinician who referred.
    Referring,
    /// The clinician referred to.
    Receiving,
}

/// A change of status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    /// requested → accepted (receiving clinician).
    Accept,
    /// requested → declined (receiving clinician; reason required).
    Decline,
    /// requested → cancelled (referring clinician; reason required).
    Cancel,
    /// accepted → completed (receiving clinician).
    Complete,
}

impl Transition {
    /// The stable name (also the last path segment of its endpoint).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::Decline => "decline",
            Self::Cancel => "cancel",
            Self::Complete => "complete",
        }
    }

    /// Parses [`Transition::as_str`] output.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Accept, Self::Decline, Self::Cancel, Self::Complete]
            .into_iter()
            .find(|t| t.as_str() == s)
    }

    /// Who may make it.
    #[must_use]
    pub fn party(self) -> Party {
        match self {
            Self::Cancel => Party::Referring,
            Self::Accept | Self::Decline | Self::Complete => Party::Receiving,
        }
    }

    /// The status it leads to from `from`, if it is allowed from there.
    #[must_use]
    pub fn apply(self, from: Status) -> Option<Status> {
        match (self, from) {
            (Self::Accept, Status::Requested) => Some(Status::Accepted),
            (Self::Decline, Status::Requested) => Some(Status::Declined),
            (Self::Cancel, Status::Requested) => Some(Status::Cancelled),
            (Self::Complete, Status::Accepted) => Some(Status::Completed),
            _ => None,
        }
    }

    /// Whether it must carry an encrypted reason (a message id).
    #[must_use]
    pub fn needs_reason(self) -> bool {
        matches!(self, Self::Decline | Self::Cancel)
    }
}

/// `POST /v1/referrals`: registers the envelope of a referral whose content
/// was sent (kind `referral`) as message `message_id` to the receiving clinician.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateReferral {
    /// Chosen by the client (1 to 64 of A-Z a-z 0-9 - _).
    pub referral_id: String,
    /// The receiving clinician.
    pub to: UserId,
    /// Target specialty.
    pub specialty: String,
    /// Priority.
    pub priority: Priority,
    /// The message carrying the encrypted FHIR content.
    pub message_id: MessageId,
}

/// `POST /v1/referrals/{id}/{transition}`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    /// The message carrying the encrypted reason (decline and cancel).
    #[serde(default)]
    pub reason_message_id: Option<MessageId>,
}

/// A referral as the server knows it: no PHI.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Referral {
    /// Its id.
    pub referral_id: ReferralId,
    /// Who referred.
    pub referring: UserId,
    /// To whom.
    pub receiving: UserId,
    /// Target specialty.
    pub specialty: String,
    /// Priority.
    pub priority: Priority,
    /// Status.
    pub status: Status,
    /// The message carrying the content.
    pub message_id: MessageId,
    /// The message carrying the reason of a decline or cancellation.
    pub reason_message_id: Option<MessageId>,
    /// Created (ms since the epoch).
    pub created_at: i64,
    /// Last changed (ms since the epoch).
    pub updated_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lifecycle_allows_exactly_the_documented_transitions() {
        let all = [
            Status::Requested,
            Status::Accepted,
            Status::Declined,
            Status::Cancelled,
            Status::Completed,
        ];
        let mut allowed = Vec::new();
        for t in [
            Transition::Accept,
            Transition::Decline,
            Transition::Cancel,
            Transition::Complete,
        ] {
            for s in all {
                if let Some(to) = t.apply(s) {
                    allowed.push((s.as_str(), t.as_str(), to.as_str()));
                }
            }
            assert_eq!(Transition::parse(t.as_str()), Some(t));
        }
        assert_eq!(
            allowed,
            [
                ("requested", "accept", "accepted"),
                ("requested", "decline", "declined"),
                ("requested", "cancel", "cancelled"),
                ("accepted", "complete", "completed"),
            ]
        );
        for s in all {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
    }
}
