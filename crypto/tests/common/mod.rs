//! Helpers shared by the integration tests: deterministic devices and sessions.
#![allow(dead_code, unreachable_pub)]

use curbside_crypto::{
    IdentityKeyPair, Message, OneTimePreKeyPair, PreKeyBundle, PreKeyId, PreKeyMessage, Session,
    SignedPreKeyPair,
};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// A device that published a signed prekey and one one-time prekey.
pub struct Device {
    pub identity: IdentityKeyPair,
    pub signed_prekey: SignedPreKeyPair,
    pub one_time_prekey: OneTimePreKeyPair,
}

impl Device {
    pub fn new(rng: &mut ChaCha20Rng) -> Self {
        let identity = IdentityKeyPair::generate(rng).unwrap();
        let signed_prekey = SignedPreKeyPair::generate(&identity, PreKeyId(1), 0, rng).unwrap();
        let one_time_prekey = OneTimePreKeyPair::generate(PreKeyId(100), rng);
        Self {
            identity,
            signed_prekey,
            one_time_prekey,
        }
    }

    pub fn bundle(&self) -> PreKeyBundle {
        PreKeyBundle::new(
            *self.identity.public(),
            *self.signed_prekey.public(),
            Some(self.one_time_prekey.public()),
        )
        .unwrap()
    }

    pub fn accept(
        &self,
        m: &PreKeyMessage,
        rng: &mut ChaCha20Rng,
    ) -> curbside_crypto::Result<(Session, Vec<u8>)> {
        Session::accept(
            &self.identity,
            &self.signed_prekey,
            Some(&self.one_time_prekey),
            m,
            rng,
        )
        .map(|(s, p)| (s, p.to_vec()))
    }
}

/// Alice and Bob with an established session (Bob has answered once, so
/// both sides have completed a DH ratchet step).
pub struct Pair {
    pub rng: ChaCha20Rng,
    pub alice: Session,
    pub bob: Session,
}

pub fn established(seed: u64) -> Pair {
    let mut rng = rng(seed);
    let alice_dev = Device::new(&mut rng);
    let bob_dev = Device::new(&mut rng);
    let mut alice = Session::initiate(&alice_dev.identity, &bob_dev.bundle(), &mut rng).unwrap();
    let Message::PreKey(first) = alice.encrypt(b"hello").unwrap() else {
        panic!("expected prekey message")
    };
    let (mut bob, pt) = bob_dev.accept(&first, &mut rng).unwrap();
    assert_eq!(pt, b"hello");
    let reply = bob.encrypt(b"hi").unwrap();
    assert_eq!(&alice.decrypt(&reply, &mut rng).unwrap()[..], b"hi");
    Pair { rng, alice, bob }
}

/// Flips one bit of an encoded message.
pub fn flip(bytes: &[u8], bit: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[bit / 8] ^= 1 << (bit % 8);
    out
}

/// Compares `actual` with the published vector file `tests/vectors/curbside/{name}`,
/// or rewrites the file when `CURBSIDE_REGENERATE_VECTORS` is set.
pub fn check_published(name: &str, actual: &str) {
    let path = format!("{}/tests/vectors/curbside/{name}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("CURBSIDE_REGENERATE_VECTORS").is_some() {
        std::fs::write(&path, format!("{actual}\n")).unwrap();
    }
    let published = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(
        published.trim(),
        actual,
        "output differs from the published vector {path}"
    );
}
