//! Decryption of arbitrary bytes by an established session (both roles, and
//! as a prekey message to a responder): always an error, never a panic, and
//! the session still decrypts a genuine message afterwards.
#![no_main]

use std::sync::OnceLock;

use curbside_crypto::{IdentityKeyPair, Message, OneTimePreKeyPair, PreKeyBundle, PreKeyId, Session, SignedPreKeyPair};
use libfuzzer_sys::fuzz_target;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

struct Fixture {
    alice: Session,
    bob: Session,
    bob_identity: IdentityKeyPair,
    spk: SignedPreKeyPair,
    otk: OneTimePreKeyPair,
    genuine_to_bob: Message,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let alice_id = IdentityKeyPair::generate(&mut rng).unwrap();
        let bob_identity = IdentityKeyPair::generate(&mut rng).unwrap();
        let spk = SignedPreKeyPair::generate(&bob_identity, PreKeyId(1), 0, &mut rng).unwrap();
        let otk = OneTimePreKeyPair::generate(PreKeyId(2), &mut rng);
        let bundle = PreKeyBundle::new(*bob_identity.public(), *spk.public(), Some(otk.public())).unwrap();
        let mut alice = Session::initiate(&alice_id, &bundle, &mut rng).unwrap();
        let Message::PreKey(first) = alice.encrypt(b"hello").unwrap() else { unreachable!() };
        let (mut bob, _) = Session::accept(&bob_identity, &spk, Some(&otk), &first, &mut rng).unwrap();
        let reply = bob.encrypt(b"hi").unwrap();
        alice.decrypt(&reply, &mut rng).unwrap();
        let genuine_to_bob = alice.encrypt(b"genuine").unwrap();
        Fixture { alice, bob, bob_identity, spk, otk, genuine_to_bob }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let Ok(message) = Message::from_bytes(data) else { return };
    let mut bob = f.bob.clone();
    let mut alice = f.alice.clone();
    let _ = alice.decrypt(&message, &mut rng);
    if bob.decrypt(&message, &mut rng).is_ok() {
        return; // a genuine message rebuilt by the fuzzer is fine
    }
    assert_eq!(&bob.decrypt(&f.genuine_to_bob, &mut rng).unwrap()[..], b"genuine");
    if let Message::PreKey(m) = &message {
        let _ = Session::accept(&f.bob_identity, &f.spk, Some(&f.otk), m, &mut rng);
        let _ = Session::accept(&f.bob_identity, &f.spk, None, m, &mut rng);
    }
});
