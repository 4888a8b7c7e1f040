//! Criterion benches of the crypto core:
//! `cargo bench -p curbside-crypto` (results in BENCHMARKS.md).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use curbside_crypto::attachment;
use curbside_crypto::{
    IdentityKeyPair, Message, OneTimePreKeyPair, PreKeyBundle, PreKeyId, Session, SignedPreKeyPair,
};
use rand_core::OsRng;

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

fn pair() -> (Session, Session) {
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

fn session_setup(c: &mut Criterion) {
    let (a, b) = (device(), device());
    let bundle = bundle(&b);
    c.bench_function("x3dh session setup (both sides, first message)", |bench| {
        bench.iter(|| {
            let parsed = PreKeyBundle::from_bytes(&bundle.to_bytes()).unwrap();
            let mut alice = Session::initiate(&a.identity, &parsed, &mut OsRng).unwrap();
            let Message::PreKey(first) = alice.encrypt(b"hello").unwrap() else {
                panic!()
            };
            let first = curbside_crypto::PreKeyMessage::from_bytes(&first.to_bytes()).unwrap();
            black_box(Session::accept(&b.identity, &b.spk, Some(&b.otk), &first, &mut OsRng).unwrap());
        });
    });
}

fn messages(c: &mut Criterion) {
    let payload = vec![0x5a; 1024];
    let mut group = c.benchmark_group("ratchet 1 KiB encrypt+decrypt");
    group.throughput(Throughput::Elements(1));

    let (mut alice, mut bob) = pair();
    group.bench_function("same direction", |bench| {
        bench.iter(|| {
            let m = alice.encrypt(&payload).unwrap();
            let m = Message::from_bytes(&m.to_bytes()).unwrap();
            black_box(bob.decrypt(&m, &mut OsRng).unwrap());
        });
    });

    let (mut alice, mut bob) = pair();
    let mut turn = false;
    group.bench_function("alternating (DH ratchet step every message)", |bench| {
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
    group.finish();
}

fn attachments(c: &mut Criterion) {
    let file = vec![0xa5; 1 << 20];
    let mut group = c.benchmark_group("attachment 1 MiB");
    group.throughput(Throughput::Bytes(file.len() as u64));
    group.bench_function("seal", |bench| {
        bench.iter_batched_ref(
            || Vec::with_capacity(file.len() + 4096),
            |out| black_box(attachment::encrypt(file.as_slice(), out, &mut OsRng).unwrap()),
            BatchSize::LargeInput,
        );
    });
    let mut blob = Vec::new();
    let info = attachment::encrypt(file.as_slice(), &mut blob, &mut OsRng).unwrap();
    group.bench_function("open", |bench| {
        bench.iter_batched_ref(
            || Vec::with_capacity(file.len()),
            |out| black_box(attachment::decrypt(blob.as_slice(), out, &info.key, &info.digest).unwrap()),
            BatchSize::LargeInput,
        );
    });
    group.finish();
}

criterion_group!(benches, session_setup, messages, attachments);
criterion_main!(benches);
