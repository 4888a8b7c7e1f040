//! Binary payloads (ciphertext, keys, signatures) as standard base64 with padding.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The prefix of the serde error produced for invalid base64, so that the
/// frame parser can report [`crate::error::ErrorCode::BadBase64`].
pub(crate) const BAD_BASE64: &str = "bad base64";

/// Bytes that travel as a base64 string in JSON. Its `Debug` prints only the length.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Base64(pub Vec<u8>);

impl Base64 {
    /// The decoded bytes.
    #[must_use]
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }

    /// Number of decoded bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True if there are no bytes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Encodes to a base64 string.
    #[must_use]
    pub fn encode(&self) -> String {
        STANDARD.encode(&self.0)
    }

    /// Decodes a base64 string.
    pub fn decode(text: &str) -> Result<Self, base64::DecodeError> {
        STANDARD.decode(text).map(Self)
    }
}

impl From<Vec<u8>> for Base64 {
    fn from(v: Vec<u8>) -> Self {
        Self(v)
    }
}

impl From<&[u8]> for Base64 {
    fn from(v: &[u8]) -> Self {
        Self(v.to_vec())
    }
}

impl core::fmt::Debug for Base64 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Base64({} bytes)", self.0.len())
    }
}

impl Serialize for Base64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.encode())
    }
}

impl<'de> Deserialize<'de> for Base64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::decode(&text).map_err(|e| serde::de::Error::custom(format!("{BAD_BASE64}: {e}")))
    }
}
