//! Our ratchet side by side with vodozemac's Olm (the Matrix implementation,
//! a benchmark-only dependency), in one run on the same machine:
//!
//! ```sh
//! cargo bench -p curbside-bench --bench olm
//! ```
//!
//! Each pair of benches does the same work on both sides:
//! - session setup: the initiator builds a session from the responder's keys
//!   and encrypts a first message, the responder creates its session from it
//!   and decrypts. Curbside also parses and verifies the bundle (two Ed25519
//!   signatures) and does X3DH's fourth DH; Olm's 3DH does neither (Matrix
//!   clients check one-time-key signatures elsewhere).
//! - 1 KiB same direction: encrypt, encode, parse, decrypt (symmetric ratchet).
//! - 1 KiB alternating: the same with the direction flipping every message,
//!   so each message carries a DH ratchet step.
//!
//! Plus attachment seal+open at 1 MiB (Olm has no attachment format).
//! Results and ratios: BENCHMARKS.md.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use curbside_crypto::attachment;
use curbside_crypto::{
    IdentityKeyPair, Message, OneTimePreKeyPair, PreKeyBundle, PreKeyId, PreKeyMessage, Session,
    SignedPreKeyPair,
};
use rand_core::OsRng;
use vodozemac::olm::{Account, OlmMessage, Session as OlmSession, SessionConfig};

struct Device {
    identity: IdentityKeyPair,
    spk: SignedPreKeyPair,
    otk: OneTimePreKeyPair,
}

fn device() -> Device {
    let identity = IdentityKeyPair::generate(&mut OsRng).unwrap();
    let spk = SignedPreKeyPair::generate(&identity, PreKeyId(1), 0, &mut OsRng).unwrap();
    let otk = OneTimePreKeyPair::generate(PreKeyId(2), &mut OsRng);
    Device { identity, spk, otk }
}

fn bundle(d: &Device) -> PreKeyBundle {
    PreKeyBundle::new(*d.identity.public(), *d.spk.public(), Some(d.otk.public())).unwrap()
}

fn ours() -> (Session, Session) {
    let (a, b) = (device(), device());
    let mut alice = Session::initiate(&a.identity, &bundle(&b), &mut OsRng).unwrap();
    let Message::PreKey(first) = alice.encrypt(b"hi").unwrap() else {
        panic!()
    };
    let (mut bob, _) = Session::accept(&b.identity, &b.spk, Some(&b.otk), &first, &mut OsRng).unwrap();
    let reply = bob.encrypt(b"hi").unwrap();
    alice.decrypt(&reply, &mut OsRng).unwrap();
    (alice, bob)
}

fn olm_transfer(from: &mut OlmSession, to: &mut OlmSession, payload: &[u8]) -> Vec<u8> {
    let (kind, bytes) = from.encrypt(payload).unwrap().to_parts();
    let m = OlmMessage::from_parts(kind, &bytes).unwrap();
    to.decrypt(&m).unwrap()
}

fn olm() -> (OlmSession, OlmSession) {
    let alice = Account::new();
    let mut bob = Account::new();
    bob.generate_one_time_keys(1);
    let otk = *bob.one_time_keys().values().next().unwrap();
    bob.mark_keys_as_published();
    let mut a = alice
        .create_outbound_session(SessionConfig::version_1(), bob.curve25519_key(), otk)
        .unwrap();
    let OlmMessage::PreKey(first) = a.encrypt(b"hi").unwrap() else {
        panic!()
    };
    let mut b = bob
        .create_inbound_session(SessionConfig::version_1(), alice.curve25519_key(), &first)
        .unwrap()
        .session;
    olm_transfer(&mut b, &mut a, b"hi");
    (a, b)
}

fn session_setup(c: &mut Criterion) {
    let mut group = c.benchmark_group("session setup (both sides, first message)");
    let (a, b) = (device(), device());
    let bundle = bundle(&b);
    group.bench_function("curbside X3DH", |bench| {
        bench.iter(|| {
            let parsed = PreKeyBundle::from_bytes(&bundle.to_bytes()).unwrap();
            let mut alice = Session::initiate(&a.identity, &parsed, &mut OsRng).unwrap();
            let Message::PreKey(first) = alice.encrypt(b"hello").unwrap() else {
                panic!()
            };
            let first = PreKeyMessage::from_bytes(&first.to_bytes()).unwrap();
            black_box(Session::accept(&b.identity, &b.spk, Some(&b.otk), &first, &mut OsRng).unwrap());
        });
    });
    let alice = Account::new();
    let mut bob = Account::new();
    group.bench_function("vodozemac Olm 3DH", |bench| {
        // Olm consumes the one-time key: a fresh one per iteration, generated
        // outside the measured time.
        bench.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                bob.generate_one_time_keys(1);
                let otk = *bob.one_time_keys().values().next().unwrap();
                bob.mark_keys_as_published();
                let start = Instant::now();
                let mut session = alice
                    .create_outbound_session(SessionConfig::version_1(), bob.curve25519_key(), otk)
                    .unwrap();
                let (kind, bytes) = session.encrypt(b"hello").unwrap().to_parts();
                let OlmMessage::PreKey(first) = OlmMessage::from_parts(kind, &bytes).unwrap() else {
                    panic!()
                };
                black_box(
                    bob.create_inbound_session(SessionConfig::version_1(), alice.curve25519_key(), &first)
                        .unwrap(),
                );
                total += start.elapsed();
            }
            total
        });
    });
    group.finish();
}

fn messages(c: &mut Criterion) {
    let payload = vec![0x5a; 1024];
    let mut group = c.benchmark_group("1 KiB message encrypt+decrypt");
    group.throughput(Throughput::Elements(1));

    let (mut alice, mut bob) = ours();
    group.bench_function("same direction/curbside", |bench| {
        bench.iter(|| {
            let m = alice.encrypt(&payload).unwrap();
            let m = Message::from_bytes(&m.to_bytes()).unwrap();
            black_box(bob.decrypt(&m, &mut OsRng).unwrap());
        });
    });
    let (mut a, mut b) = olm();
    group.bench_function("same direction/vodozemac", |bench| {
        bench.iter(|| black_box(olm_transfer(&mut a, &mut b, &payload)));
    });

    let (mut alice, mut bob) = ours();
    let mut turn = false;
    group.bench_function("DH ratchet step/curbside", |bench| {
        bench.iter(|| {
            turn = !turn;
            let (from, to) = if turn {
                (&mut alice, &mut bob)
            } else {
                (&mut bob, &mut alice)
            };
            let m = from.encrypt(&payload).unwrap();
            let m = Message::from_bytes(&m.to_bytes()).unwrap();
            black_box(to.decrypt(&m, &mut OsRng).unwrap());
        });
    });
    let (mut a, mut b) = olm();
    let mut turn = false;
    group.bench_function("DH ratchet step/vodozemac", |bench| {
        bench.iter(|| {
            turn = !turn;
            let (from, to) = if turn { (&mut a, &mut b) } else { (&mut b, &mut a) };
            black_box(olm_transfer(from, to, &payload))
        });
    });
    group.finish();
}

fn attachments(c: &mut Criterion) {
    let file = vec![0xa5; 1 << 20];
    let mut group = c.benchmark_group("attachment 1 MiB");
    group.throughput(Throughput::Bytes(file.len() as u64));
    group.bench_function("seal+open", |bench| {
        bench.iter_batched_ref(
            || {
                (
                    Vec::with_capacity(file.len() + 4096),
                    Vec::with_capacity(file.len()),
                )
            },
            |(sealed, opened)| {
                let info = attachment::encrypt(file.as_slice(), &mut *sealed, &mut OsRng).unwrap();
                attachment::decrypt(sealed.as_slice(), &mut *opened, &info.key, &info.digest).unwrap();
                black_box(opened.len())
            },
            BatchSize::LargeInput,
        );
    });
    group.finish();
}

criterion_group!(benches, session_setup, messages, attachments);
criterion_main!(benches);
