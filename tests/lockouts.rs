//! No lock-outs, no lost history (issue 15), with the real binary against a
//! real server: a passphrase that cannot be read fails before the invite is
//! used; a profile is one process's at a time; a clinician who revoked
//! every device gets back in with an administrator's device invite; a
//! revocation that leaves no device asks for `--yes`; a user's error is one
//! line, never a backtrace, and says what to do (a mistyped recipient, an
//! unreachable server), and a mistyped recipient leaves no contact behind.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use curbside_server::store::Backend;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn what_can_go_wrong_at_enrollment_fails_before_the_invite_is_used() {
    let db = Db::new(Backend::Sqlite).await.unwrap();
    let dir = db.dir.path().to_path_buf();
    let server = spawn_for_cli(&db, "127.0.0.1:0");
    enroll_admin(&dir, &server);
    let invite = cli_ok(&dir, &server, &["admin", "invite", "--profile", "admin"]);
    let enroll = |passphrase: Option<&str>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_curbside"));
        command
            .current_dir(&dir)
            .args([
                "enroll",
                "--profile",
                "alice",
                "--invite",
                &invite,
                "--name",
                "Dr. Alice",
            ])
            .args([
                "--npi",
                NPIS[0],
                "--specialty",
                "Dermatology",
                "--server",
                &server.addr,
            ])
            .stdin(Stdio::null())
            .env_remove("CURBSIDE_PASSPHRASE");
        if let Some(p) = passphrase {
            command.env("CURBSIDE_PASSPHRASE", p);
        }
        command.output().unwrap()
    };
    // No terminal to ask on, then a passphrase too short: both refused
    // before the server is asked, so the invite is still good.
    let no_terminal = enroll(None);
    assert!(!no_terminal.status.success());
    assert!(
        stderr(&no_terminal).contains("passphrase"),
        "{}",
        stderr(&no_terminal)
    );
    let short = enroll(Some("short"));
    assert!(
        stderr(&short).contains("at least 8 characters"),
        "{}",
        stderr(&short)
    );
    // A clinician's invite without --npi: refused naming the flag (not the
    // server's JSON field), and the invite is still good.
    let no_npi = cli(
        &dir,
        &server,
        &[
            "enroll",
            "--profile",
            "alice",
            "--invite",
            &invite,
            "--name",
            "Dr. Alice",
            "--specialty",
            "Dermatology",
        ],
    );
    assert!(!no_npi.status.success());
    let said = stderr(&no_npi);
    assert!(
        said.contains("missing here: --npi") && said.contains("The invite was not used"),
        "{said}"
    );
    let enrolled = enroll(Some("correct horse battery staple"));
    assert!(enrolled.status.success(), "{}", stderr(&enrolled));
    assert!(String::from_utf8_lossy(&enrolled.stdout).starts_with("Enrolled: user "));
}

#[tokio::test]
async fn a_profile_is_one_processes_at_a_time() {
    let db = Db::new(Backend::Sqlite).await.unwrap();
    let dir = db.dir.path().to_path_buf();
    let server = spawn_for_cli(&db, "127.0.0.1:0");
    let ids = enroll_clinicians(&dir, &server, &[("alice", "Dermatology"), ("bob", "Cardiology")]);
    // `inbox --wait` keeps the profile open, as `chat` does.
    let mut holder = std::process::Command::new(env!("CARGO_BIN_EXE_curbside"))
        .current_dir(&dir)
        .args(["inbox", "--profile", "alice", "--wait", "4"])
        .env("CURBSIDE_PASSPHRASE", "correct horse battery staple")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = holder.id();
    let send = ["send", "--profile", "alice", "--to", &ids[1], "while in use"];
    let mut refused = None;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let out = cli(&dir, &server, &send);
        if !out.status.success() {
            refused = Some(stderr(&out));
            break;
        }
    }
    let refused = refused.expect("a second process on the profile is refused");
    assert!(refused.contains(&format!("in use by process {pid}")), "{refused}");
    assert!(holder.wait().unwrap().success());
    // Once it is closed, the profile is free again.
    cli_ok(&dir, &server, &send);
}

#[tokio::test]
async fn a_clinician_who_revoked_every_device_gets_back_in() {
    let db = Db::new(Backend::Sqlite).await.unwrap();
    let dir = db.dir.path().to_path_buf();
    let server = spawn_for_cli(&db, "127.0.0.1:0");
    let ids = enroll_clinicians(&dir, &server, &[("alice", "Dermatology")]);
    // Revoking the last device asks for --yes.
    let asked = cli(&dir, &server, &["devices", "revoke", "--profile", "alice", "1"]);
    assert!(!asked.status.success());
    let message = stderr(&asked);
    assert!(
        message.contains("last active device") && message.contains("--yes"),
        "{message}"
    );
    let listed = cli_ok(&dir, &server, &["devices", "list", "--profile", "alice"]);
    assert!(!listed.contains("REVOKED"), "nothing was revoked: {listed}");
    cli_ok(
        &dir,
        &server,
        &["devices", "revoke", "--profile", "alice", "1", "--yes"],
    );
    // An administrator issues a device invite; Alice enrolls a new device.
    let invite = cli_ok(
        &dir,
        &server,
        &["admin", "device-invite", "--profile", "admin", &ids[0]],
    );
    let enrolled = cli_ok(
        &dir,
        &server,
        &[
            "enroll",
            "--profile",
            "alice2",
            "--invite",
            &invite,
            "--name",
            "Dr. alice",
        ],
    );
    assert!(
        enrolled.starts_with(&format!("Enrolled: user {} device 2", ids[0])),
        "{enrolled}"
    );
    // The administrator sees what they verify: NPI and specialty.
    let users = cli_ok(&dir, &server, &["admin", "users", "--profile", "admin"]);
    assert!(
        users.contains(&format!("NPI {}, Dermatology", NPIS[0])),
        "{users}"
    );
    // A short NPI is refused by its flag, before anything is sent.
    let invite = cli_ok(&dir, &server, &["admin", "invite", "--profile", "admin"]);
    let short = cli(
        &dir,
        &server,
        &[
            "enroll",
            "--profile",
            "eve",
            "--invite",
            &invite,
            "--name",
            "Dr. Eve",
            "--npi",
            "12345",
        ],
    );
    assert!(
        stderr(&short).contains("--npi: an NPI has 10 digits"),
        "{}",
        stderr(&short)
    );
    // An invite's lifetime of 0 hours is refused, not quietly shortened.
    let zero = cli(
        &dir,
        &server,
        &["admin", "invite", "--profile", "admin", "--expires-in-hours", "0"],
    );
    assert!(!zero.status.success());
    assert!(stderr(&zero).contains("--expires-in-hours"), "{}", stderr(&zero));
}

#[test]
fn a_users_error_is_one_line_without_a_backtrace() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_curbside"))
        .current_dir(dir.path())
        .args(["whoami", "--profile", "nowhere"])
        .env("RUST_BACKTRACE", "1")
        .env("CURBSIDE_PASSPHRASE", "correct horse battery staple")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let message = stderr(&out);
    assert!(message.starts_with("error: no profile at "), "{message}");
    assert!(message.contains("run `curbside enroll` first"), "{message}");
    assert!(!message.to_lowercase().contains("backtrace"), "{message}");
    assert_eq!(message.trim_end().lines().count(), 1, "{message}");
    // `sync`, which the README uses, is shown in the help.
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_curbside"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("sync"));
}

#[tokio::test]
async fn a_mistyped_recipient_leaves_no_contact_and_an_unreachable_server_is_named() {
    let db = Db::new(Backend::Sqlite).await.unwrap();
    let dir = db.dir.path().to_path_buf();
    let mut server = spawn_for_cli(&db, "127.0.0.1:0");
    let ids = enroll_clinicians(&dir, &server, &[("alice", "Dermatology"), ("bob", "Cardiology")]);
    cli_ok(
        &dir,
        &server,
        &["send", "--profile", "alice", "--to", &ids[1], "hello"],
    );
    let typo = "u000000000000000000000000";
    let refused = cli(
        &dir,
        &server,
        &["send", "--profile", "alice", "--to", typo, "hello?"],
    );
    assert!(!refused.status.success());
    let message = stderr(&refused);
    assert!(
        message.contains(&format!("{typo} is not in the directory of verified clinicians"))
            && message.contains("curbside directory --profile alice")
            && message.contains("--allow-unverified"),
        "{message}"
    );
    let refused = cli(
        &dir,
        &server,
        &[
            "send",
            "--profile",
            "alice",
            "--to",
            typo,
            "--allow-unverified",
            "hello?",
        ],
    );
    assert!(!refused.status.success());
    let message = stderr(&refused);
    assert!(
        message.contains(&format!("{typo} is not a user of this server"))
            && message.contains("curbside directory --profile alice"),
        "{message}"
    );
    let contacts = cli_ok(&dir, &server, &["contacts", "--profile", "alice"]);
    assert!(contacts.contains(&ids[1]), "{contacts}");
    assert!(!contacts.contains(typo), "no phantom contact: {contacts}");

    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let down = cli(&dir, &server, &["directory", "--profile", "alice"]);
    assert!(!down.status.success());
    let message = stderr(&down);
    assert!(
        message.contains(&format!("could not reach the Curbside server at {}", server.addr))
            && message.contains("check that `curbside serve` runs there"),
        "{message}"
    );

    // Queued while the server is down, a message to a mistyped id is
    // refused once it is back, and leaves no contact either.
    let queued = cli_ok(
        &dir,
        &server,
        &[
            "send",
            "--profile",
            "alice",
            "--to",
            typo,
            "--allow-unverified",
            "offline?",
        ],
    );
    assert!(queued.starts_with("Queued"), "{queued}");
    let addr = server.addr.clone();
    let server = spawn_at(&db, &dir.join("server2.log"), &addr);
    let synced = cli(&dir, &server, &["sync", "--profile", "alice", "--wait", "1"]);
    assert!(stderr(&synced).contains("was refused"), "{}", stderr(&synced));
    let contacts = cli_ok(&dir, &server, &["contacts", "--profile", "alice"]);
    assert!(
        !contacts.contains(typo),
        "no phantom contact after the flush: {contacts}"
    );
    assert!(contacts.contains(&ids[1]), "{contacts}");
}
