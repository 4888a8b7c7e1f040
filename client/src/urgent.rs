//! Urgent and stat messages in the local state (which are open, who
//! acknowledged, where an escalation stands), recall, and the
//! organisation's retention policy applied to the history.

use curbside_protocol::http::Policy;
use curbside_protocol::ids::{MessageId, UserId};
use curbside_protocol::referral::Priority;
use serde::{Deserialize, Serialize};

use crate::content::Content;
use crate::local::LocalState;

/// One urgent or stat message this profile sent or received.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrgentRecord {
    /// Who sent it.
    pub sender: UserId,
    /// The sender's id for it.
    pub message_id: MessageId,
    /// Urgent or stat.
    pub priority: Priority,
    /// The other users of its conversation (the recipients, for the sender).
    pub to: Vec<UserId>,
    /// Received as an escalation copy: nobody acknowledged it in time.
    #[serde(default)]
    pub escalated: bool,
    /// For the sender: the backup and when the escalation is released (ms).
    #[serde(default)]
    pub escalation: Option<(UserId, i64)>,
    /// Who acknowledged it first that this profile knows of, and when (ms).
    #[serde(default)]
    pub acknowledged: Option<(UserId, i64)>,
    /// When it was sent (ms, the server's time).
    pub at_ms: i64,
}

impl UrgentRecord {
    /// Still alerting: not acknowledged (and not recalled).
    #[must_use]
    pub fn is_open(&self) -> bool {
        self.acknowledged.is_none()
    }
}

/// A curbside consult as this profile knows it: the question, the
/// answers received, whether it is closed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsultRecord {
    /// Who asked.
    pub asker: UserId,
    /// The specialty asked.
    pub specialty: String,
    /// The question.
    pub text: String,
    /// When it was asked (ms).
    pub at_ms: i64,
    /// How many clinicians it went to (known to the asker).
    #[serde(default)]
    pub fan_out: u64,
    /// The answers: who, what, when.
    #[serde(default)]
    pub answers: Vec<(UserId, String, i64)>,
    /// Closed by the asker.
    #[serde(default)]
    pub closed: bool,
    /// The question's images (or other files), to download and decrypt.
    #[serde(default)]
    pub attachments: Vec<crate::content::AttachmentRef>,
}

impl LocalState {
    /// Records an urgent or stat message (sent or received); a routine one
    /// is not recorded. A re-delivery changes nothing.
    pub fn record_urgent(&mut self, record: UrgentRecord) {
        if record.priority == Priority::Routine
            || self.urgent_of(&record.sender, &record.message_id).is_some()
        {
            return;
        }
        self.urgent.push(record);
    }

    /// The record of `sender`'s message, if it is urgent or stat.
    #[must_use]
    pub fn urgent_of(&self, sender: &UserId, message_id: &MessageId) -> Option<&UrgentRecord> {
        self.urgent
            .iter()
            .find(|u| u.sender == *sender && u.message_id == *message_id)
    }

    /// Marks `sender`'s messages acknowledged by `by` at `at_ms` (the first
    /// acknowledgement known is kept). Returns how many were open.
    pub fn mark_acknowledged(
        &mut self,
        sender: &UserId,
        ids: &[MessageId],
        by: &UserId,
        at_ms: i64,
    ) -> usize {
        let mut n = 0;
        for u in self
            .urgent
            .iter_mut()
            .filter(|u| u.sender == *sender && ids.contains(&u.message_id))
        {
            if u.acknowledged.is_none() {
                u.acknowledged = Some((by.clone(), at_ms));
                n += 1;
            }
        }
        n
    }

    /// The urgent and stat messages still open: STAT first, oldest first in each.
    #[must_use]
    pub fn open_urgent(&self) -> Vec<&UrgentRecord> {
        let mut open: Vec<&UrgentRecord> = self.urgent.iter().filter(|u| u.is_open()).collect();
        // STAT before urgent, then oldest first.
        open.sort_by_key(|u| (u.priority != Priority::Stat, u.at_ms));
        open
    }

    /// Applies `sender`'s recall: every copy of these messages in every
    /// conversation is replaced by a "message recalled" mark (its text and
    /// attachment keys are gone), and they stop alerting. Returns how many
    /// copies were replaced.
    pub fn apply_recall(&mut self, sender: &UserId, ids: &[MessageId]) -> usize {
        let mut n = 0;
        let conversations = self
            .conversations
            .values_mut()
            .chain(self.team_conversations.values_mut());
        for conversation in conversations {
            for m in conversation
                .iter_mut()
                .filter(|m| m.from == *sender && ids.contains(&m.message_id))
            {
                if !matches!(m.content, Content::Recall { .. }) {
                    m.content = Content::Recall {
                        message_ids: vec![m.message_id.clone()],
                    };
                    n += 1;
                }
            }
        }
        self.urgent
            .retain(|u| !(u.sender == *sender && ids.contains(&u.message_id)));
        n
    }

    /// Records the organisation's policy and applies its retention: every
    /// message older than it at `now_ms` is deleted, and the timers longer
    /// than it are shortened to it. Returns how many messages were deleted.
    pub fn apply_policy(&mut self, policy: &Policy, now_ms: i64) -> usize {
        self.policy = Some(policy.clone());
        let Some(secs) = policy.retention_secs else {
            return 0;
        };
        let cutoff = now_ms.saturating_sub(i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX));
        let mut deleted = 0;
        let conversations = self
            .conversations
            .values_mut()
            .chain(self.team_conversations.values_mut());
        for conversation in conversations {
            let before = conversation.len();
            conversation.retain(|m| m.at_ms > cutoff);
            deleted += before - conversation.len();
        }
        self.urgent.retain(|u| u.at_ms > cutoff);
        // A consult goes with its question (and its images); answers older
        // than the limit go from one still kept.
        self.consults.retain(|_, c| c.at_ms > cutoff);
        for c in self.consults.values_mut() {
            c.answers.retain(|(_, _, at)| *at > cutoff);
        }
        self.referrals.retain(|id, _| {
            self.referral_envelopes
                .get(id)
                .is_none_or(|r| r.updated_at > cutoff)
        });
        for timer in self.timers.values_mut() {
            *timer = (*timer).min(secs);
        }
        deleted
    }

    /// The longest conversation timer the policy allows (`None`: any).
    #[must_use]
    pub fn max_timer_secs(&self) -> Option<u64> {
        self.policy.as_ref().and_then(|p| p.retention_secs)
    }
}

/// The policy in words, for people: "Messages are deleted after 30 days
/// (your organisation's retention policy)."
#[must_use]
pub fn policy_words(policy: &Policy) -> String {
    match policy.retention_secs {
        Some(secs) => format!(
            "Messages and attachments are deleted after {} (your organisation's retention policy).",
            crate::content::duration_words(secs)
        ),
        None => "Your organisation sets no retention limit: messages are kept until deleted.".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::{Status, StoredMessage};

    fn user(s: &str) -> UserId {
        UserId::new(s).unwrap()
    }

    fn id(s: &str) -> MessageId {
        MessageId::new(s).unwrap()
    }

    fn text(from: &str, mid: &str, at_ms: i64) -> StoredMessage {
        StoredMessage {
            message_id: id(mid),
            from: user(from),
            device: None,
            at_ms,
            content: Content::text(vec![], "rash on the left forearm".into()),
            status: Status::Received,
        }
    }

    fn urgent(from: &str, mid: &str) -> UrgentRecord {
        UrgentRecord {
            sender: user(from),
            message_id: id(mid),
            priority: Priority::Stat,
            to: vec![user("me")],
            escalated: false,
            escalation: None,
            acknowledged: None,
            at_ms: 1,
        }
    }

    #[test]
    fn an_urgent_message_stays_open_until_acknowledged_and_the_first_acknowledgement_counts() {
        let mut s = LocalState::new();
        s.record_urgent(urgent("alice", "m1"));
        s.record_urgent(urgent("alice", "m1"));
        s.record_urgent(UrgentRecord {
            priority: Priority::Routine,
            ..urgent("alice", "m2")
        });
        assert_eq!(s.open_urgent().len(), 1);
        s.urgent.push(UrgentRecord {
            priority: Priority::Urgent,
            at_ms: 0,
            ..urgent("dan", "m8")
        });
        s.urgent.push(UrgentRecord {
            at_ms: i64::MAX,
            ..urgent("carol", "m9")
        });
        let order: Vec<&str> = s.open_urgent().iter().map(|u| u.message_id.as_str()).collect();
        assert_eq!(
            order,
            ["m1", "m9", "m8"],
            "STAT first however recent, then urgent; oldest first in each"
        );
        s.urgent
            .retain(|u| !["m8", "m9"].contains(&u.message_id.as_str()));
        assert_eq!(
            s.mark_acknowledged(&user("alice"), &[id("m1")], &user("bob"), 5),
            1
        );
        assert_eq!(
            s.mark_acknowledged(&user("alice"), &[id("m1")], &user("carol"), 9),
            0
        );
        assert!(s.open_urgent().is_empty());
        let record = s.urgent_of(&user("alice"), &id("m1")).unwrap();
        assert_eq!(record.acknowledged, Some((user("bob"), 5)));
    }

    #[test]
    fn a_recall_replaces_the_text_of_the_senders_message_only() {
        let mut s = LocalState::new();
        s.record_received(&user("alice"), text("alice", "m1", 1));
        s.record_received(&user("mallory"), text("mallory", "m1", 1));
        s.record_urgent(urgent("alice", "m1"));
        assert_eq!(s.apply_recall(&user("alice"), &[id("m1")]), 1);
        assert_eq!(s.apply_recall(&user("alice"), &[id("m1")]), 0);
        let kept = &s.conversations[&user("alice")][0];
        assert_eq!(kept.content.summary(), "[message recalled]");
        assert!(s.conversations[&user("mallory")][0]
            .content
            .summary()
            .contains("rash"));
        assert!(s.open_urgent().is_empty());
    }

    #[test]
    fn retention_deletes_older_history_and_caps_timers() {
        let mut s = LocalState::new();
        s.record_received(&user("alice"), text("alice", "old", 1_000));
        s.record_received(&user("alice"), text("alice", "new", 100_000));
        s.set_timer(&user("alice"), Some(7 * 86_400), 0);
        let consult = |at_ms: i64, answers: Vec<(UserId, String, i64)>| ConsultRecord {
            asker: user("alice"),
            specialty: "Dermatology".into(),
            text: "Rash?".into(),
            at_ms,
            fan_out: 2,
            answers,
            closed: false,
            attachments: Vec::new(),
        };
        s.consults.insert("old".into(), consult(1_000, Vec::new()));
        let answers = vec![
            (user("bob"), "early".into(), 1_000),
            (user("bob"), "late".into(), 100_000),
        ];
        s.consults.insert("kept".into(), consult(100_000, answers));
        let policy = Policy {
            retention_secs: Some(60),
            recall_window_secs: 3600,
            changed_at: Some(0),
        };
        assert_eq!(s.apply_policy(&policy, 120_000), 1);
        let left: Vec<&str> = s.conversations[&user("alice")]
            .iter()
            .map(|m| m.message_id.as_str())
            .collect();
        assert_eq!(left, ["new"]);
        assert_eq!(s.timers[&user("alice")], 60);
        assert_eq!(
            s.consults.keys().collect::<Vec<_>>(),
            ["kept"],
            "an old consult goes, with its images"
        );
        assert_eq!(
            s.consults["kept"].answers.len(),
            1,
            "and an answer older than the limit"
        );
        assert_eq!(s.max_timer_secs(), Some(60));
        assert!(policy_words(&policy).contains("1 minute"));
    }
}
