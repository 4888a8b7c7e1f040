//! The default TLS certificate: valid for about a year, renewed at start
//! when it expires within 30 days (or has expired), with the same key and
//! name so that clients pinning the old one keep connecting, and reported
//! in the server's warnings; a certificate good for longer is kept as it is.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use common::*;
use curbside_client::ServerInfo;
use curbside_server::store::Backend;
use curbside_server::tls;

const DAY: Duration = Duration::from_secs(24 * 3600);

/// Writes a default certificate (and key) valid from `from` to `until`
/// into the data directory, as a server started earlier would have.
fn plant(data_dir: &Path, from: SystemTime, until: SystemTime) -> (String, String) {
    let names = ["localhost", "127.0.0.1", "::1"].map(String::from);
    let (cert, key) = tls::self_signed(&names, None, from, until).unwrap();
    let dir = data_dir.join("tls");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cert.pem"), &cert).unwrap();
    std::fs::write(dir.join("key.pem"), key.as_bytes()).unwrap();
    (cert, key.to_string())
}

fn days_left(pem: &str) -> u64 {
    tls::expires_at(pem)
        .unwrap()
        .duration_since(SystemTime::now())
        .map_or(0, |d| d.as_secs() / DAY.as_secs())
}

/// A TLS WebSocket handshake pinned to `cert_pem` reaches the server's `hello`.
async fn pinned_connects(server: &curbside_server::Server, cert_pem: &str) {
    let info = ServerInfo {
        address: server.addr.to_string(),
        server_name: "localhost".into(),
        cert_pem: cert_pem.to_owned(),
    };
    let mut ws = raw_ws(&info).await;
    let hello = next_json(&mut ws, WAIT).await.expect("hello");
    assert_eq!(hello["type"], "hello");
}

async fn renewed_at_start(from: SystemTime, until: SystemTime, expired: bool) {
    let db = Db::new(Backend::Sqlite).await.unwrap();
    let (old_cert, old_key) = plant(db.dir.path(), from, until);
    let server = curbside_server::start(db.config()).await.unwrap();

    assert_ne!(server.cert_pem, old_cert, "renewed");
    assert!((396..=397).contains(&days_left(&server.cert_pem)), "about a year");
    let key = std::fs::read_to_string(db.dir.path().join("tls").join("key.pem")).unwrap();
    assert_eq!(key, old_key, "the key is kept");
    assert_eq!(server.warnings.len(), 1, "{:?}", server.warnings);
    let warning = &server.warnings[0];
    assert!(
        warning.contains("renewed") && warning.contains("cert.pem"),
        "{warning}"
    );
    assert!(
        warning.contains(if expired { "expired on" } else { "was to expire on" }),
        "{warning}"
    );
    // A client that pinned the old certificate still connects, and one
    // given the new certificate too.
    pinned_connects(&server, &old_cert).await;
    pinned_connects(&server, &server.cert_pem).await;
    // The next start keeps the renewed one, without a warning.
    let renewed = server.cert_pem.clone();
    server.shutdown().await;
    let server = curbside_server::start(db.config()).await.unwrap();
    assert_eq!(server.cert_pem, renewed);
    assert!(server.warnings.is_empty(), "{:?}", server.warnings);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_default_certificate_close_to_expiry_is_renewed_and_old_pins_keep_working() {
    let now = SystemTime::now();
    renewed_at_start(now - DAY * 390, now + DAY * 5, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_default_certificate_is_renewed_and_old_pins_keep_working() {
    let now = SystemTime::now();
    renewed_at_start(now - DAY * 400, now - DAY, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_default_certificate_good_for_longer_is_kept() {
    let db = Db::new(Backend::Sqlite).await.unwrap();
    let now = SystemTime::now();
    let (old_cert, _) = plant(db.dir.path(), now - DAY * 300, now + DAY * 60);
    let server = curbside_server::start(db.config()).await.unwrap();
    assert_eq!(server.cert_pem, old_cert);
    assert!(server.warnings.is_empty(), "{:?}", server.warnings);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_default_certificate_is_valid_for_about_a_year() {
    let db = Db::new(Backend::Sqlite).await.unwrap();
    let server = curbside_server::start(db.config()).await.unwrap();
    assert!((396..=397).contains(&days_left(&server.cert_pem)));
    assert!(server.warnings.is_empty(), "{:?}", server.warnings);
    pinned_connects(&server, &server.cert_pem).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_certificate_close_to_expiry_is_warned_about_and_kept() {
    let db = Db::new(Backend::Sqlite).await.unwrap();
    let now = SystemTime::now();
    let elsewhere = tempfile::tempdir().unwrap();
    let (cert, _) = plant(elsewhere.path(), now - DAY * 80, now + DAY * 10);
    let mut config = db.config();
    config.tls_cert = Some(elsewhere.path().join("tls").join("cert.pem"));
    config.tls_key = Some(elsewhere.path().join("tls").join("key.pem"));
    let server = curbside_server::start(config.clone()).await.unwrap();
    assert_eq!(
        server.cert_pem, cert,
        "a configured certificate is never replaced"
    );
    assert_eq!(server.warnings.len(), 1, "{:?}", server.warnings);
    assert!(
        server.warnings[0].contains("expires on"),
        "{}",
        server.warnings[0]
    );
    assert!(!db.dir.path().join("tls").exists(), "no default certificate made");
    server.shutdown().await;
}
