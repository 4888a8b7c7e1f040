//! The real `curbside` binary: SIGKILL after an acknowledged send loses
//! nothing, and a marker sent inside messages appears nowhere in the
//! database (SQLite file and WAL, or every PostgreSQL table) or in the logs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cloned_ref_to_slice_refs
)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use curbside_client::api::Api;
use curbside_client::{enroll, Client, UserDetails};
use curbside_protocol::frames::MessageKind;
use curbside_protocol::http::{CreateInviteRequest, InviteTarget, Role};

const MARKER: &str = "ZZ-MARKER-PATIENT-7f3a9c";

async fn assert_marker_absent(db: &Db, log: &Path) {
    assert_absent(db, Some(log), MARKER).await;
}

async fn kill_restart_and_scan(db: Db) {
    let log = db.dir.path().join("server.log");
    let mut first = spawn(&db, &log);
    let server = process_info(&db, &first);
    let admin = enroll(
        server.clone(),
        first.token.as_deref().unwrap(),
        &UserDetails {
            display_name: "Admin".into(),
            ..UserDetails::default()
        },
    )
    .await
    .unwrap();
    let admin_address = admin.address.clone().unwrap();
    let api = Api::new(&server).unwrap();
    let token = api
        .login(&admin_address.user_id, admin_address.device_id, admin.identity())
        .await
        .unwrap();
    let mut accounts = Vec::new();
    for (name, npi) in [("Dr. Alice Adeyemi", NPIS[0]), ("Dr. Bob Brennan", NPIS[1])] {
        let req = CreateInviteRequest {
            target: InviteTarget::NewUser {
                role: Role::Clinician,
            },
            expires_in_secs: None,
        };
        let invite = api.create_invite(&token, &req).await.unwrap().invite;
        let profile = UserDetails {
            display_name: name.into(),
            npi: Some(npi.into()),
            specialty: Some("Dermatology".into()),
        };
        accounts.push(enroll(server.clone(), &invite, &profile).await.unwrap());
    }
    let (alice, mut bob) = (accounts.remove(0), accounts.remove(0));
    let (a_id, b_id) = (uid(&alice), uid(&bob));
    let mut a = Client::connect(alice).await.unwrap();
    let text = format!("Patient {MARKER}, 54 y, pruritic rash");
    a.send(
        &[b_id.clone()],
        MessageKind::Message,
        &mid("acked-then-killed"),
        text.as_bytes(),
    )
    .await
    .unwrap();
    // Acknowledged: now SIGKILL (no graceful shutdown).
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let mut alice = a.close().await;

    let mut second = spawn(&db, &log);
    assert!(second.token.is_none());
    let server = process_info(&db, &second);
    alice.server = server.clone();
    bob.server = server.clone();
    let mut a = Client::connect(alice).await.unwrap();
    // The sender did not see the ack (say) and resends the same id: one delivery only.
    assert!(a
        .send(
            &[b_id.clone()],
            MessageKind::Message,
            &mid("acked-then-killed"),
            text.as_bytes()
        )
        .await
        .unwrap());
    let mut b = Client::connect(bob).await.unwrap();
    assert_eq!(texts(&mut b, 1).await, vec![(a_id, text.clone())]);
    b.send(
        &[uid(&a.account)],
        MessageKind::Message,
        &mid("reply"),
        format!("re {MARKER}").as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(texts(&mut a, 1).await.len(), 1);
    a.close().await;
    b.close().await;
    // Graceful stop (SIGTERM), then scan.
    let pid = second.child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let status = tokio::task::spawn_blocking(move || second.child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_marker_absent(&db, &log).await;
    db.drop_database().await;
}

on_every_backend!(
    sigkill_after_ack_loses_nothing_and_no_marker_is_stored,
    |db| async move {
        kill_restart_and_scan(db).await;
    }
);
