//! Conversations with the real binary: history and status in the sealed
//! local state (sent, delivered, read via end-to-end read receipts),
//! attachments sent and downloaded, nothing readable on disk.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use common::*;
use curbside_server::store::Backend;

/// Every file under `dir`, concatenated.
fn all_bytes(dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(all_bytes(&p));
        } else {
            out.extend(std::fs::read(&p).unwrap());
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_receipts_and_attachments_from_the_cli() {
    let db = Db::new(Backend::Sqlite).await.unwrap();
    let dir = db.dir.path().to_path_buf();
    let mut server = spawn_for_cli(&db, "127.0.0.1:0");
    let run = |args: &[&str]| cli_ok(&dir, &server, args);
    let (alice, bob) = two_clinicians(&dir, &server);

    // A text, read by Bob; Alice sees it delivered, then read.
    let marker = "MARKER-4c1d Jane Roe, 58, rash on both forearms";
    run(&["send", "--profile", "alice", "--to", &bob, "--id", "q1", marker]);
    let inbox = run(&["sync", "--profile", "bob", "--wait", "1"]);
    assert_eq!(inbox, format!("[q1] from Dr. alice (device 1): {marker}"));
    // --with takes a name the profile knows as well as an id.
    let by_name = run(&["history", "--profile", "bob", "--with", "Dr. alice"]);
    assert!(
        by_name.contains(marker) && by_name.contains("Dr. alice"),
        "{by_name}"
    );
    let history = run(&["history", "--profile", "bob", "--with", &alice]);
    assert!(
        history.contains(marker) && history.contains("(received, q1)"),
        "{history}"
    );
    assert_eq!(
        run(&["inbox", "--profile", "alice", "--wait", "1"]),
        "No new messages."
    );
    let history = run(&["history", "--profile", "alice", "--with", &bob, "--json"]);
    let first: serde_json::Value = serde_json::from_str(history.lines().next().unwrap()).unwrap();
    assert_eq!(first["status"], "read", "{history}");
    assert_eq!(first["content"]["text"], marker);

    // An attachment: encrypted, uploaded, referenced in a message, downloaded and verified.
    let image: Vec<u8> = (0..50u32 * 1024 * 1024)
        .map(|i| u8::try_from((i * 7 + i / 251) % 256).unwrap())
        .collect();
    std::fs::write(dir.join("rash.jpg"), &image).unwrap();
    let sent = run(&["attach", "--profile", "alice", "--to", &bob, "rash.jpg"]);
    assert!(sent.starts_with("Sent rash.jpg (52428800 bytes"), "{sent}");
    let message_id = sent.rsplit(' ').next().unwrap().to_owned();
    let inbox = run(&["sync", "--profile", "bob", "--wait", "1", "--json"]);
    let got: serde_json::Value = serde_json::from_str(&inbox).unwrap();
    assert_eq!(got["content"]["type"], "attachment");
    assert_eq!(got["content"]["name"], "rash.jpg");
    assert_eq!(got["message_id"], message_id.as_str());
    let saved = run(&[
        "download",
        "--profile",
        "bob",
        &message_id,
        "--out",
        "from-alice.jpg",
    ]);
    assert!(saved.starts_with("Saved rash.jpg (52428800 bytes)"), "{saved}");
    assert_eq!(std::fs::read(dir.join("from-alice.jpg")).unwrap(), image);
    let contacts = run(&["contacts", "--profile", "bob"]);
    assert!(
        contacts.starts_with(&format!("Dr. alice (Dermatology)  {alice}  2 messages")),
        "{contacts}"
    );

    // Safety numbers: both sides compute the same number; confirming it marks Bob verified.
    let alice_view = run(&["verify", "--profile", "alice", "--with", &bob]);
    let bob_view = run(&["verify", "--profile", "bob", "--with", &alice]);
    let digits = |view: &str| -> String {
        view.lines()
            .skip(1)
            .take(2)
            .flat_map(|l| l.chars().filter(char::is_ascii_digit))
            .collect()
    };
    assert_eq!(digits(&alice_view).len(), 60, "{alice_view}");
    assert_eq!(digits(&alice_view), digits(&bob_view));
    let wrong = cli(
        &dir,
        &server,
        &[
            "verify",
            "--profile",
            "alice",
            "--with",
            &bob,
            "--confirm",
            "12345",
        ],
    );
    assert!(!wrong.status.success());
    let confirmed = run(&[
        "verify",
        "--profile",
        "alice",
        "--with",
        &bob,
        "--confirm",
        &digits(&bob_view),
    ]);
    assert!(confirmed.starts_with("Verified"), "{confirmed}");
    assert!(run(&["contacts", "--profile", "alice"]).contains("verified"));

    // Bob approves a second device from his first. Alice's next message is
    // refused before anything is encrypted (Bob's keys changed since she
    // verified them: a script must say --allow-unverified); with it, the
    // message reaches the new device, and Alice is warned on every view.
    let device_invite = run(&["devices", "add", "--profile", "bob"]);
    run(&["enroll", "--profile", "bob2", "--invite", &device_invite]);
    let devices = run(&["devices", "list", "--profile", "bob"]);
    assert!(
        devices.contains("device 1 (this one)") && devices.contains("device 2"),
        "{devices}"
    );
    let refused = cli(
        &dir,
        &server,
        &[
            "send",
            "--profile",
            "alice",
            "--to",
            &bob,
            "--id",
            "q2",
            "Did the biopsy come back?",
        ],
    );
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success()
            && said.contains("identity keys changed since you verified them")
            && said.contains("--allow-unverified"),
        "{said}"
    );
    assert!(!run(&["history", "--profile", "alice", "--with", &bob]).contains("Did the biopsy"));
    run(&[
        "send",
        "--profile",
        "alice",
        "--to",
        &bob,
        "--id",
        "q2",
        "--allow-unverified",
        "Did the biopsy come back?",
    ]);
    let on_second = run(&["sync", "--profile", "bob2", "--wait", "1"]);
    assert!(on_second.contains("Did the biopsy come back?"), "{on_second}");
    let changed = cli(&dir, &server, &["history", "--profile", "alice", "--with", &bob]);
    assert!(String::from_utf8_lossy(&changed.stderr).contains("identity keys changed"));
    assert!(run(&["contacts", "--profile", "alice"]).contains("KEYS CHANGED"));
    // Bob revokes the second device: it receives nothing further.
    run(&["devices", "revoke", "--profile", "bob", "2"]);
    assert!(run(&["devices", "list", "--profile", "bob"]).contains("REVOKED"));
    run(&["send", "--profile", "alice", "--to", &bob, "--id", "q3", "Thanks"]);
    assert!(!cli(&dir, &server, &["sync", "--profile", "bob2", "--wait", "1"])
        .status
        .success());
    assert!(run(&["sync", "--profile", "bob", "--wait", "1"]).contains("Thanks"));

    // A disappearing-message timer, set by Alice, enforced by both clients,
    // on the messages sent after it (the conversation before it is kept).
    let set = run(&["timer", "--profile", "alice", "--with", &bob, "--seconds", "3"]);
    assert!(
        set.contains("disappear 3 seconds after") && set.contains("before now is kept"),
        "{set}"
    );
    assert!(run(&["sync", "--profile", "bob", "--wait", "1"])
        .contains("messages sent from now on disappear 3 seconds after they are sent"));
    run(&[
        "send",
        "--profile",
        "alice",
        "--to",
        &bob,
        "--id",
        "q4",
        "ephemeral: call me",
    ]);
    assert!(run(&["sync", "--profile", "bob", "--wait", "1"]).contains("ephemeral: call me"));
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    for (who, with) in [("alice", &bob), ("bob", &alice)] {
        let history = run(&["history", "--profile", who, "--with", with]);
        assert!(!history.contains("ephemeral: call me"), "{who}: {history}");
        assert!(
            history.contains("Thanks"),
            "{who} keeps what came before the timer: {history}"
        );
    }

    // Nothing readable on disk: not the text, not the image, not in either profile.
    for profile in ["alice", "bob", "bob2"] {
        let bytes = all_bytes(&dir.join(profile));
        assert!(
            !contains(&bytes, b"MARKER-4c1d"),
            "{profile} holds the message in clear"
        );
        assert!(
            !contains(&bytes, &image[1000..1064]),
            "{profile} holds the image in clear"
        );
        assert!(
            !contains(&bytes, b"rash.jpg"),
            "{profile} holds the file name in clear"
        );
    }
    // A wrong passphrase is refused and the sealed state is left untouched.
    let state = std::fs::read(dir.join("bob/state.sealed")).unwrap();
    let wrong = std::process::Command::new(env!("CARGO_BIN_EXE_curbside"))
        .current_dir(&dir)
        .args(["history", "--profile", "bob", "--with", &alice])
        .env("CURBSIDE_PASSPHRASE", "not the passphrase")
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("wrong passphrase"));
    assert_eq!(std::fs::read(dir.join("bob/state.sealed")).unwrap(), state);

    server.child.kill().unwrap();
    let _ = server.child.wait();
}

/// Enrolls the admin, then Alice and Bob (verified clinicians); returns their user ids.
fn two_clinicians(dir: &Path, server: &Process) -> (String, String) {
    let ids = clinicians(dir, server, &["alice", "bob"]);
    (ids[0].clone(), ids[1].clone())
}

/// Enrolls the admin, then one verified dermatologist per profile name; returns their user ids.
fn clinicians(dir: &Path, server: &Process, profiles: &[&str]) -> Vec<String> {
    let who: Vec<(&str, &str)> = profiles.iter().map(|p| (*p, "Dermatology")).collect();
    enroll_clinicians(dir, server, &who)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_survives_a_server_outage_and_restarts() {
    let db = Db::new(Backend::Sqlite).await.unwrap();
    let dir = db.dir.path().to_path_buf();
    let listen = free_address();
    let mut server = spawn_for_cli(&db, &listen);
    let (alice, bob) = two_clinicians(&dir, &server);
    cli_ok(
        &dir,
        &server,
        &[
            "send",
            "--profile",
            "alice",
            "--to",
            &bob,
            "--id",
            "before",
            "hello",
        ],
    );

    // The server goes away; Alice's message waits in her sealed outbox.
    server.child.kill().unwrap();
    let _ = server.child.wait();
    let queued = cli_ok(
        &dir,
        &server,
        &[
            "send",
            "--profile",
            "alice",
            "--to",
            &bob,
            "--id",
            "during",
            "still there?",
        ],
    );
    assert!(queued.starts_with("Queued: during"), "{queued}");
    let history = cli_ok(&dir, &server, &["history", "--profile", "alice", "--with", &bob]);
    assert!(history.contains("(queued, during)"), "{history}");

    // It comes back on the same address; the next sync sends the queued message once.
    let mut server = spawn_at(&db, &dir.join("server.log"), &listen);
    cli_ok(&dir, &server, &["sync", "--profile", "alice", "--wait", "1"]);
    cli_ok(&dir, &server, &["sync", "--profile", "alice", "--wait", "1"]);
    let inbox = cli_ok(&dir, &server, &["sync", "--profile", "bob", "--wait", "1"]);
    assert_eq!(inbox.matches("still there?").count(), 1, "{inbox}");
    assert_eq!(inbox.matches("hello").count(), 1, "{inbox}");
    let history = cli_ok(&dir, &server, &["history", "--profile", "alice", "--with", &bob]);
    assert!(!history.contains("queued"), "{history}");
    assert_eq!(
        cli_ok(&dir, &server, &["sync", "--profile", "bob", "--wait", "1"]),
        "No new messages."
    );
    let _ = alice;
    server.child.kill().unwrap();
    let _ = server.child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_five_member_care_team_with_one_member_offline_and_one_removed() {
    let db = Db::new(Backend::Sqlite).await.unwrap();
    let dir = db.dir.path().to_path_buf();
    let mut server = spawn_for_cli(&db, "127.0.0.1:0");
    let people = ["alice", "bob", "carol", "dan", "erin"];
    let ids = clinicians(&dir, &server, &people);
    let run = |args: &[&str]| cli_ok(&dir, &server, args);
    let sync = |who: &str| run(&["sync", "--profile", who, "--wait", "1"]);

    let mut create = vec!["team", "create", "--profile", "alice", "--name", "Tumor board"];
    for id in &ids[1..] {
        create.extend(["--member", id.as_str()]);
    }
    let created = run(&create);
    let team = created.split_whitespace().nth(2).unwrap().to_owned();
    for who in ["bob", "carol", "dan"] {
        assert!(sync(who).contains("added you"), "{who}");
    }
    run(&[
        "team",
        "send",
        "--profile",
        "alice",
        &team,
        "Case 17: margins clear",
    ]);
    for who in ["bob", "carol", "dan"] {
        assert!(sync(who).contains("team Tumor board from"), "{who}");
    }
    // Dan is removed; the next message reaches everyone but him.
    run(&["team", "remove", "--profile", "alice", &team, &ids[3]]);
    run(&[
        "team",
        "send",
        "--profile",
        "bob",
        &team,
        "Case 18: re-excision advised",
    ]);
    let dan = sync("dan");
    assert!(dan.contains("removed you"), "{dan}");
    assert!(!dan.contains("team Tumor board from"), "{dan}");
    assert!(!cli(
        &dir,
        &server,
        &["team", "send", "--profile", "dan", &team, "still here?"]
    )
    .status
    .success());
    for who in ["alice", "carol"] {
        let got = sync(who);
        assert!(
            got.contains("team Tumor board from Dr. bob (device 1)"),
            "{who}: {got}"
        );
    }
    // Erin was offline throughout: she gets the invitation, both cases and the change.
    let erin = sync("erin");
    assert!(erin.contains("added you"), "{erin}");
    assert_eq!(erin.matches("team Tumor board from").count(), 2, "{erin}");
    let history = run(&["team", "history", "--profile", "erin", &team]);
    assert!(
        history.contains("Case 17") && history.contains("Case 18"),
        "{history}"
    );
    // A file to the team: encrypted and uploaded once, its key sent to each member.
    let report: Vec<u8> = (0..200_000u32).map(|i| u8::try_from(i % 253).unwrap()).collect();
    std::fs::write(dir.join("pathology.pdf"), &report).unwrap();
    let sent = run(&["team", "attach", "--profile", "alice", &team, "pathology.pdf"]);
    let id = sent.rsplit(' ').next().unwrap().to_owned();
    assert!(sync("carol").contains("[attachment pathology.pdf (200000 bytes)]"));
    run(&["download", "--profile", "carol", &id, "--out", "carol.pdf"]);
    assert_eq!(std::fs::read(dir.join("carol.pdf")).unwrap(), report);
    assert!(!sync("dan").contains("pathology"));
    let list = run(&["team", "list", "--profile", "carol"]);
    assert!(list.contains("Tumor board") && !list.contains(&ids[3]), "{list}");
    let dan_history = run(&["team", "history", "--profile", "dan", &team]);
    assert!(!dan_history.contains("Case 18"), "{dan_history}");

    server.child.kill().unwrap();
    let _ = server.child.wait();
}
