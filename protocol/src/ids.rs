//! Typed identifiers. Each kind of id is its own type.

use serde::{Deserialize, Serialize};

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind}: 1 to {max} characters of A-Z a-z 0-9 - _ expected")]
pub struct InvalidId {
    kind: &'static str,
    max: usize,
}

fn valid(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $max:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The longest accepted id.
            pub const MAX_LEN: usize = $max;

            /// Validates and wraps an id.
            pub fn new(s: impl Into<String>) -> Result<Self, InvalidId> {
                let s = s.into();
                if valid(&s, $max) {
                    Ok(Self(s))
                } else {
                    Err(InvalidId { kind: $kind, max: $max })
                }
            }

            /// The id as text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(s: String) -> Result<Self, InvalidId> {
                Self::new(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl core::str::FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                Self::new(s)
            }
        }
    };
}

string_id!(
    /// A user (a clinician, compliance officer or admin), assigned by the server.
    UserId, "user id", 64
);
string_id!(
    /// A message, chosen by the sending client (a UUID is recommended); the
    /// same id sent twice is the same message.
    MessageId, "message id", 64
);
string_id!(
    /// A referral, chosen by the referring client.
    ReferralId, "referral id", 64
);
string_id!(
    /// An on-call role ("On-call dermatology"), assigned by the server.
    OnCallRoleId, "on-call role id", 64
);
string_id!(
    /// A curbside consult (a question to a specialty), assigned by the server.
    ConsultId, "consult id", 64
);
string_id!(
    /// A request id chosen by the client to match a reply to its request.
    RequestId, "request id", 64
);

/// An encrypted attachment blob: 128 random bits as 32 lowercase hex
/// characters, chosen by the server. Nothing else is one (not a path).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AttachmentId(String);

impl AttachmentId {
    /// The length of every attachment id.
    pub const LEN: usize = 32;

    /// Validates and wraps an id.
    pub fn new(s: impl Into<String>) -> Result<Self, InvalidId> {
        let s = s.into();
        let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        if s.len() == Self::LEN && s.bytes().all(hex) {
            Ok(Self(s))
        } else {
            Err(InvalidId {
                kind: "attachment id",
                max: Self::LEN,
            })
        }
    }

    /// The id of 16 random bytes.
    #[must_use]
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for AttachmentId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AttachmentId {
    type Error = InvalidId;
    fn try_from(s: String) -> Result<Self, InvalidId> {
        Self::new(s)
    }
}

impl From<AttachmentId> for String {
    fn from(id: AttachmentId) -> String {
        id.0
    }
}

impl core::fmt::Display for AttachmentId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

impl core::str::FromStr for AttachmentId {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, InvalidId> {
        Self::new(s)
    }
}

/// A device of a user, numbered by the server from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeviceId(pub u32);

impl core::fmt::Display for DeviceId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One queued delivery of a message to one device, numbered by the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeliveryId(pub i64);

/// A delivery receipt waiting for its sending device, numbered by the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReceiptId(pub i64);

/// A device address: a user and one of their devices.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Address {
    /// The user.
    pub user_id: UserId,
    /// The device.
    pub device_id: DeviceId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_validated_on_deserialize() {
        assert!(UserId::new("u-1_A").is_ok());
        assert!(UserId::new("").is_err());
        assert!(UserId::new("a b").is_err());
        assert!(UserId::new("x".repeat(65)).is_err());
        assert!(serde_json::from_str::<MessageId>("\"../etc\"").is_err());
        assert_eq!(
            serde_json::from_str::<MessageId>("\"m-1\"").unwrap().as_str(),
            "m-1"
        );
    }

    #[test]
    fn attachment_ids_are_32_lowercase_hex() {
        let id = AttachmentId::from_bytes([0xab; 16]);
        assert_eq!(id.as_str(), "ab".repeat(16));
        assert_eq!(AttachmentId::new(id.as_str()), Ok(id.clone()));
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{id}\""));
        assert!(AttachmentId::new("AB".repeat(16)).is_err());
        assert!(AttachmentId::new("0".repeat(31)).is_err());
        assert!(AttachmentId::new("0".repeat(33)).is_err());
        assert!(AttachmentId::new("..%2F..%2Fcurbside.db").is_err());
        assert!(serde_json::from_str::<AttachmentId>("\"g0000000000000000000000000000000\"").is_err());
    }

    #[test]
    fn numbered_ids_are_plain_numbers_on_the_wire() {
        assert_eq!(serde_json::to_string(&DeliveryId(7)).unwrap(), "7");
        assert_eq!(serde_json::to_string(&ReceiptId(7)).unwrap(), "7");
        assert_eq!(serde_json::from_str::<ReceiptId>("42").unwrap(), ReceiptId(42));
    }
}
