//! Care teams: a named set of clinicians. The server knows nothing of teams:
//! membership travels as end-to-end-encrypted control messages, and each
//! team message is encrypted once under a fresh key (ChaCha20-Poly1305, a
//! zero nonce: the key is used once), with only the key and the sealed
//! bytes sent through each member device's pairwise session. Large files go
//! as attachments, themselves encrypted once; only their key is sent.

use curbside_crypto::primitives::aead::{self, AeadKey, KEY_LEN, NONCE_LEN};
use curbside_protocol::bytes::Base64;
use curbside_protocol::ids::{MessageId, UserId};
use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::content::Content;
use crate::error::{ClientError, Result};

/// A care team's id: random, chosen by its creator (`t` and 16 hex digits
/// from this client). Any text is one: another member's client chose it and
/// the sealed state keeps it as received, so it is not validated. Serialized
/// as the bare string.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TeamId(String);

impl TeamId {
    /// Wraps an id.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// A fresh id for a new team: `t` and 16 random hex digits.
    pub fn random(rng: &mut impl CryptoRngCore) -> Self {
        let mut id = [0u8; 8];
        rng.fill_bytes(&mut id);
        Self(format!(
            "t{}",
            id.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ))
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl core::fmt::Display for TeamId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Maps keyed by team id are looked up by text (as the command line gives it).
impl core::borrow::Borrow<str> for TeamId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// A care team as this client knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    /// Random id, chosen by its creator.
    pub team_id: TeamId,
    /// Display name.
    pub name: String,
    /// Every member, this user included.
    pub members: Vec<UserId>,
    /// This user was removed: nothing more is sent or accepted.
    pub removed: bool,
}

fn aad(team_id: &TeamId, message_id: &MessageId) -> Vec<u8> {
    let mut a = b"curbside team message v1\x00".to_vec();
    a.extend_from_slice(team_id.as_str().as_bytes());
    a.push(0);
    a.extend_from_slice(message_id.as_str().as_bytes());
    a
}

/// Encrypts `content` once for a team under a fresh key; returns the
/// [`Content::TeamMessage`] envelope to send to every member.
pub fn seal(
    team_id: &TeamId,
    message_id: &MessageId,
    content: &Content,
    rng: &mut impl CryptoRngCore,
) -> Result<Content> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    rng.fill_bytes(&mut *key);
    let sealed = aead::seal(
        &AeadKey::from_bytes(*key),
        &[0u8; NONCE_LEN],
        &aad(team_id, message_id),
        &content.to_bytes(),
    )?;
    Ok(Content::TeamMessage {
        team_id: team_id.clone(),
        key: key.to_vec().into(),
        sealed: sealed.into(),
    })
}

/// Opens a team message's content.
pub fn open(team_id: &TeamId, message_id: &MessageId, key: &Base64, sealed: &Base64) -> Result<Content> {
    let key = AeadKey::from_slice(key.as_slice())?;
    let plain = Zeroizing::new(aead::open(
        &key,
        &[0u8; NONCE_LEN],
        &aad(team_id, message_id),
        sealed.as_slice(),
    )?);
    match Content::from_bytes(&plain) {
        c @ (Content::Text { .. } | Content::Attachment { .. }) => Ok(c),
        _ => Err(ClientError::Protocol(
            "a team message may carry only text or an attachment".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_once_opens_for_the_right_message_only() {
        let id = MessageId::new("m1").unwrap();
        let content = Content::text(Vec::new(), "rounds at 7".into());
        let (t1, t2) = (TeamId::new("t1"), TeamId::new("t2"));
        let Content::TeamMessage { key, sealed, .. } =
            seal(&t1, &id, &content, &mut rand_core::OsRng).unwrap()
        else {
            unreachable!()
        };
        assert_eq!(open(&t1, &id, &key, &sealed).unwrap(), content);
        assert!(open(&t2, &id, &key, &sealed).is_err());
        assert!(open(&t1, &MessageId::new("m2").unwrap(), &key, &sealed).is_err());
    }
}
