//! One admin bootstrap token per database: the first start issues it (one
//! between two nodes starting together on PostgreSQL), later starts and
//! other nodes keep it and say where it was printed, it works on every
//! node, `--new-bootstrap-token` replaces a lost one, and once an admin
//! exists no start issues one. SQLite: the same across restarts of the
//! real binary.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::BufRead as _;

use common::*;
use curbside_client::{enroll, UserDetails};
use curbside_server::store::{Backend, Bootstrap};

fn admin() -> UserDetails {
    UserDetails {
        display_name: "Site Admin".into(),
        ..UserDetails::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    all(not(curbside_postgres), not(curbside_ci)),
    ignore = "on PostgreSQL: set CURBSIDE_TEST_POSTGRES_URL to run it"
)]
async fn two_nodes_starting_together_issue_one_bootstrap_token() {
    // The cluster's shared files (certificate, audit log key), made once.
    let shared = tempfile::tempdir().unwrap();
    let seed = Db::new(Backend::Sqlite).await.unwrap();
    curbside_server::start(curbside_server::Config {
        data_dir: shared.path().to_path_buf(),
        ..seed.config()
    })
    .await
    .unwrap()
    .shutdown()
    .await;
    for round in 0..3 {
        let Some(db) = Db::new(Backend::Postgres).await else {
            return;
        };
        let node = |name: &str| {
            let dir = tempfile::tempdir().unwrap();
            let config = curbside_server::Config {
                data_dir: dir.path().to_path_buf(),
                tls_cert: Some(shared.path().join("tls/cert.pem")),
                tls_key: Some(shared.path().join("tls/key.pem")),
                audit_log_key: Some(shared.path().join("audit-log-key.pk8")),
                node_id: Some(name.to_owned()),
                ..db.config()
            };
            (dir, config)
        };
        let ((_a_dir, a), (_b_dir, b)) = (node("node-a"), node("node-b"));
        let (a, b) = tokio::join!(curbside_server::start(a), curbside_server::start(b));
        let (a, b) = (a.unwrap(), b.unwrap());
        let (issuer, other) = match (&a.bootstrap_token, &b.bootstrap_token) {
            (Some(_), None) => (&a, &b),
            (None, Some(_)) => (&b, &a),
            (x, y) => panic!("round {round}: one token between two nodes, not {x:?} and {y:?}"),
        };
        assert!(
            matches!(issuer.bootstrap, Bootstrap::Issued { .. }),
            "{:?}",
            issuer.bootstrap
        );
        match &other.bootstrap {
            Bootstrap::AlreadyIssued { node, .. } => assert_eq!(node.as_deref(), Some(issuer.node.as_str())),
            other => panic!("round {round}: {other:?}"),
        }
        // A third node later: the token stays, and it works on any node.
        let (_c_dir, c) = node("node-c");
        let c = curbside_server::start(c).await.unwrap();
        assert!(c.bootstrap_token.is_none());
        assert!(
            matches!(c.bootstrap, Bootstrap::AlreadyIssued { .. }),
            "{:?}",
            c.bootstrap
        );
        let token = issuer.bootstrap_token.clone().unwrap();
        enroll(server_info(&c), &token, &admin()).await.unwrap();
        // Used: no node issues one again.
        let (_d_dir, d) = node("node-d");
        let d = curbside_server::start(d).await.unwrap();
        assert_eq!(d.bootstrap, Bootstrap::AdminExists);
        assert!(d.bootstrap_token.is_none());
        for server in [a, b, c, d] {
            server.shutdown().await;
        }
        db.drop_database().await;
    }
}

/// `curbside serve` on `db` with `args`; the process and what it printed
/// up to "Press Ctrl+C".
fn serve(db: &Db, args: &[&str]) -> (Process, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_curbside"))
        .args(["serve", "--listen", "127.0.0.1:0", "--node-id", "node-a"])
        .args(["--database-url", &db.url])
        .arg("--data-dir")
        .arg(db.dir.path())
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut printed, mut addr, mut token) = (String::new(), None, None);
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("Curbside is listening on https://") {
            addr = rest.split_whitespace().next().map(str::to_owned);
        }
        if line.trim().starts_with("cbs_boot_") {
            token = Some(line.trim().to_owned());
        }
        printed.push_str(&line);
        printed.push('\n');
        if line.starts_with("Press Ctrl+C") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let process = Process {
        child,
        addr: addr.unwrap_or_else(|| panic!("serve did not start: {printed}")),
        token,
        log_key: None,
    };
    (process, printed)
}

#[tokio::test]
async fn a_restart_keeps_the_bootstrap_token_and_a_lost_one_is_replaced_on_request() {
    let db = Db::new(Backend::Sqlite).await.unwrap();
    let dir = db.dir.path().to_path_buf();
    std::fs::create_dir_all(dir.join("curbside-data/tls")).unwrap();
    let (first, printed) = serve(&db, &[]);
    let issued = first.token.clone().expect("the first start prints the token");
    assert!(
        printed.contains("other nodes and later starts keep it"),
        "{printed}"
    );
    drop(first);
    // A restart before anyone enrolled: the same token stays valid, and the
    // server says where it was printed instead of replacing it.
    let (second, printed) = serve(&db, &[]);
    assert!(second.token.is_none(), "{printed}");
    assert!(
        printed.contains("was issued at")
            && printed.contains("by an earlier start of this node")
            && printed.contains("--new-bootstrap-token"),
        "{printed}"
    );
    drop(second);
    // Lost: --new-bootstrap-token prints a new one; the old one is dead.
    let (third, printed) = serve(&db, &["--new-bootstrap-token"]);
    let replaced = third.token.clone().expect("a new token on request");
    assert_ne!(replaced, issued, "{printed}");
    std::fs::copy(dir.join("tls/cert.pem"), dir.join("curbside-data/tls/cert.pem")).unwrap();
    let enroll_with = |token: &str| {
        cli(
            &dir,
            &third,
            &[
                "enroll",
                "--profile",
                "admin",
                "--invite",
                token,
                "--name",
                "Site Admin",
            ],
        )
    };
    let old = enroll_with(&issued);
    assert!(!old.status.success());
    assert!(
        String::from_utf8_lossy(&old.stderr).contains("invalid_invite")
            || String::from_utf8_lossy(&old.stderr).contains("unknown or already used"),
        "{}",
        String::from_utf8_lossy(&old.stderr)
    );
    let new = enroll_with(&replaced);
    assert!(new.status.success(), "{}", String::from_utf8_lossy(&new.stderr));
    drop(third);
    // An administrator exists: no start issues a token, even on request.
    for args in [&[][..], &["--new-bootstrap-token"]] {
        let (fourth, printed) = serve(&db, args);
        assert!(fourth.token.is_none(), "{printed}");
        assert!(!printed.contains("bootstrap"), "{printed}");
    }
}
