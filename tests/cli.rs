//! The README walkthrough, with the real binary: serve, bootstrap the admin,
//! invite and enroll two clinicians, verify them, find a colleague, exchange messages.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use curbside_server::store::Backend;

/// Runs `curbside ARGS` in `dir`; returns stdout, panicking with stderr on failure.
fn run(dir: &Path, server: &Process, args: &[&str]) -> String {
    cli_ok(dir, server, args)
}

fn user_of(whoami: &str) -> String {
    whoami.split_whitespace().nth(1).unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_walkthrough_with_the_cli() {
    let db = Db::new(Backend::Sqlite).await.unwrap();
    let dir = db.dir.path().to_path_buf();
    // The server's data dir is `curbside-data` inside the working directory, as in the README.
    let mut server = spawn_for_cli(&db, "127.0.0.1:0");
    let run = |args: &[&str]| run(&dir, &server, args);

    enroll_admin(&dir, &server);
    let invite_alice = run(&["admin", "invite", "--profile", "admin"]);
    let invite_bob = run(&["admin", "invite", "--profile", "admin", "--role", "clinician"]);
    run(&[
        "enroll",
        "--profile",
        "alice",
        "--invite",
        &invite_alice,
        "--name",
        "Dr. Alice Adeyemi",
        "--npi",
        "1234567893",
        "--specialty",
        "Dermatology",
    ]);
    run(&[
        "enroll",
        "--profile",
        "bob",
        "--invite",
        &invite_bob,
        "--name",
        "Dr. Bob Brennan",
        "--npi",
        "1245319599",
        "--specialty",
        "Internal Medicine",
    ]);
    let alice = user_of(&run(&["whoami", "--profile", "alice"]));
    let bob = user_of(&run(&["whoami", "--profile", "bob"]));
    // Unverified clinicians are not in the directory yet.
    assert_eq!(
        run(&[
            "directory",
            "--profile",
            "alice",
            "--specialty",
            "internal medicine"
        ]),
        "No verified clinician matches."
    );
    run(&["admin", "verify", "--profile", "admin", &alice]);
    run(&["admin", "verify", "--profile", "admin", &bob]);
    let found = run(&[
        "directory",
        "search",
        "--profile",
        "alice",
        "--specialty",
        "internal medicine",
    ]);
    assert!(
        found.contains(&bob) && found.contains("Dr. Bob Brennan"),
        "{found}"
    );

    // As the README does: the colleague by name.
    assert!(run(&[
        "send",
        "--profile",
        "alice",
        "--to",
        "Bob Brennan",
        "--id",
        "consult-1",
        "Quick question about a pruritic rash"
    ])
    .starts_with("Accepted:"));
    assert!(run(&[
        "send",
        "--profile",
        "alice",
        "--to",
        &bob,
        "--id",
        "consult-1",
        "Quick question about a pruritic rash"
    ])
    .starts_with("Already accepted:"));
    let inbox = run(&["inbox", "--profile", "bob", "--wait", "1"]);
    assert_eq!(
        inbox, "[consult-1] from Dr. Alice Adeyemi (device 1): Quick question about a pruritic rash",
        "the sender by name"
    );
    run(&[
        "send",
        "--profile",
        "bob",
        "--to",
        "Alice Adeyemi",
        "Send me a photo",
    ]);
    let inbox = run(&["inbox", "--profile", "alice", "--wait", "1", "--json"]);
    let message: serde_json::Value = serde_json::from_str(&inbox).unwrap();
    assert_eq!(
        (message["from"].as_str(), message["text"].as_str()),
        (Some(bob.as_str()), Some("Send me a photo"))
    );
    assert_eq!(
        run(&["inbox", "--profile", "alice", "--wait", "1"]),
        "No new messages."
    );

    // The profile is sealed: a wrong passphrase is refused and nothing is overwritten.
    let sealed = std::fs::read(dir.join("alice/profile.sealed")).unwrap();
    let wrong = Command::new(env!("CARGO_BIN_EXE_curbside"))
        .current_dir(&dir)
        .args(["whoami", "--profile", "alice"])
        .env("CURBSIDE_PASSPHRASE", "not the passphrase")
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("wrong passphrase"));
    assert_eq!(std::fs::read(dir.join("alice/profile.sealed")).unwrap(), sealed);
    // Neither the plaintext structure nor the user id is readable on disk.
    for needle in [b"\"identity\"".as_slice(), alice.as_bytes()] {
        assert!(
            !sealed.windows(needle.len()).any(|w| w == needle),
            "profile readable without the passphrase"
        );
    }

    server.child.kill().unwrap();
    server.child.wait().unwrap();
}
