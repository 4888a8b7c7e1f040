//! Backups that restore (issue 12): a real server on a real port and a real
//! SQLite file, a clinician sending messages (some with attachments) to an
//! offline colleague without pause while `curbside backup` runs, both
//! in-process and as the real binary beside the server. Each backup is then
//! restored (its directory copied into a new data directory) and served,
//! and everything acknowledged before the backup began is found there:
//! the offline recipient's queue, the attachments, and an audit log that
//! verifies against the tree head the compliance officer saved before the
//! backup. An officer whose saved head is newer than the backup gets the
//! alarm, and the backup's own signed head re-pins them (README.md,
//! "Backups and restore").

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)]

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use curbside_client::api::Api;
use curbside_client::audit::{check_head, verify_export, AuditError, Witness};
use curbside_client::{enroll, Account, Client, ServerInfo, UserDetails};
use curbside_protocol::audit::AuditQuery;
use curbside_protocol::frames::MessageKind;
use curbside_protocol::http::{InviteTarget, Role};
use curbside_server::backup::{backup, BackupError, MANIFEST_FILE, WITNESS_FILE};
use curbside_server::store::Backend;
use curbside_server::Config;

/// One message the server acknowledged: its index, and the attachment
/// (id and bytes) it refers to, if any.
#[derive(Clone)]
struct Sent {
    index: usize,
    attachment: Option<(String, Vec<u8>)>,
}

fn text_of(index: usize, attachment: Option<&str>) -> String {
    format!("backup-{index}|{}", attachment.unwrap_or("-"))
}

fn parse(text: &str) -> (usize, Option<String>) {
    let rest = text.strip_prefix("backup-").unwrap();
    let (index, attachment) = rest.split_once('|').unwrap();
    (
        index.parse().unwrap(),
        (attachment != "-").then(|| attachment.to_owned()),
    )
}

/// Enrolls a compliance officer.
async fn officer(world: &World) -> Account {
    let invite = world
        .invite(InviteTarget::NewUser {
            role: Role::ComplianceOfficer,
        })
        .await;
    let profile = UserDetails {
        display_name: "Carol Compliance".into(),
        ..UserDetails::default()
    };
    enroll(world.info.clone(), &invite, &profile).await.unwrap()
}

async fn login(info: &ServerInfo, account: &Account) -> String {
    let a = account.address.clone().unwrap();
    Api::new(info)
        .unwrap()
        .login(&a.user_id, a.device_id, account.identity())
        .await
        .unwrap()
}

/// Restoring is copying the backup directory into place.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A copy of a witness file to check with (checking updates the file).
fn witness_copy(witness: &Path, dir: &Path, name: &str) -> PathBuf {
    let copy = dir.join(name);
    std::fs::copy(witness, &copy).unwrap();
    copy
}

/// The backup is laid out as a data directory, holds what it says, and
/// left nothing else next to it.
fn check_layout(backup_dir: &Path) {
    for file in [
        "curbside.db",
        "audit-log-key.pk8",
        "tls/cert.pem",
        "tls/key.pem",
        MANIFEST_FILE,
        WITNESS_FILE,
    ] {
        let path = backup_dir.join(file);
        assert!(
            std::fs::metadata(&path).unwrap().len() > 0,
            "{} is missing or empty",
            path.display()
        );
    }
    #[cfg(unix)]
    for key in ["audit-log-key.pk8", "tls/key.pem"] {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(backup_dir.join(key))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{key} is private");
    }
    let parent = backup_dir.parent().unwrap();
    for entry in std::fs::read_dir(parent).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.contains(".partial-"), "a partial backup was left: {name}");
    }
}

/// What the original server and its officer had before the backups.
struct Before {
    cert_pem: String,
    log_key: String,
    /// The officer's saved tree head (before any backup).
    witness: PathBuf,
    /// The officer's saved head after the backups (newer than them).
    newer_witness: PathBuf,
    uploaded: HashMap<String, Vec<u8>>,
}

/// Restores `backup_dir` into a new data directory, serves it, and checks
/// that it holds every message in `acknowledged` (and its attachment), as a
/// prefix of what was sent, and an audit log consistent with the saved
/// heads. Returns how many messages the restored queue held.
async fn restore_and_check(
    backup_dir: &Path,
    bob: &[u8],
    carol: &Account,
    acknowledged: &[Sent],
    before: &Before,
) -> usize {
    check_layout(backup_dir);
    let restored = tempfile::tempdir().unwrap();
    copy_dir(backup_dir, restored.path());
    // Started on the restored directory with nothing but --data-dir.
    let server = curbside_server::start(Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: restored.path().to_path_buf(),
        ..Config::default()
    })
    .await
    .unwrap();
    assert!(
        server.bootstrap_token.is_none(),
        "the restored server has its admin"
    );
    assert_eq!(
        server.cert_pem, before.cert_pem,
        "the same certificate: clients' pins hold"
    );
    assert_eq!(server.log_key, before.log_key, "the same audit log key");
    let info = server_info(&server);

    // Bob, offline throughout, connects and receives his queue.
    let mut bob = Account::from_bytes(bob).unwrap();
    bob.server = info.clone();
    let bob_token = login(&info, &bob).await;
    let mut b = Client::connect(bob).await.unwrap();
    let mut received = Vec::new();
    while let Some(r) = b.next_message(Duration::from_secs(3)).await.unwrap() {
        b.ack(&[r.delivery_id]).await.unwrap();
        let text = String::from_utf8(r.content.expect("decrypts").to_vec()).unwrap();
        received.push(parse(&text));
    }
    b.close().await;
    let indices: Vec<usize> = received.iter().map(|(i, _)| *i).collect();
    // A consistent copy holds a prefix of what was sent, in order, once each…
    assert_eq!(
        indices,
        (0..indices.len()).collect::<Vec<_>>(),
        "the restored queue is not a prefix of what was sent"
    );
    // …and at least everything acknowledged before the backup began.
    assert!(
        indices.len() >= acknowledged.len(),
        "{} messages were acknowledged before the backup began, the restored queue holds {}",
        acknowledged.len(),
        indices.len()
    );
    for sent in acknowledged {
        assert_eq!(
            received[sent.index].1,
            sent.attachment.as_ref().map(|(id, _)| id.clone())
        );
    }
    // Every attachment a restored message refers to is there, byte for byte.
    let api = Api::new(&info).unwrap();
    let mut attachments = 0;
    for id in received.iter().filter_map(|(_, a)| a.as_ref()) {
        let mut fetched = Vec::new();
        api.download_attachment(&bob_token, id, &mut fetched)
            .await
            .unwrap();
        assert!(fetched == before.uploaded[id], "attachment {id} differs");
        attachments += 1;
    }
    assert!(attachments >= 2, "attachments were part of the test");

    // The audit log: consistent with the head the officer saved before the
    // backup (online proof, and an export verified offline against it).
    let scratch = tempfile::tempdir().unwrap();
    let token = login(&info, carol).await;
    let saved = Witness::load(&before.witness).unwrap().unwrap().last_head;
    let checked = check_head(&api, &token, &witness_copy(&before.witness, scratch.path(), "w1"))
        .await
        .unwrap();
    assert_eq!(checked.previous, Some(saved.size));
    let head = api.audit_tree_head(&token).await.unwrap();
    let mut export = Vec::new();
    let query = AuditQuery {
        through: Some(head.tree_head.size),
        ..AuditQuery::default()
    };
    api.audit_export(&token, &query, &mut export).await.unwrap();
    let verified = verify_export(
        std::io::Cursor::new(&export),
        &head.tree_head,
        head.log_key.as_slice(),
        Some(&saved),
        |_| {},
    )
    .unwrap();
    assert_eq!(verified.matched_saved_head, Some(saved.size));

    // An officer whose saved head is newer than the backup gets the alarm
    // (the log shrank, or, once it grew again, does not extend the head)…
    match check_head(
        &api,
        &token,
        &witness_copy(&before.newer_witness, scratch.path(), "w2"),
    )
    .await
    {
        Err(e @ (AuditError::Truncated { .. } | AuditError::Rewritten { .. })) => {
            eprintln!("a saved head newer than the backup: {e}");
        }
        other => panic!("a saved head newer than the backup must raise the alarm, got {other:?}"),
    }
    // …and re-pins on the backup's own signed head, which the restored log extends.
    let backup_head = Witness::load(&backup_dir.join(WITNESS_FILE)).unwrap().unwrap();
    assert_eq!(backup_head.log_key, head.log_key);
    let repinned = check_head(
        &api,
        &token,
        &witness_copy(&backup_dir.join(WITNESS_FILE), scratch.path(), "w3"),
    )
    .await
    .unwrap();
    assert_eq!(repinned.previous, Some(backup_head.last_head.size));
    assert!(backup_head.last_head.size >= saved.size);

    server.shutdown().await;
    indices.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_mid_traffic_restores_everything_acknowledged_before_it() {
    let db = Db::new(Backend::Sqlite).await.unwrap();
    let mut world = World::start_with(db, |c| {
        c.limits.rate_per_sec = 10_000;
        c.limits.rate_burst = 10_000;
    })
    .await;
    let (alice, bob) = world.alice_and_bob().await;
    let bob_id = uid(&bob);
    // Bob stays offline: his device state is kept as it is now, and each
    // restored server is read by a fresh copy of it.
    let bob = bob.to_bytes().unwrap();
    let carol = officer(&world).await;
    let officer_dir = tempfile::tempdir().unwrap();
    let witness = officer_dir.path().join("audit-witness.json");
    let carol_token = world.login(&carol).await;
    check_head(&world.api(), &carol_token, &witness).await.unwrap();
    let saved = Witness::load(&witness).unwrap().unwrap().last_head;

    // Alice sends without pause; every tenth message refers to an
    // attachment uploaded (and acknowledged) just before it.
    let acked: Arc<Mutex<Vec<Sent>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let alice_token = world.login(&alice).await;
    let sender = {
        let (acked, stop, info) = (acked.clone(), stop.clone(), world.info.clone());
        tokio::spawn(async move {
            let api = Api::new(&info).unwrap();
            let mut a = Client::connect(alice).await.unwrap();
            let mut index = 0;
            while !stop.load(Ordering::Acquire) {
                let attachment = if index % 10 == 0 {
                    let mut bytes = vec![0u8; 48 * 1024 + index];
                    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
                    let file = tempfile::NamedTempFile::new().unwrap();
                    std::fs::write(file.path(), &bytes).unwrap();
                    let upload = tokio::fs::File::open(file.path()).await.unwrap();
                    let stored = api.upload_attachment(&alice_token, upload).await.unwrap();
                    Some((stored.attachment_id.to_string(), bytes))
                } else {
                    None
                };
                let text = text_of(index, attachment.as_ref().map(|(id, _)| id.as_str()));
                a.send(
                    std::slice::from_ref(&bob_id),
                    MessageKind::Message,
                    &mid(&format!("bk-{index}")),
                    text.as_bytes(),
                )
                .await
                .unwrap();
                acked.lock().unwrap().push(Sent { index, attachment });
                index += 1;
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
            a.close().await
        })
    };
    let acked_now = || acked.lock().unwrap().clone();
    let wait_for = |n: usize| {
        let acked = acked.clone();
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            while acked.lock().unwrap().len() < n {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "only {} sends acknowledged",
                    acked.lock().unwrap().len()
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    wait_for(40).await;

    // Backup 1: the library function, in the server's process, mid-traffic.
    let backups = tempfile::tempdir().unwrap();
    let in_process = backups.path().join("in-process");
    let before_1 = acked_now();
    let report = backup(&world.db.config(), &in_process).await.unwrap();
    let after_1 = acked_now().len();
    assert!(report.audit.tree_head.size > saved.size);
    assert!(
        report.attachments >= 4,
        "{} attachments copied",
        report.attachments
    );
    assert!(report.attachments_missing.is_empty());
    eprintln!(
        "in-process backup: {} acknowledged before it began, {after_1} when it ended; {} audit entries, {} blobs",
        before_1.len(),
        report.audit.tree_head.size,
        report.attachments
    );

    // Backup 2: the real binary, a process of its own beside the server.
    wait_for(after_1 + 30).await;
    let with_binary = backups.path().join("binary");
    let before_2 = acked_now();
    let output = {
        let (dir, url, out) = (
            world.db.dir.path().to_path_buf(),
            world.db.url.clone(),
            with_binary.clone(),
        );
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_curbside"))
                .arg("backup")
                .arg("--data-dir")
                .arg(&dir)
                .args(["--database-url", &url])
                .arg("--out")
                .arg(&out)
                .env_remove("CURBSIDE_CONFIG")
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "curbside backup failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("Backup written to"), "{stdout}");
    let after_2 = acked_now().len();

    // Traffic goes on after the backups; then it stops.
    wait_for(after_2 + 30).await;
    stop.store(true, Ordering::Release);
    let alice = sender.await.unwrap();
    let total = acked_now().len();
    // The officer saves a head again: newer than both backups.
    let newer_witness = officer_dir.path().join("newer-witness.json");
    std::fs::copy(&witness, &newer_witness).unwrap();
    check_head(&world.api(), &carol_token, &newer_witness)
        .await
        .unwrap();

    let before = Before {
        cert_pem: world.server().cert_pem.clone(),
        log_key: world.server().log_key.clone(),
        witness,
        newer_witness,
        uploaded: acked_now().into_iter().filter_map(|s| s.attachment).collect(),
    };
    drop(alice);
    world.stop_server().await;

    // A backup of the stopped server works too (no WAL left to read beside).
    let offline = backups.path().join("offline");
    let report_offline = backup(&world.db.config(), &offline).await.unwrap();
    assert!(report_offline.audit.tree_head.size >= report.audit.tree_head.size);
    check_layout(&offline);
    world.stop().await;

    let restored_1 = restore_and_check(&in_process, &bob, &carol, &before_1, &before).await;
    let restored_2 = restore_and_check(&with_binary, &bob, &carol, &before_2, &before).await;
    eprintln!(
        "restored: {restored_1} messages from the in-process backup (acknowledged before it: {}), \
         {restored_2} from the binary's (before it: {}); {total} were sent in all",
        before_1.len(),
        before_2.len()
    );
    assert!(
        restored_1 < total && restored_2 < total,
        "the backups were taken mid-traffic"
    );
    assert!(restored_2 >= restored_1);
}

#[tokio::test]
async fn postgres_and_occupied_destinations_are_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    // The binary, as an operator would run it against a PostgreSQL server.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_curbside"))
        .args([
            "backup",
            "--database-url",
            "postgres://curbside:hunter2@127.0.0.1:1/curbside",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--out")
        .arg(dir.path().join("b"))
        .env_remove("CURBSIDE_CONFIG")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("pg_dump") && stderr.contains("Backups and restore"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "no credentials in the message");
    assert!(!dir.path().join("b").exists());

    // A destination that holds something is never written over.
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    std::fs::write(dir.path().join("curbside.db"), b"").unwrap();
    let taken = dir.path().join("taken");
    std::fs::create_dir(&taken).unwrap();
    std::fs::write(taken.join("keep-me"), b"x").unwrap();
    match backup(&config, &taken).await {
        Err(e @ BackupError::DestinationExists(_)) => assert!(e.to_string().contains("new directory")),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(std::fs::read(taken.join("keep-me")).unwrap(), b"x");
}
