//! What the server keeps on disk, against another user of the machine and
//! against someone who reads the database file: the data directory and
//! every file in it are the server user's only (0700 / 0600), also when an
//! older version left them open, and a ciphertext a device acknowledged is
//! gone from the SQLite file and its write-ahead log, not left in free
//! pages (`secure_delete`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use common::*;
use curbside_protocol::bytes::Base64;
use curbside_server::store::Backend;
use sqlx::Connection as _;

/// Every directory and file under `dir` (and `dir`), with its permission bits.
fn walk(dir: &Path) -> Vec<(PathBuf, bool, u32)> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = std::fs::symlink_metadata(dir).unwrap();
    let mut out = vec![(dir.to_path_buf(), true, meta.permissions().mode() & 0o777)];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push((path, false, meta.permissions().mode() & 0o777));
        }
    }
    out
}

/// Asserts every directory under `dir` is 0700 and every file 0600; returns how many files.
fn assert_private(dir: &Path) -> usize {
    let entries = walk(dir);
    for (path, is_dir, mode) in &entries {
        let want = if *is_dir { 0o700 } else { 0o600 };
        assert_eq!(*mode, want, "{} is {mode:o}, not {want:o}", path.display());
    }
    entries.iter().filter(|(_, is_dir, _)| !is_dir).count()
}

/// Sends one message from Alice to Bob, delivered and acknowledged, and
/// uploads an attachment: everything the data directory gets.
async fn traffic(world: &World) {
    let (alice, bob) = world.alice_and_bob().await;
    let bob_address = bob.address.clone().unwrap();
    let (mut a, _) = raw_authenticated(&world.info, &alice).await;
    let frame = serde_json::json!({
        "type": "send", "id": "r1", "message_id": "m1", "kind": "message",
        "recipients": [{"user_id": bob_address.user_id, "device_id": bob_address.device_id, "ciphertext": "AAEC"}],
    });
    send_text(&mut a, frame.to_string()).await;
    let (mut b, _) = raw_authenticated(&world.info, &bob).await;
    let delivery = next_of(&mut b, "deliver").await;
    ack(&mut b, &delivery).await;
    next_of(&mut a, "delivered").await;

    let token = world.login(&alice).await;
    let mut plain = tempfile::tempfile().unwrap();
    plain.write_all(&[7u8; 10_000]).unwrap();
    std::io::Seek::rewind(&mut plain).unwrap();
    let mut sealed = tempfile::NamedTempFile::new().unwrap();
    curbside_crypto::attachment::encrypt(&mut plain, sealed.as_file_mut(), &mut rand_core::OsRng).unwrap();
    let upload = tokio::fs::File::open(sealed.path()).await.unwrap();
    world.api().upload_attachment(&token, upload).await.unwrap();
}

/// The next frame of `kind` (others, such as `prekeys_low` or `accepted`, are skipped).
async fn next_of(ws: &mut RawWs, kind: &str) -> serde_json::Value {
    loop {
        let frame = next_json(ws, WAIT)
            .await
            .unwrap_or_else(|| panic!("no {kind} frame came"));
        if frame["type"] == kind {
            return frame;
        }
        assert_ne!(frame["type"], "error", "{frame}");
    }
}

async fn ack(ws: &mut RawWs, delivery: &serde_json::Value) {
    let frame = serde_json::json!({"type": "ack", "delivery_ids": [delivery["delivery_id"]]});
    send_text(ws, frame.to_string()).await;
}

on_every_backend!(
    the_data_directory_and_every_file_in_it_are_the_server_users_only,
    |db: Db| async move {
        // A data directory that does not exist yet, as on a first start
        // (the test's temporary directory itself is created 0700).
        let data_dir = db.dir.path().join("data");
        let world = World::start_with(db, |c| {
            c.data_dir = data_dir.clone();
            if c.database_url
                .as_deref()
                .is_some_and(|u| u.starts_with("sqlite:"))
            {
                c.database_url = None;
            }
        })
        .await;
        traffic(&world).await;
        let files = assert_private(&data_dir);
        let sqlite = world.server().backend == Backend::Sqlite;
        // TLS key and certificate, log key, a blob; the database and its WAL on SQLite.
        assert!(files >= if sqlite { 6 } else { 4 }, "{files} files");
        if sqlite {
            assert!(data_dir.join("curbside.db-wal").exists());
        }

        // A backup is private too (SQLite only).
        if sqlite {
            let backup = world.db.dir.path().join("backup");
            let config = curbside_server::Config {
                data_dir: data_dir.clone(),
                ..curbside_server::Config::default()
            };
            curbside_server::backup::backup(&config, &backup).await.unwrap();
            assert!(assert_private(&backup) >= 5);
        }
        world.stop().await;
    }
);

on_every_backend!(
    a_data_directory_an_older_version_left_open_is_tightened_at_start,
    |db: Db| async move {
        use std::os::unix::fs::PermissionsExt as _;
        let data_dir = db.dir.path().to_path_buf();
        let mut world = World::start(db).await;
        traffic(&world).await;
        world.stop_server().await;
        // What a version before this one left (umask 022): 0755 and 0644.
        for (path, is_dir, _) in walk(&data_dir) {
            let mode = if is_dir { 0o755 } else { 0o644 };
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        // The server's own files, and one it does not know.
        let foreign = data_dir.join("operator-notes.txt");
        std::fs::write(&foreign, b"x").unwrap();
        std::fs::set_permissions(&foreign, std::fs::Permissions::from_mode(0o644)).unwrap();

        world.start_server().await;
        std::fs::remove_file(&foreign).unwrap();
        assert_private(&data_dir);
        world.stop().await;
    }
);

/// The marker, inside a ciphertext as the server stores it.
const MARKER: &str = "ZZ-ACKED-CIPHERTEXT-4b1e0d";

on_every_backend!(
    an_acknowledged_ciphertext_is_gone_from_the_database_files,
    |db: Db| async move {
        let world = World::start(db).await;
        let (alice, bob) = world.alice_and_bob().await;
        let bob_address = bob.address.clone().unwrap();
        let (mut a, _) = raw_authenticated(&world.info, &alice).await;
        // The server cannot tell a ciphertext from any other bytes.
        let mut ciphertext = vec![0x5a; 64];
        ciphertext.extend_from_slice(MARKER.as_bytes());
        ciphertext.extend_from_slice(&[0xa5; 64]);
        let frame = serde_json::json!({
            "type": "send", "id": "r1", "message_id": "m1", "kind": "message",
            "recipients": [{"user_id": bob_address.user_id, "device_id": bob_address.device_id,
                            "ciphertext": Base64(ciphertext).encode()}],
        });
        send_text(&mut a, frame.to_string()).await;
        next_of(&mut a, "accepted").await;
        let sqlite = world.db.backend == Backend::Sqlite;
        if sqlite {
            // The scan finds it while it is queued: the test can fail.
            let files = sqlite_files(&world.db);
            assert!(
                files
                    .iter()
                    .any(|f| contains(&std::fs::read(f).unwrap(), MARKER.as_bytes())),
                "the queued ciphertext should be in the database files"
            );
        }

        let (mut b, _) = raw_authenticated(&world.info, &bob).await;
        let delivery = next_of(&mut b, "deliver").await;
        assert!(delivery["ciphertext"].as_str().is_some());
        ack(&mut b, &delivery).await;
        // The receipt commits with the deletion.
        next_of(&mut a, "delivered").await;

        if sqlite {
            // Copy the write-ahead log into the file and empty the log, as
            // SQLite's automatic checkpoints do as the log grows.
            let mut conn = sqlx::SqliteConnection::connect(&world.db.url).await.unwrap();
            let row: (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(&mut conn)
                .await
                .unwrap();
            assert_eq!(row.0, 0, "the checkpoint completed (not busy)");
            conn.close().await.unwrap();
        }
        assert_absent(&world.db, None, MARKER).await;
        world.stop().await;
    }
);

fn sqlite_files(db: &Db) -> Vec<PathBuf> {
    std::fs::read_dir(db.dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("curbside.db")
        })
        .collect()
}
