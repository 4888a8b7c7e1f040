//! `GET /v1/auth/challenge` writes a row each: one source address is issued
//! at most `challenges_per_source` a minute (their lifetime), then refused
//! with `rate_limited`; a login with a challenge it already has still works.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use sqlx::Connection as _;

on_every_backend!(challenges_per_source_are_bounded, |db| async move {
    let world = World::start_with(db, |c| c.limits.challenges_per_source = 20).await;
    let alice = world.clinician("Dr. Alice Adeyemi", NPIS[0], "Dermatology").await;
    let http = world.http();
    let url = format!("{}/v1/auth/challenge", world.info.base_url());
    let (mut issued, mut limited) = (0, 0);
    for _ in 0..40 {
        let resp = http.get(&url).send().await.unwrap();
        match resp.status().as_u16() {
            200 => issued += 1,
            429 => {
                let body: serde_json::Value = resp.json().await.unwrap();
                assert_eq!(body["code"], "rate_limited", "{body}");
                limited += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    // The World's own logins (the admin's, the verification) took some.
    assert!(
        issued <= 20 && limited >= 20,
        "issued {issued}, limited {limited}"
    );
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(&world.db.url).await.unwrap();
    use sqlx::Row as _;
    let rows: i64 = sqlx::query("SELECT COUNT(*) FROM challenges")
        .fetch_one(&mut c)
        .await
        .unwrap()
        .get(0);
    assert!(rows <= 20, "{rows} challenge rows");
    // Logging in needs a challenge: refused as well until the minute ends.
    let refused = world
        .api()
        .login(
            &alice.address.as_ref().unwrap().user_id,
            alice.address.as_ref().unwrap().device_id,
            alice.identity(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        Some(curbside_protocol::error::ErrorCode::RateLimited)
    );
    world.stop().await;
});
