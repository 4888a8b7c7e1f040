//! The key material `curbside-crypto` produces has the lengths the protocol
//! (and so the server) expects: the two crates know nothing of each other,
//! so this is where they are held together.

use curbside_crypto::primitives::x25519;
use curbside_crypto::{IdentityKey, SignedPreKey};
use curbside_protocol::keys::{IDENTITY_KEY_LEN, PUBLIC_KEY_LEN, SIGNED_PREKEY_LEN};

#[test]
fn published_key_lengths_agree_with_the_protocol() {
    assert_eq!(IdentityKey::ENCODED_LEN, IDENTITY_KEY_LEN);
    assert_eq!(SignedPreKey::ENCODED_LEN, SIGNED_PREKEY_LEN);
    assert_eq!(x25519::KEY_LEN, PUBLIC_KEY_LEN);
}
