//! What a power loss leaves in the data directory, and what start-up does
//! with it (issue 12): a real server (in-process on port 0, or the real
//! binary) on a real data directory.
//!
//! A file written without fsync comes back after a power loss with its name
//! and 0 bytes; an interrupted upload leaves a temporary file; a blob whose
//! database row never committed is an orphan. At start the server
//! regenerates its own self-signed certificate (warning that pins must be
//! renewed), refuses to replace the audit log key, refuses to replace a
//! configured certificate, and sweeps orphan and temporary blobs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead as _, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use curbside_server::store::Backend;
use sqlx::Connection as _;

/// What a power loss does to a file created without fsync: the name stays, the bytes go.
fn lose_contents(path: &Path) {
    std::fs::File::create(path).unwrap();
    assert_eq!(std::fs::metadata(path).unwrap().len(), 0);
}

fn len(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

/// The names in a directory, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Stops the in-process server and starts one again on the same data, expecting a refusal.
async fn restart_refused(world: &mut World, config: curbside_server::Config) -> String {
    world.stop_server().await;
    match curbside_server::start(config).await {
        Ok(server) => {
            server.shutdown().await;
            panic!("the server started on a damaged file");
        }
        Err(e) => e.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_byte_default_certificate_or_key_is_regenerated() {
    for damaged in ["cert.pem", "key.pem"] {
        let db = Db::new(Backend::Sqlite).await.unwrap();
        let mut world = World::start(db).await;
        let old_cert = world.info.cert_pem.clone();
        let log_key = world.server().log_key.clone();
        world.stop_server().await;
        let tls = world.db.dir.path().join("tls");
        lose_contents(&tls.join(damaged));

        let server = match curbside_server::start(world.db.config()).await {
            Ok(server) => server,
            Err(e) => panic!("a damaged default {damaged} must be regenerated, got: {e}"),
        };
        world.info = server_info(&server);
        world.server = Some(server);
        assert_ne!(world.info.cert_pem, old_cert, "a new self-signed certificate");
        assert!(len(&tls.join("cert.pem")) > 0 && len(&tls.join("key.pem")) > 0);
        assert_eq!(names(&tls), ["cert.pem", "key.pem"], "no temporary file is left");
        assert_eq!(world.server().log_key, log_key, "the audit log key is kept");
        assert!(
            world.server().bootstrap_token.is_none(),
            "the database is kept (the admin still exists)"
        );
        // A client pinning the new certificate signs in as before.
        world.login(&world.admin).await;
        world.stop().await;
    }
}

/// Runs `curbside serve` on the test's data directory until it prints that
/// it is ready (then stops it) or exits. Returns `None` if it started, else
/// whether it exited successfully; and its stdout and stderr.
fn run_binary(db: &Db) -> (Option<bool>, String, String) {
    let stderr_path = db.dir.path().join("second-start.log");
    let stderr = std::fs::File::create(&stderr_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_curbside"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", &db.url])
        .arg("--data-dir")
        .arg(db.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr))
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            out.push_str(&line);
            out.push('\n');
            if line.starts_with("Press Ctrl+C") {
                return (out, true);
            }
        }
        (out, false)
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while !reader.is_finished() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the server neither started nor exited within 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let (out, ready) = reader.join().unwrap();
    let status = if ready {
        child.kill().unwrap();
        child.wait().unwrap();
        None
    } else {
        Some(child.wait().unwrap().success())
    };
    (status, out, std::fs::read_to_string(&stderr_path).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_warns_loudly_that_pins_must_be_renewed() {
    let db = Db::new(Backend::Sqlite).await.unwrap();
    let mut first = spawn(&db, &db.dir.path().join("server.log"));
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let key = db.dir.path().join("tls").join("key.pem");
    lose_contents(&key);

    let (exited, stdout, log) = run_binary(&db);
    assert_eq!(exited, None, "the server starts: stdout {stdout}\nlog {log}");
    let shown = key.display().to_string();
    assert!(
        stdout.contains("WARNING") && stdout.contains(&shown) && stdout.contains("pin"),
        "stdout names the file and says pins must be renewed: {stdout}"
    );
    let warning = log
        .lines()
        .find(|l| l.contains("\"WARN\"") && l.contains(&shown))
        .unwrap_or_else(|| panic!("a WARN log line names the file: {log}"));
    assert!(warning.contains("pin"), "{warning}");
    assert!(len(&key) > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_byte_or_garbled_audit_log_key_stops_the_start_and_is_never_replaced() {
    let db = Db::new(Backend::Sqlite).await.unwrap();
    let mut world = World::start(db).await;
    let path = world.db.dir.path().join("audit-log-key.pk8");
    let shown = path.display().to_string();

    lose_contents(&path);
    let config = world.db.config();
    let error = restart_refused(&mut world, config).await;
    for needed in [shown.as_str(), "empty", "backup", "tree head"] {
        assert!(error.contains(needed), "the error says {needed:?}: {error}");
    }
    assert_eq!(len(&path), 0, "the audit log key is not replaced");

    std::fs::write(&path, b"\x30\x2e garbage").unwrap();
    let config = world.db.config();
    let error = restart_refused(&mut world, config).await;
    for needed in [shown.as_str(), "PKCS#8", "backup"] {
        assert!(error.contains(needed), "the error says {needed:?}: {error}");
    }
    assert_eq!(std::fs::read(&path).unwrap(), b"\x30\x2e garbage");

    // A key configured elsewhere (a cluster's shared key) is treated the same.
    let shared = world.db.dir.path().join("shared-key.pk8");
    lose_contents(&shared);
    let mut config = world.db.config();
    config.audit_log_key = Some(shared.clone());
    let error = restart_refused(&mut world, config).await;
    assert!(
        error.contains(&shared.display().to_string()) && error.contains("backup"),
        "{error}"
    );
    assert_eq!(len(&shared), 0);

    // The real binary exits with the same explanation.
    lose_contents(&path);
    let (exited, stdout, log) = run_binary(&world.db);
    assert_eq!(exited, Some(false), "the server must not start: {stdout}");
    assert!(
        log.contains(&shown) && log.contains("backup"),
        "stderr names the file and what to do: {log}"
    );
    assert_eq!(len(&path), 0, "the audit log key is not replaced");
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_certificate_found_empty_is_reported_and_left_alone() {
    let db = Db::new(Backend::Sqlite).await.unwrap();
    let mut world = World::start(db).await;
    let etc = world.db.dir.path().join("etc");
    std::fs::create_dir(&etc).unwrap();
    let tls = world.db.dir.path().join("tls");
    for name in ["cert.pem", "key.pem"] {
        std::fs::copy(tls.join(name), etc.join(name)).unwrap();
    }
    let default_cert = std::fs::read(tls.join("cert.pem")).unwrap();
    for damaged in ["cert.pem", "key.pem"] {
        let mut config = world.db.config();
        config.tls_cert = Some(etc.join("cert.pem"));
        config.tls_key = Some(etc.join("key.pem"));
        let saved = std::fs::read(etc.join(damaged)).unwrap();
        lose_contents(&etc.join(damaged));
        let error = restart_refused(&mut world, config).await;
        let shown = etc.join(damaged).display().to_string();
        for needed in [shown.as_str(), "empty", "restore"] {
            assert!(error.contains(needed), "the error says {needed:?}: {error}");
        }
        assert_eq!(len(&etc.join(damaged)), 0, "a configured file is never replaced");
        assert_eq!(std::fs::read(tls.join("cert.pem")).unwrap(), default_cert);
        std::fs::write(etc.join(damaged), saved).unwrap();
    }
    world.stop().await;
}

/// Uploads `bytes` as `account`.
async fn upload(
    world: &World,
    token: &str,
    bytes: &[u8],
) -> Result<curbside_protocol::http::AttachmentStored, curbside_client::ClientError> {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(bytes).unwrap();
    world
        .api()
        .upload_attachment(token, tokio::fs::File::open(file.path()).await.unwrap())
        .await
}

on_every_backend!(orphan_and_temporary_blobs_are_swept_at_start, |db| async move {
    let mut world = World::start(db).await;
    let alice = world.clinician("Dr. Alice Adeyemi", NPIS[0], "Dermatology").await;
    let token = world.login(&alice).await;
    let kept = upload(&world, &token, &[5u8; 3000]).await.unwrap();
    world.stop_server().await;

    let dir = world.db.dir.path().join("attachments");
    // A blob whose row never committed, an interrupted upload, and a file
    // the server did not create (left alone).
    let orphan = "0123456789abcdef0123456789abcdef";
    let partial = format!("{}.partial", "fedcba9876543210fedcba9876543210");
    std::fs::write(dir.join(orphan), [1u8; 100]).unwrap();
    std::fs::write(dir.join(&partial), [2u8; 100]).unwrap();
    std::fs::write(dir.join("NOTES.txt"), b"an operator's file").unwrap();

    world.start_server().await;
    let mut expected = vec!["NOTES.txt".to_owned(), kept.attachment_id.to_string()];
    expected.sort();
    assert_eq!(
        names(&dir),
        expected,
        "the orphan and the temporary file are removed, the referenced blob kept"
    );
    let token = world.login(&alice).await;
    let mut fetched = Vec::new();
    let size = world
        .api()
        .download_attachment(&token, &kept.attachment_id, &mut fetched)
        .await
        .unwrap();
    assert_eq!(size, 3000);
    assert_eq!(fetched, vec![5u8; 3000]);
    world.stop().await;
});

/// Makes every insert into `attachments` fail (a real database refusal), or allows it again.
async fn refuse_attachment_rows(db: &Db, refuse: bool) {
    match db.backend {
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            let sql = if refuse {
                "CREATE TRIGGER refuse_attachments BEFORE INSERT ON attachments \
                 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            } else {
                "DROP TRIGGER refuse_attachments"
            };
            sqlx::query(sql).execute(&mut c).await.unwrap();
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
            let sqls: &[&str] = if refuse {
                &[
                    "CREATE FUNCTION refuse_attachments() RETURNS trigger LANGUAGE plpgsql AS \
                     $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
                    "CREATE TRIGGER refuse_attachments BEFORE INSERT ON attachments \
                     FOR EACH ROW EXECUTE FUNCTION refuse_attachments()",
                ]
            } else {
                &[
                    "DROP TRIGGER refuse_attachments ON attachments",
                    "DROP FUNCTION refuse_attachments()",
                ]
            };
            for sql in sqls {
                sqlx::query(sql).execute(&mut c).await.unwrap();
            }
        }
    }
}

on_every_backend!(an_upload_whose_row_fails_leaves_no_blob, |db| async move {
    let world = World::start(db).await;
    let alice = world.clinician("Dr. Alice Adeyemi", NPIS[0], "Dermatology").await;
    let token = world.login(&alice).await;
    let dir = world.db.dir.path().join("attachments");

    refuse_attachment_rows(&world.db, true).await;
    let refused = upload(&world, &token, &[7u8; 5000]).await;
    assert!(
        refused.is_err(),
        "the upload must not be acknowledged: {refused:?}"
    );
    assert_eq!(
        names(&dir),
        Vec::<String>::new(),
        "a failed row leaves no blob behind"
    );

    refuse_attachment_rows(&world.db, false).await;
    let stored = upload(&world, &token, &[7u8; 5000]).await.unwrap();
    assert_eq!(names(&dir), vec![stored.attachment_id.to_string()]);
    world.stop().await;
});
