//! Referral envelopes and the lifecycle the server enforces, on SQLite and
//! PostgreSQL: a full flow with its audit entries, every forbidden
//! transition and wrong actor refused with its code, accept/cancel races
//! with exactly one winner, real-time notification, and no PHI on the server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use curbside_client::Client;
use curbside_protocol::audit::AuditQuery;
use curbside_protocol::error::ErrorCode;
use curbside_protocol::frames::MessageKind;
use curbside_protocol::http::{InviteTarget, Role};
use curbside_protocol::referral::{CreateReferral, Priority, Status, Transition};

const PATIENT: &str = "Jane Roe-Marker, MRN 00451234, DOB 1961-04-02";

fn create(id: &str, to: &curbside_protocol::ids::UserId, message: &str) -> CreateReferral {
    CreateReferral {
        referral_id: id.into(),
        to: to.clone(),
        specialty: "Dermatology".into(),
        priority: Priority::Urgent,
        message_id: mid(message),
    }
}

#[track_caller]
fn code<T: std::fmt::Debug>(r: Result<T, curbside_client::ClientError>) -> ErrorCode {
    r.expect_err("expected a refusal")
        .code()
        .expect("a server error code")
}

on_every_backend!(
    a_referral_goes_from_requested_to_completed_and_is_audited,
    |db| async move {
        let world = World::start(db).await;
        let (alice, bob) = world.alice_and_bob().await;
        let (alice_id, bob_id) = (uid(&alice), uid(&bob));
        let (alice_token, bob_token) = (world.login(&alice).await, world.login(&bob).await);
        let api = world.api();

        // Bob is connected: he is told of the referral in real time.
        let (mut bob_ws, _) = raw_authenticated(&world.info, &bob).await;
        // The clinical content travels end to end encrypted (kind referral).
        let mut a = Client::connect(alice).await.unwrap();
        let fhir = format!(r#"{{"resourceType":"ServiceRequest","subject":{{"display":"{PATIENT}"}}}}"#);
        a.send(
            std::slice::from_ref(&bob_id),
            MessageKind::Referral,
            &mid("ref-1-content"),
            fhir.as_bytes(),
        )
        .await
        .unwrap();
        let created = api
            .create_referral(&alice_token, &create("ref-1", &bob_id, "ref-1-content"))
            .await
            .unwrap();
        assert_eq!(
            (created.status, created.referring.clone()),
            (Status::Requested, alice_id.clone())
        );
        let mut told = false;
        while let Some(frame) = next_json(&mut bob_ws, Duration::from_secs(5)).await {
            if frame["type"] == "referral_updated" {
                assert_eq!(frame["referral"]["referral_id"], "ref-1");
                assert_eq!(frame["referral"]["priority"], "urgent");
                told = true;
                break;
            }
        }
        assert!(told, "the receiving clinician's device was told");

        let accepted = api
            .transition_referral(&bob_token, "ref-1", Transition::Accept, None)
            .await
            .unwrap();
        assert_eq!(accepted.status, Status::Accepted);
        let completed = api
            .transition_referral(&bob_token, "ref-1", Transition::Complete, None)
            .await
            .unwrap();
        assert_eq!(completed.status, Status::Completed);
        let mine = api.referrals(&alice_token, None, Some("out")).await.unwrap();
        assert_eq!(mine.len(), 1);
        assert!(api
            .referrals(&alice_token, None, Some("in"))
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            api.referrals(&bob_token, Some("completed"), None)
                .await
                .unwrap()
                .len(),
            1
        );

        // The compliance officer finds every step by referral id.
        let invite = world
            .invite(InviteTarget::NewUser {
                role: Role::ComplianceOfficer,
            })
            .await;
        let officer = curbside_client::enroll(
            world.info.clone(),
            &invite,
            &curbside_client::UserDetails {
                display_name: "Carol Compliance".into(),
                ..curbside_client::UserDetails::default()
            },
        )
        .await
        .unwrap();
        let officer_token = world.login(&officer).await;
        let page = api
            .audit_entries(
                &officer_token,
                &AuditQuery {
                    referral_id: Some("ref-1".into()),
                    ..AuditQuery::default()
                },
            )
            .await
            .unwrap();
        let steps: Vec<(String, Option<String>)> = page
            .records
            .iter()
            .map(|r| {
                (
                    r.entry.action.as_str().to_owned(),
                    r.entry.details.to_status.clone(),
                )
            })
            .collect();
        assert_eq!(
            steps,
            [
                ("referral.created".to_owned(), Some("requested".to_owned())),
                ("referral.status_changed".to_owned(), Some("accepted".to_owned())),
                ("referral.status_changed".to_owned(), Some("completed".to_owned())),
            ]
        );
        a.close().await;
        // The patient's name and identifiers are nowhere on the server.
        for marker in ["Jane Roe-Marker", "00451234"] {
            assert_absent(&world.db, None, marker).await;
        }
        world.stop().await;
    }
);

on_every_backend!(
    every_forbidden_transition_and_wrong_actor_is_refused,
    |db| async move {
        let world = World::start(db).await;
        let (alice, bob) = world.alice_and_bob().await;
        let bob_id = uid(&bob);
        let (alice_token, bob_token) = (world.login(&alice).await, world.login(&bob).await);
        let api = world.api();
        api.create_referral(&alice_token, &create("r", &bob_id, "m"))
            .await
            .unwrap();
        // Duplicate id, unknown or unverified receiver, referring to oneself, the admin (not a clinician).
        assert_eq!(
            code(
                api.create_referral(&alice_token, &create("r", &bob_id, "m"))
                    .await
            ),
            ErrorCode::Conflict
        );
        let nobody = curbside_protocol::ids::UserId::new("u_nobody").unwrap();
        assert_eq!(
            code(
                api.create_referral(&alice_token, &create("r2", &nobody, "m"))
                    .await
            ),
            ErrorCode::NotFound
        );
        assert_eq!(
            code(
                api.create_referral(&alice_token, &create("r3", &uid(&alice), "m"))
                    .await
            ),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code(
                api.create_referral(&world.admin_token, &create("r4", &bob_id, "m"))
                    .await
            ),
            ErrorCode::Forbidden
        );
        // Wrong party.
        for t in [Transition::Accept, Transition::Complete] {
            assert_eq!(
                code(api.transition_referral(&alice_token, "r", t, None).await),
                ErrorCode::Forbidden
            );
        }
        assert_eq!(
            code(
                api.transition_referral(&alice_token, "r", Transition::Decline, Some(mid("why")))
                    .await
            ),
            ErrorCode::Forbidden
        );
        assert_eq!(
            code(
                api.transition_referral(&bob_token, "r", Transition::Cancel, Some(mid("why")))
                    .await
            ),
            ErrorCode::Forbidden
        );
        // A reason is required to decline or cancel.
        assert_eq!(
            code(
                api.transition_referral(&bob_token, "r", Transition::Decline, None)
                    .await
            ),
            ErrorCode::InvalidRequest
        );
        // Not from requested.
        assert_eq!(
            code(
                api.transition_referral(&bob_token, "r", Transition::Complete, None)
                    .await
            ),
            ErrorCode::InvalidTransition
        );
        // Unknown id, and a referral the caller is not party to.
        assert_eq!(
            code(
                api.transition_referral(&bob_token, "nope", Transition::Accept, None)
                    .await
            ),
            ErrorCode::NotFound
        );
        let carol = world.clinician("Dr. Carol Chen", NPIS[2], "Dermatology").await;
        let carol_token = world.login(&carol).await;
        assert_eq!(code(api.referral(&carol_token, "r").await), ErrorCode::NotFound);
        assert_eq!(
            code(
                api.transition_referral(&carol_token, "r", Transition::Accept, None)
                    .await
            ),
            ErrorCode::NotFound
        );
        // Declined is final.
        let declined = api
            .transition_referral(&bob_token, "r", Transition::Decline, Some(mid("reason-1")))
            .await
            .unwrap();
        assert_eq!(declined.status, Status::Declined);
        assert_eq!(declined.reason_message_id, Some(mid("reason-1")));
        for t in [Transition::Accept, Transition::Complete] {
            assert_eq!(
                code(api.transition_referral(&bob_token, "r", t, None).await),
                ErrorCode::InvalidTransition
            );
        }
        assert_eq!(
            code(
                api.transition_referral(&alice_token, "r", Transition::Cancel, Some(mid("x")))
                    .await
            ),
            ErrorCode::InvalidTransition
        );
        world.stop().await;
    }
);

on_every_backend!(accept_and_cancel_races_have_exactly_one_winner, |db| async move {
    let world = World::start(db).await;
    let (alice, bob) = world.alice_and_bob().await;
    let bob_id = uid(&bob);
    let (alice_token, bob_token) = (world.login(&alice).await, world.login(&bob).await);
    let api = world.api();
    let (mut accepted, mut cancelled) = (0, 0);
    for i in 0..25 {
        let id = format!("race-{i}");
        api.create_referral(&alice_token, &create(&id, &bob_id, "m"))
            .await
            .unwrap();
        let (accept, cancel) = tokio::join!(
            api.transition_referral(&bob_token, &id, Transition::Accept, None),
            api.transition_referral(&alice_token, &id, Transition::Cancel, Some(mid("changed-mind"))),
        );
        let final_status = api.referral(&alice_token, &id).await.unwrap().status;
        match (accept, cancel) {
            (Ok(r), Err(e)) => {
                assert_eq!(e.code(), Some(ErrorCode::InvalidTransition));
                assert_eq!((r.status, final_status), (Status::Accepted, Status::Accepted));
                accepted += 1;
            }
            (Err(e), Ok(r)) => {
                assert_eq!(e.code(), Some(ErrorCode::InvalidTransition));
                assert_eq!((r.status, final_status), (Status::Cancelled, Status::Cancelled));
                cancelled += 1;
            }
            (a, c) => panic!("race {i}: expected exactly one winner, got {a:?} and {c:?}"),
        }
    }
    assert_eq!(accepted + cancelled, 25);
    // Exactly one status change was audited per race.
    let changes: i64 = {
        use sqlx::{Connection as _, Row as _};
        sqlx::any::install_default_drivers();
        let mut c = sqlx::AnyConnection::connect(&world.db.url).await.unwrap();
        sqlx::query(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'referral.status_changed' AND outcome = 'success'",
        )
        .fetch_one(&mut c)
        .await
        .unwrap()
        .get(0)
    };
    assert_eq!(changes, 25);
    world.stop().await;
});
