//! Wire formats of ratchet messages and prekey messages (version 1).
//!
//! ```text
//! RatchetMessage = version(1)=0x01 ‖ type(1)=0x01 ‖ ratchet_key(32) ‖ pn(u32) ‖ n(u32) ‖ ciphertext‖tag
//! PreKeyMessage  = version(1)=0x01 ‖ type(1)=0x02 ‖ identity(128) ‖ base_key(32)
//!                  ‖ signed_prekey_id(u32) ‖ has_one_time(1) [‖ one_time_prekey_id(u32)]
//!                  ‖ RatchetMessage
//! ```
//!
//! The first 42 bytes of a ratchet message are its *header*; the AEAD's
//! associated data is the session AD followed by the header, so every header
//! field is authenticated. The prekey fields are authenticated implicitly:
//! changing any of them changes the X3DH secret and the first decryption fails.
//! Integers are big-endian.

use crate::codec::{Reader, Writer};
use crate::error::{DecodeError, Error, Result};
use crate::identity::IdentityKey;
use crate::prekeys::PreKeyId;
use crate::primitives::aead::TAG_LEN;
use crate::primitives::x25519::AgreementPublic;

/// The message format version this build writes and reads.
pub const MESSAGE_VERSION: u8 = 1;
const TYPE_RATCHET: u8 = 0x01;
const TYPE_PREKEY: u8 = 0x02;
/// Length of an encoded ratchet header.
pub const HEADER_LEN: usize = 2 + 32 + 4 + 4;
/// Largest accepted ciphertext (plaintext + tag) in one message: 1 MiB.
/// Larger content travels as an attachment.
pub const MAX_CIPHERTEXT_LEN: usize = 1 << 20;

/// The ratchet header: the sender's current ratchet public key, the length of
/// its previous sending chain, and this message's number in the current chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The sender's current ratchet public key.
    pub ratchet_key: AgreementPublic,
    /// Number of messages in the sender's previous sending chain.
    pub previous_chain_len: u32,
    /// This message's index in the current sending chain.
    pub index: u32,
}

impl Header {
    /// The encoded header, as authenticated in the AEAD's associated data.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = Vec::with_capacity(HEADER_LEN);
        out.put_u8(MESSAGE_VERSION);
        out.put_u8(TYPE_RATCHET);
        out.put(self.ratchet_key.as_bytes());
        out.put_u32(self.previous_chain_len);
        out.put_u32(self.index);
        let mut arr = [0u8; HEADER_LEN];
        arr.copy_from_slice(&out);
        arr
    }
}

/// A normal Double Ratchet message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RatchetMessage {
    /// The authenticated header.
    pub header: Header,
    /// Ciphertext ‖ Poly1305 tag.
    pub ciphertext: Vec<u8>,
}

/// The X3DH fields that precede the first ratchet messages of a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PreKeyFields {
    /// The initiator's identity.
    pub identity: IdentityKey,
    /// The initiator's ephemeral (base) key.
    pub base_key: AgreementPublic,
    /// The responder's signed prekey used.
    pub signed_prekey_id: PreKeyId,
    /// The responder's one-time prekey used, if any.
    pub one_time_prekey_id: Option<PreKeyId>,
}

/// A message that can start a session: X3DH fields plus a ratchet message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreKeyMessage {
    /// The X3DH fields.
    pub prekey: PreKeyFields,
    /// The embedded ratchet message.
    pub message: RatchetMessage,
}

/// Either kind of message, as sent on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// Starts (or continues, until answered) a session.
    PreKey(PreKeyMessage),
    /// Continues an established session.
    Ratchet(RatchetMessage),
}

fn read_version(r: &mut Reader<'_>) -> Result<u8> {
    let version = r.u8()?;
    if version != MESSAGE_VERSION {
        return Err(Error::UnsupportedVersion(version));
    }
    r.u8().map_err(Error::from)
}

impl RatchetMessage {
    /// Encodes the message.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.ciphertext.len());
        out.put(&self.header.to_bytes());
        out.put(&self.ciphertext);
        out
    }

    fn read_body(r: &mut Reader<'_>) -> Result<Self> {
        let ratchet_key = AgreementPublic::from_bytes(r.array()?);
        let previous_chain_len = r.u32()?;
        let index = r.u32()?;
        let ciphertext = r.rest();
        if ciphertext.len() < TAG_LEN {
            return Err(DecodeError::UnexpectedEnd.into());
        }
        if ciphertext.len() > MAX_CIPHERTEXT_LEN {
            return Err(DecodeError::TooLong.into());
        }
        Ok(Self {
            header: Header {
                ratchet_key,
                previous_chain_len,
                index,
            },
            ciphertext: ciphertext.to_vec(),
        })
    }

    /// Parses a ratchet message.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        match read_version(&mut r)? {
            TYPE_RATCHET => Self::read_body(&mut r),
            other => Err(DecodeError::InvalidTag(other).into()),
        }
    }
}

impl PreKeyMessage {
    /// Encodes the message.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let p = &self.prekey;
        let inner = self.message.to_bytes();
        let mut out = Vec::with_capacity(2 + IdentityKey::ENCODED_LEN + 41 + inner.len());
        out.put_u8(MESSAGE_VERSION);
        out.put_u8(TYPE_PREKEY);
        out.put(&p.identity.to_bytes());
        out.put(p.base_key.as_bytes());
        out.put_u32(p.signed_prekey_id.0);
        out.put_flag(p.one_time_prekey_id.is_some());
        if let Some(id) = p.one_time_prekey_id {
            out.put_u32(id.0);
        }
        out.put(&inner);
        out
    }

    fn read_body(r: &mut Reader<'_>) -> Result<Self> {
        let identity = IdentityKey::read(r)?;
        let base_key = AgreementPublic::from_bytes(r.array()?);
        let signed_prekey_id = PreKeyId(r.u32()?);
        let one_time_prekey_id = if r.flag()? { Some(PreKeyId(r.u32()?)) } else { None };
        let message = RatchetMessage::from_bytes(r.rest())?;
        Ok(Self {
            prekey: PreKeyFields {
                identity,
                base_key,
                signed_prekey_id,
                one_time_prekey_id,
            },
            message,
        })
    }

    /// Parses a prekey message (verifying the initiator identity's signature).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        match read_version(&mut r)? {
            TYPE_PREKEY => Self::read_body(&mut r),
            other => Err(DecodeError::InvalidTag(other).into()),
        }
    }
}

impl Message {
    /// Encodes the message.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Self::PreKey(m) => m.to_bytes(),
            Self::Ratchet(m) => m.to_bytes(),
        }
    }

    /// Parses either kind of message.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        match read_version(&mut r)? {
            TYPE_RATCHET => RatchetMessage::read_body(&mut r).map(Self::Ratchet),
            TYPE_PREKEY => PreKeyMessage::read_body(&mut r).map(Self::PreKey),
            other => Err(DecodeError::InvalidTag(other).into()),
        }
    }

    /// The ratchet message inside.
    #[must_use]
    pub fn ratchet_message(&self) -> &RatchetMessage {
        match self {
            Self::PreKey(m) => &m.message,
            Self::Ratchet(m) => m,
        }
    }
}
