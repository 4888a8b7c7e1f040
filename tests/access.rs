//! Who may do what: queues, revoked devices, invites, tokens, roles, directory.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cloned_ref_to_slice_refs
)]

mod common;

use std::time::Duration;

use common::*;
use curbside_client::{enroll, Client, ClientError, UserDetails};
use curbside_protocol::auth::{EnrollPurpose, DEVICE_INVITE_PREFIX};
use curbside_protocol::error::ErrorCode;
use curbside_protocol::frames::{ClientFrame, MessageKind, ServerFrame};
use curbside_protocol::http::{CreateInviteRequest, EnrollRequest, InviteTarget, Role};
use curbside_protocol::ids::{Address, DeliveryId};
use curbside_server::store::{now_ms, Grant};

fn code<T: std::fmt::Debug>(r: Result<T, ClientError>) -> ErrorCode {
    r.expect_err("expected a refusal")
        .code()
        .expect("a server error code")
}

on_every_backend!(
    a_clinician_cannot_touch_another_clinicians_queue,
    |db| async move {
        let world = World::start(db).await;
        let (alice, bob) = world.alice_and_bob().await;
        let carol = world.clinician("Dr. Carol Chen", NPIS[2], "Cardiology").await;
        let mut a = Client::connect(alice).await.unwrap();
        a.send(
            &[uid(&bob)],
            MessageKind::Message,
            &mid("private"),
            b"for Bob only",
        )
        .await
        .unwrap();
        // Carol acknowledges every plausible delivery id: nothing of Bob's is deleted.
        let c = Client::connect(carol).await.unwrap();
        c.ack(&(1..=500).map(DeliveryId).collect::<Vec<_>>())
            .await
            .unwrap();
        c.connection()
            .request(|id| ClientFrame::Ping { id })
            .await
            .unwrap();
        let mut b = Client::connect(bob).await.unwrap();
        assert_eq!(texts(&mut b, 1).await[0].1, "for Bob only");
        a.close().await;
        world.stop().await;
    }
);

on_every_backend!(
    revoked_device_cannot_connect_and_its_queue_is_dropped,
    |db| async move {
        let world = World::start(db).await;
        let (alice, bob) = world.alice_and_bob().await;
        let b = uid(&bob);
        let bob2 = world.second_device(&b).await;
        let bob2_address = bob2.address.clone().unwrap();
        let mut a = Client::connect(alice).await.unwrap();
        a.send(
            &[b.clone()],
            MessageKind::Message,
            &mid("before"),
            b"to both devices",
        )
        .await
        .unwrap();
        let store = &world.server().state().store;
        assert_eq!(store.queue_depth(&bob2_address).await.unwrap(), 1);

        world
            .api()
            .revoke_device(&world.admin_token, &bob2_address)
            .await
            .unwrap();
        assert_eq!(
            store.queue_depth(&bob2_address).await.unwrap(),
            0,
            "a revoked device's queue is dropped"
        );
        let refused =
            curbside_client::connection::Connection::connect(&world.info, &bob2_address, bob2.identity())
                .await;
        assert_eq!(code(refused), ErrorCode::DeviceRevoked);
        let refused = world
            .api()
            .login(&b, bob2_address.device_id, bob2.identity())
            .await;
        assert_eq!(code(refused), ErrorCode::DeviceRevoked);
        // Alice's client learns the device is gone (stale_devices) and sends to the rest.
        a.send(
            &[b.clone()],
            MessageKind::Message,
            &mid("after"),
            b"only the current device",
        )
        .await
        .unwrap();
        assert_eq!(store.queue_depth(&bob2_address).await.unwrap(), 0);
        let mut b1 = Client::connect(bob).await.unwrap();
        let got: Vec<String> = texts(&mut b1, 2).await.into_iter().map(|(_, t)| t).collect();
        assert_eq!(got, ["to both devices", "only the current device"]);
        a.close().await;
        world.stop().await;
    }
);

on_every_backend!(invites_are_single_use_and_expire, |db| async move {
    let world = World::start(db).await;
    let invite = world
        .invite(InviteTarget::NewUser {
            role: Role::Clinician,
        })
        .await;
    let profile = UserDetails {
        display_name: "Dr. Dana Diaz".into(),
        npi: Some(NPIS[3].into()),
        specialty: Some("Neurology".into()),
    };
    enroll(world.info.clone(), &invite, &profile).await.unwrap();
    let again = UserDetails {
        npi: Some(NPIS[4].into()),
        ..profile.clone()
    };
    assert_eq!(
        code(enroll(world.info.clone(), &invite, &again).await),
        ErrorCode::InvalidInvite
    );
    // An invite that expired an hour ago.
    let (token, hash) = curbside_server::auth::new_token("cbs_inv_");
    let admin =
        curbside_server::audit::Actor::device(&world.admin.address.clone().unwrap(), Some(Role::Admin), None);
    let past = now_ms() - 2 * 3600 * 1000;
    world
        .server()
        .state()
        .store
        .create_invite(
            &hash,
            &Grant::NewUser(Role::Clinician),
            &admin,
            past,
            Duration::from_secs(3600),
        )
        .await
        .unwrap();
    assert_eq!(
        code(enroll(world.info.clone(), &token, &again).await),
        ErrorCode::InviteExpired
    );
    // The bootstrap token was consumed by the first admin.
    world.stop().await;
});

on_every_backend!(enrollment_validates_professional_details, |db| async move {
    let world = World::start(db).await;
    let invite = world
        .invite(InviteTarget::NewUser {
            role: Role::Clinician,
        })
        .await;
    let bad_npi = UserDetails {
        display_name: "Dr. Eve".into(),
        npi: Some("1234567890".into()),
        specialty: Some("Oncology".into()),
    };
    assert_eq!(
        code(enroll(world.info.clone(), &invite, &bad_npi).await),
        ErrorCode::InvalidNpi
    );
    let no_npi = UserDetails {
        display_name: "Dr. Eve".into(),
        npi: None,
        specialty: Some("Oncology".into()),
    };
    assert_eq!(
        code(enroll(world.info.clone(), &invite, &no_npi).await),
        ErrorCode::InvalidRequest
    );
    // The refused attempts did not consume the invite.
    let good = UserDetails {
        npi: Some(NPIS[5].into()),
        ..bad_npi
    };
    enroll(world.info.clone(), &invite, &good).await.unwrap();
    world.stop().await;
});

on_every_backend!(idle_sessions_end_and_roles_are_enforced, |db| async move {
    let world = World::start_with(db, |c| c.limits.session_idle_secs = 1).await;
    // The admin's token from setup is already idle-expired after the sleep.
    let alice = world.clinician("Dr. Alice Adeyemi", NPIS[0], "Dermatology").await;
    let a = alice.address.clone().unwrap();
    let api = world.api();
    let token = api
        .login(&a.user_id, a.device_id, alice.identity())
        .await
        .unwrap();
    assert_eq!(code(api.list_users(&token).await), ErrorCode::Forbidden);
    let req = CreateInviteRequest {
        target: InviteTarget::NewUser { role: Role::Admin },
        expires_in_secs: None,
    };
    assert_eq!(code(api.create_invite(&token, &req).await), ErrorCode::Forbidden);
    assert_eq!(
        code(api.grant_role(&token, &a.user_id, Role::Admin).await),
        ErrorCode::Forbidden
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        code(api.directory(&token, None, None).await),
        ErrorCode::TokenExpired
    );
    assert_eq!(
        code(api.directory("cbs_sess_forged", None, None).await),
        ErrorCode::TokenExpired
    );
    world.stop().await;
});

on_every_backend!(
    directory_lists_verified_clinicians_to_authenticated_users,
    |db| async move {
        let world = World::start(db).await;
        let alice = world.clinician("Dr. Alice Adeyemi", NPIS[0], "Dermatology").await;
        world
            .clinician("Dr. Bob Brennan", NPIS[1], "Internal Medicine")
            .await;
        // Enrolled but not verified: not listed.
        let invite = world
            .invite(InviteTarget::NewUser {
                role: Role::Clinician,
            })
            .await;
        let profile = UserDetails {
            display_name: "Dr. Unverified".into(),
            npi: Some(NPIS[2].into()),
            specialty: Some("Dermatology".into()),
        };
        enroll(world.info.clone(), &invite, &profile).await.unwrap();

        let a = alice.address.clone().unwrap();
        let api = world.api();
        let token = api
            .login(&a.user_id, a.device_id, alice.identity())
            .await
            .unwrap();
        let derm = api.directory(&token, None, Some("dermatology")).await.unwrap();
        assert_eq!(
            derm.iter().map(|e| e.display_name.as_str()).collect::<Vec<_>>(),
            ["Dr. Alice Adeyemi"]
        );
        let by_name = api.directory(&token, Some("brenn"), None).await.unwrap();
        assert_eq!(by_name.len(), 1);
        assert_eq!(by_name[0].specialty, "Internal Medicine");
        // Over the WebSocket too.
        let client = Client::connect(alice).await.unwrap();
        let reply = client
            .connection()
            .request(|id| ClientFrame::DirectorySearch {
                id,
                name: Some("a".into()),
                specialty: None,
            })
            .await
            .unwrap();
        let ServerFrame::DirectoryResults { clinicians, .. } = reply else {
            panic!("{reply:?}")
        };
        assert_eq!(clinicians.len(), 2);
        world.stop().await;
    }
);

on_every_backend!(
    one_time_prekeys_are_never_handed_out_twice_under_concurrency,
    |db| async move {
        let world = World::start(db).await;
        let bob = world
            .clinician("Dr. Bob Brennan", NPIS[1], "Internal Medicine")
            .await;
        let b = uid(&bob);
        // Eight clinicians fetch Bob's bundle 20 times each, concurrently.
        let mut fetchers = Vec::new();
        for i in 0..8 {
            let name = format!("Dr. Fetcher {i}");
            let npi = [
                "1900000005",
                "1900011119",
                "1900022223",
                "1900033337",
                "1900044441",
                "1900055553",
                "1900066667",
                "1900077771",
            ][i];
            fetchers.push(
                Client::connect(world.clinician(&name, npi, "Pathology").await)
                    .await
                    .unwrap(),
            );
        }
        let tasks: Vec<_> = fetchers
            .into_iter()
            .map(|c| {
                let b = b.clone();
                tokio::spawn(async move {
                    let mut ids = Vec::new();
                    for _ in 0..20 {
                        let reply = c
                            .connection()
                            .request(|id| ClientFrame::FetchBundles {
                                id,
                                user_id: b.clone(),
                            })
                            .await
                            .unwrap();
                        let ServerFrame::Bundles { devices, .. } = reply else {
                            panic!()
                        };
                        ids.extend(
                            devices
                                .into_iter()
                                .filter_map(|d| d.one_time_prekey.map(|k| k.id)),
                        );
                    }
                    ids
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        let unique: std::collections::BTreeSet<_> = all.iter().copied().collect();
        assert_eq!(
            all.len(),
            100,
            "Bob uploaded 100 one-time prekeys; the other 60 fetches fall back to the signed prekey"
        );
        assert_eq!(unique.len(), all.len(), "a one-time prekey was handed out twice");
        let device = Address {
            user_id: b,
            device_id: bob.address.as_ref().unwrap().device_id,
        };
        assert_eq!(
            world
                .server()
                .state()
                .store
                .count_prekeys(&device.user_id, device.device_id)
                .await
                .unwrap(),
            0
        );
        world.stop().await;
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics_are_served() {
    let world = World::start(Db::new(curbside_server::store::Backend::Sqlite).await.unwrap()).await;
    let (alice, bob) = world.alice_and_bob().await;
    let mut a = Client::connect(alice).await.unwrap();
    a.send(&[uid(&bob)], MessageKind::Message, &mid("counted"), b"x")
        .await
        .unwrap();
    let http = world.http();
    let get = |path: &str| http.get(format!("{}{path}", world.info.base_url())).send();
    assert_eq!(get("/healthz").await.unwrap().text().await.unwrap(), "ok");
    assert_eq!(get("/readyz").await.unwrap().status(), 200);
    assert_eq!(get("/v1/admin/users").await.unwrap().status(), 401);
    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    for name in [
        "curbside_connections",
        "curbside_messages_accepted_total",
        "curbside_queue_depth 1",
        "curbside_send_latency_seconds_count",
        "curbside_errors_total{code=\"token_expired\"}",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics:\n{metrics}");
    }
    a.close().await;
    world.stop().await;
}

on_every_backend!(
    the_enrollment_proof_is_bound_to_the_invite_the_server_and_the_purpose,
    |db| async move {
        let world = World::start(db).await;
        let api = world.api();
        let alice = world.clinician("Dr. Alice Adeyemi", NPIS[0], "Dermatology").await;
        let new_user = || {
            world.invite(InviteTarget::NewUser {
                role: Role::Clinician,
            })
        };
        // Erin enrolls; her identity key and proof, replayed with a fresh
        // invite (for a new user, or as Alice's new device), are refused.
        let erin = RawDevice::generate();
        let enrolled = erin.enrollment(&new_user().await, NPIS[4]);
        api.enroll(&enrolled).await.unwrap();
        let fresh = new_user().await;
        let device_invite = world
            .invite(InviteTarget::NewDevice { user_id: uid(&alice) })
            .await;
        assert!(device_invite.starts_with(DEVICE_INVITE_PREFIX), "{device_invite}");
        for invite in [&fresh, &device_invite] {
            let replay = EnrollRequest {
                invite: invite.clone(),
                npi: Some(NPIS[5].into()),
                ..enrolled.clone()
            };
            assert_eq!(code(api.enroll(&replay).await), ErrorCode::AuthFailed);
        }
        // A proof made for the right invite but another purpose or another
        // server (the address the client dials is not the server's name).
        let device = RawDevice::generate();
        let key = device.identity_key();
        for (invite, purpose, server_name) in [
            (&fresh, EnrollPurpose::NewDevice, "localhost"),
            (&device_invite, EnrollPurpose::NewUser, "localhost"),
            (&fresh, EnrollPurpose::NewUser, "curbside.other-hospital.example"),
            (&device_invite, EnrollPurpose::NewDevice, "127.0.0.1"),
        ] {
            let req = device.enrollment_with(invite, NPIS[5], &key, purpose, server_name);
            assert_eq!(
                code(api.enroll(&req).await),
                ErrorCode::AuthFailed,
                "{purpose:?} on {server_name}"
            );
        }
        assert_eq!(refused_enrollments(&world.db, "auth_failed").await, 6);
        // The refusals consumed neither invite: the right proofs enroll.
        api.enroll(&device.enrollment(&fresh, NPIS[5])).await.unwrap();
        api.enroll(&RawDevice::generate().enrollment(&device_invite, NPIS[5]))
            .await
            .unwrap();
        let store = &world.server().state().store;
        assert_eq!(store.devices_of(&uid(&alice)).await.unwrap().len(), 2);
        world.stop().await;
    }
);

on_every_backend!(
    a_device_invite_without_the_device_prefix_is_refused_unused,
    |db| async move {
        let world = World::start(db).await;
        let alice = world.clinician("Dr. Alice Adeyemi", NPIS[0], "Dermatology").await;
        // As an older server issued device invites: with the new users' prefix.
        let (token, hash) = curbside_server::auth::new_token("cbs_inv_");
        let admin = curbside_server::audit::Actor::device(
            &world.admin.address.clone().unwrap(),
            Some(Role::Admin),
            None,
        );
        let store = &world.server().state().store;
        store
            .create_invite(
                &hash,
                &Grant::NewDevice(uid(&alice)),
                &admin,
                now_ms(),
                Duration::from_secs(3600),
            )
            .await
            .unwrap();
        // The client signs for a new user, as the prefix says; the invite
        // grants a device: refused, and nothing is added to Alice.
        assert_eq!(
            code(enroll(world.info.clone(), &token, &Default::default()).await),
            ErrorCode::InvalidInvite
        );
        assert_eq!(store.devices_of(&uid(&alice)).await.unwrap().len(), 1);
        assert_eq!(refused_enrollments(&world.db, "invalid_invite").await, 1);
        world.stop().await;
    }
);
