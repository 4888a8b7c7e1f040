//! JSON bodies of the HTTP APIs (enrollment, sessions, admin, directory).
//! Errors use [`crate::error::ErrorBody`] with the status from
//! [`crate::error::ErrorCode::http_status`].

use serde::{Deserialize, Serialize};

use crate::bytes::Base64;
use crate::frames::OneTimePrekey;
use crate::ids::{AttachmentId, DeviceId, UserId};

/// A user's role. A user may hold several.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A clinician: messages, referrals, directory.
    Clinician,
    /// A compliance officer: the audit log.
    ComplianceOfficer,
    /// An administrator: invites, verification, roles, devices.
    Admin,
}

impl Role {
    /// The role as it appears on the wire and in the database.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Clinician => "clinician",
            Self::ComplianceOfficer => "compliance_officer",
            Self::Admin => "admin",
        }
    }

    /// Parses [`Role::as_str`] output.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "clinician" => Some(Self::Clinician),
            "compliance_officer" => Some(Self::ComplianceOfficer),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// `POST /v1/enroll`: a new user (with an invite) or a new device of an
/// existing user (with a device invite) registers its keys.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EnrollRequest {
    /// The invite (or the admin bootstrap token).
    pub invite: String,
    /// The user's name as shown to colleagues (ignored for a device invite).
    #[serde(default)]
    pub display_name: String,
    /// National Provider Identifier, required for clinicians.
    #[serde(default)]
    pub npi: Option<String>,
    /// Specialty, required for clinicians.
    #[serde(default)]
    pub specialty: Option<String>,
    /// The device identity key (128 bytes).
    pub identity_key: Base64,
    /// Ed25519 signature of [`crate::auth::enrollment_transcript`] (this
    /// server, this invite, its purpose, the identity key) by the device key.
    pub signature: Base64,
    /// The first signed prekey (100 bytes).
    pub signed_prekey: Base64,
    /// The first one-time prekeys.
    #[serde(default)]
    pub one_time_prekeys: Vec<OneTimePrekey>,
}

/// Answer to [`EnrollRequest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollResponse {
    /// The user (new, or the existing one for a device invite).
    pub user_id: UserId,
    /// The new device.
    pub device_id: DeviceId,
    /// The user's roles.
    pub roles: Vec<Role>,
    /// Whether an admin has verified the user's professional details.
    pub verified: bool,
}

/// `GET /v1/auth/challenge`: a fresh challenge for an HTTP session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeResponse {
    /// 32 random bytes, valid once, for a short time.
    pub challenge: Base64,
    /// The server name to put in the transcript.
    pub server_name: String,
}

/// `POST /v1/auth/session`: exchange a signed challenge for a session token.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SessionRequest {
    /// Who.
    pub user_id: UserId,
    /// Which device.
    pub device_id: DeviceId,
    /// The challenge from [`ChallengeResponse`].
    pub challenge: Base64,
    /// Ed25519 signature of the transcript with purpose HTTP session.
    pub signature: Base64,
}

/// Answer to [`SessionRequest`]. Send the token as `Authorization: Bearer …`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionResponse {
    /// The bearer token.
    pub token: String,
    /// The session ends after this many seconds without use (automatic logoff).
    pub idle_timeout_secs: u64,
    /// The session ends after this many seconds regardless.
    pub max_lifetime_secs: u64,
}

/// What an invite is for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "for", rename_all = "snake_case")]
pub enum InviteTarget {
    /// A new user with this role.
    NewUser {
        /// The role the new user gets.
        role: Role,
    },
    /// A new device of an existing user.
    NewDevice {
        /// Whose device.
        user_id: UserId,
    },
}

/// `POST /v1/admin/invites` (admin) or `POST /v1/devices/invites` (own devices).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CreateInviteRequest {
    /// What the invite is for (a device invite from `/v1/devices/invites` is always for the caller).
    pub target: InviteTarget,
    /// Lifetime in seconds (default 72 hours, at most 30 days).
    #[serde(default)]
    pub expires_in_secs: Option<u64>,
}

/// A one-time invite.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteResponse {
    /// The invite code to hand to the person (shown once).
    pub invite: String,
    /// Expiry (ms since the epoch).
    pub expires_at: i64,
}

/// A device as listed to admins and to its owner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceSummary {
    /// The device.
    pub device_id: DeviceId,
    /// Enrolled at (ms since the epoch).
    pub created_at: i64,
    /// Revoked at, if revoked.
    pub revoked_at: Option<i64>,
}

/// A user as listed to admins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    /// The user.
    pub user_id: UserId,
    /// Display name.
    pub display_name: String,
    /// NPI, for clinicians.
    pub npi: Option<String>,
    /// Specialty, for clinicians.
    pub specialty: Option<String>,
    /// Roles.
    pub roles: Vec<Role>,
    /// Verified by an admin.
    pub verified: bool,
    /// Devices, revoked ones included.
    pub devices: Vec<DeviceSummary>,
    /// When an admin deactivated the account (ms since the epoch), if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deactivated_at: Option<i64>,
}

/// The answer to `POST /v1/admin/users/{user_id}/deactivate`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeactivatedUser {
    /// The user.
    pub user_id: UserId,
    /// When (ms since the epoch).
    pub deactivated_at: i64,
    /// The devices this revoked (those not revoked before).
    pub devices_revoked: Vec<DeviceId>,
    /// Queued messages to those devices that were dropped.
    pub messages_dropped: u64,
}

/// `POST /v1/admin/users/{user_id}/roles`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GrantRoleRequest {
    /// The role to grant.
    pub role: Role,
}

/// `POST /v1/attachments` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentStored {
    /// The blob id to put in the message.
    pub attachment_id: AttachmentId,
    /// Its size in bytes.
    pub size: u64,
    /// Expiry (ms since the epoch).
    pub expires_at: i64,
}

/// `GET /v1/policy`: the organisation's policy every client follows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// The maximum lifespan of a message and its attachments, in seconds
    /// (`None`: no limit). Clients purge older history; the server deletes
    /// older queued ciphertext and attachments.
    pub retention_secs: Option<u64>,
    /// How long after acceptance a sender may recall a message.
    pub recall_window_secs: u64,
    /// When the retention policy last changed (ms since the epoch), if ever.
    pub changed_at: Option<i64>,
}

/// The shortest retention an administrator may set (one minute).
pub const MIN_RETENTION_SECS: u64 = 60;

/// The longest retention an administrator may set (ten years; beyond it,
/// lift the limit instead).
pub const MAX_RETENTION_SECS: u64 = 3650 * 86_400;

/// `PUT /v1/admin/retention`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetRetention {
    /// The new maximum message lifespan in seconds (at least
    /// [`MIN_RETENTION_SECS`]), or `None` for no limit.
    pub retention_secs: Option<u64>,
}
