//! Hostile input: every malformed or abusive frame gets its error code, no
//! frame crashes the connection task or the server, and no queued message is lost.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cloned_ref_to_slice_refs
)]

mod common;

use std::time::Duration;

use common::*;
use curbside_client::Client;
use curbside_crypto::{PreKeyId, SignedPreKey, SignedPreKeyPair};
use curbside_protocol::auth::EnrollPurpose;
use curbside_protocol::error::ErrorCode;
use curbside_protocol::frames::{ClientFrame, MessageKind, ServerFrame};
use curbside_protocol::http::{InviteTarget, Role};
use curbside_protocol::ids::{Address, UserId};
use curbside_server::store::Backend;

async fn world_with(tweak: impl FnOnce(&mut curbside_server::Config)) -> World {
    World::start_with(Db::new(Backend::Sqlite).await.unwrap(), tweak).await
}

/// Alice sends one message to offline Bob; returns the world and both accounts.
async fn with_queued_message(world: &World) -> (curbside_client::Account, curbside_client::Account) {
    let (alice, bob) = world.alice_and_bob().await;
    let mut a = Client::connect(alice).await.unwrap();
    a.send(
        &[uid(&bob)],
        MessageKind::Message,
        &mid("queued"),
        b"must survive",
    )
    .await
    .unwrap();
    (a.close().await, bob)
}

async fn assert_bob_still_gets_it(bob: curbside_client::Account) {
    let mut b = Client::connect(bob).await.unwrap();
    let got = texts(&mut b, 1).await;
    assert_eq!(got[0].1, "must survive");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_but_auth_is_accepted_before_authentication() {
    let world = world_with(|_| {}).await;
    let (_, bob) = with_queued_message(&world).await;
    for (frame, code) in [
        (r#"{"type":"ping","id":"p1"}"#, "auth_required"),
        ("{not json", "malformed_json"),
        (r#"{"type":"teleport"}"#, "unknown_type"),
        (
            r#"{"type":"auth","version":1,"user_id":"u","device_id":1,"signature":"%%%"}"#,
            "bad_base64",
        ),
        (
            r#"{"type":"auth","version":1,"user_id":"nobody","device_id":1,"signature":"AAAA"}"#,
            "auth_failed",
        ),
    ] {
        let mut ws = raw_ws(&world.info).await;
        let hello = next_json(&mut ws, WAIT).await.unwrap();
        assert_eq!(hello["type"], "hello");
        send_text(&mut ws, frame).await;
        expect_error(&mut ws, code).await;
        expect_closed(&mut ws).await;
    }
    assert_bob_still_gets_it(bob).await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_deadline_is_enforced() {
    let world = world_with(|c| c.limits.auth_deadline_ms = 1000).await;
    let mut ws = raw_ws(&world.info).await;
    let hello = next_json(&mut ws, WAIT).await.unwrap();
    assert_eq!(hello["auth_deadline_ms"], 1000);
    expect_error(&mut ws, "auth_timeout").await;
    expect_closed(&mut ws).await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_authentication_is_refused() {
    let world = world_with(|_| {}).await;
    let alice = world.clinician("Dr. Alice Adeyemi", NPIS[0], "Dermatology").await;
    let (mut ws, auth) = raw_authenticated(&world.info, &alice).await;
    // The same auth frame again on the same connection.
    send_text(&mut ws, auth.clone()).await;
    expect_error(&mut ws, "challenge_replayed").await;
    expect_closed(&mut ws).await;
    // A captured auth frame replayed on a new connection (new challenge) fails.
    let mut ws = raw_ws(&world.info).await;
    next_json(&mut ws, WAIT).await.unwrap();
    send_text(&mut ws, auth).await;
    expect_error(&mut ws, "auth_failed").await;
    expect_closed(&mut ws).await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_after_authentication_get_codes_and_the_connection_survives() {
    let world = world_with(|_| {}).await;
    let (alice, bob) = with_queued_message(&world).await;
    let (mut ws, _) = raw_authenticated(&world.info, &alice).await;
    let b = uid(&bob);
    let cases = [
        ("{\"type\":\"send\",".to_owned(), "malformed_json"),
        (r#"{"type":"warp","id":"x1"}"#.to_owned(), "unknown_type"),
        (r#"{"type":"send","id":"x2"}"#.to_owned(), "invalid_frame"),
        (
            format!(
                r#"{{"type":"send","id":"x3","message_id":"m","kind":"message","recipients":[{{"user_id":"{b}","device_id":1,"ciphertext":"not*base64"}}]}}"#
            ),
            "bad_base64",
        ),
        (
            r#"{"type":"fetch_bundles","id":"x4","user_id":"u000000000000000000000000"}"#.to_owned(),
            "not_found",
        ),
    ];
    for (frame, code) in cases {
        send_text(&mut ws, frame).await;
        let err = expect_error(&mut ws, code).await;
        if code == "bad_base64" {
            assert_eq!(err["id"], "x3", "the request id is echoed");
        }
    }
    {
        use futures_util::SinkExt;
        ws.send(WsMessage::binary(vec![1, 2, 3])).await.unwrap();
    }
    expect_error(&mut ws, "invalid_frame").await;
    send_text(&mut ws, r#"{"type":"ping","id":"alive"}"#).await;
    assert_eq!(
        next_json(&mut ws, WAIT).await.unwrap(),
        serde_json::json!({"type":"pong","id":"alive"})
    );
    assert_bob_still_gets_it(bob).await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_frame_closes_only_that_connection() {
    let world = world_with(|c| c.limits.max_frame_bytes = 16 * 1024).await;
    let (alice, bob) = with_queued_message(&world).await;
    let (mut ws, _) = raw_authenticated(&world.info, &alice).await;
    send_text(
        &mut ws,
        format!(r#"{{"type":"ping","id":"{}"}}"#, "x".repeat(64 * 1024)),
    )
    .await;
    expect_error(&mut ws, "frame_too_large").await;
    expect_closed(&mut ws).await;
    // The server and the queue are fine.
    assert_bob_still_gets_it(bob).await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_recipients_is_refused() {
    let world = world_with(|c| c.limits.max_recipients = 2).await;
    let alice = world.clinician("Dr. Alice Adeyemi", NPIS[0], "Dermatology").await;
    let (mut ws, _) = raw_authenticated(&world.info, &alice).await;
    let a = uid(&alice);
    let recipients: Vec<_> = (1..=3)
        .map(|d| serde_json::json!({"user_id": a, "device_id": d, "ciphertext": "AAAA"}))
        .collect();
    let frame = serde_json::json!({"type":"send","id":"s1","message_id":"m1","kind":"message","recipients":recipients});
    send_text(&mut ws, frame.to_string()).await;
    expect_error(&mut ws, "too_many_recipients").await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_answers_with_retry_after_and_keeps_the_connection() {
    let world = world_with(|c| {
        c.limits.rate_per_sec = 2;
        c.limits.rate_burst = 3;
    })
    .await;
    let alice = world.clinician("Dr. Alice Adeyemi", NPIS[0], "Dermatology").await;
    let (mut ws, _) = raw_authenticated(&world.info, &alice).await;
    for i in 0..10 {
        send_text(&mut ws, format!(r#"{{"type":"ping","id":"p{i}"}}"#)).await;
    }
    let (mut pongs, mut limited) = (0, 0);
    let mut answered = std::collections::BTreeSet::new();
    while let Some(frame) = next_json(&mut ws, Duration::from_millis(500)).await {
        match (frame["type"].as_str(), frame["code"].as_str()) {
            (Some("pong"), _) => pongs += 1,
            (Some("error"), Some("rate_limited")) => {
                assert!(frame["details"]["retry_after_ms"].as_u64().unwrap() > 0);
                limited += 1;
            }
            _ => {}
        }
        // Every answer, refusals included, names the request it answers.
        assert!(
            answered.insert(frame["id"].as_str().unwrap().to_owned()),
            "{frame}"
        );
    }
    assert_eq!(pongs + limited, 10);
    assert_eq!(answered.len(), 10);
    assert!(
        (3..10).contains(&pongs) && limited > 0,
        "pongs {pongs}, limited {limited}"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    send_text(&mut ws, r#"{"type":"ping","id":"later"}"#).await;
    assert_eq!(next_json(&mut ws, WAIT).await.unwrap()["type"], "pong");
    world.stop().await;
}

/// Binary frames and WebSocket pings count against the frame rate as text
/// frames do: a burst past `rate_burst` is answered `rate_limited`, the
/// connection survives, and a text request after the wait is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_frames_and_pings_count_against_the_rate_limit() {
    use futures_util::SinkExt;
    let world = world_with(|c| {
        c.limits.rate_per_sec = 2;
        c.limits.rate_burst = 3;
    })
    .await;
    let alice = world.clinician("Dr. Alice Adeyemi", NPIS[0], "Dermatology").await;
    let (mut ws, _) = raw_authenticated(&world.info, &alice).await;
    for _ in 0..10 {
        ws.send(WsMessage::binary(vec![0u8; 16])).await.unwrap();
    }
    let (mut invalid, mut limited) = (0, 0);
    while let Some(frame) = next_json(&mut ws, Duration::from_millis(500)).await {
        match (frame["type"].as_str(), frame["code"].as_str()) {
            (Some("error"), Some("invalid_frame")) => invalid += 1,
            (Some("error"), Some("rate_limited")) => {
                assert!(
                    frame["details"]["retry_after_ms"].as_u64().unwrap() > 0,
                    "{frame}"
                );
                limited += 1;
            }
            _ => {}
        }
    }
    assert_eq!(invalid + limited, 10);
    assert!(
        (3..10).contains(&invalid) && limited > 0,
        "invalid {invalid}, limited {limited}"
    );

    // Pings empty the bucket too: the text request right after them is refused.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    for _ in 0..10 {
        ws.send(WsMessage::Ping(vec![1u8; 8].into())).await.unwrap();
    }
    send_text(&mut ws, r#"{"type":"ping","id":"after-pings"}"#).await;
    let mut answer = None;
    while let Some(frame) = next_json(&mut ws, Duration::from_millis(500)).await {
        if frame["id"] == "after-pings" {
            answer = Some(frame);
        }
    }
    let answer = answer.expect("the text ping is answered");
    assert_eq!(answer["code"], "rate_limited", "{answer}");

    // The connection survives: after the wait, requests are served again.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    send_text(&mut ws, r#"{"type":"ping","id":"later"}"#).await;
    assert_eq!(next_json(&mut ws, WAIT).await.unwrap()["type"], "pong");
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_never_acknowledges_gets_a_bounded_window_and_loses_nothing() {
    let world = world_with(|c| c.limits.max_unacked_deliveries = 8).await;
    let (alice, bob) = world.alice_and_bob().await;
    let b = uid(&bob);
    let mut a = Client::connect(alice).await.unwrap();
    for i in 0..40 {
        a.send(
            &[b.clone()],
            MessageKind::Message,
            &mid(&format!("w{i}")),
            format!("n{i}").as_bytes(),
        )
        .await
        .unwrap();
    }
    // Bob's raw connection reads but never acknowledges: exactly the window arrives.
    let (mut ws, _) = raw_authenticated(&world.info, &bob).await;
    let mut delivered = 0;
    while let Some(frame) = next_json(&mut ws, Duration::from_millis(700)).await {
        if frame["type"] == "deliver" {
            delivered += 1;
        }
    }
    assert_eq!(delivered, 8, "the server must stop at the unacknowledged window");
    let device = Address {
        user_id: b.clone(),
        device_id: bob.address.as_ref().unwrap().device_id,
    };
    assert_eq!(
        world.server().state().store.queue_depth(&device).await.unwrap(),
        40
    );
    drop(ws);
    // A well-behaved client then receives all 40, in order.
    let mut client = Client::connect(bob).await.unwrap();
    let got = texts(&mut client, 40).await;
    assert_eq!(
        got.iter().map(|(_, t)| t.clone()).collect::<Vec<_>>(),
        (0..40).map(|i| format!("n{i}")).collect::<Vec<_>>()
    );
    a.close().await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_never_drains_its_socket_is_dropped_and_nothing_is_lost() {
    let world = world_with(|c| {
        c.limits.max_unacked_deliveries = 10_000;
        c.limits.write_timeout_secs = 1;
    })
    .await;
    let (alice, bob) = world.alice_and_bob().await;
    let b = uid(&bob);
    // Bob authenticates, then never reads again.
    let (stalled, _) = raw_authenticated(&world.info, &bob).await;
    let mut a = Client::connect(alice).await.unwrap();
    assert_eq!(world.server().state().hub.connected(), 2);
    // About 13 MB of pushes on the wire: far more than the socket buffers hold.
    let body = vec![b'x'; 64 * 1024];
    for i in 0..150 {
        a.send(
            &[b.clone()],
            MessageKind::Message,
            &mid(&format!("big{i}")),
            &body,
        )
        .await
        .unwrap();
    }
    // The server gives up on the stalled socket after the write timeout…
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while world.server().state().hub.connected() > 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stalled connection was never dropped"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // …keeps every message queued, and keeps serving others.
    let device = Address {
        user_id: b.clone(),
        device_id: bob.address.as_ref().unwrap().device_id,
    };
    assert_eq!(
        world.server().state().store.queue_depth(&device).await.unwrap(),
        150
    );
    a.connection()
        .request(|id| ClientFrame::Ping { id })
        .await
        .unwrap();
    drop(stalled);
    let mut client = Client::connect(bob).await.unwrap();
    assert_eq!(texts(&mut client, 150).await.len(), 150);
    a.close().await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resent_message_id_is_a_duplicate_with_the_original_acceptance_time() {
    let world = world_with(|_| {}).await;
    let (alice, bob) = world.alice_and_bob().await;
    let b = bob.address.clone().unwrap();
    let (mut ws, _) = raw_authenticated(&world.info, &alice).await;
    let send = |id: &str| {
        serde_json::json!({"type":"send","id":id,"message_id":"dup-1","kind":"message",
            "recipients":[{"user_id": b.user_id, "device_id": b.device_id, "ciphertext": "AAAA"}]})
        .to_string()
    };
    send_text(&mut ws, send("first")).await;
    let first = next_json(&mut ws, WAIT).await.unwrap();
    assert_eq!(
        (first["type"].as_str(), first["duplicate"].as_bool()),
        (Some("accepted"), Some(false)),
        "{first}"
    );
    tokio::time::sleep(Duration::from_millis(30)).await;
    send_text(&mut ws, send("again")).await;
    let again = next_json(&mut ws, WAIT).await.unwrap();
    assert_eq!(
        (again["id"].as_str(), again["duplicate"].as_bool()),
        (Some("again"), Some(true)),
        "{again}"
    );
    assert_eq!(
        again["accepted_at"], first["accepted_at"],
        "the original acceptance, not the resend"
    );
    world.stop().await;
}

/// `key` with one bit flipped at byte `at`.
fn flipped(key: &[u8], at: usize) -> Vec<u8> {
    let mut key = key.to_vec();
    key[at] ^= 0x01;
    key
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identity_key_whose_inner_signature_is_broken_is_refused_and_audited() {
    let world = world_with(|_| {}).await;
    let api = world.api();
    let alice = world.clinician("Dr. Alice Adeyemi", NPIS[0], "Dermatology").await;
    let new_user = world
        .invite(InviteTarget::NewUser {
            role: Role::Clinician,
        })
        .await;
    let new_device = world
        .invite(InviteTarget::NewDevice { user_id: uid(&alice) })
        .await;
    let mut refused = 0;
    // At enrollment (a new user) and at device addition (a device invite).
    for invite in [&new_user, &new_device] {
        let device = RawDevice::generate();
        let key = device.identity_key();
        // A flipped byte in the inner signature, and in the X25519 key it
        // signs. The Ed25519 key is intact, so the proof over the tampered
        // key verifies: only the inner signature is wrong.
        for at in [64, 100, 127, 40] {
            let req = device.enrollment_with(
                invite,
                NPIS[4],
                &flipped(&key, at),
                EnrollPurpose::of_invite(invite),
                "localhost",
            );
            let err = api
                .enroll(&req)
                .await
                .expect_err("a broken identity key is refused");
            assert_eq!(
                err.code(),
                Some(ErrorCode::InvalidIdentityKey),
                "byte {at}: {err}"
            );
            refused += 1;
            assert_eq!(
                refused_enrollments(&world.db, "invalid_identity_key").await,
                refused,
                "every refusal is audited"
            );
        }
        // Nothing was stored and the invite is still good for the real key.
        api.enroll(&device.enrollment(invite, NPIS[4])).await.unwrap();
    }
    let devices = world
        .server()
        .state()
        .store
        .devices_of(&uid(&alice))
        .await
        .unwrap();
    assert_eq!(devices.len(), 2, "the device invite added exactly one device");
    world.stop().await;
}

/// The signed prekey the server hands out for `user`'s first device.
async fn served_signed_prekey(client: &Client, user: &UserId) -> Vec<u8> {
    let reply = client
        .connection()
        .request(|id| ClientFrame::FetchBundles {
            id,
            user_id: user.clone(),
        })
        .await
        .unwrap();
    let ServerFrame::Bundles { devices, .. } = reply else {
        panic!("expected bundles, got {reply:?}");
    };
    devices[0].signed_prekey.0.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_prekey_whose_signature_is_broken_is_refused_at_enrollment_and_on_publish() {
    let world = world_with(|_| {}).await;
    let api = world.api();
    let stranger = RawDevice::generate();

    // At enrollment: a flipped byte, and another device's (well-signed) prekey.
    let invite = world
        .invite(InviteTarget::NewUser {
            role: Role::Clinician,
        })
        .await;
    let device = RawDevice::generate();
    let good = device.enrollment(&invite, NPIS[4]);
    for bad in [
        flipped(&good.signed_prekey.0, 99),
        flipped(&good.signed_prekey.0, 10),
        stranger.signed_prekey.public().to_bytes(),
    ] {
        let mut req = good.clone();
        req.signed_prekey = bad.into();
        let err = api
            .enroll(&req)
            .await
            .expect_err("a broken signed prekey is refused");
        assert_eq!(err.code(), Some(ErrorCode::InvalidSignedPrekey), "{err}");
    }
    assert_eq!(refused_enrollments(&world.db, "invalid_signed_prekey").await, 3);
    api.enroll(&good).await.unwrap();

    // On publish: refused, the connection survives, and peers still get the
    // enrolled signed prekey.
    let (alice, bob) = world.alice_and_bob().await;
    let alice_identity = *alice.identity().public();
    let a = Client::connect(alice).await.unwrap();
    let b = Client::connect(bob).await.unwrap();
    let enrolled = served_signed_prekey(&b, &uid(&a.account)).await;
    let rotated = SignedPreKeyPair::generate(a.account.identity(), PreKeyId(2), 0, &mut rand_core::OsRng)
        .unwrap()
        .public()
        .to_bytes();
    for bad in [
        flipped(&rotated, 70),
        flipped(&rotated, 20),
        stranger.signed_prekey.public().to_bytes(),
    ] {
        let refused = a
            .connection()
            .request(|id| ClientFrame::PublishPrekeys {
                id,
                signed_prekey: Some(bad.into()),
                one_time_prekeys: Vec::new(),
            })
            .await
            .expect_err("a broken signed prekey is refused");
        assert_eq!(refused.code(), Some(ErrorCode::InvalidSignedPrekey), "{refused}");
    }
    let served = served_signed_prekey(&b, &uid(&a.account)).await;
    assert_eq!(served, enrolled, "a refused publish stored nothing");
    SignedPreKey::from_bytes(&alice_identity, &served).unwrap();
    // A well-signed rotation is accepted and served.
    let reply = a
        .connection()
        .request(|id| ClientFrame::PublishPrekeys {
            id,
            signed_prekey: Some(rotated.clone().into()),
            one_time_prekeys: Vec::new(),
        })
        .await
        .unwrap();
    assert!(matches!(reply, ServerFrame::PrekeysPublished { .. }), "{reply:?}");
    assert_eq!(served_signed_prekey(&b, &uid(&a.account)).await, rotated);
    world.stop().await;
}
