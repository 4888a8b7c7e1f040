//! Audit log throughput: appends under the same-transaction rule (an audited
//! action and its entry commit together) and offline verification of an
//! export. Run with `cargo bench --bench audit`; results in BENCHMARKS.md.
//! Set `CURBSIDE_TEST_POSTGRES_URL` to also measure PostgreSQL.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    clippy::cast_possible_truncation
)]

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use curbside_client::audit::verify_export;
use curbside_protocol::audit::{Action, AuditEntry, AuditRecord, Details, HexHash, Outcome};
use curbside_protocol::bytes::Base64;
use curbside_protocol::frames::{Envelope, MessageKind};
use curbside_protocol::ids::{Address, DeviceId, MessageId, UserId};
use curbside_protocol::merkle::CompactRange;
use curbside_server::audit::{Actor, Event, LogKey};
use curbside_server::store::{now_ms, NewMessage, Store};
use sqlx::Connection as _;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A fresh database per backend: a SQLite file, and a PostgreSQL database when configured.
async fn stores(dir: &std::path::Path) -> Vec<(&'static str, Store)> {
    let mut out = vec![(
        "sqlite",
        Store::connect(&format!("sqlite://{}?mode=rwc", dir.join("bench.db").display()))
            .await
            .unwrap(),
    )];
    if let Ok(base) = std::env::var("CURBSIDE_TEST_POSTGRES_URL") {
        let name = format!("curbside_bench_{}", std::process::id());
        let mut admin = sqlx::PgConnection::connect(&base).await.unwrap();
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let url = format!("{}/{name}", base.rsplit_once('/').unwrap().0);
        out.push(("postgres", Store::connect(&url).await.unwrap()));
    }
    out
}

fn append(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let stores = rt.block_on(stores(dir.path()));
    let alice = Address {
        user_id: UserId::new("u_alice").unwrap(),
        device_id: DeviceId(1),
    };
    let actor = Actor::device(&alice, None, Some([127, 0, 0, 1].into()));
    let mut group = c.benchmark_group("audit_append");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(10));
    for (backend, store) in &stores {
        // One entry, alone in its transaction (refusals, reads of the log).
        group.bench_function(format!("{backend}/entry_in_own_transaction"), |b| {
            b.iter(|| {
                rt.block_on(store.record(vec![Event::new(&actor, Action::AuditQueried)]))
                    .unwrap()
            });
        });
        // A real audited action: a message accepted for one recipient device
        // (message row, queue row, audit entry, tree update: one transaction).
        let mut n = 0u64;
        group.bench_function(format!("{backend}/message_accepted_with_its_entry"), |b| {
            b.iter_batched(
                || {
                    n += 1;
                    MessageId::new(format!("m{n}")).unwrap()
                },
                |id| {
                    let env = Envelope {
                        user_id: UserId::new("u_bob").unwrap(),
                        device_id: DeviceId(1),
                        ciphertext: Base64(vec![0x5a; 1024]),
                    };
                    rt.block_on(store.accept_message(NewMessage {
                        sender: alice.clone(),
                        message_id: id,
                        kind: MessageKind::Message,
                        envelopes: vec![env],
                        priority: Default::default(),
                        escalation: None,
                        role: None,
                        consult_answer: None,
                        actor: actor.clone(),
                        now: now_ms(),
                        ttl: Duration::from_secs(3600),
                    }))
                    .unwrap()
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

/// A signed export of `n` entries, as `curbside audit export` writes it.
fn export(n: u64) -> (Vec<u8>, curbside_protocol::audit::SignedTreeHead, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let key = LogKey::load_or_create(dir.path()).unwrap();
    let mut tree = CompactRange::new();
    let mut out = Vec::new();
    for seq in 1..=n {
        let entry = AuditEntry {
            seq,
            time_ms: 1_795_000_000_000 + i64::try_from(seq).unwrap(),
            actor_user: UserId::new("u_alice").ok(),
            actor_device: Some(DeviceId(1)),
            actor_role: None,
            action: Action::MessageAccepted,
            counterpart_user: UserId::new("u_bob").ok(),
            counterpart_device: None,
            message_id: MessageId::new(format!("m{seq}")).ok(),
            referral_id: None,
            attachment_id: None,
            source: Some("10.1.2.3".into()),
            outcome: Outcome::Success,
            reason: None,
            details: Details {
                kind: Some("message".into()),
                ..Details::default()
            },
        };
        let leaf = entry.leaf_hash();
        tree.append(leaf);
        serde_json::to_writer(
            &mut out,
            &AuditRecord {
                entry,
                leaf_hash: HexHash(leaf),
            },
        )
        .unwrap();
        out.push(b'\n');
    }
    let head = key.sign(tree.size(), tree.root(), 0);
    (out, head, key.public_key())
}

fn verify(c: &mut Criterion) {
    const N: u64 = 100_000;
    let (data, head, key) = export(N);
    let mut group = c.benchmark_group("audit_verify");
    group.throughput(Throughput::Elements(N));
    group.sample_size(10);
    group.bench_function("offline_export_100k_entries", |b| {
        b.iter(|| {
            verify_export(std::io::Cursor::new(&data), &head, &key, None, |_| {}).unwrap();
        });
    });
    group.finish();
}

criterion_group!(benches, append, verify);
criterion_main!(benches);
