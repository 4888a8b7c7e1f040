//! Writes seed corpora for the fuzz targets in `crypto/fuzz/corpus/<target>/`:
//! valid messages, bundles, session states, attachment blobs and sealed
//! store blobs, so the fuzzers start from inputs that pass signature checks.
//!
//! `cargo run -p curbside-crypto --example fuzz_seeds`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stdout)]

use std::path::Path;

use curbside_crypto::attachment;
use curbside_crypto::local_store::{KdfParams, StoreKey};
use curbside_crypto::{
    IdentityKeyPair, Message, OneTimePreKeyPair, PreKeyBundle, PreKeyId, Session, SignedPreKeyPair,
};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn main() {
    // The same fixture as the `decrypt` target (seed 1), so its messages are genuine there.
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let alice_id = IdentityKeyPair::generate(&mut rng).unwrap();
    let bob_id = IdentityKeyPair::generate(&mut rng).unwrap();
    let spk = SignedPreKeyPair::generate(&bob_id, PreKeyId(1), 0, &mut rng).unwrap();
    let otk = OneTimePreKeyPair::generate(PreKeyId(2), &mut rng);
    let bundle = PreKeyBundle::new(*bob_id.public(), *spk.public(), Some(otk.public())).unwrap();
    let mut alice = Session::initiate(&alice_id, &bundle, &mut rng).unwrap();
    let first = alice.encrypt(b"hello").unwrap();
    let Message::PreKey(p) = &first else { panic!() };
    let (mut bob, _) = Session::accept(&bob_id, &spk, Some(&otk), p, &mut rng).unwrap();
    let reply = bob.encrypt(b"hi").unwrap();
    alice.decrypt(&reply, &mut rng).unwrap();
    let later = alice.encrypt(b"a later message").unwrap();

    for (target, items) in [
        (
            "parse_messages",
            vec![
                first.to_bytes(),
                reply.to_bytes(),
                bundle.to_bytes(),
                alice_id.public().to_bytes().to_vec(),
            ],
        ),
        (
            "decrypt",
            vec![first.to_bytes(), reply.to_bytes(), later.to_bytes()],
        ),
        (
            "session_state",
            vec![
                alice.to_bytes().to_vec(),
                bob.to_bytes().to_vec(),
                alice_id.to_bytes().to_vec(),
                otk.to_bytes().to_vec(),
            ],
        ),
    ] {
        for (i, bytes) in items.iter().enumerate() {
            write(target, &format!("seed-{i}"), bytes);
        }
    }

    let mut blob = Vec::new();
    attachment::encrypt(&[7u8; 5000][..], &mut blob, &mut rng).unwrap();
    write("attachment_and_store", "seed-attachment", &blob);
    let key = StoreKey::derive(b"fuzz", [7; 16], KdfParams::INSECURE_FOR_TESTS).unwrap();
    write(
        "attachment_and_store",
        "seed-store",
        &key.seal(b"ctx", b"state", &mut rng).unwrap(),
    );
    println!("seed corpora written under crypto/fuzz/corpus/");
}
