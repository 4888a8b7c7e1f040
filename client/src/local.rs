//! The clinician's local state besides the device keys: contacts and
//! conversations with their history and message status. The binary seals it
//! at rest with the profile's passphrase-derived key; this module only
//! defines it and how it changes.

use std::collections::BTreeMap;

use curbside_protocol::frames::MessageKind;
use curbside_protocol::ids::{DeviceId, MessageId, UserId};
use serde::{Deserialize, Serialize};

use crate::content::Content;

/// Where a message is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting in the outbox (the server was unreachable).
    Queued,
    /// Accepted by the server.
    Sent,
    /// A recipient device acknowledged it.
    Delivered,
    /// The recipient read it (end-to-end-encrypted read receipt).
    Read,
    /// The server refused it.
    Failed,
    /// Received from someone else.
    Received,
}

impl Status {
    /// The stable name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Failed => "failed",
            Self::Received => "received",
        }
    }
}

/// One message in a conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMessage {
    /// The sender's id for it.
    pub message_id: MessageId,
    /// Who sent it.
    pub from: UserId,
    /// From which device (for received messages).
    pub device: Option<DeviceId>,
    /// Server acceptance time (ms since the epoch).
    pub at_ms: i64,
    /// What it says.
    pub content: Content,
    /// Where it is.
    pub status: Status,
}

/// Someone this profile has exchanged messages with.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// Messages not yet shown.
    pub unread: u32,
    /// The fingerprint of the contact's identity keys when the safety number
    /// was last confirmed (see [`key_set_fingerprint`]).
    #[serde(default)]
    pub verified_keys: Option<String>,
}

/// Whether a contact's keys are the ones confirmed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trust {
    /// The safety number was never confirmed.
    Unverified,
    /// Confirmed, and the keys have not changed since.
    Verified,
    /// Confirmed once, but the keys changed since: confirm again.
    Changed,
}

/// A stable fingerprint of a set of identity keys (order-independent): hex SHA-256.
#[must_use]
pub fn key_set_fingerprint(keys: &[curbside_crypto::IdentityKey]) -> String {
    let mut encoded: Vec<Vec<u8>> = keys.iter().map(|k| k.to_bytes().to_vec()).collect();
    encoded.sort();
    let digest = curbside_crypto::primitives::hash::sha256(&encoded.concat());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl Contact {
    /// How far to trust the contact given their current keys.
    #[must_use]
    pub fn trust(&self, current: &str) -> Trust {
        match &self.verified_keys {
            None => Trust::Unverified,
            Some(v) if v == current => Trust::Verified,
            Some(_) => Trust::Changed,
        }
    }
}

/// Contacts and conversations (one per other user).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalState {
    /// Format version.
    pub version: u32,
    /// Contacts by user.
    pub contacts: BTreeMap<UserId, Contact>,
    /// Conversations by the other user, oldest message first.
    pub conversations: BTreeMap<UserId, Vec<StoredMessage>>,
    /// Disappearing-message timers (seconds) by conversation.
    #[serde(default)]
    pub timers: BTreeMap<UserId, u64>,
    /// When each timer was set (ms, the server's time of the timer
    /// message): it applies to messages sent from then on, never to the
    /// conversation before it. A timer without an entry (set by a version
    /// before this one) applies to every message, as it did then.
    #[serde(default)]
    pub timers_since: BTreeMap<UserId, i64>,
    /// Care teams by id.
    #[serde(default)]
    pub teams: BTreeMap<crate::team::TeamId, crate::team::Team>,
    /// Team conversations by team id, oldest message first.
    #[serde(default)]
    pub team_conversations: BTreeMap<crate::team::TeamId, Vec<StoredMessage>>,
    /// Referral content this profile sent or received, by referral id.
    #[serde(default)]
    pub referrals: BTreeMap<String, ReferralContent>,
    /// Referral envelopes as the server last reported them, by referral id.
    #[serde(default)]
    pub referral_envelopes: BTreeMap<String, curbside_protocol::referral::Referral>,
    /// Messages not yet accepted by the server, oldest first: resent with
    /// the same ids (so never duplicated) at the next connection.
    #[serde(default)]
    pub outbox: Vec<Outgoing>,
    /// The names, specialties and NPIs of the people this profile deals
    /// with, as the server's directory gave them: every view shows these,
    /// not user ids. Only clinicians an administrator verified are in the
    /// directory, so a user missing here is not one.
    #[serde(default)]
    pub people: BTreeMap<UserId, curbside_protocol::frames::DirectoryEntry>,
    /// Urgent and stat messages sent and received (see [`crate::urgent`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urgent: Vec<crate::urgent::UrgentRecord>,
    /// The organisation's policy as the server last gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<curbside_protocol::http::Policy>,
    /// Curbside consults asked or received, by consult id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub consults: BTreeMap<String, crate::urgent::ConsultRecord>,
    /// The on-call roles this user held when last told (role id → name).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub held_roles: crate::oncall::HeldRoles,
}

/// What this profile holds of a referral (the server holds only its envelope).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralContent {
    /// The other clinician.
    pub counterpart: UserId,
    /// The FHIR Bundle, JSON.
    pub bundle: String,
    /// Attachments.
    pub attachments: Vec<crate::content::AttachmentRef>,
    /// The decline or cancellation reason, once known.
    pub reason: Option<String>,
}

/// A message waiting in an outbox: not yet accepted by the server, and
/// resent under the same id (so never duplicated). One type for both
/// outboxes, apart only in what they keep of the message (`C`):
/// - the sealed outbox of [`LocalState`] keeps its [`Content`] (the default),
///   serialized as `{message_id, to, content}`;
/// - [`crate::Client`]'s in-memory outbox keeps the encoded plaintext and
///   kind it was given by [`crate::Client::send_or_queue`], never persisted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outgoing<C = Content> {
    /// Its id.
    pub message_id: MessageId,
    /// The recipients.
    pub to: Vec<UserId>,
    /// What it carries.
    pub content: C,
    /// Written to this on-call role: `to` are its holders when it was
    /// written (a hand-off meanwhile re-addresses it when it is sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<curbside_protocol::ids::OnCallRoleId>,
}

impl Outgoing {
    /// How it travels: a timer change as a control message, anything else as a message.
    #[must_use]
    pub fn kind(&self) -> MessageKind {
        match self.content {
            Content::Timer { .. } => MessageKind::Control,
            _ => MessageKind::Message,
        }
    }
}

impl LocalState {
    /// The current format version.
    pub const VERSION: u32 = 1;

    /// An empty state.
    #[must_use]
    pub fn new() -> Self {
        Self {
            version: Self::VERSION,
            ..Self::default()
        }
    }

    /// Encodes for sealing.
    pub fn to_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }

    /// Decodes unsealed bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// Records a message this user sent (from this or another of their
    /// devices) in the conversation with `peer`. Returns false if it was
    /// already recorded.
    pub fn record_sent(&mut self, peer: &UserId, message: StoredMessage) -> bool {
        self.contacts.entry(peer.clone()).or_default();
        self.push(peer, message)
    }

    /// Records a message received from `peer`. Returns false if it was
    /// already recorded (a re-delivery is never shown twice).
    pub fn record_received(&mut self, peer: &UserId, message: StoredMessage) -> bool {
        let added = self.push(peer, message);
        if added {
            self.contacts.entry(peer.clone()).or_default().unread += 1;
        }
        added
    }

    fn push(&mut self, peer: &UserId, message: StoredMessage) -> bool {
        push_unique(self.conversations.entry(peer.clone()).or_default(), message)
    }

    /// Records a message this user sent to `to`, in each recipient's conversation.
    pub fn record_outgoing(
        &mut self,
        me: &UserId,
        to: &[UserId],
        message_id: &MessageId,
        content: &Content,
        at_ms: i64,
        status: Status,
    ) {
        for peer in to {
            self.record_sent(
                peer,
                StoredMessage {
                    message_id: message_id.clone(),
                    from: me.clone(),
                    device: None,
                    at_ms,
                    content: content.clone(),
                    status,
                },
            );
        }
    }

    /// Raises the status of the messages `me` sent with these ids to `peer`
    /// (never lowers it: a read message stays read when its delivery receipt
    /// arrives late).
    pub fn raise_status(&mut self, me: &UserId, peer: &UserId, ids: &[MessageId], status: Status) {
        if let Some(conversation) = self.conversations.get_mut(peer) {
            for m in conversation
                .iter_mut()
                .filter(|m| &m.from == me && ids.contains(&m.message_id))
            {
                if m.status < status {
                    m.status = status;
                }
            }
        }
    }

    /// Marks a conversation read; returns the received message ids that were unread.
    pub fn mark_read(&mut self, peer: &UserId) -> u32 {
        self.contacts
            .get_mut(peer)
            .map(|c| std::mem::take(&mut c.unread))
            .unwrap_or(0)
    }

    /// Sets (from `since_ms` on: the timer message's time) or clears a
    /// conversation's disappearing-message timer. Messages sent before it
    /// are kept.
    pub fn set_timer(&mut self, peer: &UserId, seconds: Option<u64>, since_ms: i64) {
        match seconds {
            Some(s) => {
                self.timers.insert(peer.clone(), s);
                self.timers_since.insert(peer.clone(), since_ms);
            }
            None => {
                self.timers.remove(peer);
                self.timers_since.remove(peer);
            }
        }
    }

    /// Deletes every message sent since its conversation's timer was set
    /// and older than the timer (counted from the server's acceptance time,
    /// so every client agrees). Returns how many were deleted.
    pub fn purge_expired(&mut self, now_ms: i64) -> usize {
        let mut purged = 0;
        for (peer, seconds) in &self.timers {
            let limit = i64::try_from(*seconds).unwrap_or(i64::MAX).saturating_mul(1000);
            let since = self.timers_since.get(peer).copied().unwrap_or(i64::MIN);
            if let Some(conversation) = self.conversations.get_mut(peer) {
                let before = conversation.len();
                conversation.retain(|m| m.at_ms < since || now_ms.saturating_sub(m.at_ms) < limit);
                purged += before - conversation.len();
            }
        }
        purged
    }

    /// Records a team message; false if it was already recorded.
    pub fn record_team_message(&mut self, team_id: &crate::team::TeamId, message: StoredMessage) -> bool {
        push_unique(
            self.team_conversations.entry(team_id.clone()).or_default(),
            message,
        )
    }

    /// Applies a membership update from `from`; returns what to tell the
    /// user, or `None` if the update is not acceptable (its sender is not a
    /// member, or it concerns a team this user is not in).
    pub fn apply_team_update(
        &mut self,
        me: &UserId,
        from: &UserId,
        team_id: &crate::team::TeamId,
        name: &str,
        members: &[UserId],
    ) -> Option<String> {
        let includes_me = members.contains(me);
        let (member_names, from_name) = (self.names(members), self.name(from));
        match self.teams.get_mut(team_id) {
            Some(team) => {
                if team.removed || !(team.members.contains(from) || from == me) {
                    return None;
                }
                team.name = name.to_owned();
                team.members = members.to_vec();
                if includes_me {
                    Some(format!("[team {name}] members now: {member_names}"))
                } else {
                    team.removed = true;
                    Some(format!("[team {name}] {from_name} removed you from the team"))
                }
            }
            None if includes_me => {
                self.teams.insert(
                    team_id.clone(),
                    crate::team::Team {
                        team_id: team_id.clone(),
                        name: name.to_owned(),
                        members: members.to_vec(),
                        removed: false,
                    },
                );
                Some(format!(
                    "[team {name}] {from_name} added you (members: {member_names})"
                ))
            }
            None => None,
        }
    }

    /// The names of `users`, comma-separated.
    #[must_use]
    pub fn names(&self, users: &[UserId]) -> String {
        users.iter().map(|u| self.name(u)).collect::<Vec<_>>().join(", ")
    }

    /// Keeps a directory entry's name for its user.
    pub fn remember(&mut self, entry: curbside_protocol::frames::DirectoryEntry) {
        self.people.insert(entry.user_id.clone(), entry);
    }

    /// The user's display name, or their id if no name is known.
    #[must_use]
    pub fn name(&self, user: &UserId) -> String {
        self.people
            .get(user)
            .map_or_else(|| user.to_string(), |p| p.display_name.clone())
    }

    /// "Dr. Bob Brennan (Dermatology)", or the id if no name is known.
    #[must_use]
    pub fn label(&self, user: &UserId) -> String {
        match self.people.get(user) {
            Some(p) if !p.specialty.is_empty() => format!("{} ({})", p.display_name, p.specialty),
            Some(p) => p.display_name.clone(),
            None => user.to_string(),
        }
    }

    /// Everyone this profile deals with (contacts, team members, referral
    /// counterparts) whose name is not known yet.
    #[must_use]
    pub fn unnamed(&self) -> Vec<UserId> {
        let mut out: std::collections::BTreeSet<UserId> = self.contacts.keys().cloned().collect();
        out.extend(self.teams.values().flat_map(|t| t.members.iter().cloned()));
        out.extend(
            self.referral_envelopes
                .values()
                .flat_map(|r| [r.referring.clone(), r.receiving.clone()]),
        );
        out.extend(self.referrals.values().map(|r| r.counterpart.clone()));
        out.extend(self.consults.values().flat_map(|c| {
            std::iter::once(c.asker.clone()).chain(c.answers.iter().map(|(who, _, _)| who.clone()))
        }));
        out.retain(|u| !self.people.contains_key(u));
        out.into_iter().collect()
    }

    /// Finds a message by id in any conversation.
    #[must_use]
    pub fn find(&self, id: &MessageId) -> Option<&StoredMessage> {
        self.conversations
            .values()
            .chain(self.team_conversations.values())
            .find_map(|ms| ms.iter().find(|m| &m.message_id == id))
    }
}

/// Appends unless the same sender's message id is already there (a
/// re-delivery is never recorded twice).
fn push_unique(conversation: &mut Vec<StoredMessage>, message: StoredMessage) -> bool {
    if conversation
        .iter()
        .any(|m| m.message_id == message.message_id && m.from == message.from)
    {
        return false;
    }
    conversation.push(message);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: &str, from: &str, status: Status) -> StoredMessage {
        StoredMessage {
            message_id: MessageId::new(id).unwrap(),
            from: UserId::new(from).unwrap(),
            device: None,
            at_ms: 1,
            content: Content::text(Vec::new(), "x".into()),
            status,
        }
    }

    #[test]
    fn a_timer_applies_to_the_messages_sent_after_it() {
        let peer = UserId::new("u_peer").unwrap();
        let mut state = LocalState::new();
        let at = |ms: i64| StoredMessage {
            at_ms: ms,
            message_id: MessageId::new(format!("m{ms}")).unwrap(),
            ..msg("m", "u_peer", Status::Received)
        };
        state
            .conversations
            .insert(peer.clone(), vec![at(1_000), at(5_000)]);
        state.set_timer(&peer, Some(1), 2_000);
        assert_eq!(state.purge_expired(10_000), 1, "only the message after the timer");
        assert_eq!(state.conversations[&peer][0].at_ms, 1_000);
        state.set_timer(&peer, None, 20_000);
        assert!(state.timers_since.is_empty());
    }

    #[test]
    fn redelivery_is_recorded_once_and_status_only_rises() {
        let (me, bob) = (UserId::new("u_me").unwrap(), UserId::new("u_bob").unwrap());
        let mut s = LocalState::new();
        assert!(s.record_received(&bob, msg("m1", "u_bob", Status::Received)));
        assert!(!s.record_received(&bob, msg("m1", "u_bob", Status::Received)));
        assert_eq!(s.contacts[&bob].unread, 1);
        assert!(s.record_sent(&bob, msg("m2", "u_me", Status::Sent)));
        let id = [MessageId::new("m2").unwrap()];
        s.raise_status(&me, &bob, &id, Status::Read);
        s.raise_status(&me, &bob, &id, Status::Delivered);
        assert_eq!(s.conversations[&bob][1].status, Status::Read);
        assert_eq!(s.mark_read(&bob), 1);
        let back = LocalState::from_bytes(&s.to_bytes().unwrap()).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn an_outbox_written_by_an_earlier_version_still_loads_and_encodes_the_same() {
        let entry =
            r#"{"message_id":"m1","to":["u_bob"],"content":{"type":"text","to":["u_bob"],"text":"x"}}"#;
        let state = format!(r#"{{"version":1,"contacts":{{}},"conversations":{{}},"outbox":[{entry}]}}"#);
        let s = LocalState::from_bytes(state.as_bytes()).unwrap();
        assert_eq!(s.version, LocalState::VERSION);
        let queued = &s.outbox[0];
        assert_eq!(queued.message_id, MessageId::new("m1").unwrap());
        assert_eq!(queued.to, vec![UserId::new("u_bob").unwrap()]);
        assert_eq!(serde_json::to_string(queued).unwrap(), entry);
    }

    #[test]
    fn teams_written_by_an_earlier_version_still_load_and_encode_the_same() {
        // Team ids are whatever the creating client chose: any text loads.
        let team = r#"{"team_id":"any text, a peer chose it","name":"Ward 4","members":["u_bob","u_me"],"removed":false}"#;
        let teams = format!(r#"{{"any text, a peer chose it":{team}}}"#);
        let message = r#"{"message_id":"m1","from":"u_bob","device":null,"at_ms":1,"content":{"type":"text","to":[],"text":"x"},"status":"received"}"#;
        let conversations = format!(r#"{{"any text, a peer chose it":[{message}]}}"#);
        let state = format!(
            r#"{{"version":1,"contacts":{{}},"conversations":{{}},"teams":{teams},"team_conversations":{conversations}}}"#
        );
        let s = LocalState::from_bytes(state.as_bytes()).unwrap();
        let id = crate::team::TeamId::new("any text, a peer chose it");
        assert_eq!(s.teams[&id].name, "Ward 4");
        assert_eq!(s.team_conversations[&id].len(), 1);
        assert_eq!(serde_json::to_string(&s.teams).unwrap(), teams);
        let update = Content::TeamUpdate {
            team_id: id,
            name: "Ward 4".into(),
            members: Vec::new(),
        };
        assert_eq!(
            serde_json::to_string(&update).unwrap(),
            r#"{"type":"team_update","team_id":"any text, a peer chose it","name":"Ward 4","members":[]}"#
        );
    }
}
