//! The compliance officer's CLI against the real binary, on SQLite and
//! PostgreSQL: export and verify; an entry edited directly in the database
//! (triggers dropped, as an attacker with disk access would) is named by
//! `curbside audit verify`; deleting the last entries and appending
//! different ones is caught by the consistency check against the saved tree
//! head, on every later run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)]

mod common;

use std::path::Path;

use common::*;
use curbside_protocol::merkle::CompactRange;
use curbside_server::store::Backend;
use sqlx::{Connection as _, Row as _};

fn ok(dir: &Path, server: &Process, args: &[&str]) -> String {
    cli_ok(dir, server, args)
}

/// Runs a command that must fail; returns stderr.
fn fails(dir: &Path, server: &Process, args: &[&str]) -> String {
    let out = cli(dir, server, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "curbside {args:?} should have failed; stderr: {stderr}"
    );
    stderr
}

async fn raw(db: &Db) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(&db.url).await.unwrap()
}

/// What an attacker with write access to the database does first.
async fn disable_protection(db: &Db, c: &mut sqlx::AnyConnection) {
    let statements: &[&str] = match db.backend {
        Backend::Sqlite => &[
            "DROP TRIGGER audit_log_no_update",
            "DROP TRIGGER audit_log_no_delete",
            "DROP TRIGGER audit_nodes_no_delete",
        ],
        Backend::Postgres => &[
            "ALTER TABLE audit_log DISABLE TRIGGER USER",
            "ALTER TABLE audit_nodes DISABLE TRIGGER USER",
        ],
    };
    for sql in statements {
        sqlx::query(sql).execute(&mut *c).await.unwrap();
    }
}

/// Deletes every entry after `keep` and rewinds the tree to match, so the
/// server itself sees a consistent (but different) history.
async fn truncate_to(c: &mut sqlx::AnyConnection, keep: i64) {
    sqlx::query("DELETE FROM audit_log WHERE seq > $1")
        .bind(keep)
        .execute(&mut *c)
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit_nodes WHERE ((idx + 1) << level) > $1")
        .bind(keep)
        .execute(&mut *c)
        .await
        .unwrap();
    let rows = sqlx::query("SELECT leaf_hash FROM audit_log ORDER BY seq")
        .fetch_all(&mut *c)
        .await
        .unwrap();
    let mut tree = CompactRange::new();
    for r in rows {
        tree.append(r.get::<Vec<u8>, _>(0).try_into().unwrap());
    }
    assert_eq!(tree.size(), u64::try_from(keep).unwrap());
    sqlx::query("UPDATE audit_head SET size = $1, peaks = $2")
        .bind(keep)
        .bind(tree.peaks_bytes())
        .execute(&mut *c)
        .await
        .unwrap();
}

fn saved_size(dir: &Path) -> i64 {
    let witness: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("officer/audit-witness.json")).unwrap()).unwrap();
    witness["last_head"]["size"].as_i64().unwrap()
}

on_every_backend!(tampering_is_caught_by_the_cli, |db: Db| async move {
    let dir = db.dir.path().to_path_buf();
    let mut server = spawn_for_cli(&db, "127.0.0.1:0");
    let token = server.token.clone().unwrap();
    let ok = |args: &[&str]| ok(&dir, &server, args);
    let fails = |args: &[&str]| fails(&dir, &server, args);

    ok(&[
        "enroll",
        "--profile",
        "admin",
        "--invite",
        &token,
        "--name",
        "Site Admin",
    ]);
    let invite = ok(&[
        "admin",
        "invite",
        "--profile",
        "admin",
        "--role",
        "compliance_officer",
    ]);
    ok(&[
        "enroll",
        "--profile",
        "officer",
        "--invite",
        &invite,
        "--name",
        "Carol Compliance",
    ]);

    // Query: a readable table, and the first run pins the key and the head.
    let table = ok(&[
        "audit",
        "query",
        "--profile",
        "officer",
        "--action",
        "user.enrolled",
    ]);
    assert!(table.starts_with("SEQ  TIME (UTC)"), "{table}");
    assert_eq!(table.lines().filter(|l| l.contains("user.enrolled")).count(), 2);
    let witness: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("officer/audit-witness.json")).unwrap()).unwrap();
    assert_eq!(
        witness["log_key"].as_str(),
        server.log_key.as_deref(),
        "the pinned key is the one `serve` printed"
    );
    let json = ok(&["audit", "query", "--profile", "officer", "--json", "--limit", "3"]);
    assert_eq!(json.lines().count(), 3);
    // Export and verify.
    let out = ok(&["audit", "export", "--profile", "officer", "--out", "log.jsonl"]);
    assert!(out.starts_with("Exported entries 1..="), "{out}");
    let verified = ok(&["audit", "verify", "--profile", "officer", "log.jsonl"]);
    assert!(verified.starts_with("OK: "), "{verified}");
    ok(&[
        "audit",
        "export",
        "--profile",
        "officer",
        "--out",
        "log.csv",
        "--format",
        "csv",
    ]);
    assert!(std::fs::read_to_string(dir.join("log.csv"))
        .unwrap()
        .contains("user.enrolled"));
    let proof = ok(&["audit", "proof", "--profile", "officer", "4"]);
    assert!(proof.contains("Entry 4 is included"), "{proof}");

    // The attacker edits entry 5 in place.
    let mut c = raw(&db).await;
    disable_protection(&db, &mut c).await;
    let edited = sqlx::query("UPDATE audit_log SET actor_user = 'u_mallory' WHERE seq = 5")
        .execute(&mut c)
        .await
        .unwrap();
    assert_eq!(edited.rows_affected(), 1);
    // The untouched old export still verifies; a new one names entry 5.
    ok(&["audit", "verify", "--profile", "officer", "log.jsonl"]);
    ok(&[
        "audit",
        "export",
        "--profile",
        "officer",
        "--out",
        "tampered.jsonl",
    ]);
    let alarm = fails(&["audit", "verify", "--profile", "officer", "tampered.jsonl"]);
    assert!(alarm.contains("AUDIT LOG INTEGRITY FAILURE"), "{alarm}");
    assert!(alarm.contains("entry 5 was altered"), "{alarm}");
    let alarm = fails(&["audit", "proof", "--profile", "officer", "5"]);
    assert!(alarm.contains("entry 5 was altered"), "{alarm}");

    // The attacker deletes the last entries and lets new, different ones be appended.
    let seen = saved_size(&dir);
    truncate_to(&mut c, seen - 3).await;
    for _ in 0..3 {
        ok(&["admin", "users", "--profile", "admin"]);
    }
    let alarm = fails(&["audit", "query", "--profile", "officer"]);
    assert!(alarm.contains("AUDIT LOG INTEGRITY FAILURE"), "{alarm}");
    assert!(alarm.contains("was rewritten"), "{alarm}");
    assert_eq!(
        saved_size(&dir),
        seen,
        "the saved head is kept, so the alarm repeats"
    );
    let again = fails(&["audit", "export", "--profile", "officer", "--out", "after.jsonl"]);
    assert!(again.contains("AUDIT LOG INTEGRITY FAILURE"), "{again}");
    // Deleting without re-appending: the log shrank.
    truncate_to(&mut c, 3).await;
    let alarm = fails(&["audit", "query", "--profile", "officer"]);
    assert!(
        alarm.contains("shrank") || alarm.contains("was rewritten"),
        "{alarm}"
    );

    c.close().await.unwrap();
    server.child.kill().unwrap();
    let _ = server.child.wait();
    db.drop_database().await;
});
