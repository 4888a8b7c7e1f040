//! The audit log's entries, their canonical bytes (the Merkle leaves), signed
//! tree heads, and the bodies of the compliance API.
//!
//! (Just over 600 lines, kept in one file on purpose: the entry, its
//! canonical encoding and the signed head are one specification that a
//! second implementation reads side by side with SECURITY.md.)
//!
//! **Canonical bytes.** An entry's leaf data is the compact JSON encoding of
//! [`AuditEntry`]: keys in declaration order, every top-level key present
//! (`null` when absent), `details` keys in declaration order with absent
//! ones omitted, integers only, strings escaped as `serde_json` does (no
//! escaping of non-ASCII beyond what JSON requires). Anyone can recompute it
//! from an exported record; SECURITY.md specifies it for other implementations.
//!
//! **Tree heads.** The server signs, with its Ed25519 log key, the bytes
//! [`tree_head_message`]: `"curbside-audit-tree-head-v1" || 0x00 ||
//! size (u64 BE) || timestamp_ms (i64 BE) || root (32 bytes)`.

use serde::{Deserialize, Serialize};

use crate::bytes::Base64;
use crate::http::Role;
use crate::ids::{DeviceId, MessageId, UserId};
use crate::merkle::{self, Hash};

/// What happened. Dotted names, stable on the wire and in the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Action {
    /// A new user enrolled (with an invite or the bootstrap token).
    #[serde(rename = "user.enrolled")]
    UserEnrolled,
    /// An admin verified a user's professional details.
    #[serde(rename = "user.verified")]
    UserVerified,
    /// An admin granted a role.
    #[serde(rename = "role.granted")]
    RoleGranted,
    /// An admin created an invite (for a new user or a new device).
    #[serde(rename = "invite.created")]
    InviteCreated,
    /// An admin listed the users.
    #[serde(rename = "users.listed")]
    UsersListed,
    /// An admin deactivated a user's account (its devices are revoked, each
    /// with its own `device.revoked` entry, in the same transaction).
    #[serde(rename = "user.deactivated")]
    UserDeactivated,
    /// A device was added to a user.
    #[serde(rename = "device.added")]
    DeviceAdded,
    /// A device was revoked (by its user or an admin).
    #[serde(rename = "device.revoked")]
    DeviceRevoked,
    /// A user's first identity key was published.
    #[serde(rename = "identity_key.published")]
    IdentityKeyPublished,
    /// A user's set of identity keys changed (a further device enrolled).
    #[serde(rename = "identity_key.changed")]
    IdentityKeyChanged,
    /// A device authenticated (WebSocket or HTTP session).
    #[serde(rename = "auth.succeeded")]
    AuthSucceeded,
    /// An authentication was refused (`reason` says why).
    #[serde(rename = "auth.failed")]
    AuthFailed,
    /// An HTTP session ended by idle or absolute timeout.
    #[serde(rename = "session.expired")]
    SessionExpired,
    /// A device fetched another user's prekey bundles.
    #[serde(rename = "prekey_bundle.fetched")]
    PrekeyBundleFetched,
    /// A message was accepted for a recipient user's devices.
    #[serde(rename = "message.accepted")]
    MessageAccepted,
    /// A recipient device acknowledged a message.
    #[serde(rename = "message.delivered")]
    MessageDelivered,
    /// A queued message expired before its recipient device took it.
    #[serde(rename = "message.expired")]
    MessageExpired,
    /// An encrypted attachment was uploaded.
    #[serde(rename = "attachment.stored")]
    AttachmentStored,
    /// An encrypted attachment was downloaded.
    #[serde(rename = "attachment.fetched")]
    AttachmentFetched,
    /// A referral was created.
    #[serde(rename = "referral.created")]
    ReferralCreated,
    /// A referral changed status.
    #[serde(rename = "referral.status_changed")]
    ReferralStatusChanged,
    /// A recipient acknowledged an urgent or stat message (the first
    /// acknowledgement only).
    #[serde(rename = "message.acknowledged")]
    MessageAcknowledged,
    /// Nobody acknowledged an urgent or stat message in time: its held
    /// escalation copies were released to the backup (counterpart).
    #[serde(rename = "escalation.released")]
    EscalationReleased,
    /// An urgent or stat message was acknowledged (or recalled) in time: its
    /// held escalation copies were deleted undelivered.
    #[serde(rename = "escalation.withdrawn")]
    EscalationWithdrawn,
    /// The sender recalled a message (`deleted`: copies still queued, now deleted).
    #[serde(rename = "message.recalled")]
    MessageRecalled,
    /// An administrator changed the retention policy (`retention_secs`
    /// absent: no limit).
    #[serde(rename = "retention.changed")]
    RetentionChanged,
    /// An administrator created an on-call role (`details.oncall_role`: its name).
    #[serde(rename = "oncall.role_created")]
    OnCallRoleCreated,
    /// An administrator scheduled a shift of an on-call role (counterpart: the clinician).
    #[serde(rename = "oncall.shift_scheduled")]
    OnCallShiftScheduled,
    /// A role was handed off at once (counterpart: the clinician taking over).
    #[serde(rename = "oncall.handed_off")]
    OnCallHandedOff,
    /// A message to an on-call role reached its holder (counterpart), one
    /// entry per holder, in the message's transaction.
    #[serde(rename = "oncall.resolved")]
    OnCallResolved,
    /// A clinician posted a curbside consult to a specialty (`details.fan_out`:
    /// how many clinicians it goes to; never its content).
    #[serde(rename = "consult.posted")]
    ConsultPosted,
    /// A clinician first answered a consult (counterpart: the asker).
    #[serde(rename = "consult.answered")]
    ConsultAnswered,
    /// The asker closed a consult.
    #[serde(rename = "consult.closed")]
    ConsultClosed,
    /// Someone queried the audit log.
    #[serde(rename = "audit.queried")]
    AuditQueried,
    /// Someone exported the audit log.
    #[serde(rename = "audit.exported")]
    AuditExported,
    /// Someone asked for the signed tree head.
    #[serde(rename = "audit.tree_head_requested")]
    AuditTreeHeadRequested,
    /// Someone asked for an inclusion or consistency proof.
    #[serde(rename = "audit.proof_requested")]
    AuditProofRequested,
}

impl Action {
    /// Every action, for documentation and tests.
    pub const ALL: &'static [Action] = &[
        Self::UserEnrolled,
        Self::UserVerified,
        Self::RoleGranted,
        Self::InviteCreated,
        Self::UsersListed,
        Self::UserDeactivated,
        Self::DeviceAdded,
        Self::DeviceRevoked,
        Self::IdentityKeyPublished,
        Self::IdentityKeyChanged,
        Self::AuthSucceeded,
        Self::AuthFailed,
        Self::SessionExpired,
        Self::PrekeyBundleFetched,
        Self::MessageAccepted,
        Self::MessageDelivered,
        Self::MessageExpired,
        Self::AttachmentStored,
        Self::AttachmentFetched,
        Self::ReferralCreated,
        Self::ReferralStatusChanged,
        Self::MessageAcknowledged,
        Self::EscalationReleased,
        Self::EscalationWithdrawn,
        Self::MessageRecalled,
        Self::RetentionChanged,
        Self::OnCallRoleCreated,
        Self::OnCallShiftScheduled,
        Self::OnCallHandedOff,
        Self::OnCallResolved,
        Self::ConsultPosted,
        Self::ConsultAnswered,
        Self::ConsultClosed,
        Self::AuditQueried,
        Self::AuditExported,
        Self::AuditTreeHeadRequested,
        Self::AuditProofRequested,
    ];

    /// The stable name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserEnrolled => "user.enrolled",
            Self::UserVerified => "user.verified",
            Self::RoleGranted => "role.granted",
            Self::InviteCreated => "invite.created",
            Self::UsersListed => "users.listed",
            Self::UserDeactivated => "user.deactivated",
            Self::DeviceAdded => "device.added",
            Self::DeviceRevoked => "device.revoked",
            Self::IdentityKeyPublished => "identity_key.published",
            Self::IdentityKeyChanged => "identity_key.changed",
            Self::AuthSucceeded => "auth.succeeded",
            Self::AuthFailed => "auth.failed",
            Self::SessionExpired => "session.expired",
            Self::PrekeyBundleFetched => "prekey_bundle.fetched",
            Self::MessageAccepted => "message.accepted",
            Self::MessageDelivered => "message.delivered",
            Self::MessageExpired => "message.expired",
            Self::AttachmentStored => "attachment.stored",
            Self::AttachmentFetched => "attachment.fetched",
            Self::ReferralCreated => "referral.created",
            Self::ReferralStatusChanged => "referral.status_changed",
            Self::MessageAcknowledged => "message.acknowledged",
            Self::EscalationReleased => "escalation.released",
            Self::EscalationWithdrawn => "escalation.withdrawn",
            Self::MessageRecalled => "message.recalled",
            Self::RetentionChanged => "retention.changed",
            Self::OnCallRoleCreated => "oncall.role_created",
            Self::OnCallShiftScheduled => "oncall.shift_scheduled",
            Self::OnCallHandedOff => "oncall.handed_off",
            Self::OnCallResolved => "oncall.resolved",
            Self::ConsultPosted => "consult.posted",
            Self::ConsultAnswered => "consult.answered",
            Self::ConsultClosed => "consult.closed",
            Self::AuditQueried => "audit.queried",
            Self::AuditExported => "audit.exported",
            Self::AuditTreeHeadRequested => "audit.tree_head_requested",
            Self::AuditProofRequested => "audit.proof_requested",
        }
    }

    /// Parses [`Action::as_str`] output.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|a| a.as_str() == s)
    }
}

/// Whether the action happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It happened.
    Success,
    /// It was refused or failed (`reason` holds the error code).
    Failure,
}

impl Outcome {
    /// The stable name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }

    /// Parses [`Outcome::as_str`] output.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "success" => Some(Self::Success),
            "failure" => Some(Self::Failure),
            _ => None,
        }
    }
}

/// One recipient device's ciphertext, as a message entry records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceCiphertext {
    /// The recipient device.
    pub device: DeviceId,
    /// Ciphertext length in bytes.
    pub size: u64,
    /// SHA-256 of the ciphertext, hex.
    pub sha256: String,
}

/// The small typed details of an entry. Metadata only: never content,
/// attachment names, patient data, tokens or key material (a fingerprint of
/// a public identity key is the most an entry says about a key).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Details {
    /// How the actor connected: `websocket` or `https`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<String>,
    /// The HTTP endpoint (path only, no query string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// A role granted or invited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// SHA-256 of a public identity key, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_fingerprint: Option<String>,
    /// Message kind (`message`, `referral`, `receipt`, `control`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Per recipient device: ciphertext size and hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ciphertexts: Option<Vec<DeviceCiphertext>>,
    /// Devices concerned (bundles fetched, devices revoked…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<Vec<DeviceId>>,
    /// A size in bytes (attachments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// The filters of an audit query or export, as `key=value` pairs (ids only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<String>,
    /// A tree size (tree heads, proofs, exports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree_size: Option<u64>,
    /// The first tree size of a consistency proof, or the entry of an inclusion proof.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<u64>,
    /// An export format (`jsonl`, `csv`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Which timeout ended a session: `idle` or `absolute`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Referral status before a change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_status: Option<String>,
    /// Referral status after a change (or at creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_status: Option<String>,
    /// Referral target specialty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specialty: Option<String>,
    /// Referral priority, or an urgent or stat message's priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    /// How many attempts one entry stands for (failed attempts of one source
    /// past its limit, aggregated over a window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u64>,
    /// When the first of those attempts came (ms since the Unix epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_at_ms: Option<i64>,
    /// When the last of those attempts came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_at_ms: Option<i64>,
    /// An escalation's delay in seconds (on the backup's `message.accepted`
    /// entry: these copies are held until then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation_after_secs: Option<u64>,
    /// How many queued copies were deleted (a recall).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<u64>,
    /// A retention policy in seconds (absent on `retention.changed`: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_secs: Option<u64>,
    /// An on-call role's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oncall_role: Option<String>,
    /// The end of a shift (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<i64>,
    /// A curbside consult's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consult: Option<String>,
    /// How many clinicians a consult went to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fan_out: Option<u64>,
}

/// One audit entry. Field order is part of the canonical encoding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    /// Position in the log, from 1 (the Merkle leaf index is `seq - 1`).
    pub seq: u64,
    /// Server time, milliseconds since the Unix epoch.
    pub time_ms: i64,
    /// The acting user (none for the server itself or an unauthenticated caller).
    pub actor_user: Option<UserId>,
    /// The acting device.
    pub actor_device: Option<DeviceId>,
    /// The role the actor acted in.
    pub actor_role: Option<Role>,
    /// What happened.
    pub action: Action,
    /// The other user concerned (recipient, bundle owner, target of an admin action…).
    pub counterpart_user: Option<UserId>,
    /// The other device concerned.
    pub counterpart_device: Option<DeviceId>,
    /// The message concerned.
    pub message_id: Option<MessageId>,
    /// The referral concerned.
    pub referral_id: Option<String>,
    /// The attachment concerned.
    pub attachment_id: Option<String>,
    /// The caller's IP address (none for the server's own actions).
    pub source: Option<String>,
    /// Whether it happened.
    pub outcome: Outcome,
    /// Why it failed: an error code (see PROTOCOL.md).
    pub reason: Option<String>,
    /// Typed details.
    pub details: Details,
}

impl AuditEntry {
    /// The canonical bytes: the Merkle leaf data.
    #[must_use]
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // Serialising plain structs of strings and integers cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// `SHA-256(0x00 || canonical bytes)`.
    #[must_use]
    pub fn leaf_hash(&self) -> Hash {
        merkle::leaf_hash(&self.canonical_bytes())
    }
}

/// A SHA-256 hash written as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HexHash(pub Hash);

impl core::fmt::Debug for HexHash {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl core::fmt::Display for HexHash {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// A string that is not 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a hash must be 64 hexadecimal digits")]
pub struct BadHexHash;

impl TryFrom<String> for HexHash {
    type Error = BadHexHash;
    fn try_from(s: String) -> Result<Self, BadHexHash> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s.as_bytes(), &mut out).map_err(|_| BadHexHash)?;
        Ok(Self(out))
    }
}

impl From<HexHash> for String {
    fn from(h: HexHash) -> String {
        hex::encode(h.0)
    }
}

/// An entry as the API returns and exports it: the entry, and the leaf hash
/// the server recorded when it appended the entry (a verifier recomputes the
/// hash from the entry and names any entry whose content no longer matches).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    /// The entry.
    pub entry: AuditEntry,
    /// The leaf hash recorded at append time.
    pub leaf_hash: HexHash,
}

/// The bytes a tree head signature covers.
#[must_use]
pub fn tree_head_message(size: u64, timestamp_ms: i64, root: &Hash) -> Vec<u8> {
    let mut m = Vec::with_capacity(28 + 8 + 8 + 32);
    m.extend_from_slice(b"curbside-audit-tree-head-v1\x00");
    m.extend_from_slice(&size.to_be_bytes());
    m.extend_from_slice(&timestamp_ms.to_be_bytes());
    m.extend_from_slice(root);
    m
}

/// A tree head signed by the server's log key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedTreeHead {
    /// Number of entries.
    pub size: u64,
    /// When it was signed, ms since the epoch.
    pub timestamp_ms: i64,
    /// The Merkle root.
    pub root: HexHash,
    /// Ed25519 signature over [`tree_head_message`].
    pub signature: Base64,
}

/// Why a tree head is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the tree head's signature does not verify with the log key")]
pub struct BadSignature;

impl SignedTreeHead {
    /// Checks the signature with the log's Ed25519 public key (32 bytes).
    pub fn verify(&self, log_key: &[u8]) -> Result<(), BadSignature> {
        let key = ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, log_key);
        key.verify(
            &tree_head_message(self.size, self.timestamp_ms, &self.root.0),
            self.signature.as_slice(),
        )
        .map_err(|_| BadSignature)
    }
}

/// `GET /v1/audit/tree-head`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TreeHeadResponse {
    /// The current signed tree head.
    pub tree_head: SignedTreeHead,
    /// The log's Ed25519 public key (32 bytes).
    pub log_key: Base64,
}

/// `GET /v1/audit/entries` and `/v1/audit/export` query parameters. Every
/// filter is optional; filters combine with AND.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AuditQuery {
    /// Entries whose actor is this user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Entries whose counterpart is this user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counterpart: Option<String>,
    /// Entries of this action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Entries about this message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Entries about this referral.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral_id: Option<String>,
    /// `success` or `failure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// At or after this time (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_ms: Option<i64>,
    /// Before this time (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<i64>,
    /// Continue after this sequence number (the previous page's `next_cursor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<u64>,
    /// Page size (default 100, at most 1000). Not used by exports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// `asc` (default, oldest first) or `desc` (newest first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    /// Exports: the last sequence number to include (default: the tree size
    /// when the export started, so a JSONL export matches one tree head).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub through: Option<u64>,
    /// Exports: `jsonl` (default) or `csv`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Entries only: prove every record of the page in the tree of this
    /// many entries (a signed head's size), returned in
    /// [`AuditPage::proofs`]; later entries are left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree_size: Option<u64>,
}

/// One page of `GET /v1/audit/entries`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuditPage {
    /// The entries, in the requested order.
    pub records: Vec<AuditRecord>,
    /// Pass as `cursor` for the next page; absent when this page was the last
    /// (at the time of the request: later entries appear on a later query).
    pub next_cursor: Option<u64>,
    /// With `tree_size`: one inclusion proof per record, in the same order,
    /// each the audit path (leaf to root) of that record in the tree of
    /// `tree_size` entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proofs: Option<Vec<Vec<HexHash>>>,
}

/// `GET /v1/audit/proof/inclusion?seq=&tree_size=`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InclusionProof {
    /// The entry.
    pub record: AuditRecord,
    /// The tree size the proof is for.
    pub tree_size: u64,
    /// The audit path, leaf to root.
    pub proof: Vec<HexHash>,
}

/// `GET /v1/audit/proof/consistency?first=&second=`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// The older tree size.
    pub first: u64,
    /// The newer tree size.
    pub second: u64,
    /// The proof hashes.
    pub proof: Vec<HexHash>,
}

/// A time in ms since the epoch as RFC 3339 UTC with milliseconds
/// (`2026-11-23T08:00:00.000Z`).
#[must_use]
pub fn format_time_ms(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// The header of a CSV export.
pub const CSV_HEADER: &[&str] = &[
    "seq",
    "time",
    "time_ms",
    "actor_user",
    "actor_device",
    "actor_role",
    "action",
    "counterpart_user",
    "counterpart_device",
    "message_id",
    "referral_id",
    "attachment_id",
    "source",
    "outcome",
    "reason",
    "details",
    "leaf_hash",
];

/// The fields of one CSV export row, in the order of [`CSV_HEADER`] (empty
/// for an absent value, `details` as JSON). The server writes exports with
/// it; the CLI checks a CSV export against the verified entries with it.
#[must_use]
pub fn csv_fields(record: &AuditRecord) -> Vec<String> {
    let e = &record.entry;
    let opt = |v: Option<String>| v.unwrap_or_default();
    vec![
        e.seq.to_string(),
        format_time_ms(e.time_ms),
        e.time_ms.to_string(),
        opt(e.actor_user.as_ref().map(ToString::to_string)),
        opt(e.actor_device.map(|d| d.to_string())),
        opt(e.actor_role.map(|r| r.as_str().to_owned())),
        e.action.as_str().to_owned(),
        opt(e.counterpart_user.as_ref().map(ToString::to_string)),
        opt(e.counterpart_device.map(|d| d.to_string())),
        opt(e.message_id.as_ref().map(ToString::to_string)),
        opt(e.referral_id.clone()),
        opt(e.attachment_id.clone()),
        opt(e.source.clone()),
        e.outcome.as_str().to_owned(),
        opt(e.reason.clone()),
        // Serialising plain structs of strings and integers cannot fail.
        serde_json::to_string(&e.details).unwrap_or_default(),
        record.leaf_hash.to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_round_trips_by_name_and_by_serde() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(*a));
            let json = serde_json::to_string(a).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", a.as_str()));
        }
    }

    #[test]
    fn canonical_bytes_are_stable_and_parse_back_to_the_same_bytes() {
        let entry = AuditEntry {
            seq: 7,
            time_ms: 1_700_000_000_000,
            actor_user: UserId::new("u_a").ok(),
            actor_device: Some(DeviceId(1)),
            actor_role: Some(Role::Clinician),
            action: Action::MessageAccepted,
            counterpart_user: UserId::new("u_b").ok(),
            counterpart_device: None,
            message_id: MessageId::new("m1").ok(),
            referral_id: None,
            attachment_id: None,
            source: Some("127.0.0.1".into()),
            outcome: Outcome::Success,
            reason: None,
            details: Details {
                kind: Some("message".into()),
                ciphertexts: Some(vec![DeviceCiphertext {
                    device: DeviceId(1),
                    size: 10,
                    sha256: "ab".into(),
                }]),
                ..Details::default()
            },
        };
        let bytes = entry.canonical_bytes();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap_or_default(),
            "{\"seq\":7,\"time_ms\":1700000000000,\"actor_user\":\"u_a\",\"actor_device\":1,\
             \"actor_role\":\"clinician\",\"action\":\"message.accepted\",\"counterpart_user\":\"u_b\",\
             \"counterpart_device\":null,\"message_id\":\"m1\",\"referral_id\":null,\"attachment_id\":null,\
             \"source\":\"127.0.0.1\",\"outcome\":\"success\",\"reason\":null,\"details\":{\"kind\":\"message\",\
             \"ciphertexts\":[{\"device\":1,\"size\":10,\"sha256\":\"ab\"}]}}"
        );
        let back: AuditEntry = serde_json::from_slice(&bytes).unwrap_or_else(|_| entry.clone());
        assert_eq!(back.canonical_bytes(), bytes);
    }
}
