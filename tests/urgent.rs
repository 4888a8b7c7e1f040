//! Urgent and stat messages end to end over real TLS WebSockets, on both
//! databases: acknowledged (the held escalation withdrawn), escalated to a
//! backup after the delay with the sender offline, recalled before and
//! after delivery, and the retention policy the server enforces.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cloned_ref_to_slice_refs
)]

mod common;

use std::time::Duration;

use common::{mid, uid, World, NPIS, QUIET, WAIT};
use curbside_client::content::Content;
use curbside_client::{Client, Received, Urgency};
use curbside_protocol::error::ErrorCode;
use curbside_protocol::frames::MessageKind;
use curbside_protocol::referral::Priority;

/// The next message, acknowledged to the server, with its content.
async fn next(client: &mut Client) -> (Received, Content) {
    let r = client
        .next_message(WAIT)
        .await
        .unwrap()
        .expect("a message arrives");
    client.ack(&[r.delivery_id]).await.unwrap();
    let content = Content::from_bytes(r.content.as_ref().expect("decrypts"));
    (r, content)
}

async fn nothing(client: &mut Client) {
    let got = client.next_message(QUIET).await.unwrap();
    assert!(got.is_none(), "nothing should arrive, got {got:?}");
}

fn stat_escalating_to(backup: &curbside_protocol::ids::UserId, secs: u64) -> Urgency {
    Urgency {
        priority: Priority::Stat,
        escalation: Some((backup.clone(), Duration::from_secs(secs))),
        role: None,
        consult: None,
    }
}

on_every_backend!(
    an_acknowledged_stat_message_withdraws_its_escalation,
    |db| async move {
        let world = World::start(db).await;
        let (alice, bob) = world.alice_and_bob().await;
        let carol = world.clinician("Dr. Carol Chen", NPIS[2], "Dermatology").await;
        let (a_id, b_id, c_id) = (uid(&alice), uid(&bob), uid(&carol));
        let mut a = Client::connect(alice).await.unwrap();
        let mut b = Client::connect(bob).await.unwrap();
        let mut c = Client::connect(carol).await.unwrap();

        let text = Content::text(vec![b_id.clone()], "BP 70/40 in bed 4, please come".into());
        a.send_with(
            &[b_id.clone()],
            MessageKind::Message,
            &mid("stat-1"),
            &text.to_bytes(),
            &stat_escalating_to(&c_id, 3),
        )
        .await
        .unwrap();
        let (got, content) = next(&mut b).await;
        assert_eq!((got.priority, got.escalated), (Priority::Stat, false));
        assert_eq!(content, text);
        // The backup is not asked, and may not acknowledge what it never got.
        let refused = c.acknowledge(&a_id, &mid("stat-1")).await.unwrap_err();
        assert_eq!(refused.code(), Some(ErrorCode::NotFound));

        let (at, first) = b.acknowledge(&a_id, &mid("stat-1")).await.unwrap();
        assert!(first);
        let (again, first) = b.acknowledge(&a_id, &mid("stat-1")).await.unwrap();
        assert_eq!((again, first), (at, false));
        // The sender is told end to end (one content per acknowledgement request).
        let (from_bob, content) = next(&mut a).await;
        assert_eq!(from_bob.sender.user_id, b_id);
        assert_eq!(
            content,
            Content::Acknowledge {
                message_ids: vec![mid("stat-1")]
            }
        );

        // Past the delay, nothing is released: it was withdrawn.
        tokio::time::sleep(Duration::from_millis(3500)).await;
        curbside_server::release_escalations(world.server().state()).await;
        nothing(&mut c).await;
        let db = &world.db;
        assert_eq!(
            db.count("SELECT COUNT(*) FROM queue WHERE held_until IS NOT NULL")
                .await,
            0
        );
        for (action, n) in [
            ("message.acknowledged", 1),
            ("escalation.withdrawn", 1),
            ("escalation.released", 0),
        ] {
            let sql = format!("SELECT COUNT(*) FROM audit_log WHERE action = '{action}'");
            assert_eq!(db.count(&sql).await, n, "{action}");
        }
        // The accepted entries carry the priority, the backup's the delay.
        assert_eq!(
            db.count(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'message.accepted' \
                 AND details LIKE '%\"priority\":\"stat\"%' AND details LIKE '%\"escalation_after_secs\":3%'"
            )
            .await,
            1
        );

        // A routine message has nothing to acknowledge.
        a.send(&[b_id.clone()], MessageKind::Message, &mid("r-1"), b"fyi")
            .await
            .unwrap();
        next(&mut b).await;
        let routine = b.acknowledge(&a_id, &mid("r-1")).await.unwrap_err();
        assert_eq!(routine.code(), Some(ErrorCode::InvalidRequest));

        // A routine message does not escalate (the server refuses it), and
        // the backup is not a recipient (the client refuses before encrypting).
        let bad = Urgency {
            priority: Priority::Routine,
            ..stat_escalating_to(&c_id, 60)
        };
        let e = a
            .send_with(&[b_id.clone()], MessageKind::Message, &mid("bad-1"), b"x", &bad)
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::InvalidRequest));
        let e = a
            .send_with(
                &[b_id.clone()],
                MessageKind::Message,
                &mid("bad-2"),
                b"x",
                &stat_escalating_to(&b_id, 60),
            )
            .await
            .unwrap_err();
        assert!(e.to_string().contains("backup"), "{e}");
        a.close().await;
        b.close().await;
        c.close().await;
        world.stop().await;
    }
);

on_every_backend!(
    an_unacknowledged_stat_message_escalates_to_the_backup_with_the_sender_offline,
    |db| async move {
        let world = World::start(db).await;
        let (alice, bob) = world.alice_and_bob().await;
        let carol = world.clinician("Dr. Carol Chen", NPIS[2], "Dermatology").await;
        let (a_id, b_id, c_id) = (uid(&alice), uid(&bob), uid(&carol));
        let mut a = Client::connect(alice).await.unwrap();
        let mut c = Client::connect(carol).await.unwrap();
        // Carol has something queued and delivered first: the released copy
        // must be pushed after it, on the same connection.
        a.send(&[c_id.clone()], MessageKind::Message, &mid("hello"), b"hi Carol")
            .await
            .unwrap();
        next(&mut c).await;
        let text = Content::text(vec![b_id.clone()], "K+ 7.1, ECG changes".into());
        a.send_with(
            &[b_id.clone()],
            MessageKind::Message,
            &mid("stat-2"),
            &text.to_bytes(),
            &stat_escalating_to(&c_id, 1),
        )
        .await
        .unwrap();
        // The sender goes offline; Bob never connects.
        a.close().await;
        let (got, content) = next(&mut c).await;
        assert_eq!(got.sender.user_id, a_id);
        assert_eq!(got.message_id, mid("stat-2"));
        assert_eq!((got.priority, got.escalated), (Priority::Stat, true));
        assert_eq!(content, text);
        let db = &world.db;
        assert_eq!(
            db.count("SELECT COUNT(*) FROM audit_log WHERE action = 'escalation.released'")
                .await,
            1
        );
        // The backup may now acknowledge it; Bob's later acknowledgement is not the first.
        let (_, first) = c.acknowledge(&a_id, &mid("stat-2")).await.unwrap();
        assert!(first);
        let mut b = Client::connect(bob).await.unwrap();
        let (got, _) = next(&mut b).await;
        assert_eq!((got.priority, got.escalated), (Priority::Stat, false));
        let (_, first) = b.acknowledge(&a_id, &mid("stat-2")).await.unwrap();
        assert!(!first);
        assert_eq!(
            db.count("SELECT COUNT(*) FROM audit_log WHERE action = 'message.acknowledged'")
                .await,
            1
        );
        b.close().await;
        c.close().await;
        world.stop().await;
    }
);

on_every_backend!(
    a_recall_deletes_undelivered_copies_and_tells_the_recipients,
    |db| async move {
        let world = World::start_with(db, |c| c.limits.recall_window_secs = 2).await;
        let (alice, bob) = world.alice_and_bob().await;
        let (a_id, b_id) = (uid(&alice), uid(&bob));
        let mut a = Client::connect(alice).await.unwrap();
        // Before delivery: Bob is offline, the server deletes his copy.
        a.send(
            &[b_id.clone()],
            MessageKind::Message,
            &mid("wrong-1"),
            b"meant for someone else",
        )
        .await
        .unwrap();
        assert_eq!(a.recall(&[b_id.clone()], &mid("wrong-1")).await.unwrap(), 1);
        assert_eq!(a.recall(&[b_id.clone()], &mid("wrong-1")).await.unwrap(), 0);
        let mut b = Client::connect(bob).await.unwrap();
        let (got, content) = next(&mut b).await;
        assert_eq!(got.kind, MessageKind::Control);
        assert_eq!(
            content,
            Content::Recall {
                message_ids: vec![mid("wrong-1")]
            }
        );
        // The same control again, from the second recall; never the message itself.
        let (_, again) = next(&mut b).await;
        assert!(matches!(again, Content::Recall { .. }));
        nothing(&mut b).await;

        // After delivery: nothing left on the server, Bob is told to delete his copy.
        a.send(&[b_id.clone()], MessageKind::Message, &mid("wrong-2"), b"second")
            .await
            .unwrap();
        next(&mut b).await;
        // Once the server has the acknowledgement (Alice holds its receipt).
        let mut n = 1;
        while !a.receipts.iter().any(|(m, _, _)| *m == mid("wrong-2")) {
            a.wait_for_receipts(n, WAIT).await.unwrap();
            n += 1;
        }
        assert_eq!(a.recall(&[b_id.clone()], &mid("wrong-2")).await.unwrap(), 0);
        let (_, content) = next(&mut b).await;
        assert_eq!(
            content,
            Content::Recall {
                message_ids: vec![mid("wrong-2")]
            }
        );
        // Only the sender recalls, and only within the window.
        let e = b.recall(&[a_id.clone()], &mid("wrong-2")).await.unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::NotFound));
        a.send(&[b_id.clone()], MessageKind::Message, &mid("late"), b"late")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let e = a.recall(&[b_id.clone()], &mid("late")).await.unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::RecallWindowPassed));
        let (got, _) = next(&mut b).await;
        assert_eq!(got.message_id, mid("late"));
        let db = &world.db;
        assert_eq!(
            db.count("SELECT COUNT(*) FROM audit_log WHERE action = 'message.recalled'")
                .await,
            2
        );
        assert_eq!(
            db.count(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'message.recalled' \
                 AND details LIKE '%\"deleted\":1%'"
            )
            .await,
            1
        );
        assert_eq!(
            db.count("SELECT COUNT(*) FROM queue_usage WHERE messages < 0")
                .await,
            0
        );
        a.close().await;
        b.close().await;
        world.stop().await;
    }
);

on_every_backend!(
    the_retention_policy_is_set_by_an_admin_audited_and_enforced_by_the_server,
    |db| async move {
        let world = World::start(db).await;
        let (alice, bob) = world.alice_and_bob().await;
        let b_id = uid(&bob);
        let api = world.api();
        let alice_token = world.login(&alice).await;
        let policy = api.policy(&alice_token).await.unwrap();
        assert_eq!((policy.retention_secs, policy.recall_window_secs), (None, 3600));
        // Only an admin sets it, and not below a minute.
        let e = api.set_retention(&alice_token, Some(3600)).await.unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::Forbidden));
        let e = api.set_retention(&world.admin_token, Some(30)).await.unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::InvalidRequest));
        let set = api.set_retention(&world.admin_token, Some(3600)).await.unwrap();
        assert_eq!(set.retention_secs, Some(3600));
        assert_eq!(api.policy(&alice_token).await.unwrap(), set);

        // A copy older than the policy is deleted by the sweep, expired or not.
        let mut a = Client::connect(alice).await.unwrap();
        for id in ["old", "new"] {
            a.send(&[b_id.clone()], MessageKind::Message, &mid(id), id.as_bytes())
                .await
                .unwrap();
        }
        a.close().await;
        let db = &world.db;
        db.execute("UPDATE queue SET sent_at = sent_at - 7200000 WHERE message_id = 'old'")
            .await;
        let dir = world.db.config().data_dir.join("attachments");
        curbside_server::sweep_once(&world.server().state().store, &dir, Duration::from_secs(3600)).await;
        let mut b = Client::connect(bob).await.unwrap();
        let (got, _) = next(&mut b).await;
        assert_eq!(got.message_id, mid("new"));
        nothing(&mut b).await;

        // Lifted again: audited both times, `retention_secs` absent for no limit.
        let lifted = api.set_retention(&world.admin_token, None).await.unwrap();
        assert_eq!(lifted.retention_secs, None);
        assert_eq!(
            db.count(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'retention.changed' AND outcome = 'success'"
            )
            .await,
            2
        );
        assert_eq!(
            db.count(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'retention.changed' \
                 AND details LIKE '%\"retention_secs\":3600%'"
            )
            .await,
            1
        );
        b.close().await;
        world.stop().await;
    }
);

on_every_backend!(
    an_acknowledgement_tells_everyone_who_has_the_page,
    |db| async move {
        let world = World::start(db).await;
        let (alice, bob) = world.alice_and_bob().await;
        let carol = world.clinician("Dr. Carol Chen", NPIS[2], "Dermatology").await;
        let dan = world.clinician("Dr. Dan Diaz", NPIS[3], "Dermatology").await;
        let (a_id, b_id, c_id, d_id) = (uid(&alice), uid(&bob), uid(&carol), uid(&dan));
        let mut a = Client::connect(alice).await.unwrap();
        let mut b = Client::connect(bob).await.unwrap();
        let mut c = Client::connect(carol).await.unwrap();
        let mut d = Client::connect(dan).await.unwrap();
        a.send_with(
            &[b_id.clone(), c_id.clone()],
            MessageKind::Message,
            &mid("stat-3"),
            b"code blue, bay 3",
            &stat_escalating_to(&d_id, 1),
        )
        .await
        .unwrap();
        next(&mut b).await;
        next(&mut c).await;
        // Nobody answers within the delay: Dan gets it too.
        let (got, _) = next(&mut d).await;
        assert!(got.escalated);
        // Carol takes it: Alice, Bob and Dan are each told, end to end.
        let (_, first) = c.acknowledge(&a_id, &mid("stat-3")).await.unwrap();
        assert!(first);
        for client in [&mut a, &mut b, &mut d] {
            let (from, content) = next(client).await;
            assert_eq!(from.sender.user_id, c_id);
            assert_eq!(
                content,
                Content::Acknowledge {
                    message_ids: vec![mid("stat-3")]
                }
            );
        }
        for client in [a, b, c, d] {
            client.close().await;
        }
        world.stop().await;
    }
);

on_every_backend!(
    a_held_copy_cannot_be_acknowledged_away_by_the_backup,
    |db| async move {
        let world = World::start(db).await;
        let (alice, bob) = world.alice_and_bob().await;
        let carol = world.clinician("Dr. Carol Chen", NPIS[2], "Dermatology").await;
        let (b_id, c_id) = (uid(&bob), uid(&carol));
        let mut a = Client::connect(alice).await.unwrap();
        let mut c = Client::connect(carol).await.unwrap();
        a.send_with(
            &[b_id.clone()],
            MessageKind::Message,
            &mid("stat-held"),
            b"held for Carol",
            &stat_escalating_to(&c_id, 600),
        )
        .await
        .unwrap();
        // A later delivery to Carol, so the held copy's id is below her last pushed one.
        a.send(&[c_id.clone()], MessageKind::Message, &mid("later"), b"hello")
            .await
            .unwrap();
        next(&mut c).await;
        let held = world
            .db
            .count("SELECT delivery_id FROM queue WHERE held_until IS NOT NULL")
            .await;
        // Carol guesses the held copy's id and acknowledges it: nothing is deleted.
        c.ack(&[curbside_protocol::ids::DeliveryId(held)]).await.unwrap();
        // Its commit (the group commit's, a few ms) has had ample time.
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            world
                .db
                .count("SELECT COUNT(*) FROM queue WHERE held_until IS NOT NULL")
                .await,
            1
        );
        a.close().await;
        c.close().await;
        world.stop().await;
    }
);
