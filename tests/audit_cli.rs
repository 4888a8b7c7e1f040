//! The compliance officer's CLI against the real binary, on SQLite and
//! PostgreSQL: export and verify; an entry edited directly in the database
//! (triggers dropped, as an attacker with disk access would) is named by
//! `curbside audit verify`; deleting the last entries and appending
//! different ones is caught by the consistency check against the saved tree
//! head, on every later run; offline verification refuses an export shorter
//! than (or not extending) the saved head; `audit query` and `audit export`
//! check every entry against the signed head.

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
    let ok = |args: &[&str]| ok(&dir, &server, args);
    let fails = |args: &[&str]| fails(&dir, &server, args);

    enroll_admin(&dir, &server);
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
    // A new export is refused, unless kept anyway as evidence.
    let alarm = fails(&[
        "audit",
        "export",
        "--profile",
        "officer",
        "--out",
        "tampered.jsonl",
        "--export-anyway",
    ]);
    assert!(alarm.contains("entry 5 was altered"), "{alarm}");
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

/// Runs a command; returns whether it succeeded, its stdout and its stderr.
fn run(dir: &Path, server: &Process, args: &[&str]) -> (bool, String, String) {
    let out = cli(dir, server, args);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Enrolls the admin and one compliance officer per profile name.
fn enroll_officers(dir: &Path, server: &Process, officers: &[&str]) {
    enroll_admin(dir, server);
    for profile in officers {
        let invite = ok(
            dir,
            server,
            &[
                "admin",
                "invite",
                "--profile",
                "admin",
                "--role",
                "compliance_officer",
            ],
        );
        let name = format!("Officer {profile}");
        ok(
            dir,
            server,
            &[
                "enroll",
                "--profile",
                profile,
                "--invite",
                &invite,
                "--name",
                &name,
            ],
        );
    }
}

fn profile_saved_size(dir: &Path, profile: &str) -> i64 {
    let path = dir.join(profile).join("audit-witness.json");
    let witness: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    witness["last_head"]["size"].as_i64().unwrap()
}

/// The records of a JSONL export.
fn records(path: &Path) -> Vec<curbside_protocol::audit::AuditRecord> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The table row of entry `seq` in `audit query` output.
fn row(table: &str, seq: u64) -> &str {
    let prefix = format!("{seq}  ");
    table
        .lines()
        .find(|l| l.trim_start().starts_with(&prefix))
        .unwrap_or_else(|| panic!("no row for entry {seq} in\n{table}"))
}

// An officer saves a tree head; entries are then deleted and the stored
// tree rewound, and someone without that saved head exports the shorter
// log. Offline verification with the saved head must refuse the export
// (it used to print "OK"), and must also refuse one whose first entries
// do not reproduce the saved head. An older, untouched export still
// verifies, with a note that it stops before the saved head.
on_every_backend!(
    offline_verify_refuses_a_log_shorter_than_the_saved_head,
    |db: Db| async move {
        let dir = db.dir.path().to_path_buf();
        let mut server = spawn_for_cli(&db, "127.0.0.1:0");
        enroll_officers(&dir, &server, &["carol", "dave"]);
        let ok = |args: &[&str]| ok(&dir, &server, args);
        let run = |args: &[&str]| run(&dir, &server, args);

        // Carol exports, then keeps checking: her saved head grows past the export.
        ok(&["audit", "export", "--profile", "carol", "--out", "before.jsonl"]);
        for _ in 0..3 {
            ok(&["admin", "users", "--profile", "admin"]);
        }
        ok(&["audit", "query", "--profile", "carol"]);
        let seen = profile_saved_size(&dir, "carol");
        let (good, stdout, stderr) = run(&["audit", "verify", "--profile", "carol", "before.jsonl"]);
        assert!(good, "an untouched older export still verifies: {stderr}");
        assert!(stdout.starts_with("OK: "), "{stdout}");
        assert!(
            stderr.contains("older than the tree head you saved")
                && stderr.contains(&format!("{seen} entries")),
            "the officer is told the export stops before what they saw: {stderr}"
        );

        // The attacker deletes the newest entries and rewinds the tree; Dave,
        // who has no saved head, exports the shorter log.
        let mut c = raw(&db).await;
        disable_protection(&db, &mut c).await;
        truncate_to(&mut c, seen - 4).await;
        ok(&["audit", "export", "--profile", "dave", "--out", "truncated.jsonl"]);
        let exported = i64::try_from(records(&dir.join("truncated.jsonl")).len()).unwrap();
        assert!(exported < seen, "{exported} < {seen}");

        let (good, stdout, alarm) = run(&["audit", "verify", "--profile", "carol", "truncated.jsonl"]);
        assert!(!good, "a truncated export must not verify: {stdout}");
        assert!(!stdout.contains("OK"), "{stdout}");
        assert!(alarm.contains("AUDIT LOG INTEGRITY FAILURE"), "{alarm}");
        assert!(alarm.contains("shrank"), "{alarm}");
        assert!(
            alarm.contains(&format!("{seen} entries")) && alarm.contains(&format!("only {exported}")),
            "the alarm says what was seen and what is left: {alarm}"
        );
        assert!(alarm.contains("audit-witness.json"), "and what to keep: {alarm}");
        assert_eq!(
            profile_saved_size(&dir, "carol"),
            seen,
            "offline verify never moves the saved head"
        );
        // Online, Carol's next run refuses too (shrank, or rewritten once
        // Dave's own runs have appended past her head).
        let (good, _, alarm) = run(&["audit", "query", "--profile", "carol"]);
        assert!(!good, "{alarm}");
        assert!(
            alarm.contains("shrank") || alarm.contains("was rewritten"),
            "{alarm}"
        );

        // New entries are appended until the log is longer than Carol's head
        // again: the export is long enough, but not an extension of what she saw.
        while profile_saved_size(&dir, "dave") <= seen + 2 {
            ok(&["audit", "query", "--profile", "dave"]);
        }
        ok(&["audit", "export", "--profile", "dave", "--out", "rewritten.jsonl"]);
        let (good, _, alarm) = run(&["audit", "verify", "--profile", "carol", "rewritten.jsonl"]);
        assert!(!good);
        assert!(alarm.contains("AUDIT LOG INTEGRITY FAILURE"), "{alarm}");
        assert!(
            alarm.contains(&format!("first {seen} entries do not reproduce the tree head")),
            "{alarm}"
        );

        c.close().await.unwrap();
        server.child.kill().unwrap();
        let _ = server.child.wait();
        db.drop_database().await;
    }
);

// `audit query` checks every entry it shows against its recorded hash and
// an inclusion proof in the verified head; `audit export` checks every file
// it writes (JSONL, CSV, filtered) against the signed head and refuses to
// write one that does not match unless told to (and then says so); a CSV
// given to `audit verify` is refused as a CSV, not as an integrity failure.
on_every_backend!(query_and_export_check_every_entry, |db: Db| async move {
    let dir = db.dir.path().to_path_buf();
    let mut server = spawn_for_cli(&db, "127.0.0.1:0");
    enroll_officers(&dir, &server, &["carol"]);
    let ok = |args: &[&str]| ok(&dir, &server, args);
    let run = |args: &[&str]| run(&dir, &server, args);

    // Clean: every kind of export is written and checked, none is an alarm.
    let (good, table, stderr) = run(&["audit", "query", "--profile", "carol"]);
    assert!(good, "{stderr}");
    assert!(!table.contains("!!!"), "{table}");
    let out = ok(&["audit", "export", "--profile", "carol", "--out", "clean.jsonl"]);
    assert!(out.contains("Checked"), "{out}");
    let clean = records(&dir.join("clean.jsonl"));
    let fifth = clean[4].entry.action.as_str().to_owned();
    let out = ok(&[
        "audit",
        "export",
        "--profile",
        "carol",
        "--out",
        "clean.csv",
        "--format",
        "csv",
    ]);
    assert!(out.contains("Checked"), "{out}");
    let out = ok(&[
        "audit",
        "export",
        "--profile",
        "carol",
        "--out",
        "mine.jsonl",
        "--action",
        &fifth,
    ]);
    assert!(out.contains("Checked"), "{out}");
    let (good, _, stderr) = run(&["audit", "verify", "--profile", "carol", "clean.csv"]);
    assert!(!good);
    assert!(
        stderr.contains("CSV exports cannot be verified; use JSONL"),
        "{stderr}"
    );
    assert!(!stderr.contains("INTEGRITY"), "a CSV is not an alarm: {stderr}");

    // The attacker edits entry 5 in place.
    let mut c = raw(&db).await;
    disable_protection(&db, &mut c).await;
    sqlx::query("UPDATE audit_log SET actor_user = 'u_mallory' WHERE seq = 5")
        .execute(&mut c)
        .await
        .unwrap();

    // Query: entry 5 is marked, the others are not, and the run fails.
    let (good, table, alarm) = run(&["audit", "query", "--profile", "carol"]);
    assert!(!good, "an altered entry fails the query");
    assert!(row(&table, 5).contains("ALTERED"), "{table}");
    assert!(
        !row(&table, 4).contains("!!!") && !row(&table, 6).contains("!!!"),
        "{table}"
    );
    assert!(alarm.contains("AUDIT LOG INTEGRITY FAILURE"), "{alarm}");
    assert!(alarm.contains("entry 5 was altered"), "{alarm}");
    assert!(!alarm.contains("tree head verified"), "{alarm}");
    let (good, json, alarm) = run(&["audit", "query", "--profile", "carol", "--json"]);
    assert!(!good && alarm.contains("entry 5 was altered"), "{json}\n{alarm}");
    // A page that does not show entry 5 is fine.
    let (good, _, stderr) = run(&["audit", "query", "--profile", "carol", "--limit", "4"]);
    assert!(good, "{stderr}");

    // Export: refused in every form, nothing left behind.
    let leftovers = |dir: &Path| {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("t.") || n.contains("partial"))
            .collect::<Vec<_>>()
    };
    let variants: [&[&str]; 3] = [&[], &["--format", "csv"], &["--action", &fifth]];
    for extra in variants {
        let mut args = vec!["audit", "export", "--profile", "carol", "--out", "t.out"];
        args.extend_from_slice(extra);
        let (good, _, alarm) = run(&args);
        assert!(!good, "export {extra:?} must be refused");
        assert!(alarm.contains("AUDIT LOG INTEGRITY FAILURE"), "{alarm}");
        assert!(alarm.contains("entry 5 was altered"), "{alarm}");
        assert!(alarm.contains("--export-anyway"), "{alarm}");
        assert!(!dir.join("t.out").exists(), "export {extra:?} wrote a file");
        assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));
    }
    // Unless asked to export anyway: written, and said loudly.
    let (good, _, alarm) = run(&[
        "audit",
        "export",
        "--profile",
        "carol",
        "--out",
        "evidence.jsonl",
        "--export-anyway",
    ]);
    assert!(!good, "still an integrity failure");
    assert!(alarm.contains("AUDIT LOG INTEGRITY FAILURE"), "{alarm}");
    assert!(alarm.contains("written anyway"), "{alarm}");
    assert!(dir.join("evidence.jsonl").exists() && dir.join("evidence.jsonl.tree-head.json").exists());
    let (good, _, alarm) = run(&["audit", "verify", "--profile", "carol", "evidence.jsonl"]);
    assert!(!good && alarm.contains("entry 5 was altered"), "{alarm}");

    // Entry 7 edited along with its recorded hash: its content matches its
    // hash, but the hash is not the one in the signed tree.
    let mut seventh = records(&dir.join("evidence.jsonl"))[6].clone();
    seventh.entry.source = Some("203.0.113.66".into());
    let leaf = seventh.entry.leaf_hash();
    sqlx::query("UPDATE audit_log SET source = '203.0.113.66', leaf_hash = $1 WHERE seq = 7")
        .bind(leaf.to_vec())
        .execute(&mut c)
        .await
        .unwrap();
    let (good, table, alarm) = run(&["audit", "query", "--profile", "carol"]);
    assert!(!good);
    assert!(row(&table, 7).contains("NOT IN THE SIGNED TREE"), "{table}");
    assert!(alarm.contains("entry 7"), "{alarm}");
    let (good, _, alarm) = run(&["audit", "proof", "--profile", "carol", "7"]);
    assert!(!good && alarm.contains("AUDIT LOG INTEGRITY FAILURE"), "{alarm}");

    c.close().await.unwrap();
    server.child.kill().unwrap();
    let _ = server.child.wait();
    db.drop_database().await;
});
