//! Hostile input to every decoder: arbitrary bytes, truncation, unknown
//! versions and oversized counts give typed errors, never panics.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

use common::{established, rng, Device};
use curbside_crypto::local_store::{KdfParams, StoreKey};
use curbside_crypto::{
    DecodeError, Error, IdentityKey, IdentityKeyPair, Message, OneTimePreKeyPair, PreKeyBundle,
    PreKeyMessage, RatchetMessage, Session, SignedPreKeyPair,
};
use proptest::prelude::*;

fn all_decoders(bytes: &[u8], identity: &IdentityKeyPair) {
    let _ = Message::from_bytes(bytes);
    let _ = RatchetMessage::from_bytes(bytes);
    let _ = PreKeyMessage::from_bytes(bytes);
    let _ = Session::from_bytes(bytes);
    let _ = PreKeyBundle::from_bytes(bytes);
    let _ = IdentityKey::from_bytes(bytes);
    let _ = IdentityKeyPair::from_bytes(bytes);
    let _ = SignedPreKeyPair::from_bytes(identity, bytes);
    let _ = OneTimePreKeyPair::from_bytes(bytes);
    let _ = StoreKey::derive_for(b"x", bytes);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let identity = IdentityKeyPair::generate(&mut rng(0)).unwrap();
        all_decoders(&bytes, &identity);
        // With valid version and type prefixes, so parsing goes deeper.
        for prefix in [[1u8, 1], [1, 2]] {
            all_decoders(&[prefix.as_slice(), &bytes].concat(), &identity);
        }
    }
}

#[test]
fn every_truncation_of_valid_encodings_is_an_error() {
    let mut p = established(1);
    let mut rng = rng(2);
    let device = Device::new(&mut rng);
    let session = p.alice.to_bytes();
    let message = p.alice.encrypt(b"x").unwrap().to_bytes();
    let bundle = device.bundle().to_bytes();
    let identity = device.identity.to_bytes();
    for (name, bytes) in [
        ("session", &session[..]),
        ("bundle", &bundle[..]),
        ("identity", &identity[..]),
    ] {
        for cut in 0..bytes.len() {
            let outcome = match name {
                "session" => Session::from_bytes(&bytes[..cut]).err(),
                "bundle" => PreKeyBundle::from_bytes(&bytes[..cut]).err(),
                _ => IdentityKeyPair::from_bytes(&bytes[..cut]).err(),
            };
            assert!(outcome.is_some(), "{name} truncated to {cut} bytes parsed");
        }
    }
    // A ratchet message needs at least its header and a tag.
    for cut in 0..42 + 16 {
        assert!(
            Message::from_bytes(&message[..cut]).is_err(),
            "message cut at {cut}"
        );
    }
    let _ = &mut p;
}

#[test]
fn unknown_versions_and_trailing_bytes_are_reported() {
    let p = established(3);
    let mut session = p.alice.to_bytes().to_vec();
    session.push(0);
    assert_eq!(
        Session::from_bytes(&session).err(),
        Some(Error::Decode(DecodeError::TrailingBytes))
    );
    session.pop();
    session[0] = 9;
    assert_eq!(
        Session::from_bytes(&session).err(),
        Some(Error::UnsupportedVersion(9))
    );

    let identity = IdentityKeyPair::generate(&mut rng(4)).unwrap();
    let mut bytes = identity.to_bytes().to_vec();
    bytes[0] = 2;
    assert_eq!(
        IdentityKeyPair::from_bytes(&bytes).err(),
        Some(Error::UnsupportedVersion(2))
    );
    assert_eq!(
        Message::from_bytes(&[7, 1]).err(),
        Some(Error::UnsupportedVersion(7))
    );
    assert_eq!(
        Message::from_bytes(&[1, 9]).err(),
        Some(Error::Decode(DecodeError::InvalidTag(9)))
    );
}

#[test]
fn oversized_skipped_key_count_is_refused() {
    let p = established(5);
    let bytes = p.alice.to_bytes();
    // The skipped-key count is the last u32 of a state with no skipped keys.
    let n = bytes.len();
    assert_eq!(&bytes[n - 4..], &[0, 0, 0, 0]);
    let mut forged = bytes.to_vec();
    forged[n - 4..].copy_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(
        Session::from_bytes(&forged).err(),
        Some(Error::Decode(DecodeError::TooLong))
    );
}

#[test]
fn serialized_session_continues_identically() {
    let mut p = established(6);
    let m = p.alice.encrypt(b"before save").unwrap();
    p.bob.decrypt(&m, &mut p.rng).unwrap();
    let mut restored = Session::from_bytes(&p.alice.to_bytes()).unwrap();
    // Encryption is deterministic given the state: both copies produce the same bytes.
    let a = p.alice.encrypt(b"after").unwrap();
    let b = restored.encrypt(b"after").unwrap();
    assert_eq!(a, b);
    assert_eq!(&p.bob.decrypt(&b, &mut p.rng).unwrap()[..], b"after");
    // The other party's state round-trips too, skipped keys included.
    let skipped: Vec<_> = (0..3).map(|i| p.alice.encrypt(&[i]).unwrap()).collect();
    p.bob.decrypt(&skipped[2], &mut p.rng).unwrap();
    let mut bob = Session::from_bytes(&p.bob.to_bytes()).unwrap();
    assert_eq!(bob.skipped_key_count(), 2);
    assert_eq!(&bob.decrypt(&skipped[0], &mut p.rng).unwrap()[..], &[0]);
    let _ = KdfParams::RECOMMENDED;
}

#[test]
fn debug_output_never_contains_secret_bytes() {
    let mut rng = rng(7);
    let identity = IdentityKeyPair::generate(&mut rng).unwrap();
    let spk = SignedPreKeyPair::generate(&identity, curbside_crypto::PreKeyId(1), 0, &mut rng).unwrap();
    let p = established(8);
    let secret_hex = hex::encode(&identity.to_bytes()[1..]);
    let spk_secret = hex::encode(&spk.to_bytes()[13..]);
    let session_hex = hex::encode(&p.alice.to_bytes()[..]);
    for text in [
        format!("{identity:?}"),
        format!("{spk:?}"),
        format!("{:?}", p.alice),
    ] {
        let lower = text.to_lowercase();
        // No 8-byte window of any secret appears in the Debug output.
        for secret in [&secret_hex, &spk_secret] {
            for w in (0..secret.len() - 16).step_by(2) {
                assert!(!lower.contains(&secret[w..w + 16]), "secret bytes in {text}");
            }
        }
        // The root key follows version, role and both identities (258 bytes).
        assert!(
            !lower.contains(&session_hex[258 * 2..258 * 2 + 32]),
            "root key in {text}"
        );
    }
}
