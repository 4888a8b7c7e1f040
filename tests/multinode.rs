//! Two nodes on one PostgreSQL database: clinicians connected to different
//! nodes exchange messages in real time (pushed through LISTEN/NOTIFY), and
//! stopping one node mid-stream loses nothing acknowledged.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use curbside_client::Client;
use curbside_protocol::frames::MessageKind;
use curbside_server::store::Backend;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    all(not(curbside_postgres), not(curbside_ci)),
    ignore = "on PostgreSQL: set CURBSIDE_TEST_POSTGRES_URL to run it"
)]
async fn clinicians_on_two_nodes_talk_in_real_time_and_a_node_stop_loses_nothing() {
    let Some(db) = Db::new(Backend::Postgres).await else {
        return;
    };
    let mut world = World::start(db).await;
    let (mut alice, mut bob) = world.alice_and_bob().await;
    // A second node: same database; its own data directory, the first node's
    // TLS certificate and audit log key by path, its own node id.
    let own_dir = tempfile::tempdir().unwrap();
    let first_dir = world.db.dir.path().to_path_buf();
    let config = curbside_server::Config {
        data_dir: own_dir.path().to_path_buf(),
        tls_cert: Some(first_dir.join("tls").join("cert.pem")),
        tls_key: Some(first_dir.join("tls").join("key.pem")),
        audit_log_key: Some(first_dir.join("audit-log-key.pk8")),
        node_id: Some("node-b".into()),
        ..world.db.config()
    };
    let second = curbside_server::start(config).await.unwrap();
    assert!(second.bootstrap_token.is_none());
    assert_eq!(
        second.log_key,
        world.server().log_key,
        "one audit log key for the cluster"
    );
    assert_eq!(second.cert_pem, world.server().cert_pem);
    assert!(!own_dir.path().join("audit-log-key.pk8").exists());
    let node2 = server_info(&second);
    bob.server = node2.clone();
    let bob_id = uid(&bob);
    let alice_id = uid(&alice);
    alice.server = world.info.clone();
    let mut a = Client::connect(alice).await.unwrap();
    let mut b = Client::connect(bob).await.unwrap();
    // Bob is already connected (to node 2) when Alice (node 1) sends: only a
    // cross-node push can make his connection read the queue now.
    for i in 0..10 {
        a.send(
            std::slice::from_ref(&bob_id),
            MessageKind::Message,
            &mid(&format!("n-{i}")),
            b"across nodes",
        )
        .await
        .unwrap();
    }
    let got = texts(&mut b, 10).await;
    assert!(got
        .iter()
        .all(|(from, text)| *from == alice_id && text == "across nodes"));
    // And back.
    b.send(
        std::slice::from_ref(&alice_id),
        MessageKind::Message,
        &mid("back"),
        b"received",
    )
    .await
    .unwrap();
    assert_eq!(texts(&mut a, 1).await[0].1, "received");

    // Alice sends more, then node 1 stops: everything acknowledged reaches Bob.
    for i in 10..20 {
        a.send(
            std::slice::from_ref(&bob_id),
            MessageKind::Message,
            &mid(&format!("n-{i}")),
            b"before the stop",
        )
        .await
        .unwrap();
    }
    world.stop_server().await;
    let mut alice = a.close().await;
    alice.server = node2.clone();
    let mut a = Client::connect(alice).await.unwrap();
    a.send(
        std::slice::from_ref(&bob_id),
        MessageKind::Message,
        &mid("after"),
        b"after the stop",
    )
    .await
    .unwrap();
    let got = texts(&mut b, 11).await;
    assert_eq!(got.iter().filter(|(_, t)| t == "before the stop").count(), 10);
    assert_eq!(got.iter().filter(|(_, t)| t == "after the stop").count(), 1);
    tokio::time::sleep(Duration::from_millis(10)).await;
    a.close().await;
    b.close().await;
    second.shutdown().await;
    world.db.drop_database().await;
}
