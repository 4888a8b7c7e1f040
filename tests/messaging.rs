//! End to end over real TLS WebSockets: enrollment, sessions, messages, devices, queues.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cloned_ref_to_slice_refs
)]

mod common;

use common::{mid, texts, uid, World, NPIS, WAIT};
use curbside_client::Client;
use curbside_protocol::frames::MessageKind;

on_every_backend!(
    two_clinicians_exchange_messages_and_a_new_device_joins,
    |db| async move {
        let world = World::start(db).await;
        let (alice, bob) = world.alice_and_bob().await;
        let (a_id, b_id) = (uid(&alice), uid(&bob));
        let mut a = Client::connect(alice).await.unwrap();
        let mut b = Client::connect(bob).await.unwrap();

        assert!(!a
            .send(
                &[b_id.clone()],
                MessageKind::Message,
                &mid("m1"),
                b"Curbside: rash on the forearm, 3 days"
            )
            .await
            .unwrap());
        assert_eq!(
            texts(&mut b, 1).await,
            vec![(a_id.clone(), "Curbside: rash on the forearm, 3 days".into())]
        );
        b.send(
            &[a_id.clone()],
            MessageKind::Message,
            &mid("m2"),
            b"Itchy? Send a photo",
        )
        .await
        .unwrap();
        assert_eq!(
            texts(&mut a, 1).await,
            vec![(b_id.clone(), "Itchy? Send a photo".into())]
        );
        // Bob's device acknowledged m1: Alice gets a delivery receipt.
        let receipts = a.wait_for_receipts(1, WAIT).await.unwrap();
        assert!(receipts
            .iter()
            .any(|(m, r, _)| m.as_str() == "m1" && r.user_id == b_id));

        // Bob adds a second device: Alice's next send is refused as stale, her
        // client opens a session with the new device and resends.
        let mut b2 = Client::connect(world.second_device(&b_id).await).await.unwrap();
        a.send(
            &[b_id.clone()],
            MessageKind::Message,
            &mid("m3"),
            b"photo to follow",
        )
        .await
        .unwrap();
        assert_eq!(
            texts(&mut b, 1).await,
            vec![(a_id.clone(), "photo to follow".into())]
        );
        assert_eq!(
            texts(&mut b2, 1).await,
            vec![(a_id.clone(), "photo to follow".into())]
        );
        // The new device's messages reach Alice and Bob's other device too.
        b2.send(
            &[a_id.clone()],
            MessageKind::Message,
            &mid("m4"),
            b"from my phone",
        )
        .await
        .unwrap();
        assert_eq!(
            texts(&mut a, 1).await,
            vec![(b_id.clone(), "from my phone".into())]
        );
        assert_eq!(
            texts(&mut b, 1).await,
            vec![(b_id.clone(), "from my phone".into())]
        );

        a.close().await;
        b.close().await;
        b2.close().await;
        world.stop().await;
    }
);

on_every_backend!(offline_recipient_receives_its_queue_in_order, |db| async move {
    let world = World::start(db).await;
    let (alice, bob) = world.alice_and_bob().await;
    let (a_id, b_id) = (uid(&alice), uid(&bob));
    let mut a = Client::connect(alice).await.unwrap();
    let expected: Vec<_> = (0..30).map(|i| (a_id.clone(), format!("update {i}"))).collect();
    for (i, (_, text)) in expected.iter().enumerate() {
        a.send(
            &[b_id.clone()],
            MessageKind::Message,
            &mid(&format!("q{i}")),
            text.as_bytes(),
        )
        .await
        .unwrap();
    }
    // Bob was offline for all of it.
    let mut b = Client::connect(bob).await.unwrap();
    assert_eq!(texts(&mut b, 30).await, expected);
    a.close().await;
    b.close().await;
    world.stop().await;
});

on_every_backend!(
    restart_loses_nothing_and_a_resent_id_is_delivered_once,
    |db| async move {
        let mut world = World::start(db).await;
        let (alice, bob) = world.alice_and_bob().await;
        let (a_id, b_id) = (uid(&alice), uid(&bob));
        let mut a = Client::connect(alice).await.unwrap();
        a.send(
            &[b_id.clone()],
            MessageKind::Referral,
            &mid("durable"),
            b"acknowledged before the restart",
        )
        .await
        .unwrap();
        let alice = a.close().await;

        // Restart on the same data.
        world.stop_server().await;
        world.start_server().await;
        assert!(
            world.server().bootstrap_token.is_none(),
            "an admin exists: no new bootstrap token"
        );
        let mut alice = alice;
        alice.server = world.info.clone();
        let mut bob = bob;
        bob.server = world.info.clone();

        let mut a = Client::connect(alice).await.unwrap();
        // The client resends the same id (it never saw the ack, say): not stored twice.
        assert!(a
            .send(
                &[b_id.clone()],
                MessageKind::Referral,
                &mid("durable"),
                b"acknowledged before the restart"
            )
            .await
            .unwrap());
        let mut b = Client::connect(bob).await.unwrap();
        assert_eq!(
            texts(&mut b, 1).await,
            vec![(a_id, "acknowledged before the restart".into())]
        );
        a.close().await;
        b.close().await;
        world.stop().await;
    }
);

on_every_backend!(undelivered_ciphertext_expires, |db| async move {
    let world = World::start_with(db, |c| c.limits.queue_ttl_secs = 1).await;
    let (alice, bob) = world.alice_and_bob().await;
    let b_id = uid(&bob);
    let bob_device = bob.address.clone().unwrap();
    let mut a = Client::connect(alice).await.unwrap();
    a.send(
        &[b_id.clone()],
        MessageKind::Message,
        &mid("stale"),
        b"never read",
    )
    .await
    .unwrap();
    let store = &world.server().state().store;
    assert_eq!(store.queue_depth(&bob_device).await.unwrap(), 1);
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    // Expired rows are never pushed, and the sweep deletes them.
    let mut b = Client::connect(bob).await.unwrap();
    assert!(b.next_message(common::QUIET).await.unwrap().is_none());
    let ttl = std::time::Duration::from_secs(1);
    assert_eq!(
        store
            .expire(curbside_server::store::now_ms(), ttl, i64::MIN)
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.queue_depth(&bob_device).await.unwrap(), 0);
    // Its id is forgotten with it: the idempotency window is the queue lifetime.
    let again = a
        .send(
            &[b_id.clone()],
            MessageKind::Message,
            &mid("stale"),
            b"never read",
        )
        .await
        .unwrap();
    assert!(!again, "an id older than the queue lifetime is accepted as new");
    a.close().await;
    b.close().await;
    world.stop().await;
});

on_every_backend!(
    client_reconnects_with_backoff_and_resends_its_outbox,
    |db| async move {
        let mut world = World::start(db).await;
        let (alice, bob) = world.alice_and_bob().await;
        let (a_id, b_id) = (uid(&alice), uid(&bob));
        let mut a = Client::connect(alice).await.unwrap();
        a.send(
            &[b_id.clone()],
            MessageKind::Message,
            &mid("first"),
            b"before the outage",
        )
        .await
        .unwrap();

        // The server goes away: Alice's connection is told and closed.
        world.stop_server().await;
        let outcome = a
            .send_or_queue(
                &[b_id.clone()],
                MessageKind::Message,
                &mid("during"),
                b"written during the outage",
            )
            .await
            .unwrap();
        assert_eq!(outcome, curbside_client::SendOutcome::Queued);
        assert_eq!(a.outbox_len(), 1);

        // It comes back (on a new port); Alice reconnects with backoff and the outbox drains.
        world.start_server().await;
        a.account.server = world.info.clone();
        a.reconnect(10).await.unwrap();
        assert_eq!(a.outbox_len(), 0);
        let mut bob = bob;
        bob.server = world.info.clone();
        let mut b = Client::connect(bob).await.unwrap();
        let got: Vec<String> = texts(&mut b, 2)
            .await
            .into_iter()
            .map(|(from, t)| {
                assert_eq!(from, a_id);
                t
            })
            .collect();
        assert_eq!(got, ["before the outage", "written during the outage"]);
        a.close().await;
        b.close().await;
        world.stop().await;
    }
);

on_every_backend!(graceful_shutdown_tells_connected_devices, |db| async move {
    let mut world = World::start(db).await;
    let alice = world.clinician("Dr. Alice Adeyemi", NPIS[0], "Dermatology").await;
    let mut a = Client::connect(alice).await.unwrap();
    world.stop_server().await;
    let err = a.next_message(WAIT).await.unwrap_err();
    assert_eq!(
        err.code(),
        Some(curbside_protocol::error::ErrorCode::ShuttingDown)
    );
    world.stop().await;
});

on_every_backend!(
    the_owner_is_told_when_prekeys_run_low_and_replenishes,
    |db| async move {
        // 95 fetches of one user by one device: above the default fetch
        // limit (tests/quotas.rs tests the limit).
        let world = World::start_with(db, |c| c.limits.bundle_fetches_per_requester = 100).await;
        let (alice, bob) = world.alice_and_bob().await;
        let bob_device = bob.address.clone().unwrap();
        let mut b = Client::connect(bob).await.unwrap();
        let a = Client::connect(alice).await.unwrap();
        // Alice fetches Bob's bundle until fewer than the threshold (10) remain.
        for _ in 0..95 {
            a.connection()
                .request(|id| curbside_protocol::frames::ClientFrame::FetchBundles {
                    id,
                    user_id: bob_device.user_id.clone(),
                })
                .await
                .unwrap();
        }
        let store = &world.server().state().store;
        assert_eq!(
            store
                .count_prekeys(&bob_device.user_id, bob_device.device_id)
                .await
                .unwrap(),
            5
        );
        // Bob's client is told and uploads a new batch while it waits for messages.
        assert!(b.next_message(common::QUIET).await.unwrap().is_none());
        assert_eq!(
            store
                .count_prekeys(&bob_device.user_id, bob_device.device_id)
                .await
                .unwrap(),
            105
        );
        a.close().await;
        b.close().await;
        world.stop().await;
    }
);

on_every_backend!(receipts_reach_a_sender_that_was_offline, |db| async move {
    let world = World::start(db).await;
    let (alice, bob) = world.alice_and_bob().await;
    let b_id = uid(&bob);
    let mut a = Client::connect(alice).await.unwrap();
    a.send(
        &[b_id.clone()],
        MessageKind::Message,
        &mid("while-away"),
        b"read this later",
    )
    .await
    .unwrap();
    let alice = a.close().await;
    // Bob reads it while Alice is offline.
    let mut b = Client::connect(bob).await.unwrap();
    texts(&mut b, 1).await;
    // Alice's next connection gets the receipt, and acknowledges it.
    let mut a = Client::connect(alice).await.unwrap();
    let receipts = a.wait_for_receipts(1, WAIT).await.unwrap().to_vec();
    assert_eq!(receipts.len(), 1);
    assert_eq!(
        (receipts[0].0.as_str(), &receipts[0].1.user_id),
        ("while-away", &b_id)
    );
    let alice = a.close().await;
    let mut a = Client::connect(alice).await.unwrap();
    assert!(
        a.wait_for_receipts(1, common::QUIET).await.unwrap().is_empty(),
        "an acknowledged receipt is not sent again"
    );
    a.close().await;
    b.close().await;
    world.stop().await;
});

// Several senders at once to one connected device: every message is pushed
// in real time, none waits for a reconnect. (On PostgreSQL, queue ids come
// from a sequence; before ids were allocated under the audit head lock, a
// transaction with a smaller id could commit after the recipient's
// connection had read past it, and that message waited for the next
// connection.)
on_every_backend!(
    concurrent_senders_reach_a_connected_recipient_in_real_time,
    |db| async move {
        let world = World::start(db).await;
        let bob = world
            .clinician("Dr. Bob Brennan", NPIS[1], "Internal Medicine")
            .await;
        let b_id = uid(&bob);
        let mut b = Client::connect(bob).await.unwrap();
        const SENDERS: usize = 4;
        const EACH: usize = 40;
        let mut senders = Vec::new();
        for i in 0..SENDERS {
            let account = world
                .clinician(&format!("Dr. Sender {i}"), NPIS[2 + i], "Cardiology")
                .await;
            senders.push(Client::connect(account).await.unwrap());
        }
        let tasks: Vec<_> = senders
            .into_iter()
            .enumerate()
            .map(|(i, mut client)| {
                let to = b_id.clone();
                tokio::spawn(async move {
                    for n in 0..EACH {
                        client
                            .send(
                                &[to.clone()],
                                MessageKind::Message,
                                &mid(&format!("c{i}x{n}")),
                                b"q",
                            )
                            .await
                            .unwrap();
                    }
                    client
                })
            })
            .collect();
        let mut got = 0;
        while got < SENDERS * EACH {
            let Some(received) = b.next_message(WAIT).await.unwrap() else {
                panic!(
                    "only {got} of {} messages pushed to the connected recipient",
                    SENDERS * EACH
                );
            };
            b.ack(&[received.delivery_id]).await.unwrap();
            got += 1;
        }
        for task in tasks {
            task.await.unwrap();
        }
        world.stop().await;
    }
);

// A client may send without waiting for each `accepted`: the connection
// keeps reading while earlier sends commit, answers every one, and the
// messages commit and are delivered in the order they were sent.
on_every_backend!(
    pipelined_sends_are_all_answered_and_delivered_in_order,
    |db| async move {
        use common::{next_json, raw_authenticated, send_text};
        let world = World::start(db).await;
        let (alice, bob) = world.alice_and_bob().await;
        let bob_address = bob.address.clone().unwrap();
        let (mut a, _) = raw_authenticated(&world.info, &alice).await;
        const N: usize = 40;
        for i in 0..N {
            let frame = serde_json::json!({
                "type": "send", "id": format!("r{i}"), "message_id": format!("p{i}"), "kind": "message",
                "recipients": [{"user_id": bob_address.user_id, "device_id": bob_address.device_id, "ciphertext": "AAEC"}],
            });
            send_text(&mut a, frame.to_string()).await;
        }
        let mut answered = Vec::new();
        while answered.len() < N {
            let frame = next_json(&mut a, WAIT).await.expect("an answer to every send");
            match frame["type"].as_str() {
                Some("accepted") => answered.push(frame["id"].as_str().unwrap().to_owned()),
                Some("prekeys_low") => {}
                _ => panic!("unexpected {frame}"),
            }
        }
        let expected: Vec<String> = (0..N).map(|i| format!("r{i}")).collect();
        assert_eq!(answered, expected, "answers come in request order");
        let (mut b, _) = raw_authenticated(&world.info, &bob).await;
        let mut delivered = Vec::new();
        while delivered.len() < N {
            let frame = next_json(&mut b, WAIT).await.expect("every message delivered");
            if frame["type"] == "deliver" {
                delivered.push(frame["message_id"].as_str().unwrap().to_owned());
            }
        }
        let expected: Vec<String> = (0..N).map(|i| format!("p{i}")).collect();
        assert_eq!(delivered, expected, "delivered in the order sent");
        world.stop().await;
    }
);
