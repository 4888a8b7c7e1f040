//! Stable, machine-readable error codes. Clients match on the code; the
//! message is for people and may change.

use serde::{Deserialize, Serialize};

/// Every error code a Curbside server sends (in an `error` frame or an HTTP
/// error body). Codes are stable: new ones may be added, none is renamed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The frame is not valid JSON (or not UTF-8 text).
    MalformedJson,
    /// Valid JSON, but not a valid frame of its type (missing or wrong fields).
    InvalidFrame,
    /// The `type` field names no frame this server knows.
    UnknownType,
    /// A binary field is not valid base64.
    BadBase64,
    /// The frame exceeds the maximum frame size.
    FrameTooLarge,
    /// No protocol version in common.
    UnsupportedVersion,
    /// A frame other than `auth` arrived before authentication.
    AuthRequired,
    /// The authentication signature did not verify (or the user/device is unknown).
    AuthFailed,
    /// No valid `auth` frame arrived within the authentication deadline.
    AuthTimeout,
    /// The challenge was already answered (a replayed authentication).
    ChallengeReplayed,
    /// The challenge is not one this server issued, or it expired: fetch a
    /// new one (`GET /v1/auth/challenge`).
    UnknownChallenge,
    /// The device was revoked.
    DeviceRevoked,
    /// A send names more recipient devices than allowed.
    TooManyRecipients,
    /// A send omits a current device of a recipient, or names one that is not current.
    StaleDevices,
    /// Too many frames or requests in the current window.
    RateLimited,
    /// The named user, device, invite, blob or record does not exist.
    NotFound,
    /// Authenticated, but not allowed to do this (wrong role or owner).
    Forbidden,
    /// The invite or bootstrap token is unknown or already used.
    InvalidInvite,
    /// The invite has expired.
    InviteExpired,
    /// The NPI does not have a valid check digit.
    InvalidNpi,
    /// An identity key's inner signature (the Ed25519 signature over its
    /// X25519 key) does not verify: no peer could use it.
    InvalidIdentityKey,
    /// A signed prekey's signature does not verify with its device's
    /// identity key: every peer would refuse the bundle.
    InvalidSignedPrekey,
    /// A field has an invalid value (the message names it).
    InvalidRequest,
    /// The same id was used for something different.
    Conflict,
    /// An upload exceeds the configured size limit.
    PayloadTooLarge,
    /// The session token is missing, unknown or expired (idle or absolute timeout).
    TokenExpired,
    /// The server is shutting down; reconnect later.
    ShuttingDown,
    /// The referral's current status does not allow this transition (or
    /// another transition won a race).
    InvalidTransition,
    /// The database or the disk refused the request (full, unreachable, timed
    /// out). Nothing of the request was stored: retry it later with the same
    /// ids (sends are idempotent), keeping it queued until then.
    StorageUnavailable,
    /// A send would exceed a recipient device's queue quota (everything
    /// queued for it, or everything the sender's user queued for it; the
    /// message names the device). Nothing of the send was stored. Not
    /// retryable as it is: send again once the recipient's device has come
    /// online and received its queue.
    RecipientQueueFull,
    /// The user's account was deactivated by an administrator: nothing can
    /// be sent to it, its bundles are not handed out. Not retryable; the
    /// clinician, if they come back, has a new account (a new id).
    UserDeactivated,
    /// A `recall` came later than the recall window after the message was
    /// accepted: nothing was deleted, the recipients keep it.
    RecallWindowPassed,
    /// A send to an on-call role named other recipients than the role's
    /// holders now (a hand-off or a shift change since the client resolved
    /// it): resolve the role again and resend.
    HoldersChanged,
    /// A clinician has as many consults open as allowed
    /// (`max_open_consults`): close one first.
    TooManyConsults,
    /// An unexpected server error; details are in the server's log, not here.
    Internal,
}

impl ErrorCode {
    /// The HTTP status an HTTP API answers with for this code.
    #[must_use]
    pub fn http_status(self) -> u16 {
        match self {
            Self::MalformedJson
            | Self::InvalidFrame
            | Self::UnknownType
            | Self::BadBase64
            | Self::UnsupportedVersion
            | Self::InvalidNpi
            | Self::InvalidIdentityKey
            | Self::InvalidSignedPrekey
            | Self::InvalidRequest
            | Self::TooManyRecipients => 400,
            Self::AuthRequired
            | Self::AuthFailed
            | Self::AuthTimeout
            | Self::UnknownChallenge
            | Self::TokenExpired => 401,
            Self::ChallengeReplayed | Self::DeviceRevoked | Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::StaleDevices
            | Self::Conflict
            | Self::InvalidTransition
            | Self::RecallWindowPassed
            | Self::HoldersChanged => 409,
            Self::InvalidInvite | Self::InviteExpired | Self::UserDeactivated => 410,
            Self::FrameTooLarge | Self::PayloadTooLarge => 413,
            Self::RateLimited | Self::RecipientQueueFull | Self::TooManyConsults => 429,
            Self::ShuttingDown | Self::StorageUnavailable => 503,
            Self::Internal => 500,
        }
    }

    /// The WebSocket close code (RFC 6455 §7.4.1) a connection that this
    /// error ends is closed with: 1009 (message too big) for an oversized
    /// frame, 1011 (internal error), 1001 (going away) on shutdown, 1013 (try
    /// again later) while storage is unavailable, and 1008 (policy violation)
    /// for every other refusal.
    #[must_use]
    pub fn ws_close_code(self) -> u16 {
        match self {
            Self::FrameTooLarge => 1009,
            Self::Internal => 1011,
            Self::ShuttingDown => 1001,
            Self::StorageUnavailable => 1013,
            Self::MalformedJson
            | Self::InvalidFrame
            | Self::UnknownType
            | Self::BadBase64
            | Self::UnsupportedVersion
            | Self::AuthRequired
            | Self::AuthFailed
            | Self::AuthTimeout
            | Self::ChallengeReplayed
            | Self::UnknownChallenge
            | Self::DeviceRevoked
            | Self::TooManyRecipients
            | Self::StaleDevices
            | Self::RateLimited
            | Self::NotFound
            | Self::Forbidden
            | Self::InvalidInvite
            | Self::InviteExpired
            | Self::InvalidNpi
            | Self::InvalidIdentityKey
            | Self::InvalidSignedPrekey
            | Self::InvalidRequest
            | Self::Conflict
            | Self::PayloadTooLarge
            | Self::TokenExpired
            | Self::InvalidTransition
            | Self::RecipientQueueFull
            | Self::UserDeactivated
            | Self::RecallWindowPassed
            | Self::HoldersChanged
            | Self::TooManyConsults => 1008,
        }
    }

    /// The code as it appears on the wire.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MalformedJson => "malformed_json",
            Self::InvalidFrame => "invalid_frame",
            Self::UnknownType => "unknown_type",
            Self::BadBase64 => "bad_base64",
            Self::FrameTooLarge => "frame_too_large",
            Self::UnsupportedVersion => "unsupported_version",
            Self::AuthRequired => "auth_required",
            Self::AuthFailed => "auth_failed",
            Self::AuthTimeout => "auth_timeout",
            Self::ChallengeReplayed => "challenge_replayed",
            Self::UnknownChallenge => "unknown_challenge",
            Self::DeviceRevoked => "device_revoked",
            Self::TooManyRecipients => "too_many_recipients",
            Self::StaleDevices => "stale_devices",
            Self::RateLimited => "rate_limited",
            Self::NotFound => "not_found",
            Self::Forbidden => "forbidden",
            Self::InvalidInvite => "invalid_invite",
            Self::InviteExpired => "invite_expired",
            Self::InvalidNpi => "invalid_npi",
            Self::InvalidIdentityKey => "invalid_identity_key",
            Self::InvalidSignedPrekey => "invalid_signed_prekey",
            Self::InvalidRequest => "invalid_request",
            Self::Conflict => "conflict",
            Self::PayloadTooLarge => "payload_too_large",
            Self::TokenExpired => "token_expired",
            Self::ShuttingDown => "shutting_down",
            Self::InvalidTransition => "invalid_transition",
            Self::StorageUnavailable => "storage_unavailable",
            Self::RecipientQueueFull => "recipient_queue_full",
            Self::UserDeactivated => "user_deactivated",
            Self::RecallWindowPassed => "recall_window_passed",
            Self::HoldersChanged => "holders_changed",
            Self::TooManyConsults => "too_many_consults",
            Self::Internal => "internal",
        }
    }
}

impl core::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of every HTTP error response, and the payload of an `error` frame.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The stable code.
    pub code: ErrorCode,
    /// A human-readable explanation (never contains secrets or content).
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn close_codes() {
        assert_eq!(ErrorCode::FrameTooLarge.ws_close_code(), 1009);
        assert_eq!(ErrorCode::Internal.ws_close_code(), 1011);
        assert_eq!(ErrorCode::ShuttingDown.ws_close_code(), 1001);
        assert_eq!(ErrorCode::StorageUnavailable.ws_close_code(), 1013);
        assert_eq!(ErrorCode::AuthFailed.ws_close_code(), 1008);
        assert_eq!(ErrorCode::DeviceRevoked.ws_close_code(), 1008);
    }

    #[test]
    fn wire_names_match_serde() {
        for code in [
            ErrorCode::MalformedJson,
            ErrorCode::StaleDevices,
            ErrorCode::ChallengeReplayed,
            ErrorCode::UnknownChallenge,
            ErrorCode::StorageUnavailable,
            ErrorCode::InvalidIdentityKey,
            ErrorCode::InvalidSignedPrekey,
            ErrorCode::RecipientQueueFull,
            ErrorCode::UserDeactivated,
            ErrorCode::RecallWindowPassed,
            ErrorCode::HoldersChanged,
            ErrorCode::TooManyConsults,
            ErrorCode::Internal,
        ] {
            assert_eq!(
                serde_json::to_string(&code).unwrap(),
                format!("\"{}\"", code.as_str())
            );
        }
    }
}
