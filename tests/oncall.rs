//! On-call roles end to end: an administrator creates a role and schedules
//! a shift; a message to the role reaches its holder (resolution checked and
//! audited by the server); a hand-off mid-conversation moves the next
//! message to the new holder; on both databases, and from the CLI.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cloned_ref_to_slice_refs
)]

mod common;

use common::*;
use curbside_client::{Client, Urgency};
use curbside_protocol::error::ErrorCode;
use curbside_protocol::frames::MessageKind;
use curbside_protocol::ids::UserId;
use curbside_protocol::oncall::{CreateRole, HandOff, ScheduleShift};
use curbside_server::store::now_ms;

fn to_role(role: &curbside_protocol::ids::OnCallRoleId) -> Urgency {
    Urgency {
        role: Some(role.clone()),
        ..Urgency::routine()
    }
}

on_every_backend!(
    a_message_to_an_on_call_role_reaches_its_holder_and_follows_a_hand_off,
    |db| async move {
        let world = World::start(db).await;
        let (alice, bob) = world.alice_and_bob().await;
        let carol = world.clinician("Dr. Carol Chen", NPIS[2], "Dermatology").await;
        let (a_id, b_id, c_id) = (uid(&alice), uid(&bob), uid(&carol));
        let api = world.api();
        let admin = &world.admin_token;
        let role = api
            .create_oncall_role(
                admin,
                &CreateRole {
                    name: "On-call dermatology".into(),
                    specialty: Some("Dermatology".into()),
                },
            )
            .await
            .unwrap();
        assert!(role.holders.is_empty());
        let again = CreateRole {
            name: "ON-CALL DERMATOLOGY".into(),
            specialty: None,
        };
        let e = api.create_oncall_role(admin, &again).await.unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::Conflict));
        let alice_token = world.login(&alice).await;
        let e = api.create_oncall_role(&alice_token, &again).await.unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::Forbidden));
        let now = now_ms();
        let shift = |user: &UserId| ScheduleShift {
            user_id: user.clone(),
            starts_at: now - 1000,
            ends_at: now + 3_600_000,
        };
        api.schedule_shift(admin, &role.role_id, &shift(&b_id))
            .await
            .unwrap();
        // Only verified clinicians hold roles.
        let not_clinician = shift(world.admin.user_id().unwrap());
        let e = api
            .schedule_shift(admin, &role.role_id, &not_clinician)
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::InvalidRequest));
        let roles = api.oncall_roles(&alice_token).await.unwrap();
        assert_eq!(roles.len(), 1);
        let holders: Vec<&str> = roles[0].holders.iter().map(|h| h.display_name.as_str()).collect();
        assert_eq!(holders, ["Dr. Bob Brennan"]);

        // Alice writes to the role: Bob, who holds it, gets it.
        let mut a = Client::connect(alice).await.unwrap();
        let mut b = Client::connect(bob).await.unwrap();
        let mut c = Client::connect(carol).await.unwrap();
        a.send_with(
            &[b_id.clone()],
            MessageKind::Message,
            &mid("role-1"),
            b"a bulla on the shin",
            &to_role(&role.role_id),
        )
        .await
        .unwrap();
        let got = b.next_message(WAIT).await.unwrap().unwrap();
        assert_eq!(got.message_id, mid("role-1"));
        b.ack(&[got.delivery_id]).await.unwrap();
        // Naming someone else with the role is refused: it names who holds it.
        let e = a
            .send_with(
                &[c_id.clone()],
                MessageKind::Message,
                &mid("role-2"),
                b"x",
                &to_role(&role.role_id),
            )
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::HoldersChanged));

        // Only a holder (or an admin) hands off; Bob hands off to Carol.
        let e = api
            .hand_off(
                &alice_token,
                &role.role_id,
                &HandOff {
                    to: a_id.clone(),
                    until: None,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::Forbidden));
        let bob_token = world.login(&b.account).await;
        let now_role = api
            .hand_off(
                &bob_token,
                &role.role_id,
                &HandOff {
                    to: c_id.clone(),
                    until: None,
                },
            )
            .await
            .unwrap();
        let holders: Vec<&UserId> = now_role.holders.iter().map(|h| &h.user_id).collect();
        assert_eq!(holders, [&c_id]);
        // Alice's client still thinks Bob: refused, resolved again, Carol gets it.
        let e = a
            .send_with(
                &[b_id.clone()],
                MessageKind::Message,
                &mid("role-3"),
                b"and now?",
                &to_role(&role.role_id),
            )
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::HoldersChanged));
        // The refusal names who holds it by name, as a client may show it.
        let said = e.to_string();
        assert!(said.contains("held by Dr. Carol Chen now"), "{said}");
        assert!(!said.contains(c_id.as_str()), "{said}");
        a.send_with(
            &[c_id.clone()],
            MessageKind::Message,
            &mid("role-3"),
            b"and now?",
            &to_role(&role.role_id),
        )
        .await
        .unwrap();
        let got = c.next_message(WAIT).await.unwrap().unwrap();
        assert_eq!(got.message_id, mid("role-3"));
        assert!(b.next_message(QUIET).await.unwrap().is_none());
        // The old and the new holder were told of the hand-off (pushed
        // `oncall_changed`, the role as it is now); Alice, no holder, was not.
        for (who, pushed) in [("Bob", &b.oncall_changes), ("Carol", &c.oncall_changes)] {
            assert_eq!(pushed.len(), 1, "{who}: {pushed:?}");
            let holders: Vec<&UserId> = pushed[0].holders.iter().map(|h| &h.user_id).collect();
            assert_eq!(holders, [&c_id], "{who}");
        }
        assert!(a.next_message(QUIET).await.unwrap().is_none());
        assert!(a.oncall_changes.is_empty());

        // The resolutions and the hand-off are audited, by message and holder.
        let db = &world.db;
        for (message, holder) in [("role-1", &b_id), ("role-3", &c_id)] {
            let sql = format!(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'oncall.resolved' AND message_id = '{message}' \
                 AND counterpart_user = '{holder}'"
            );
            assert_eq!(db.count(&sql).await, 1, "{message}");
        }
        assert_eq!(
            db.count("SELECT COUNT(*) FROM audit_log WHERE action = 'oncall.resolved'")
                .await,
            2
        );
        let handed = format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'oncall.handed_off' AND outcome = 'success' \
             AND actor_user = '{b_id}' AND counterpart_user = '{c_id}'"
        );
        assert_eq!(db.count(&handed).await, 1);
        assert_eq!(
            db.count(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'oncall.role_created' AND outcome = 'success'"
            )
            .await,
            1
        );
        a.close().await;
        b.close().await;
        c.close().await;
        world.stop().await;
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_call_roles_from_the_cli() {
    let (db, server) = cli_world(&[
        ("alice", "Family Medicine"),
        ("bob", "Dermatology"),
        ("carol", "Dermatology"),
    ])
    .await;
    let dir = db.dir.path().to_path_buf();
    let run = |args: &[&str]| cli_ok(&dir, &server, args);
    let created = run(&[
        "oncall",
        "create",
        "--profile",
        "admin",
        "--name",
        "On-call dermatology",
        "--specialty",
        "Dermatology",
    ]);
    assert!(
        created.contains("Created the on-call role On-call dermatology"),
        "{created}"
    );
    let scheduled = run(&[
        "oncall",
        "schedule",
        "--profile",
        "admin",
        "dermatology",
        "--clinician",
        "Dr. bob",
        "--from",
        "now",
        "--until",
        "+8h",
    ]);
    assert!(
        scheduled.contains("Dr. bob holds On-call dermatology"),
        "{scheduled}"
    );
    // The role is in the directory, beside the clinicians of its specialty.
    let directory = run(&["directory", "--profile", "alice", "--specialty", "dermatology"]);
    assert!(
        directory.contains("on-call  On-call dermatology [Dermatology]: Dr. bob"),
        "{directory}"
    );
    let listed = run(&["oncall", "list", "--profile", "alice"]);
    assert!(
        listed.contains("On-call dermatology [Dermatology]: Dr. bob (until"),
        "{listed}"
    );
    let sent = cli(
        &dir,
        &server,
        &[
            "send",
            "--profile",
            "alice",
            "--role",
            "on-call dermatology",
            "Bulla on the shin, photo to follow",
        ],
    );
    assert!(sent.status.success(), "{sent:?}");
    assert!(
        String::from_utf8_lossy(&sent.stderr).contains("To On-call dermatology: Dr. bob holds it now."),
        "{sent:?}"
    );
    // Bob sees it came to the role, and (his first look since the shift began) that the role is his.
    let bobs = run(&["inbox", "--profile", "bob"]);
    assert!(
        bobs.contains("[to On-call dermatology] Bulla on the shin"),
        "{bobs}"
    );
    assert!(
        bobs.contains("You now hold On-call dermatology (until "),
        "{bobs}"
    );
    // Bob hands off to Carol; Alice's next message to the role reaches Carol.
    let handed = run(&[
        "oncall",
        "handoff",
        "--profile",
        "bob",
        "dermatology",
        "--to",
        "Dr. carol",
    ]);
    assert!(
        handed.contains("On-call dermatology [Dermatology]: Dr. carol (until"),
        "{handed}"
    );
    run(&[
        "send",
        "--profile",
        "alice",
        "--role",
        "On-call dermatology",
        "Still there?",
    ]);
    // Each is told of the hand-off once, by name.
    let carols = run(&["inbox", "--profile", "carol"]);
    assert!(carols.contains("Still there?"), "{carols}");
    assert!(carols.contains("You now hold On-call dermatology"), "{carols}");
    let bobs = run(&["inbox", "--profile", "bob"]);
    assert!(
        bobs.contains("You no longer hold On-call dermatology: Dr. carol holds it now.")
            && !bobs.contains("Still there?"),
        "{bobs}"
    );
    assert!(run(&["inbox", "--profile", "bob"]).contains("No new messages"));
    // The conversation shows who answered: Carol, by name.
    run(&["send", "--profile", "carol", "--to", "Dr. alice", "On it"]);
    assert!(run(&["inbox", "--profile", "alice"]).contains("On it"));
    let history = run(&["history", "--profile", "alice", "--with", "Dr. carol"]);
    assert!(
        history.contains("Still there?") && history.contains("On it"),
        "{history}"
    );
    // A referral to the role goes to whoever holds it: Carol.
    std::fs::write(
        dir.join("patient.json"),
        r#"{"resourceType":"Patient","name":[{"text":"Jane Roe"}],"birthDate":"1961-04-02"}"#,
    )
    .unwrap();
    let referred = cli(
        &dir,
        &server,
        &[
            "refer",
            "create",
            "--profile",
            "alice",
            "--role",
            "dermatology",
            "--specialty",
            "Dermatology",
            "--patient",
            "patient.json",
        ],
    );
    assert!(referred.status.success(), "{referred:?}");
    assert!(run(&["inbox", "--profile", "carol"]).contains("patient Jane Roe"));
    let nobody = cli(
        &dir,
        &server,
        &["send", "--profile", "alice", "--role", "cardiology", "x"],
    );
    assert!(!nobody.status.success());
    assert!(
        String::from_utf8_lossy(&nobody.stderr).contains("no on-call role is called"),
        "{nobody:?}"
    );
}
