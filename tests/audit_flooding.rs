//! Failed anonymous attempts are limited per source address and do not
//! flood the audit log: past the limit a source is refused with
//! `rate_limited` (before its signature is checked) and its attempts become
//! one entry per window, with their count and first and last time. Real
//! server, real TLS, HTTP and WebSocket attempts, read back by a compliance
//! officer.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use curbside_protocol::audit::{Action, Outcome};
use curbside_protocol::bytes::Base64;

const LIMIT: u32 = 3;

/// A session request that fails: a challenge this server never issued.
async fn failed_session(world: &World) -> (u16, String) {
    let body = serde_json::json!({
        "user_id": "u_nobody",
        "device_id": 1,
        "challenge": Base64(vec![7; 32]).encode(),
        "signature": Base64(vec![9; 64]).encode(),
    });
    let response = world
        .http()
        .post(format!(
            "https://localhost:{}/v1/auth/session",
            world.server().addr.port()
        ))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap();
    (status, body["code"].as_str().unwrap().to_owned())
}

/// A WebSocket authentication that fails (a bad signature); returns the
/// error code it got.
async fn failed_websocket(world: &World) -> String {
    let mut ws = raw_ws(&world.info).await;
    let hello = next_json(&mut ws, WAIT).await.unwrap();
    assert_eq!(hello["type"], "hello");
    let auth = serde_json::json!({
        "type": "auth", "version": 1, "user_id": "u_nobody", "device_id": 1,
        "signature": Base64(vec![9; 64]).encode(),
    });
    send_text(&mut ws, auth.to_string()).await;
    let error = next_json(&mut ws, WAIT).await.unwrap();
    assert_eq!(error["type"], "error", "{error}");
    error["code"].as_str().unwrap().to_owned()
}

on_every_backend!(
    failed_attempts_past_the_limit_are_refused_and_recorded_once,
    |db: Db| async move {
        let world = World::start_with(db, |c| {
            c.limits.failures_per_source = LIMIT;
            c.limits.failure_window_secs = 2;
        })
        .await;
        let (_, token) = officer(&world).await;
        let started = curbside_server::store::now_ms();

        // The first failures are the caller's own error, each recorded.
        for _ in 0..LIMIT {
            assert_eq!(
                failed_session(&world).await,
                (401, "unknown_challenge".to_owned())
            );
        }
        // Past the limit: refused before any check, over HTTP and WebSocket.
        for _ in 0..4 {
            assert_eq!(failed_session(&world).await, (429, "rate_limited".to_owned()));
        }
        for _ in 0..3 {
            assert_eq!(failed_websocket(&world).await, "rate_limited");
        }

        // Once the window ended, one entry stands for the 7 refused attempts.
        let api = world.api();
        let mut failed = Vec::new();
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            failed = all(&api, &token, by_action(Action::AuthFailed)).await;
            if failed.len() > LIMIT as usize {
                break;
            }
        }
        let (single, aggregated): (Vec<_>, Vec<_>) =
            failed.iter().partition(|r| r.entry.details.attempts.is_none());
        assert_eq!(single.len(), LIMIT as usize, "{failed:#?}");
        assert!(single
            .iter()
            .all(|r| r.entry.reason.as_deref() == Some("unknown_challenge")));
        assert_eq!(aggregated.len(), 1, "{failed:#?}");
        let entry = &aggregated[0].entry;
        assert_eq!(entry.outcome, Outcome::Failure);
        assert_eq!(entry.reason.as_deref(), Some("rate_limited"));
        assert_eq!(entry.source.as_deref(), Some("127.0.0.1"));
        assert_eq!(entry.details.attempts, Some(7));
        let (first, last) = (
            entry.details.first_at_ms.unwrap(),
            entry.details.last_at_ms.unwrap(),
        );
        assert!(started <= first && first <= last, "{first} {last}");

        // A new window: the address may try again, and a clinician gets in.
        let alice = world.clinician("Alice Adams", NPIS[0], "Dermatology").await;
        world.login(&alice).await;
        assert_eq!(
            failed_session(&world).await,
            (401, "unknown_challenge".to_owned())
        );
        world.stop().await;
    }
);
