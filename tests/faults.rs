//! Nothing acknowledged is lost under storage faults: a full SQLite database
//! mid-traffic, and PostgreSQL cut off behind a TCP proxy. Real server, real
//! TLS clients, real database files and a real PostgreSQL.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::cloned_ref_to_slice_refs
)]

mod common;

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use common::{mid, uid, Db, World};
use curbside_client::audit::verify_export;
use curbside_client::{Account, Client};
use curbside_protocol::audit::AuditQuery;
use curbside_protocol::error::ErrorCode;
use curbside_protocol::frames::MessageKind;
use curbside_protocol::http::{InviteTarget, Role};
use curbside_protocol::ids::MessageId;
use curbside_server::store::Backend;
use sqlx::{Connection as _, Row as _};
use tokio::sync::watch;

/// Receives until nothing arrives for a while; returns every message id in
/// arrival order (re-deliveries of an id would appear twice).
async fn drain(client: &mut Client) -> Vec<MessageId> {
    let mut out = Vec::new();
    while let Some(r) = client.next_message(Duration::from_secs(3)).await.unwrap() {
        assert!(r.content.is_ok(), "every delivered message decrypts");
        client.ack(&[r.delivery_id]).await.unwrap();
        out.push(r.message_id);
    }
    out
}

async fn readyz(world: &World) -> (u16, Duration) {
    let started = Instant::now();
    let status = world
        .http()
        .get(format!("https://localhost:{}/readyz", world.server().addr.port()))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    (status, started.elapsed())
}

/// A compliance officer's session token.
async fn officer(world: &World) -> String {
    let invite = world
        .invite(InviteTarget::NewUser {
            role: Role::ComplianceOfficer,
        })
        .await;
    let profile = curbside_client::UserDetails {
        display_name: "Carol Compliance".into(),
        ..curbside_client::UserDetails::default()
    };
    let account: Account = curbside_client::enroll(world.info.clone(), &invite, &profile)
        .await
        .unwrap();
    world.login(&account).await
}

/// Exports the whole log and verifies it against the current signed head
/// and an earlier head the officer saved.
async fn audit_verifies(world: &World, token: &str, saved: &curbside_protocol::audit::SignedTreeHead) {
    let api = world.api();
    let head = api.audit_tree_head(token).await.unwrap();
    let mut export = Vec::new();
    let query = AuditQuery {
        through: Some(head.tree_head.size),
        ..AuditQuery::default()
    };
    api.audit_export(token, &query, &mut export).await.unwrap();
    let verified = verify_export(
        std::io::Cursor::new(&export),
        &head.tree_head,
        head.log_key.as_slice(),
        Some(saved),
        |_| {},
    )
    .unwrap();
    assert_eq!(verified.entries, head.tree_head.size);
    assert!(head.tree_head.size >= saved.size);
}

/// How the database runs out of room.
enum Fill {
    /// SQLite's page limit (no root needed).
    PageLimit,
    /// A real file system that fills up.
    Disk(SmallDisk),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_sqlite_database_refuses_with_the_storage_code_loses_nothing_and_recovers() {
    full_database(Db::new(Backend::Sqlite).await.unwrap(), Fill::PageLimit).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(any(curbside_root, curbside_ci)),
    ignore = "mounting a small tmpfs needs root; the page-limit test covers the same path"
)]
async fn a_full_disk_refuses_with_the_storage_code_loses_nothing_and_recovers() {
    let db = Db::new(Backend::Sqlite).await.unwrap();
    // The test's whole data directory (database, WAL, keys) on a 4 MiB disk.
    let Some(disk) = SmallDisk::mount(db.dir.path(), "4m") else {
        panic!("a small tmpfs cannot be mounted: the full-disk test needs root");
    };
    full_database(db, Fill::Disk(disk)).await;
}

async fn full_database(db: Db, fill: Fill) {
    let mut world = World::start_with(db, |config| {
        config.limits.rate_per_sec = 100_000;
        config.limits.rate_burst = 100_000;
    })
    .await;
    let (alice, bob) = world.alice_and_bob().await;
    let token = officer(&world).await;
    let saved = world.api().audit_tree_head(&token).await.unwrap().tree_head;
    let b_id = uid(&bob);
    let mut a = Client::connect(alice).await.unwrap();
    let alice_token = world.login(&a.account).await;
    // Bob stays offline: everything Alice's sends get accepted for must be
    // waiting for him after a restart.
    let bob_account = bob;

    // The database may grow by a few pages only: a full disk, without root.
    let mut raw = sqlx::SqliteConnection::connect(&world.db.url).await.unwrap();
    let pages: i64 = sqlx::query("PRAGMA page_count")
        .fetch_one(&mut raw)
        .await
        .unwrap()
        .get(0);
    let store = world.server().state().store.clone();
    if let Fill::PageLimit = fill {
        store
            .set_sqlite_max_pages(u64::try_from(pages).unwrap() + 16)
            .await
            .unwrap();
    }

    let payload = vec![b'x'; 3000];
    let mut accepted: Vec<MessageId> = Vec::new();
    let mut refused = 0;
    for i in 0..5000 {
        let id = mid(&format!("full-{i}"));
        match a.send(&[b_id.clone()], MessageKind::Message, &id, &payload).await {
            Ok(_) => accepted.push(id),
            Err(e) => {
                assert_eq!(e.code(), Some(ErrorCode::StorageUnavailable), "{e}");
                refused += 1;
                if refused == 20 {
                    break;
                }
            }
        }
    }
    assert_eq!(refused, 20, "the database filled up");
    assert!(!accepted.is_empty());

    // An upload is refused with the storage code too and leaves no blob
    // (or, if its small row still fits, it is stored whole).
    let elsewhere = tempfile::tempdir().unwrap();
    let blob = elsewhere.path().join("upload.bin");
    std::fs::write(&blob, vec![7u8; 200_000]).unwrap();
    let upload = world
        .api()
        .upload_attachment(&alice_token, tokio::fs::File::open(&blob).await.unwrap())
        .await;
    let uploaded: BTreeSet<String> = match upload {
        Ok(stored) => [stored.attachment_id.to_string()].into(),
        Err(e) => {
            assert_eq!(e.code(), Some(ErrorCode::StorageUnavailable), "{e}");
            BTreeSet::new()
        }
    };
    if let Fill::Disk(_) = fill {
        assert!(uploaded.is_empty(), "a full disk cannot take a blob");
    }

    // Not ready while writes cannot commit, and the answer comes at once.
    let (status, took) = readyz(&world).await;
    assert_eq!(status, 503);
    assert!(took < Duration::from_secs(2), "readyz took {took:?}");
    // The server holds no transaction open: another process can write.
    sqlx::query("BEGIN IMMEDIATE").execute(&mut raw).await.unwrap();
    sqlx::query("ROLLBACK").execute(&mut raw).await.unwrap();

    // Room again: the same server accepts again, without a restart.
    match &fill {
        Fill::PageLimit => store.set_sqlite_max_pages(0).await.unwrap(),
        Fill::Disk(disk) => disk.resize("64m"),
    }
    assert_eq!(readyz(&world).await.0, 200);
    for i in 0..5 {
        let id = mid(&format!("after-{i}"));
        a.send(&[b_id.clone()], MessageKind::Message, &id, b"room again")
            .await
            .unwrap();
        accepted.push(id);
    }
    a.close().await;

    // After a restart, every acknowledged message is there, once.
    world.stop_server().await;
    world.start_server().await;
    let mut bob_account = bob_account;
    bob_account.server = world.info.clone();
    let mut b = Client::connect(bob_account).await.unwrap();
    let received = drain(&mut b).await;
    let unique: BTreeSet<&MessageId> = received.iter().collect();
    assert_eq!(unique.len(), received.len(), "no message delivered twice");
    let missing: Vec<&MessageId> = accepted.iter().filter(|m| !unique.contains(m)).collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    assert_eq!(received.len(), accepted.len(), "nothing refused was stored");
    b.close().await;

    // No blob without a row: the refused upload left nothing behind.
    let attachments = world.db.dir.path().join("attachments");
    let blobs: BTreeSet<String> = std::fs::read_dir(&attachments).map_or_else(
        |_| BTreeSet::new(),
        |d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        },
    );
    assert_eq!(blobs, uploaded, "no orphan blob in {}", attachments.display());

    let check: String = sqlx::query("PRAGMA integrity_check")
        .fetch_one(&mut raw)
        .await
        .unwrap()
        .get(0);
    assert_eq!(check, "ok");
    let token = officer(&world).await;
    audit_verifies(&world, &token, &saved).await;
    world.stop().await;
}

/// A small tmpfs (root only): a disk that really fills up, and that can be
/// grown again while mounted. Unlike the page limit, a full file system
/// fails SQLite's writes to its WAL, where SQLite may roll the whole
/// transaction back by itself: the case that left the server inside a
/// transaction that never committed, answering `accepted` for nothing.
struct SmallDisk {
    path: std::path::PathBuf,
}

impl SmallDisk {
    fn mount(path: &std::path::Path, size: &str) -> Option<Self> {
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Self {
            path: path.to_path_buf(),
        })
    }

    fn resize(&self, size: &str) {
        let status = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.path)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazily: a failed test may leave its server holding files.
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
    }
}

/// A TCP proxy in front of PostgreSQL that can cut the network: while cut,
/// nothing is forwarded either way and new connections are accepted but
/// never answered (packets lost, as in a partition); when restored, the
/// stalled connections are reset and new ones forwarded again.
struct Proxy {
    addr: std::net::SocketAddr,
    cut: watch::Sender<bool>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (cut, _) = watch::channel(false);
        let cut_rx = cut.subscribe();
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let mut cut = cut_rx.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    if *cut.borrow_and_update() {
                        // Held unanswered until the network is back, then reset.
                        let _ = cut.wait_for(|c| !*c).await.is_ok();
                        drop(client);
                        return;
                    }
                    let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    tokio::select! {
                        _ = async {
                            tokio::join!(
                                tokio::io::copy(&mut cr, &mut sw),
                                tokio::io::copy(&mut sr, &mut cw)
                            )
                        } => {}
                        _ = async { cut.wait_for(|c| *c).await.is_ok() } => {
                            // Stall with both sockets open until restored.
                            let _ = cut.wait_for(|c| !*c).await.is_ok();
                        }
                    }
                });
            }
        });
        Self { addr, cut }
    }

    fn set_cut(&self, cut: bool) {
        self.cut.send_replace(cut);
    }
}

/// A server whose PostgreSQL is reached through a [`Proxy`], with short
/// storage timeouts.
async fn behind_a_proxy(
    db: Db,
    configure: impl FnOnce(&mut curbside_server::config::Config),
) -> (World, Proxy) {
    let rest = db.url.split_once("://").unwrap().1;
    let (authority, path) = rest.split_once('/').unwrap();
    let (user, host) = authority.rsplit_once('@').unwrap();
    let proxy = Proxy::start(host.to_owned()).await;
    let via_proxy = format!("postgres://{user}@{}/{path}", proxy.addr);
    let world = World::start_with(db, |config| {
        config.database_url = Some(via_proxy.clone());
        config.limits.db_acquire_timeout_ms = 1000;
        config.limits.db_statement_timeout_ms = 1000;
        configure(config);
    })
    .await;
    (world, proxy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    all(not(curbside_postgres), not(curbside_ci)),
    ignore = "on PostgreSQL: set CURBSIDE_TEST_POSTGRES_URL to run it"
)]
async fn postgres_cut_off_fails_fast_with_the_storage_code_and_loses_nothing() {
    let Some(db) = Db::new(Backend::Postgres).await else {
        return;
    };
    let (world, proxy) = behind_a_proxy(db, |_| {}).await;
    let deadline = world.server().state().store.deadline();
    let (alice, bob) = world.alice_and_bob().await;
    let b_id = uid(&bob);
    let mut a = Client::connect(alice).await.unwrap();
    let mut b = Client::connect(bob).await.unwrap();
    let mut accepted: Vec<MessageId> = Vec::new();
    for i in 0..5 {
        let id = mid(&format!("before-{i}"));
        a.send(&[b_id.clone()], MessageKind::Message, &id, b"before the outage")
            .await
            .unwrap();
        accepted.push(id);
    }
    let mut received = drain(&mut b).await;

    proxy.set_cut(true);
    // A send fails fast with the storage code and stays in the outbox.
    let started = Instant::now();
    let outcome = a
        .send_or_queue(
            &[b_id.clone()],
            MessageKind::Message,
            &mid("during"),
            b"during the outage",
        )
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(outcome, curbside_client::SendOutcome::Queued);
    assert!(
        took < deadline + Duration::from_secs(2),
        "the refusal took {took:?} (deadline {deadline:?})"
    );
    assert_eq!(a.outbox_len(), 1);
    // /readyz says so within a second.
    let (status, took) = readyz(&world).await;
    assert_eq!(status, 503);
    assert!(took < Duration::from_millis(1500), "readyz took {took:?}");
    // A fresh authentication is refused fast too, with the storage code.
    let started = Instant::now();
    let mut ws = common::raw_ws(&world.info).await;
    let hello = common::next_json(&mut ws, Duration::from_secs(5)).await.unwrap();
    common::send_text(&mut ws, common::auth_frame(&hello, &a.account)).await;
    common::expect_error(&mut ws, "storage_unavailable").await;
    assert!(started.elapsed() < deadline + Duration::from_secs(2));

    proxy.set_cut(false);
    let mut ready = false;
    for _ in 0..60 {
        if readyz(&world).await.0 == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(ready, "ready again once PostgreSQL is reachable");
    // The outbox goes out with the same id; Bob gets everything exactly once.
    a.reconnect(20).await.unwrap();
    assert_eq!(a.outbox_len(), 0);
    accepted.push(mid("during"));
    for i in 0..3 {
        let id = mid(&format!("after-{i}"));
        a.send(&[b_id.clone()], MessageKind::Message, &id, b"after the outage")
            .await
            .unwrap();
        accepted.push(id);
    }
    b.reconnect(20).await.unwrap();
    received.extend(drain(&mut b).await);
    let mut counts: HashMap<&MessageId, usize> = HashMap::new();
    for m in &received {
        *counts.entry(m).or_default() += 1;
    }
    for m in &accepted {
        assert_eq!(counts.get(m), Some(&1), "{m} delivered exactly once");
    }
    assert_eq!(received.len(), accepted.len());
    a.close().await;
    b.close().await;
    world.stop().await;
}

/// The command line, as a clinician uses it: `curbside send` on a full
/// database says the message is queued; after the operator makes room
/// (here: restarts without the size cap), the next send delivers it with
/// its id, and the recipient reads everything once.
#[test]
fn the_command_line_keeps_a_refused_send_in_its_outbox_and_delivers_it_later() {
    let db = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(Db::new(Backend::Sqlite))
        .unwrap();
    let dir = db.dir.path().to_path_buf();
    let listen = common::free_address();
    let log = dir.join("server.log");
    let capped = [("CURBSIDE_LIMITS__SQLITE_MAX_DATABASE_MIB", "2")];
    let mut server = common::spawn_with_env(&db, &log, &listen, &capped);
    std::fs::create_dir_all(dir.join("curbside-data/tls")).unwrap();
    std::fs::copy(dir.join("tls/cert.pem"), dir.join("curbside-data/tls/cert.pem")).unwrap();
    let ids = common::enroll_clinicians(
        &dir,
        &server,
        &[("alice", "Dermatology"), ("bob", "Internal Medicine")],
    );
    let bob = &ids[1];
    let filler = "x".repeat(100_000);
    let mut sent = Vec::new();
    let mut queued = None;
    for i in 0..60 {
        let text = format!("note-{i} {filler}");
        let out = common::cli_ok(&dir, &server, &["send", "--profile", "alice", "--to", bob, &text]);
        if out.starts_with("Queued:") {
            assert!(out.contains("storage_unavailable"), "{out}");
            queued = Some(format!("note-{i} "));
            break;
        }
        assert!(out.starts_with("Accepted:"), "{out}");
        sent.push(format!("note-{i} "));
    }
    let queued = queued.expect("the capped database filled up");
    assert!(!sent.is_empty());

    // Room again.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let server = common::spawn_at(&db, &log, &listen);
    let out = common::cli(
        &dir,
        &server,
        &["send", "--profile", "alice", "--to", bob, "room again"],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Sent 1 queued message(s)."),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let inbox = common::cli_ok(&dir, &server, &["inbox", "--profile", "bob"]);
    for marker in sent.iter().chain([&queued]) {
        assert_eq!(
            inbox.matches(marker.as_str()).count(),
            1,
            "{marker} once in the inbox"
        );
    }
    assert!(inbox.contains("room again"));
    let mut server = server;
    server.child.kill().unwrap();
}
