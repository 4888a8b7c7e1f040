//! Small refusals a hostile client found (issue 14), each with its code:
//! an invite for another user's device from a non-admin, a never-issued
//! HTTP challenge told from a replayed one, and the JSON rules (unknown
//! fields are ignored; a duplicate key is refused, in an HTTP body and in a
//! WebSocket frame) on an HTTP endpoint and a frame.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use curbside_client::{enroll, Account};
use curbside_protocol::auth::{transcript, Purpose};
use curbside_protocol::bytes::Base64;

fn url(world: &World, path: &str) -> String {
    format!("https://localhost:{}{path}", world.server().addr.port())
}

/// POSTs JSON text (as given: it may hold duplicate keys) and returns the status and body.
async fn post(world: &World, path: &str, token: Option<&str>, body: String) -> (u16, serde_json::Value) {
    let mut req = world
        .http()
        .post(url(world, path))
        .header("content-type", "application/json")
        .body(body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, body)
}

on_every_backend!(
    a_device_invite_for_another_user_needs_the_admin_role,
    |db: Db| async move {
        let world = World::start(db).await;
        let (alice, bob) = world.alice_and_bob().await;
        let alice_token = world.login(&alice).await;
        let body =
            |user: &str| serde_json::json!({"target": {"for": "new_device", "user_id": user}}).to_string();
        // Alice names Bob: refused, not an invite for Alice's own account.
        let (status, answer) = post(
            &world,
            "/v1/devices/invites",
            Some(&alice_token),
            body(uid(&bob).as_str()),
        )
        .await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (403, Some("forbidden")),
            "{answer}"
        );
        assert!(answer["message"].as_str().unwrap().contains("admin"), "{answer}");
        // A new user is an admin's to invite too.
        let new_user = serde_json::json!({"target": {"for": "new_user", "role": "clinician"}}).to_string();
        let (status, answer) = post(&world, "/v1/devices/invites", Some(&alice_token), new_user).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (403, Some("forbidden")),
            "{answer}"
        );
        // Her own account: an invite, which enrolls a device of hers.
        let (status, answer) = post(
            &world,
            "/v1/devices/invites",
            Some(&alice_token),
            body(uid(&alice).as_str()),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        let device = enroll(
            world.info.clone(),
            answer["invite"].as_str().unwrap(),
            &Default::default(),
        )
        .await
        .unwrap();
        assert_eq!(uid(&device), uid(&alice));
        // An admin may name anyone: the invite enrolls a device of Bob's.
        let (status, answer) = post(
            &world,
            "/v1/devices/invites",
            Some(&world.admin_token),
            body(uid(&bob).as_str()),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        let device = enroll(
            world.info.clone(),
            answer["invite"].as_str().unwrap(),
            &Default::default(),
        )
        .await
        .unwrap();
        assert_eq!(uid(&device), uid(&bob));
        world.stop().await;
    }
);

/// A session request for `account` answering `challenge`, signed properly.
fn session_body(account: &Account, challenge: &[u8; 32]) -> String {
    let address = account.address.as_ref().unwrap();
    let signed = transcript(
        Purpose::HttpSession,
        "localhost",
        &address.user_id,
        address.device_id,
        challenge,
    );
    let signature = account.identity().sign(&signed).unwrap();
    serde_json::json!({
        "user_id": address.user_id, "device_id": address.device_id,
        "challenge": Base64(challenge.to_vec()).encode(),
        "signature": Base64(signature.as_bytes().to_vec()).encode(),
    })
    .to_string()
}

on_every_backend!(
    a_never_issued_challenge_is_unknown_and_a_used_one_replayed,
    |db: Db| async move {
        let world = World::start(db).await;
        let (alice, _) = world.alice_and_bob().await;
        // Signed correctly, but this server never issued it.
        let (status, answer) = post(&world, "/v1/auth/session", None, session_body(&alice, &[7; 32])).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (401, Some("unknown_challenge")),
            "{answer}"
        );

        let issued: serde_json::Value = world
            .http()
            .get(url(&world, "/v1/auth/challenge"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let challenge: [u8; 32] = Base64::decode(issued["challenge"].as_str().unwrap())
            .unwrap()
            .as_slice()
            .try_into()
            .unwrap();
        let body = session_body(&alice, &challenge);
        let (status, answer) = post(&world, "/v1/auth/session", None, body.clone()).await;
        assert_eq!(status, 200, "{answer}");
        let (status, answer) = post(&world, "/v1/auth/session", None, body).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (403, Some("challenge_replayed")),
            "{answer}"
        );
        world.stop().await;
    }
);

on_every_backend!(
    unknown_fields_are_ignored_and_duplicate_keys_refused_over_http,
    |db: Db| async move {
        let world = World::start(db).await;
        let (alice, _) = world.alice_and_bob().await;
        let token = world.login(&alice).await;
        let own = uid(&alice);
        // An unknown field is ignored (a newer client's field).
        let body = format!(
            r#"{{"target":{{"for":"new_device","user_id":"{own}"}},"expires_in_secs":600,"note":"x"}}"#
        );
        let (status, answer) = post(&world, "/v1/devices/invites", Some(&token), body).await;
        assert_eq!(status, 200, "{answer}");
        // A key given twice is refused, whichever value would have won.
        let body = format!(
            r#"{{"target":{{"for":"new_device","user_id":"{own}"}},"expires_in_secs":600,"expires_in_secs":700}}"#
        );
        let (status, answer) = post(&world, "/v1/devices/invites", Some(&token), body).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (400, Some("invalid_request")),
            "{answer}"
        );
        assert!(
            answer["message"].as_str().unwrap().contains("duplicate"),
            "{answer}"
        );
        world.stop().await;
    }
);

// The rule WebSocket frames follow (PROTOCOL.md, "JSON rules"): unknown
// fields are ignored, and a key given twice is refused (`invalid_frame`,
// the connection stays open), as in HTTP bodies.
on_every_backend!(
    unknown_fields_are_ignored_and_duplicate_keys_refused_over_websocket,
    |db: Db| async move {
        let world = World::start(db).await;
        let (alice, _) = world.alice_and_bob().await;
        let (mut ws, _) = raw_authenticated(&world.info, &alice).await;
        send_text(&mut ws, r#"{"type":"ping","id":"p1","note":"x"}"#).await;
        let pong = next_json(&mut ws, WAIT).await.unwrap();
        assert_eq!(
            (pong["type"].as_str(), pong["id"].as_str()),
            (Some("pong"), Some("p1")),
            "{pong}"
        );
        send_text(&mut ws, r#"{"type":"ping","id":"p2","id":"p3"}"#).await;
        let refused = expect_error(&mut ws, "invalid_frame").await;
        assert!(
            refused["message"]
                .as_str()
                .unwrap()
                .contains("duplicate key `id`"),
            "{refused}"
        );
        send_text(&mut ws, r#"{"type":"ping","id":"p4"}"#).await;
        let pong = next_json(&mut ws, WAIT).await.unwrap();
        assert_eq!(
            pong["id"].as_str(),
            Some("p4"),
            "the connection stays open: {pong}"
        );
        world.stop().await;
    }
);
