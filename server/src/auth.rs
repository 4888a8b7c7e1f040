//! Signature verification, random challenges and tokens.
//!
//! Tokens (invites, bootstrap, sessions) are 32 random bytes, base64url; the
//! database stores only their SHA-256, so a database dump yields no usable token.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand_core::{OsRng, RngCore};
use ring::digest;
use ring::signature::{UnparsedPublicKey, ED25519};

pub use curbside_protocol::keys::{IDENTITY_KEY_LEN, PUBLIC_KEY_LEN, SIGNED_PREKEY_LEN};

/// Verifies an Ed25519 `signature` over `message` by the device whose
/// identity key is `identity_key` (its first 32 bytes are the Ed25519 key).
#[must_use]
pub fn verify_device_signature(identity_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let Some(public) = identity_key.get(..32) else {
        return false;
    };
    UnparsedPublicKey::new(&ED25519, public)
        .verify(message, signature)
        .is_ok()
}

/// 32 fresh random bytes.
#[must_use]
pub fn random32() -> [u8; 32] {
    let mut out = [0u8; 32];
    OsRng.fill_bytes(&mut out);
    out
}

/// A new bearer token with a readable prefix, and its hash for storage.
#[must_use]
pub fn new_token(prefix: &str) -> (String, Vec<u8>) {
    let token = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(random32()));
    let hash = token_hash(&token);
    (token, hash)
}

/// The SHA-256 under which a token is stored.
#[must_use]
pub fn token_hash(token: &str) -> Vec<u8> {
    digest::digest(&digest::SHA256, token.as_bytes())
        .as_ref()
        .to_vec()
}

/// A new random user id: `u` followed by 24 hex digits.
#[must_use]
pub fn new_user_id() -> String {
    let bytes = random32();
    let mut id = String::from("u");
    for b in bytes.iter().take(12) {
        id.push_str(&format!("{b:02x}"));
    }
    id
}
