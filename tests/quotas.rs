//! Hostile use of other clinicians' resources (issue 14): a stranger filling
//! a device's queue meets the per-sender quota, everyone meets the
//! per-device quota, each refused whole with `recipient_queue_full` while
//! nothing accepted is lost and acknowledging (or expiry) frees the room;
//! the quota holds across two nodes on one PostgreSQL. Fetching another
//! device's bundle over and over meets a limit per requester and per
//! target, audited once per window, so its one-time prekeys cannot be
//! drained, and a bundle without a one-time prekey still has the signed
//! prekey.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use curbside_client::{Client, ClientError};
use curbside_protocol::error::ErrorCode;
use curbside_protocol::frames::{ClientFrame, DeviceBundle, ErrorDetails, MessageKind, ServerFrame};
use curbside_protocol::ids::UserId;
use curbside_server::config::Config;
use curbside_server::store::Backend;

/// Per device 5 messages, per sender and device 3.
fn small_quota(config: &mut Config) {
    config.limits.max_queued_messages_per_device = 5;
    config.limits.max_queued_messages_per_sender = 3;
}

async fn send(client: &mut Client, to: &UserId, id: &str) -> Result<bool, ClientError> {
    client
        .send(
            std::slice::from_ref(to),
            MessageKind::Message,
            &mid(id),
            id.as_bytes(),
        )
        .await
}

fn assert_queue_full(result: Result<bool, ClientError>) {
    let err = result.expect_err("the send must be refused");
    assert_eq!(err.code(), Some(ErrorCode::RecipientQueueFull), "{err}");
    assert!(!err.is_retryable(), "a refusal, not storage trouble");
    assert!(err.to_string().contains("try again"), "says what to do: {err}");
}

on_every_backend!(
    a_stranger_meets_the_sender_quota_another_sender_the_device_quota_and_acks_free_them,
    |db| async move {
        let world = World::start_with(db, small_quota).await;
        let (alice, bob) = world.alice_and_bob().await;
        let carol = world.clinician("Dr. Carol Chen", NPIS[2], "Cardiology").await;
        let bob_id = uid(&bob);
        let bob_device = bob.address.clone().unwrap();
        let mut mallory = Client::connect(alice).await.unwrap();
        let mut c = Client::connect(carol).await.unwrap();
        // Bob is offline: a stranger fills his queue, up to the per-sender quota.
        for i in 0..3 {
            assert!(!send(&mut mallory, &bob_id, &format!("m{i}")).await.unwrap());
        }
        assert_queue_full(send(&mut mallory, &bob_id, "m3").await);
        // Another sender still gets through, up to the device's quota (5).
        assert!(!send(&mut c, &bob_id, "c0").await.unwrap());
        assert!(!send(&mut c, &bob_id, "c1").await.unwrap());
        assert_queue_full(send(&mut c, &bob_id, "c2").await);
        let store = &world.server().state().store;
        assert_eq!(
            store.queue_depth(&bob_device).await.unwrap(),
            5,
            "nothing refused was queued"
        );

        // Bob comes online: exactly what was accepted arrives, in order.
        let mut b = Client::connect(bob).await.unwrap();
        let got: Vec<String> = texts(&mut b, 5).await.into_iter().map(|(_, t)| t).collect();
        assert_eq!(got, ["m0", "m1", "m2", "c0", "c1"]);
        // His acknowledgements freed the quota: the refused ids are new
        // messages, not duplicates, and now go through.
        assert!(!send(&mut mallory, &bob_id, "m3").await.unwrap());
        assert!(!send(&mut c, &bob_id, "c2").await.unwrap());
        let got: Vec<String> = texts(&mut b, 2).await.into_iter().map(|(_, t)| t).collect();
        assert_eq!(got, ["m3", "c2"]);
        mallory.close().await;
        c.close().await;
        b.close().await;
        world.stop().await;
    }
);

on_every_backend!(
    a_send_to_several_devices_is_refused_whole_and_expiry_frees_the_quota,
    |db| async move {
        let world = World::start_with(db, small_quota).await;
        let (alice, bob) = world.alice_and_bob().await;
        let bob_id = uid(&bob);
        let bob_phone = world.second_device(&bob_id).await;
        let phone = bob_phone.address.clone().unwrap();
        let laptop = bob.address.clone().unwrap();
        let mut a = Client::connect(alice).await.unwrap();
        for i in 0..3 {
            send(&mut a, &bob_id, &format!("m{i}")).await.unwrap();
        }
        assert_queue_full(send(&mut a, &bob_id, "m3").await);
        let store = &world.server().state().store;
        // Each device got the three, neither the fourth.
        assert_eq!(store.queue_depth(&laptop).await.unwrap(), 3);
        assert_eq!(store.queue_depth(&phone).await.unwrap(), 3);
        // The queue expires (as the periodic expiry would, a month later):
        // the quota is free again.
        let later = curbside_server::store::now_ms() + 31 * 24 * 3600 * 1000;
        assert_eq!(
            store
                .expire(later, Duration::from_secs(3600), i64::MIN)
                .await
                .unwrap(),
            6
        );
        assert!(!send(&mut a, &bob_id, "m3").await.unwrap());
        assert_eq!(store.queue_depth(&phone).await.unwrap(), 1);
        drop(bob_phone);
        a.close().await;
        world.stop().await;
    }
);

/// Starts a second node on the first node's database, certificate and
/// audit key (tests/multinode.rs).
async fn second_node(
    world: &World,
    tweak: impl FnOnce(&mut Config),
) -> (curbside_server::Server, tempfile::TempDir) {
    let own_dir = tempfile::tempdir().unwrap();
    let first_dir = world.db.dir.path().to_path_buf();
    let mut config = Config {
        data_dir: own_dir.path().to_path_buf(),
        tls_cert: Some(first_dir.join("tls").join("cert.pem")),
        tls_key: Some(first_dir.join("tls").join("key.pem")),
        audit_log_key: Some(first_dir.join("audit-log-key.pk8")),
        node_id: Some("node-b".into()),
        ..world.db.config()
    };
    tweak(&mut config);
    (curbside_server::start(config).await.unwrap(), own_dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    all(not(curbside_postgres), not(curbside_ci)),
    ignore = "on PostgreSQL: set CURBSIDE_TEST_POSTGRES_URL to run it"
)]
async fn the_device_quota_holds_for_two_nodes_sending_at_once() {
    let Some(db) = Db::new(Backend::Postgres).await else {
        return;
    };
    let quota = |c: &mut Config| {
        c.limits.max_queued_messages_per_device = 6;
        c.limits.max_queued_messages_per_sender = 0;
    };
    let world = World::start_with(db, quota).await;
    let (alice, bob) = world.alice_and_bob().await;
    let mut carol = world.clinician("Dr. Carol Chen", NPIS[2], "Cardiology").await;
    let (second, _dir) = second_node(&world, quota).await;
    carol.server = server_info(&second);
    let bob_id = uid(&bob);
    let mut a = Client::connect(alice).await.unwrap();
    let mut c = Client::connect(carol).await.unwrap();
    // Open the sessions first, so that the race is only the sends.
    send(&mut a, &bob_id, "a-first").await.unwrap();
    send(&mut c, &bob_id, "c-first").await.unwrap();
    let race = |mut client: Client, who: &'static str, bob: UserId| async move {
        let mut accepted = 0;
        for i in 0..6 {
            match send(&mut client, &bob, &format!("{who}{i}")).await {
                Ok(_) => accepted += 1,
                Err(e) => assert_eq!(e.code(), Some(ErrorCode::RecipientQueueFull), "{e}"),
            }
        }
        (client, accepted)
    };
    let ((a, from_a), (c, from_c)) = tokio::join!(race(a, "a", bob_id.clone()), race(c, "c", bob_id.clone()));
    assert_eq!(from_a + from_c, 4, "exactly the quota's room, across nodes");
    let store = &world.server().state().store;
    assert_eq!(store.queue_depth(bob.address.as_ref().unwrap()).await.unwrap(), 6);
    let mut b = Client::connect(bob).await.unwrap();
    assert_eq!(texts(&mut b, 6).await.len(), 6);
    a.close().await;
    c.close().await;
    b.close().await;
    second.shutdown().await;
    world.stop().await;
}

/// One `fetch_bundles` request: the bundles, or the refusal.
async fn fetch(client: &Client, user: &UserId) -> Result<Vec<DeviceBundle>, ClientError> {
    match client
        .connection()
        .request(|id| ClientFrame::FetchBundles {
            id,
            user_id: user.clone(),
        })
        .await?
    {
        ServerFrame::Bundles { devices, .. } => Ok(devices),
        other => panic!("expected bundles, got {other:?}"),
    }
}

/// The refused `prekey_bundle.fetched` entries in the audit log.
async fn refused_fetches_on_record(db: &Db) -> i64 {
    use sqlx::{Connection as _, Row as _};
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    sqlx::query(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'prekey_bundle.fetched' \
         AND outcome = 'failure' AND reason = 'rate_limited'",
    )
    .fetch_one(&mut c)
    .await
    .unwrap()
    .get::<i64, _>(0)
}

fn assert_rate_limited(result: Result<Vec<DeviceBundle>, ClientError>) {
    match result {
        Err(ClientError::Server {
            code: ErrorCode::RateLimited,
            details: Some(ErrorDetails::RetryAfter { retry_after_ms }),
            ..
        }) => assert!(
            retry_after_ms > 0 && retry_after_ms <= 3_600_000,
            "{retry_after_ms}"
        ),
        other => panic!("expected rate_limited with a retry time, got {other:?}"),
    }
}

on_every_backend!(
    bundle_fetches_past_the_limits_are_refused_audited_once_and_drain_nothing,
    |db| async move {
        let world = World::start_with(db, |c| {
            c.limits.bundle_fetches_per_requester = 5;
            c.limits.bundle_fetches_per_target = 8;
        })
        .await;
        let (alice, bob) = world.alice_and_bob().await;
        let carol = world.clinician("Dr. Carol Chen", NPIS[2], "Cardiology").await;
        let bob_id = uid(&bob);
        let bob_device = bob.address.clone().unwrap();
        let store = &world.server().state().store;
        let stock = store
            .count_prekeys(&bob_device.user_id, bob_device.device_id)
            .await
            .unwrap();
        let mallory = Client::connect(alice).await.unwrap();
        let c = Client::connect(carol).await.unwrap();
        // A stranger fetches Bob's bundle over and over: five, then refused.
        for _ in 0..5 {
            let bundles = fetch(&mallory, &bob_id).await.unwrap();
            assert!(bundles[0].one_time_prekey.is_some());
        }
        for _ in 0..10 {
            assert_rate_limited(fetch(&mallory, &bob_id).await);
        }
        // Her refusals did not use up Bob's allowance: Carol gets the three
        // left of the target's eight, then she is refused too.
        for _ in 0..3 {
            fetch(&c, &bob_id).await.unwrap();
        }
        assert_rate_limited(fetch(&c, &bob_id).await);
        assert_rate_limited(fetch(&c, &bob_id).await);
        // Only what the limits allowed was claimed.
        assert_eq!(
            store
                .count_prekeys(&bob_device.user_id, bob_device.device_id)
                .await
                .unwrap(),
            stock - 8
        );
        // One entry per requester for the excess, not one per refusal.
        assert_eq!(refused_fetches_on_record(&world.db).await, 2);
        // The connections stay usable, and other targets are not limited.
        let carol_id = uid(&world.clinician("Dr. Dan Diaz", NPIS[3], "Oncology").await);
        fetch(&mallory, &carol_id).await.unwrap();
        mallory.close().await;
        c.close().await;
        world.stop().await;
    }
);

on_every_backend!(
    a_bundle_without_one_time_prekeys_still_has_the_signed_prekey,
    |db| async move {
        let world = World::start_with(db, |c| {
            c.limits.bundle_fetches_per_requester = 0;
            c.limits.bundle_fetches_per_target = 0;
        })
        .await;
        let (alice, bob) = world.alice_and_bob().await;
        let bob_id = uid(&bob);
        let bob_device = bob.address.clone().unwrap();
        let store = &world.server().state().store;
        let stock = store
            .count_prekeys(&bob_device.user_id, bob_device.device_id)
            .await
            .unwrap();
        // Bob is offline (he cannot replenish): Alice takes every one-time
        // prekey (no limit configured here)…
        let a = Client::connect(alice).await.unwrap();
        for _ in 0..stock {
            assert!(fetch(&a, &bob_id).await.unwrap()[0].one_time_prekey.is_some());
        }
        // …and the next fetch still has the signed prekey and identity key.
        let bundles = fetch(&a, &bob_id).await.unwrap();
        assert_eq!(bundles.len(), 1);
        assert!(bundles[0].one_time_prekey.is_none());
        assert!(!bundles[0].signed_prekey.is_empty());
        assert!(!bundles[0].identity_key.is_empty());
        a.close().await;
        // A client still opens a session with it and Bob reads the message.
        let mut carol = Client::connect(world.clinician("Dr. Carol Chen", NPIS[2], "Cardiology").await)
            .await
            .unwrap();
        send(&mut carol, &bob_id, "no-one-time-prekey").await.unwrap();
        let mut b = Client::connect(bob).await.unwrap();
        assert_eq!(texts(&mut b, 1).await[0].1, "no-one-time-prekey");
        carol.close().await;
        b.close().await;
        world.stop().await;
    }
);
