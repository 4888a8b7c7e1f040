//! The audit log, end to end, on SQLite and PostgreSQL: every event type
//! from a real flow and found by its filter; metadata only; same
//! transaction as the action; append-only in the database itself; the
//! compliance API closed to everyone but compliance officers (and the
//! refusals logged); cursor pagination under concurrent appends; a 100,000
//! entry export verified offline.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::cast_possible_truncation
)]

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use curbside_client::audit::{verify_export, VerifyFailure};
use curbside_client::{enroll, Client, UserDetails};
use curbside_protocol::audit::{Action, AuditQuery, AuditRecord, Outcome};
use curbside_protocol::error::ErrorCode;
use curbside_protocol::frames::MessageKind;
use curbside_protocol::http::Role;
use curbside_protocol::merkle;
use curbside_server::audit::{Actor, Event};
use curbside_server::store::{now_ms, Backend};
use sqlx::Connection as _;

/// A direct connection to the test's database, as an attacker or DBA would have.
async fn raw(db: &Db) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(&db.url).await.unwrap()
}

async fn count(db: &Db, sql: &str) -> i64 {
    use sqlx::Row as _;
    let mut c = raw(db).await;
    sqlx::query(sql).fetch_one(&mut c).await.unwrap().get::<i64, _>(0)
}

on_every_backend!(
    every_event_type_is_recorded_and_found_by_its_filter,
    |db| async move {
        let start = now_ms();
        let world = World::start(db).await;
        let (alice, bob) = world.alice_and_bob().await;
        let (alice_id, bob_id) = (uid(&alice), uid(&bob));
        let (_, token) = officer(&world).await;
        let api = world.api();

        // Admin actions: a role grant and a user listing.
        api.grant_role(&world.admin_token, &bob_id, Role::ComplianceOfficer)
            .await
            .unwrap();
        api.list_users(&world.admin_token).await.unwrap();
        // A second device of Alice (her identity keys change), later revoked.
        let alice2 = world.second_device(&alice_id).await;

        // Logins before the accounts move into clients: one good, one failed
        // (Bob's device id signed with Alice's key).
        let alice_token = world.login(&alice).await;
        let bob_addr = bob.address.clone().unwrap();
        assert!(api
            .login(&bob_addr.user_id, bob_addr.device_id, alice.identity())
            .await
            .is_err());

        // Alice messages Bob's one device and her own other device; Bob reads it.
        let mut a = Client::connect(alice).await.unwrap();
        let mut b = Client::connect(bob).await.unwrap();
        let message = mid("audit-m1");
        a.send(
            std::slice::from_ref(&bob_id),
            MessageKind::Message,
            &message,
            b"hello",
        )
        .await
        .unwrap();
        let got = b.next_message(WAIT).await.unwrap().unwrap();
        b.ack(&[got.delivery_id]).await.unwrap();
        a.wait_for_receipts(1, Duration::from_secs(10)).await.unwrap();
        api.revoke_device(&world.admin_token, alice2.address.as_ref().unwrap())
            .await
            .unwrap();
        // A message to Bob that nobody fetches, then expired by the sweeper's query.
        a.send(
            std::slice::from_ref(&bob_id),
            MessageKind::Message,
            &mid("audit-m2"),
            b"later",
        )
        .await
        .unwrap();
        b.close().await;
        world
            .server()
            .state()
            .store
            .expire(
                now_ms() + 30 * 24 * 3600 * 1000,
                Duration::from_secs(3600),
                i64::MIN,
            )
            .await
            .unwrap();

        // Attachments.
        let mut blob = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut blob, &[7u8; 1000]).unwrap();
        let stored = api
            .upload_attachment(&alice_token, tokio::fs::File::open(blob.path()).await.unwrap())
            .await
            .unwrap();
        let mut sink = tokio::io::sink();
        api.download_attachment(&alice_token, &stored.attachment_id, &mut sink)
            .await
            .unwrap();
        // A refused enrollment (an unknown invite).
        assert!(
            enroll(world.info.clone(), "cbs_inv_unknown", &UserDetails::default())
                .await
                .is_err()
        );
        // The audit log's own reads.
        api.audit_tree_head(&token).await.unwrap();
        api.audit_inclusion(&token, 1, 2).await.unwrap();
        api.audit_consistency(&token, 1, 2).await.unwrap();
        api.audit_export(&token, &AuditQuery::default(), &mut tokio::io::sink())
            .await
            .unwrap();
        a.close().await;

        let expected: &[Action] = &[
            Action::UserEnrolled,
            Action::UserVerified,
            Action::RoleGranted,
            Action::InviteCreated,
            Action::UsersListed,
            Action::DeviceAdded,
            Action::DeviceRevoked,
            Action::IdentityKeyPublished,
            Action::IdentityKeyChanged,
            Action::AuthSucceeded,
            Action::AuthFailed,
            Action::PrekeyBundleFetched,
            Action::MessageAccepted,
            Action::MessageDelivered,
            Action::MessageExpired,
            Action::AttachmentStored,
            Action::AttachmentFetched,
            Action::AuditQueried,
            Action::AuditExported,
            Action::AuditTreeHeadRequested,
            Action::AuditProofRequested,
        ];
        for action in expected {
            let found = all(&api, &token, by_action(*action)).await;
            assert!(!found.is_empty(), "no {} entry", action.as_str());
            assert!(found.iter().all(|r| r.entry.action == *action));
        }

        // Message accepted: sender device, recipient devices, size and SHA-256.
        let accepted = all(
            &api,
            &token,
            AuditQuery {
                message_id: Some("audit-m1".into()),
                action: Some("message.accepted".into()),
                ..AuditQuery::default()
            },
        )
        .await;
        let per_user: HashSet<String> = accepted
            .iter()
            .map(|r| r.entry.counterpart_user.clone().unwrap().to_string())
            .collect();
        assert!(per_user.contains(bob_id.as_str()));
        let to_bob = accepted
            .iter()
            .find(|r| r.entry.counterpart_user.as_ref() == Some(&bob_id))
            .unwrap();
        assert_eq!(to_bob.entry.actor_user.as_ref(), Some(&alice_id));
        assert_eq!(to_bob.entry.actor_role, Some(Role::Clinician));
        let ct = &to_bob.entry.details.ciphertexts.as_ref().unwrap()[0];
        assert!(ct.size > 0 && ct.sha256.len() == 64);
        // Delivered, per device, found by message id; expired, found by counterpart.
        let delivered = all(
            &api,
            &token,
            AuditQuery {
                message_id: Some("audit-m1".into()),
                action: Some("message.delivered".into()),
                ..AuditQuery::default()
            },
        )
        .await;
        assert_eq!(delivered.len(), 1);
        assert_eq!(delivered[0].entry.actor_user.as_ref(), Some(&bob_id));
        let expired = all(
            &api,
            &token,
            AuditQuery {
                counterpart: Some(bob_id.to_string()),
                action: Some("message.expired".into()),
                ..AuditQuery::default()
            },
        )
        .await;
        assert_eq!(expired.len(), 1);
        assert_eq!(
            expired[0].entry.message_id.as_ref().map(|m| m.as_str()),
            Some("audit-m2")
        );
        // Who fetched whose bundles.
        let fetched = all(
            &api,
            &token,
            AuditQuery {
                actor: Some(alice_id.to_string()),
                counterpart: Some(bob_id.to_string()),
                action: Some("prekey_bundle.fetched".into()),
                ..AuditQuery::default()
            },
        )
        .await;
        assert!(!fetched.is_empty());
        // Failures carry their reason code.
        let failures = all(
            &api,
            &token,
            AuditQuery {
                outcome: Some("failure".into()),
                ..AuditQuery::default()
            },
        )
        .await;
        assert!(failures.iter().any(
            |r| r.entry.action == Action::AuthFailed && r.entry.reason.as_deref() == Some("auth_failed")
        ));
        assert!(failures
            .iter()
            .any(|r| r.entry.action == Action::UserEnrolled
                && r.entry.reason.as_deref() == Some("invalid_invite")));
        assert!(failures.iter().all(|r| r.entry.outcome == Outcome::Failure));
        // Time range: nothing before the test began, everything up to now.
        let before = all(
            &api,
            &token,
            AuditQuery {
                until_ms: Some(start - 1),
                ..AuditQuery::default()
            },
        )
        .await;
        assert!(before.is_empty());
        let during = all(
            &api,
            &token,
            AuditQuery {
                since_ms: Some(start),
                until_ms: Some(now_ms() + 1),
                action: Some("user.enrolled".into()),
                ..AuditQuery::default()
            },
        )
        .await;
        assert!(during.len() >= 4, "admin, alice, bob, officer (+ the refusal)");
        // Newest first.
        let newest = api
            .audit_entries(
                &token,
                &AuditQuery {
                    order: Some("desc".into()),
                    limit: Some(5),
                    ..AuditQuery::default()
                },
            )
            .await
            .unwrap();
        assert!(newest.records.windows(2).all(|w| w[0].entry.seq > w[1].entry.seq));
        world.stop().await;
    }
);

on_every_backend!(session_expiry_is_recorded, |db| async move {
    let world = World::start_with(db, |c| c.limits.session_idle_secs = 3).await;
    let (alice, _bob) = world.alice_and_bob().await;
    let (officer, _) = officer(&world).await;
    let token = world.login(&alice).await;
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let refused = world.api().directory(&token, None, None).await.unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::TokenExpired));
    let officer_token = world.login(&officer).await;
    let expired = all(&world.api(), &officer_token, by_action(Action::SessionExpired)).await;
    let alice_expired: Vec<_> = expired
        .iter()
        .filter(|r| r.entry.actor_user.as_ref() == Some(&uid(&alice)))
        .collect();
    assert_eq!(alice_expired.len(), 1);
    assert_eq!(alice_expired[0].entry.details.timeout.as_deref(), Some("idle"));
    world.stop().await;
});

on_every_backend!(entries_hold_metadata_only, |db| async move {
    let world = World::start(db).await;
    let (alice, bob) = world.alice_and_bob().await;
    let bob_id = uid(&bob);
    let (_, token) = officer(&world).await;
    let marker = "PATIENT-MARKER-7f3a91 Jane Roe DOB 1961-04-02 MRN 00451234";
    let mut a = Client::connect(alice).await.unwrap();
    let mut b = Client::connect(bob).await.unwrap();
    a.send(&[bob_id], MessageKind::Message, &mid("phi-1"), marker.as_bytes())
        .await
        .unwrap();
    let got = b.next_message(WAIT).await.unwrap().unwrap();
    assert_eq!(got.content.as_ref().unwrap().as_slice(), marker.as_bytes());
    b.ack(&[got.delivery_id]).await.unwrap();
    let api = world.api();
    let mut jsonl = Vec::new();
    api.audit_export(&token, &AuditQuery::default(), &mut jsonl)
        .await
        .unwrap();
    let mut csv = Vec::new();
    let csv_query = AuditQuery {
        format: Some("csv".into()),
        ..AuditQuery::default()
    };
    api.audit_export(&token, &csv_query, &mut csv).await.unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.starts_with("seq,time,time_ms,actor_user"));
    for export in [String::from_utf8(jsonl).unwrap(), csv] {
        assert!(export.contains("message.accepted"));
        for needle in [
            "PATIENT-MARKER",
            "Jane Roe",
            "00451234",
            "Alice Adeyemi",
            NPIS[0],
            "cbs_sess_",
            "cbs_inv_",
        ] {
            assert!(!export.contains(needle), "the audit log holds {needle:?}");
        }
    }
    a.close().await;
    b.close().await;
    world.stop().await;
});

// A database-level failure injected between the action and its entry (a
// trigger that refuses the entry's INSERT) leaves neither.
on_every_backend!(an_action_and_its_entry_commit_together, |db| async move {
    let world = World::start(db).await;
    let (alice, bob) = world.alice_and_bob().await;
    let bob_id = uid(&bob);
    let mut c = raw(&world.db).await;
    match world.db.backend {
        Backend::Sqlite => {
            sqlx::query(
                "CREATE TRIGGER inject_failure BEFORE INSERT ON audit_log \
                 WHEN NEW.action = 'message.accepted' BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
            )
            .execute(&mut c)
            .await
            .unwrap();
        }
        Backend::Postgres => {
            sqlx::raw_sql(
                "CREATE FUNCTION inject_failure() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN RAISE EXCEPTION 'injected failure'; END $$; \
                 CREATE TRIGGER inject_failure BEFORE INSERT ON audit_log FOR EACH ROW \
                 WHEN (NEW.action = 'message.accepted') EXECUTE FUNCTION inject_failure();",
            )
            .execute(&mut c)
            .await
            .unwrap();
        }
    }
    let mut a = Client::connect(alice).await.unwrap();
    let failed = a
        .send(
            std::slice::from_ref(&bob_id),
            MessageKind::Message,
            &mid("tx-1"),
            b"first try",
        )
        .await;
    assert_eq!(failed.unwrap_err().code(), Some(ErrorCode::Internal));
    // Neither the message nor its entry exists.
    assert_eq!(count(&world.db, "SELECT COUNT(*) FROM queue").await, 0);
    assert_eq!(count(&world.db, "SELECT COUNT(*) FROM messages").await, 0);
    assert_eq!(
        count(
            &world.db,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'message.accepted'"
        )
        .await,
        0
    );
    // The log's tree state did not move either: the head equals its entries.
    assert_eq!(
        count(&world.db, "SELECT size FROM audit_head").await,
        count(&world.db, "SELECT COUNT(*) FROM audit_log").await
    );
    // Once the failure is gone the same message goes through, exactly once.
    let drop = match world.db.backend {
        Backend::Sqlite => "DROP TRIGGER inject_failure",
        Backend::Postgres => "DROP TRIGGER inject_failure ON audit_log",
    };
    sqlx::query(drop).execute(&mut c).await.unwrap();
    a.send(&[bob_id], MessageKind::Message, &mid("tx-1"), b"first try")
        .await
        .unwrap();
    let mut b = Client::connect(bob).await.unwrap();
    let got = b.next_message(WAIT).await.unwrap().unwrap();
    assert_eq!(got.content.as_ref().unwrap().as_slice(), b"first try");
    assert_eq!(
        count(
            &world.db,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'message.accepted'"
        )
        .await,
        1
    );
    a.close().await;
    b.close().await;
    world.stop().await;
});

on_every_backend!(the_database_refuses_to_change_the_log, |db| async move {
    let world = World::start(db).await;
    let before = count(&world.db, "SELECT COUNT(*) FROM audit_log").await;
    assert!(before > 0);
    let mut c = raw(&world.db).await;
    let statements: &[&str] = match world.db.backend {
        // SQLite has no TRUNCATE: the statement is refused outright, and its
        // equivalent (an unqualified DELETE, the "truncate optimisation")
        // fires the DELETE trigger.
        Backend::Sqlite => &[
            "UPDATE audit_log SET actor_user = 'u_mallory' WHERE seq = 1",
            "DELETE FROM audit_log WHERE seq = 1",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
            "UPDATE audit_nodes SET hash = x'00'",
            "DELETE FROM audit_nodes",
        ],
        Backend::Postgres => &[
            "UPDATE audit_log SET actor_user = 'u_mallory' WHERE seq = 1",
            "DELETE FROM audit_log WHERE seq = 1",
            "TRUNCATE audit_log",
            "UPDATE audit_nodes SET hash = '\\x00'",
            "DELETE FROM audit_nodes",
            "TRUNCATE audit_nodes",
        ],
    };
    for sql in statements {
        let err = sqlx::query(sql).execute(&mut c).await.unwrap_err();
        eprintln!("refused as owner: {sql}: {err}");
    }
    assert_eq!(count(&world.db, "SELECT COUNT(*) FROM audit_log").await, before);
    if world.db.backend == Backend::Postgres {
        // The application role has no UPDATE, DELETE or TRUNCATE privilege
        // at all: refused before any trigger runs.
        let role = format!(
            "cbs_app_{:08x}",
            rand_core::RngCore::next_u32(&mut rand_core::OsRng)
        );
        sqlx::raw_sql(&format!("CREATE ROLE {role} LOGIN IN ROLE curbside_app"))
            .execute(&mut c)
            .await
            .unwrap();
        let url = world
            .db
            .url
            .replacen("postgres://postgres@", &format!("postgres://{role}@"), 1);
        assert_ne!(url, world.db.url, "the test URL names the postgres user");
        let mut app = sqlx::PgConnection::connect(&url).await.unwrap();
        for sql in [
            "UPDATE audit_log SET actor_user = 'u_mallory' WHERE seq = 1",
            "DELETE FROM audit_log WHERE seq = 1",
            "TRUNCATE audit_log",
            "DELETE FROM audit_nodes",
            "TRUNCATE audit_nodes",
        ] {
            let err = sqlx::query(sql).execute(&mut app).await.unwrap_err();
            let code = err.as_database_error().and_then(|e| e.code()).unwrap_or_default();
            assert_eq!(code, "42501", "{sql}: {err}");
        }
        // It may read the log and use the other tables.
        sqlx::query("SELECT COUNT(*) FROM audit_log")
            .execute(&mut app)
            .await
            .unwrap();
        sqlx::query("SELECT COUNT(*) FROM queue")
            .execute(&mut app)
            .await
            .unwrap();
        app.close().await.unwrap();
        sqlx::raw_sql(&format!("DROP ROLE {role}"))
            .execute(&mut c)
            .await
            .unwrap();
    }
    world.stop().await;
});

on_every_backend!(
    compliance_endpoints_refuse_everyone_else_and_log_it,
    |db| async move {
        let world = World::start(db).await;
        let (alice, _bob) = world.alice_and_bob().await;
        let alice_token = world.login(&alice).await;
        let http = world.http();
        let base = format!("https://localhost:{}", world.server().addr.port());
        let endpoints = [
            "/v1/audit/entries",
            "/v1/audit/export",
            "/v1/audit/tree-head",
            "/v1/audit/proof/inclusion?seq=1",
            "/v1/audit/proof/consistency?first=1",
        ];
        for path in endpoints {
            let resp = http
                .get(format!("{base}{path}"))
                .bearer_auth(&alice_token)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 403, "{path}");
            let body: serde_json::Value = resp.json().await.unwrap();
            assert_eq!(body["code"], "forbidden");
            // The admin is not a compliance officer either.
            let resp = http
                .get(format!("{base}{path}"))
                .bearer_auth(&world.admin_token)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 403, "{path}");
            let resp = http.get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(resp.status(), 401, "{path} without a token");
        }
        let (_, token) = officer(&world).await;
        let refused = all(
            &world.api(),
            &token,
            AuditQuery {
                actor: Some(uid(&alice).to_string()),
                outcome: Some("failure".into()),
                ..AuditQuery::default()
            },
        )
        .await;
        let actions: Vec<&str> = refused.iter().map(|r| r.entry.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "audit.queried",
                "audit.exported",
                "audit.tree_head_requested",
                "audit.proof_requested",
                "audit.proof_requested"
            ]
        );
        assert!(refused
            .iter()
            .all(|r| r.entry.reason.as_deref() == Some("forbidden")
                && r.entry.source.as_deref() == Some("127.0.0.1")));
        let anonymous = all(
            &world.api(),
            &token,
            AuditQuery {
                outcome: Some("failure".into()),
                ..AuditQuery::default()
            },
        )
        .await
        .into_iter()
        .filter(|r| r.entry.actor_user.is_none() && r.entry.action.as_str().starts_with("audit."))
        .count();
        assert_eq!(anonymous, endpoints.len());
        // Bad parameters are refused and logged too.
        let bad = world
            .api()
            .audit_entries(
                &token,
                &AuditQuery {
                    action: Some("no.such.action".into()),
                    ..AuditQuery::default()
                },
            )
            .await
            .unwrap_err();
        assert_eq!(bad.code(), Some(ErrorCode::InvalidRequest));
        world.stop().await;
    }
);

/// Appends `n` entries directly through the store, in transactions of 5,000.
async fn bulk_append(store: &curbside_server::store::Store, n: u64) {
    let mut left = n;
    while left > 0 {
        let batch = left.min(5000);
        let events = (0..batch)
            .map(|i| {
                Event::new(&Actor::server(), Action::MessageExpired)
                    .counterpart(&curbside_protocol::ids::UserId::new("u_bulk").unwrap(), None)
                    .message(&mid(&format!("bulk-{}", left - i)))
            })
            .collect();
        store.record(events).await.unwrap();
        left -= batch;
    }
}

on_every_backend!(export_verify_round_trip_on_100k_entries, |db| async move {
    let world = World::start(db).await;
    let (_, token) = officer(&world).await;
    bulk_append(&world.server().state().store, 100_000).await;
    let api = world.api();
    let head = api.audit_tree_head(&token).await.unwrap();
    assert!(head.tree_head.size > 100_000);
    let mut export = Vec::new();
    let query = AuditQuery {
        through: Some(head.tree_head.size),
        ..AuditQuery::default()
    };
    let (through, _) = api.audit_export(&token, &query, &mut export).await.unwrap();
    assert_eq!(through, head.tree_head.size);
    let mut calls = 0;
    let verified = verify_export(
        std::io::Cursor::new(&export),
        &head.tree_head,
        head.log_key.as_slice(),
        None,
        |_| calls += 1,
    )
    .unwrap();
    assert_eq!(verified.entries, head.tree_head.size);
    assert!(calls > 90, "progress reported along the way");
    // One changed byte in one entry is named.
    let text = String::from_utf8(export).unwrap();
    let tampered = text.replacen("\"bulk-77777\"", "\"bulk-77778\"", 1);
    assert_ne!(tampered, text);
    let err = verify_export(
        std::io::Cursor::new(tampered.as_bytes()),
        &head.tree_head,
        head.log_key.as_slice(),
        None,
        |_| {},
    )
    .unwrap_err();
    let seq = text
        .lines()
        .find(|l| l.contains("\"bulk-77777\""))
        .map(|l| serde_json::from_str::<AuditRecord>(l).unwrap().entry.seq)
        .unwrap();
    assert_eq!(err, VerifyFailure::Altered { seq });
    // A dropped entry is named as a gap; a head from another key is refused.
    let dropped: String = text
        .lines()
        .enumerate()
        .filter(|(i, _)| *i != 500)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    let err = verify_export(
        std::io::Cursor::new(dropped.as_bytes()),
        &head.tree_head,
        head.log_key.as_slice(),
        None,
        |_| {},
    )
    .unwrap_err();
    assert_eq!(
        err,
        VerifyFailure::OutOfSequence {
            line: 501,
            expected: 501,
            found: 502
        }
    );
    let err = verify_export(
        std::io::Cursor::new(text.as_bytes()),
        &head.tree_head,
        &[9u8; 32],
        None,
        |_| {},
    )
    .unwrap_err();
    assert_eq!(err, VerifyFailure::BadSignature);
    world.stop().await;
});

on_every_backend!(
    pagination_returns_every_entry_once_while_appends_run,
    |db| async move {
        let world = World::start(db).await;
        let (_, token) = officer(&world).await;
        let store = world.server().state().store.clone();
        bulk_append(&store, 3000).await;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let appender = {
            let (store, stop) = (store.clone(), stop.clone());
            tokio::spawn(async move {
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let events = (0..7)
                        .map(|_| Event::new(&Actor::server(), Action::MessageExpired))
                        .collect();
                    store.record(events).await.unwrap();
                    n += 7;
                }
                n
            })
        };
        let api = world.api();
        // Unfiltered and filtered pagination, small pages, while entries arrive.
        let seen = all(
            &api,
            &token,
            AuditQuery {
                limit: Some(97),
                ..AuditQuery::default()
            },
        )
        .await;
        let filtered = all(
            &api,
            &token,
            AuditQuery {
                limit: Some(101),
                action: Some("message.expired".into()),
                ..AuditQuery::default()
            },
        )
        .await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let appended = appender.await.unwrap();
        assert!(appended > 0, "appends ran during pagination");
        let seqs: Vec<u64> = seen.iter().map(|r| r.entry.seq).collect();
        // Every entry exactly once, in order, with no gap up to the last one seen.
        assert_eq!(seqs, (1..=*seqs.last().unwrap()).collect::<Vec<_>>());
        assert!(seqs.len() > 3000);
        let fseqs: Vec<u64> = filtered.iter().map(|r| r.entry.seq).collect();
        assert!(fseqs.windows(2).all(|w| w[0] < w[1]));
        let all_expired: Vec<u64> = all(&api, &token, by_action(Action::MessageExpired))
            .await
            .into_iter()
            .map(|r| r.entry.seq)
            .filter(|s| s <= fseqs.last().unwrap())
            .collect();
        assert_eq!(
            fseqs, all_expired,
            "the filtered pages skipped or repeated nothing"
        );
        world.stop().await;
    }
);

// The tree the server serves is the tree of its entries, and every proof it
// serves verifies against its signed head.
on_every_backend!(served_proofs_verify_against_the_signed_head, |db| async move {
    let world = World::start(db).await;
    let (_, token) = officer(&world).await;
    bulk_append(&world.server().state().store, 300).await;
    // Referral entries (written by the referral service) are found by referral id.
    let referral =
        Event::new(&Actor::server(), Action::ReferralStatusChanged).referral(&"ref-42".parse().unwrap());
    world
        .server()
        .state()
        .store
        .record(vec![referral.clone(), referral])
        .await
        .unwrap();
    let api = world.api();
    let found = all(
        &api,
        &token,
        AuditQuery {
            referral_id: Some("ref-42".into()),
            ..AuditQuery::default()
        },
    )
    .await;
    assert_eq!(found.len(), 2);
    let head = api.audit_tree_head(&token).await.unwrap().tree_head;
    let key = world.server().state().log_key.public_key();
    for seq in [1, 2, 150, 255, 256, head.size] {
        let p = api.audit_inclusion(&token, seq, head.size).await.unwrap();
        let proof: Vec<merkle::Hash> = p.proof.iter().map(|h| h.0).collect();
        curbside_client::audit::verify_inclusion(&p.record, &proof, &head, &key).unwrap();
    }
    for first in [1, 7, 128, 256, head.size - 1] {
        let p = api.audit_consistency(&token, first, head.size).await.unwrap();
        let proof: Vec<merkle::Hash> = p.proof.iter().map(|h| h.0).collect();
        let old = api.audit_inclusion(&token, first, first).await.unwrap();
        // The root of the first `first` entries, recomputed from the export.
        let mut export = Vec::new();
        api.audit_export(
            &token,
            &AuditQuery {
                through: Some(first),
                ..AuditQuery::default()
            },
            &mut export,
        )
        .await
        .unwrap();
        let leaves: Vec<merkle::Hash> = String::from_utf8(export)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<AuditRecord>(l).unwrap().entry.leaf_hash())
            .collect();
        assert_eq!(leaves.len() as u64, first);
        assert_eq!(old.record.entry.seq, first);
        merkle::verify_consistency(first, head.size, &proof, &merkle::root_of(&leaves), &head.root.0)
            .unwrap();
    }
    world.stop().await;
});

// Group commit: sends that arrive together commit in one transaction. A send
// whose audit entry the database refuses makes that transaction roll back;
// every request of it is then retried on its own, so the other senders'
// messages still commit (each with its entry) and only the refused one fails.
on_every_backend!(
    one_failing_send_does_not_fail_the_others_committed_with_it,
    |db| async move {
        let world = World::start(db).await;
        let (alice, bob) = world.alice_and_bob().await;
        let carol = world.clinician("Dr. Carol Chen", NPIS[2], "Cardiology").await;
        let bob_id = uid(&bob);
        let mut c = raw(&world.db).await;
        match world.db.backend {
            Backend::Sqlite => {
                sqlx::query(
                    "CREATE TRIGGER inject_failure BEFORE INSERT ON audit_log \
                 WHEN NEW.message_id LIKE 'poison%' BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
                )
                .execute(&mut c)
                .await
                .unwrap();
            }
            Backend::Postgres => {
                sqlx::raw_sql(
                    "CREATE FUNCTION inject_failure() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN RAISE EXCEPTION 'injected failure'; END $$; \
                 CREATE TRIGGER inject_failure BEFORE INSERT ON audit_log FOR EACH ROW \
                 WHEN (NEW.message_id LIKE 'poison%') EXECUTE FUNCTION inject_failure();",
                )
                .execute(&mut c)
                .await
                .unwrap();
            }
        }
        const N: usize = 80;
        let mut a = Client::connect(alice).await.unwrap();
        let mut p = Client::connect(carol).await.unwrap();
        let to = bob_id.clone();
        let good = tokio::spawn(async move {
            for i in 0..N {
                a.send(
                    std::slice::from_ref(&to),
                    MessageKind::Message,
                    &mid(&format!("good{i}")),
                    b"ok",
                )
                .await
                .unwrap();
            }
            a
        });
        let to = bob_id.clone();
        let bad = tokio::spawn(async move {
            for i in 0..N {
                let refused = p
                    .send(
                        std::slice::from_ref(&to),
                        MessageKind::Message,
                        &mid(&format!("poison{i}")),
                        b"x",
                    )
                    .await;
                assert_eq!(refused.unwrap_err().code(), Some(ErrorCode::Internal));
            }
            p
        });
        let (a, p) = (good.await.unwrap(), bad.await.unwrap());
        let accepted = |pattern: &'static str| {
            let db = &world.db;
            async move {
                count(
                db,
                &format!("SELECT COUNT(*) FROM audit_log WHERE action = 'message.accepted' AND message_id LIKE '{pattern}'"),
            )
            .await
            }
        };
        assert_eq!(accepted("good%").await, i64::try_from(N).unwrap());
        assert_eq!(accepted("poison%").await, 0);
        assert_eq!(
            count(
                &world.db,
                "SELECT COUNT(*) FROM messages WHERE message_id LIKE 'poison%'"
            )
            .await,
            0
        );
        let mut b = Client::connect(bob).await.unwrap();
        let mut got = 0;
        while let Some(r) = b.next_message(QUIET).await.unwrap() {
            assert!(r.message_id.as_str().starts_with("good"));
            b.ack(&[r.delivery_id]).await.unwrap();
            got += 1;
        }
        assert_eq!(got, N);
        a.close().await;
        p.close().await;
        b.close().await;
        world.stop().await;
    }
);
