//! WebSocket frames. Every frame is one JSON text message with a `type`.
//! Requests that expect a reply carry a client-chosen `id`, echoed in the reply.

use serde::{Deserialize, Serialize};

use crate::bytes::Base64;
use crate::error::ErrorCode;
use crate::ids::{Address, DeliveryId, DeviceId, MessageId, ReceiptId, RequestId, UserId};
use crate::referral::Priority;

/// What a message is, as far as the server needs to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// A chat message.
    Message,
    /// A referral's encrypted content.
    Referral,
    /// An end-to-end-encrypted read receipt.
    Receipt,
    /// An end-to-end-encrypted control message (team membership, device changes).
    Control,
}

impl MessageKind {
    /// The kind as it appears on the wire.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Message => "message",
            Self::Referral => "referral",
            Self::Receipt => "receipt",
            Self::Control => "control",
        }
    }
}

/// A one-time prekey as uploaded: its id and 32-byte X25519 public key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OneTimePrekey {
    /// The prekey id.
    pub id: u32,
    /// The X25519 public key (32 bytes).
    pub public_key: Base64,
}

/// One ciphertext for one recipient device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The recipient user.
    pub user_id: UserId,
    /// The recipient device.
    pub device_id: DeviceId,
    /// The end-to-end-encrypted message for that device.
    pub ciphertext: Base64,
}

/// An urgent or stat message's escalation: the copies for a backup
/// clinician's devices, encrypted at send time, which the server holds and
/// releases only if nobody acknowledged the message within `after_secs`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalation {
    /// Seconds after acceptance (1 to [`MAX_ESCALATION_SECS`]).
    pub after_secs: u64,
    /// The backup: not the sender, not a recipient.
    pub backup: UserId,
    /// One envelope per current device of the backup.
    pub recipients: Vec<Envelope>,
}

/// The longest escalation delay a send may ask for (7 days).
pub const MAX_ESCALATION_SECS: u64 = 7 * 24 * 3600;

/// What a device needs to open a session with another device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceBundle {
    /// The device.
    pub device_id: DeviceId,
    /// Its identity key (128 bytes: Ed25519 key, X25519 key, signature).
    pub identity_key: Base64,
    /// Its signed prekey (100 bytes: id, X25519 key, signature).
    pub signed_prekey: Base64,
    /// A one-time prekey claimed for this fetch, if any were left.
    pub one_time_prekey: Option<OneTimePrekey>,
}

/// A verified clinician, as listed in the directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryEntry {
    /// The clinician's user id.
    pub user_id: UserId,
    /// Display name.
    pub display_name: String,
    /// Specialty.
    pub specialty: String,
    /// National Provider Identifier.
    pub npi: String,
}

/// Extra detail of an error, for the codes that have some.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ErrorDetails {
    /// For `stale_devices`: devices to add and devices to drop.
    StaleDevices {
        /// Current devices the send omitted.
        missing: Vec<Address>,
        /// Devices the send named that are not current (revoked or unknown).
        extra: Vec<Address>,
    },
    /// For `rate_limited`: when to retry.
    RetryAfter {
        /// Milliseconds to wait.
        retry_after_ms: u64,
    },
}

/// Frames a client sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Answers the server's `hello`: chosen version and the signed transcript
    /// ([`crate::auth::transcript`] with purpose WebSocket).
    Auth {
        /// The protocol version chosen from the server's list.
        version: u16,
        /// Who is connecting.
        user_id: UserId,
        /// Which device.
        device_id: DeviceId,
        /// Ed25519 signature of the transcript (64 bytes).
        signature: Base64,
    },
    /// Uploads a new signed prekey and/or more one-time prekeys.
    PublishPrekeys {
        /// Request id.
        id: RequestId,
        /// A new signed prekey (100 bytes), if rotating.
        signed_prekey: Option<Base64>,
        /// New one-time prekeys.
        #[serde(default)]
        one_time_prekeys: Vec<OneTimePrekey>,
    },
    /// Fetches the bundles of every current device of a user, claiming one
    /// one-time prekey of each device.
    FetchBundles {
        /// Request id.
        id: RequestId,
        /// Whose devices.
        user_id: UserId,
    },
    /// Sends one message: one ciphertext per recipient device.
    Send {
        /// Request id.
        id: RequestId,
        /// The client-chosen message id (idempotent).
        message_id: MessageId,
        /// What the message is.
        kind: MessageKind,
        /// One envelope per device of every recipient, and of the sender's other devices.
        recipients: Vec<Envelope>,
        /// The priority (kind `message` only; routine when absent).
        #[serde(default, skip_serializing_if = "Priority::is_routine")]
        priority: Priority,
        /// For urgent and stat messages: who receives it if nobody acknowledges it in time.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        escalation: Option<Escalation>,
        /// Sent to an on-call role: its holders at send time are the
        /// recipients (the server checks, and audits the resolution).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role: Option<crate::ids::OnCallRoleId>,
        /// A curbside consult's question (from its asker, to the clinicians
        /// the server chose) or an answer (from one of them, to the asker).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        consult: Option<crate::ids::ConsultId>,
    },
    /// Acknowledges an urgent or stat message received (or escalated to this user).
    Acknowledge {
        /// Request id.
        id: RequestId,
        /// Who sent the message.
        sender: UserId,
        /// The sender's message id.
        message_id: MessageId,
    },
    /// Recalls a message this user sent: its undelivered copies are deleted.
    Recall {
        /// Request id.
        id: RequestId,
        /// The message.
        message_id: MessageId,
    },
    /// Acknowledges deliveries (the server deletes their ciphertext) and receipts.
    Ack {
        /// The deliveries received and stored.
        #[serde(default)]
        delivery_ids: Vec<DeliveryId>,
        /// The receipts received.
        #[serde(default)]
        receipt_ids: Vec<ReceiptId>,
    },
    /// Searches the directory of verified clinicians.
    DirectorySearch {
        /// Request id.
        id: RequestId,
        /// Text found in the name (case-insensitive), if any.
        #[serde(default)]
        name: Option<String>,
        /// Exact specialty (case-insensitive), if any.
        #[serde(default)]
        specialty: Option<String>,
    },
    /// Keep-alive.
    Ping {
        /// Request id.
        id: RequestId,
    },
}

impl ClientFrame {
    /// The request id, for the frames that carry one (all but `auth` and `ack`).
    #[must_use]
    pub fn id(&self) -> Option<&RequestId> {
        match self {
            Self::PublishPrekeys { id, .. }
            | Self::FetchBundles { id, .. }
            | Self::Send { id, .. }
            | Self::Acknowledge { id, .. }
            | Self::Recall { id, .. }
            | Self::DirectorySearch { id, .. }
            | Self::Ping { id } => Some(id),
            Self::Auth { .. } | Self::Ack { .. } => None,
        }
    }
}

/// The `type` of every [`ClientFrame`].
pub const CLIENT_FRAME_TYPES: &[&str] = &[
    "auth",
    "publish_prekeys",
    "fetch_bundles",
    "send",
    "acknowledge",
    "recall",
    "ack",
    "directory_search",
    "ping",
];

/// Frames a server sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// First frame on every connection.
    Hello {
        /// Versions the server speaks, newest first.
        versions: Vec<u16>,
        /// A fresh 32-byte challenge for this connection.
        challenge: Base64,
        /// The name the transcript must contain.
        server_name: String,
        /// The largest frame the server accepts, in bytes.
        max_frame_bytes: u64,
        /// How long the client has to authenticate, in milliseconds.
        auth_deadline_ms: u64,
    },
    /// Authentication succeeded.
    AuthOk {
        /// The version in use.
        version: u16,
        /// The authenticated user.
        user_id: UserId,
        /// The authenticated device.
        device_id: DeviceId,
        /// One-time prekeys the device has left on the server.
        one_time_prekeys: u32,
    },
    /// A request failed, or the connection is being closed.
    Error {
        /// The request this answers, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// The stable code.
        code: ErrorCode,
        /// A human-readable message.
        message: String,
        /// Extra detail, for some codes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        details: Option<ErrorDetails>,
    },
    /// Prekeys were stored.
    PrekeysPublished {
        /// Request id.
        id: RequestId,
        /// One-time prekeys now on the server for this device.
        one_time_prekeys: u32,
    },
    /// The bundles of a user's current devices.
    Bundles {
        /// Request id.
        id: RequestId,
        /// Whose.
        user_id: UserId,
        /// One per current device.
        devices: Vec<DeviceBundle>,
    },
    /// The send is durable (committed); delivery is under way.
    Accepted {
        /// Request id.
        id: RequestId,
        /// The message.
        message_id: MessageId,
        /// True if this message id had already been accepted (nothing new was stored).
        duplicate: bool,
        /// Server time of acceptance (ms since the epoch).
        accepted_at: i64,
    },
    /// A message for this device. Acknowledge it with `ack`.
    Deliver {
        /// The delivery to acknowledge.
        delivery_id: DeliveryId,
        /// The message id chosen by the sender.
        message_id: MessageId,
        /// Who sent it.
        sender: Address,
        /// What it is.
        kind: MessageKind,
        /// The ciphertext for this device.
        ciphertext: Base64,
        /// When the server accepted it (ms since the epoch).
        sent_at: i64,
        /// The sender's priority (routine when absent).
        #[serde(default, skip_serializing_if = "Priority::is_routine")]
        priority: Priority,
        /// True for an escalation copy, released because nobody acknowledged the message in time.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        escalated: bool,
    },
    /// A receipt: one recipient device acknowledged a message this device
    /// sent. Kept until acknowledged with `ack` (`receipt_ids`).
    Delivered {
        /// The receipt, to acknowledge.
        receipt_id: ReceiptId,
        /// The message.
        message_id: MessageId,
        /// The device that received it.
        recipient: Address,
        /// When (ms since the epoch).
        delivered_at: i64,
    },
    /// A referral this user is party to was created or changed status.
    ReferralUpdated {
        /// The referral as it now is.
        referral: crate::referral::Referral,
    },
    /// The device should upload more one-time prekeys.
    PrekeysLow {
        /// How many are left.
        remaining: u32,
    },
    /// Directory search results.
    DirectoryResults {
        /// Request id.
        id: RequestId,
        /// Matching verified clinicians.
        clinicians: Vec<DirectoryEntry>,
    },
    /// An urgent or stat message is acknowledged (by this request or an earlier one).
    Acknowledged {
        /// Request id.
        id: RequestId,
        /// The message's sender.
        sender: UserId,
        /// The message.
        message_id: MessageId,
        /// When it was first acknowledged (ms since the epoch).
        acknowledged_at: i64,
        /// Whether this request was the first acknowledgement.
        first: bool,
        /// Everyone else who has the message (its other recipients, and the
        /// backup once the escalation was released), to tell end to end so
        /// that they stop alerting.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        also: Vec<UserId>,
    },
    /// A message is recalled: its undelivered copies are deleted.
    Recalled {
        /// Request id.
        id: RequestId,
        /// The message.
        message_id: MessageId,
        /// How many copies were still queued (now deleted).
        undelivered: u64,
    },
    /// The organisation's policy changed (best effort; `GET /v1/policy` is the truth).
    PolicyChanged {
        /// The policy now in effect.
        policy: crate::http::Policy,
    },
    /// An on-call role this user held, or now holds, changed hands (a
    /// hand-off, or a shift scheduled to cover now). Best effort, to the
    /// devices connected then; `GET /v1/oncall` is the truth.
    OncallChanged {
        /// The role as it now is, as in `GET /v1/oncall`.
        role: crate::oncall::OnCallRole,
    },
    /// Answer to `ping`.
    Pong {
        /// Request id.
        id: RequestId,
    },
}

impl ServerFrame {
    /// The request a reply answers (its `id`); `None` for pushed frames and
    /// an `error` without one. Exhaustive, so that a new reply is routed.
    #[must_use]
    pub fn reply_id(&self) -> Option<&RequestId> {
        match self {
            Self::Error { id, .. } => id.as_ref(),
            Self::PrekeysPublished { id, .. }
            | Self::Bundles { id, .. }
            | Self::Accepted { id, .. }
            | Self::Acknowledged { id, .. }
            | Self::Recalled { id, .. }
            | Self::DirectoryResults { id, .. }
            | Self::Pong { id } => Some(id),
            Self::Hello { .. }
            | Self::AuthOk { .. }
            | Self::Deliver { .. }
            | Self::Delivered { .. }
            | Self::ReferralUpdated { .. }
            | Self::PrekeysLow { .. }
            | Self::PolicyChanged { .. }
            | Self::OncallChanged { .. } => None,
        }
    }
}

/// Why a client frame was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameError {
    /// The code to send back.
    pub code: ErrorCode,
    /// A human-readable message.
    pub message: String,
    /// The request id, if the frame had a readable one.
    pub id: Option<RequestId>,
}

/// Parses one client frame, classifying every failure into its error code:
/// malformed JSON, unknown `type`, bad base64, or otherwise invalid.
pub fn parse_client_frame(text: &str) -> Result<ClientFrame, FrameError> {
    let value = crate::json::parse_strict(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => FrameError {
            code: ErrorCode::InvalidFrame,
            message: e.to_string(),
            id: None,
        },
        _ => FrameError {
            code: ErrorCode::MalformedJson,
            message: format!("not valid JSON: {e}"),
            id: None,
        },
    })?;
    let id = value
        .get("id")
        .and_then(serde_json::Value::as_str)
        .and_then(|s| RequestId::new(s).ok());
    let Some(kind) = value.get("type").and_then(serde_json::Value::as_str) else {
        return Err(FrameError {
            code: ErrorCode::InvalidFrame,
            message: "frame has no string `type`".into(),
            id,
        });
    };
    if !CLIENT_FRAME_TYPES.contains(&kind) {
        return Err(FrameError {
            code: ErrorCode::UnknownType,
            message: format!(
                "unknown frame type {:?}",
                kind.chars().take(40).collect::<String>()
            ),
            id,
        });
    }
    serde_json::from_value(value).map_err(|e| FrameError {
        code: crate::json::error_code(&e, ErrorCode::InvalidFrame),
        message: e.to_string(),
        id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_has_its_code() {
        let code = |t: &str| parse_client_frame(t).unwrap_err().code;
        assert_eq!(code("{not json"), ErrorCode::MalformedJson);
        assert_eq!(code("[1,2]"), ErrorCode::InvalidFrame);
        assert_eq!(code(r#"{"type":"launch_missiles"}"#), ErrorCode::UnknownType);
        assert_eq!(code(r#"{"type":"send","id":"r1"}"#), ErrorCode::InvalidFrame);
        let bad = r#"{"type":"send","id":"r1","message_id":"m","kind":"message","recipients":[{"user_id":"u","device_id":1,"ciphertext":"!!"}]}"#;
        let err = parse_client_frame(bad).unwrap_err();
        assert_eq!(
            (err.code, err.id),
            (ErrorCode::BadBase64, Some(RequestId::new("r1").unwrap()))
        );
        let good = bad.replace("!!", "AAEC");
        assert!(matches!(parse_client_frame(&good), Ok(ClientFrame::Send { .. })));
    }

    #[test]
    fn the_id_is_the_frames() {
        let ping = parse_client_frame(r#"{"type":"ping","id":"p1"}"#).unwrap();
        assert_eq!(ping.id(), Some(&RequestId::new("p1").unwrap()));
        let ack = parse_client_frame(r#"{"type":"ack","delivery_ids":[1]}"#).unwrap();
        assert_eq!(ack.id(), None);
    }

    #[test]
    fn every_client_type_is_listed() {
        let frames = [
            ClientFrame::Ping {
                id: RequestId::new("p").unwrap(),
            },
            ClientFrame::Ack {
                delivery_ids: vec![DeliveryId(1)],
                receipt_ids: vec![ReceiptId(7)],
            },
        ];
        for f in frames {
            let text = serde_json::to_string(&f).unwrap();
            assert_eq!(parse_client_frame(&text).unwrap(), f);
        }
    }
}
