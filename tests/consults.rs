//! Curbside consults end to end, on both databases: a question to a
//! specialty reaches exactly the verified clinicians of it who opted in (at
//! most the configured number), answers return to the asker, the asker
//! closes it; the abuse limits hold; every step audited, never the content.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cloned_ref_to_slice_refs
)]

mod common;

use common::*;
use curbside_client::{Client, Urgency};
use curbside_protocol::consult::{ConsultStatus, PostConsult};
use curbside_protocol::error::ErrorCode;
use curbside_protocol::frames::MessageKind;

fn on(consult: &curbside_protocol::ids::ConsultId) -> Urgency {
    Urgency {
        consult: Some(consult.clone()),
        ..Urgency::routine()
    }
}

on_every_backend!(
    a_consult_reaches_the_opted_in_clinicians_of_the_specialty_and_the_answer_returns,
    |db| async move {
        let world = World::start_with(db, |c| {
            c.limits.max_consult_recipients = 2;
            c.limits.max_open_consults = 1;
        })
        .await;
        let (alice, bob) = world.alice_and_bob().await; // dermatology, internal medicine
        let carol = world.clinician("Dr. Carol Chen", NPIS[2], "Dermatology").await;
        let dan = world.clinician("Dr. Dan Diaz", NPIS[3], "Dermatology").await;
        let erin = world.clinician("Dr. Erin Eze", NPIS[4], "Dermatology").await;
        let (a_id, b_id, c_id, d_id) = (uid(&alice), uid(&bob), uid(&carol), uid(&dan));
        let api = world.api();
        let tokens = [
            world.login(&alice).await,
            world.login(&bob).await,
            world.login(&carol).await,
            world.login(&erin).await,
        ];
        // Alice, Carol and Erin answer dermatology consults; Dan does not.
        for t in [&tokens[0], &tokens[2], &tokens[3]] {
            api.consult_opt_in(t, vec!["Dermatology".into()]).await.unwrap();
        }
        // One opts in for one's own specialty only.
        let e = api
            .consult_opt_in(&tokens[1], vec!["Dermatology".into()])
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::InvalidRequest));
        // Erin leaves again: opted in are Alice and Carol.
        api.consult_opt_in(&tokens[3], vec![]).await.unwrap();
        // Each reads the opt-in as the server has it (the user's, any device;
        // spelled as the directory spells the specialty).
        assert_eq!(api.consult_opt_ins(&tokens[2]).await.unwrap(), ["Dermatology"]);
        let again = world.login(&carol).await;
        assert_eq!(api.consult_opt_ins(&again).await.unwrap(), ["Dermatology"]);
        assert!(api.consult_opt_ins(&tokens[3]).await.unwrap().is_empty());
        assert!(api.consult_opt_ins(&tokens[1]).await.unwrap().is_empty());

        let ask = PostConsult {
            specialty: "dermatology".into(),
            share_answers: false,
        };
        let consult = api.post_consult(&tokens[1], &ask).await.unwrap();
        assert_eq!(consult.fan_out, 2);
        let mut chosen = consult.recipients.clone();
        chosen.sort();
        let mut expected = vec![a_id.clone(), c_id.clone()];
        expected.sort();
        assert_eq!(chosen, expected);
        // One open consult at most (configured): the next is refused.
        let e = api.post_consult(&tokens[1], &ask).await.unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::TooManyConsults));

        let mut b = Client::connect(bob).await.unwrap();
        let mut a = Client::connect(alice).await.unwrap();
        let mut c = Client::connect(carol).await.unwrap();
        let mut d = Client::connect(dan).await.unwrap();
        let id = &consult.consult_id;
        b.send_with(
            &consult.recipients,
            MessageKind::Message,
            &mid("q-1"),
            b"Annular plaque, KOH negative?",
            &on(id),
        )
        .await
        .unwrap();
        for client in [&mut a, &mut c] {
            let got = client.next_message(WAIT).await.unwrap().unwrap();
            assert_eq!(got.message_id, mid("q-1"));
            client.ack(&[got.delivery_id]).await.unwrap();
        }
        assert!(
            d.next_message(QUIET).await.unwrap().is_none(),
            "Dan did not opt in"
        );
        // The question goes only to those the server chose.
        let e = b
            .send_with(&[d_id.clone()], MessageKind::Message, &mid("q-2"), b"x", &on(id))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::InvalidRequest));

        // Carol answers Bob (twice: one `consult.answered`); not Alice (answers are not shared).
        for n in ["ans-1", "ans-2"] {
            c.send_with(
                &[b_id.clone()],
                MessageKind::Message,
                &mid(n),
                b"Consider granuloma annulare",
                &on(id),
            )
            .await
            .unwrap();
        }
        let e = c
            .send_with(
                &[a_id.clone()],
                MessageKind::Message,
                &mid("ans-3"),
                b"x",
                &on(id),
            )
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::InvalidRequest));
        // Dan was not asked.
        let e = d
            .send_with(
                &[b_id.clone()],
                MessageKind::Message,
                &mid("ans-4"),
                b"x",
                &on(id),
            )
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::NotFound));
        for _ in 0..2 {
            let got = b.next_message(WAIT).await.unwrap().unwrap();
            b.ack(&[got.delivery_id]).await.unwrap();
        }

        // Bob closes it: no more answers; a new consult may be posted.
        api.close_consult(&tokens[1], id).await.unwrap();
        let e = c
            .send_with(
                &[b_id.clone()],
                MessageKind::Message,
                &mid("ans-5"),
                b"late",
                &on(id),
            )
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::InvalidRequest));
        let seen_by_carol = api.consults(&tokens[2]).await.unwrap();
        assert_eq!(seen_by_carol.len(), 1);
        assert_eq!(seen_by_carol[0].status, ConsultStatus::Closed);
        assert!(seen_by_carol[0].recipients.is_empty(), "answers were not shared");
        assert_eq!(seen_by_carol[0].answered, 1);
        // Three opted in now (Erin again), at most two receive it: the cap holds.
        api.consult_opt_in(&tokens[3], vec!["dermatology".into()])
            .await
            .unwrap();
        let capped = api.post_consult(&tokens[1], &ask).await.unwrap();
        assert_eq!((capped.fan_out, capped.recipients.len()), (2, 2));
        assert!(!capped.recipients.contains(&d_id) && !capped.recipients.contains(&b_id));

        let db = &world.db;
        for (action, n) in [
            ("consult.posted", 2),
            ("consult.answered", 1),
            ("consult.closed", 1),
        ] {
            let sql =
                format!("SELECT COUNT(*) FROM audit_log WHERE action = '{action}' AND outcome = 'success'");
            assert_eq!(db.count(&sql).await, n, "{action}");
        }
        assert_eq!(
            db.count(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'consult.posted' AND details LIKE '%\"fan_out\":2%'"
            )
            .await,
            2
        );
        for client in [a, b, c, d] {
            client.close().await;
        }
        world.stop().await;
    }
);

/// The first line of `out` that mentions `needle`, its `[consult ID]` id.
fn consult_id_in(out: &str, needle: &str) -> String {
    let line = out
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in {out}"));
    line.split("[consult ")
        .nth(1)
        .unwrap()
        .split(']')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consult_from_the_cli() {
    let (db, server) = cli_world(&[
        ("alice", "Family Medicine"),
        ("bob", "Dermatology"),
        ("carol", "Dermatology"),
        ("dan", "Dermatology"),
    ])
    .await;
    let dir = db.dir.path().to_path_buf();
    let run = |args: &[&str]| cli_ok(&dir, &server, args);
    for who in ["bob", "carol"] {
        let opted = run(&["consult", "optin", "--profile", who]);
        assert!(opted.contains("You now receive Dermatology consults"), "{opted}");
    }
    let asked = run(&[
        "consult",
        "ask",
        "--profile",
        "alice",
        "--specialty",
        "dermatology",
        "Annular plaque, KOH negative: GA?",
    ]);
    assert!(
        asked.contains("Asked 2 verified Dermatology clinician(s)"),
        "{asked}"
    );
    let id = asked
        .split("(consult ")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap()
        .to_owned();
    let seen = run(&["consult", "list", "--profile", "bob"]);
    assert!(
        seen.contains("Dermatology question from Dr. alice: Annular plaque"),
        "{seen}"
    );
    assert_eq!(consult_id_in(&seen, "question from"), id);
    assert!(
        run(&["inbox", "--profile", "dan"]).contains("No new messages"),
        "Dan did not opt in"
    );
    let answered = run(&[
        "consult",
        "answer",
        "--profile",
        "bob",
        &id,
        "Likely granuloma annulare; biopsy if unsure",
    ]);
    assert!(answered.contains("Answered consult"), "{answered}");
    let mine = run(&["consult", "list", "--profile", "alice"]);
    assert!(
        mine.contains("open: you asked Dermatology (2 asked, 1 answer(s))"),
        "{mine}"
    );
    assert!(
        mine.contains("answer from Dr. bob: Likely granuloma annulare"),
        "{mine}"
    );
    let closed = run(&["consult", "close", "--profile", "alice", &id]);
    assert!(closed.contains("Closed consult"), "{closed}");
    assert!(run(&["consult", "list", "--profile", "carol"]).contains("closed: Dermatology question"));
    let late = cli(
        &dir,
        &server,
        &["consult", "answer", "--profile", "carol", &id, "late"],
    );
    assert!(!late.status.success());
    assert!(
        String::from_utf8_lossy(&late.stderr).contains("is closed"),
        "{late:?}"
    );

    // With images: uploaded encrypted before anyone is asked, saved by a
    // recipient byte for byte.
    // (Images by their first bytes: the CLI refuses other files.)
    let palm: Vec<u8> = b"\x89PNG\r\n\x1a\n"
        .iter()
        .copied()
        .chain((0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13).to_le_bytes()[0]))
        .collect();
    let back: &[u8] = b"\xff\xd8\xff\xe0 a second, small image";
    std::fs::write(dir.join("palm.png"), &palm).unwrap();
    std::fs::write(dir.join("back.jpg"), back).unwrap();
    let (palm_path, back_path) = (dir.join("palm.png"), dir.join("back.jpg"));
    let (palm_arg, back_arg) = (palm_path.to_str().unwrap(), back_path.to_str().unwrap());
    // Refused before anything is asked: what the CLI says (it fails).
    let refused = |images: &[&str], text: &str| {
        let mut args = vec![
            "consult",
            "ask",
            "--profile",
            "alice",
            "--specialty",
            "Dermatology",
        ];
        for image in images {
            args.extend(["--image", image]);
        }
        args.push(text);
        let out = cli(&dir, &server, &args);
        assert!(!out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let said = refused(&[palm_arg, "/nonexistent/rash.png"], "Target lesions?");
    assert!(said.contains("was not sent and nobody was asked"), "{said}");
    std::fs::write(dir.join("empty.png"), b"").unwrap();
    let empty_path = dir.join("empty.png");
    let said = refused(&[empty_path.to_str().unwrap()], "Empty?");
    assert!(said.contains("is empty: choose the image file itself"), "{said}");
    // A file that is not an image (as the web client refuses it too).
    std::fs::write(dir.join("notes.png"), b"%PDF-1.7\n not an image").unwrap();
    let notes_path = dir.join("notes.png");
    let said = refused(&[notes_path.to_str().unwrap()], "A PDF?");
    assert!(
        said.contains("is not an image (PNG, JPEG, GIF, WebP, HEIC, TIFF or BMP)")
            && said.contains("nobody was asked"),
        "{said}"
    );
    let mut five = vec![
        "consult",
        "ask",
        "--profile",
        "alice",
        "--specialty",
        "Dermatology",
    ];
    for _ in 0..5 {
        five.extend(["--image", palm_arg]);
    }
    five.push("Five?");
    let too_many = cli(&dir, &server, &five);
    assert!(!too_many.status.success());
    assert!(
        String::from_utf8_lossy(&too_many.stderr).contains("at most 4 images"),
        "{too_many:?}"
    );
    assert!(
        !run(&["consult", "list", "--profile", "bob"]).contains("Target lesions"),
        "nobody was asked"
    );
    let asked = run(&[
        "consult",
        "ask",
        "--profile",
        "alice",
        "--specialty",
        "Dermatology",
        "--image",
        palm_arg,
        "--image",
        back_arg,
        "Target lesions on both palms?",
    ]);
    assert!(asked.contains("Asked 2 verified"), "{asked}");
    let seen = run(&["consult", "list", "--profile", "bob"]);
    assert!(
        seen.contains("with 2 images: palm.png (300008 bytes), back.jpg (26 bytes)"),
        "{seen}"
    );
    let id = consult_id_in(&seen, "Target lesions");
    let inbox = run(&["inbox", "--profile", "carol"]);
    assert!(
        inbox.contains("Dermatology question from Dr. alice: Target lesions on both palms? [with 2 images"),
        "by name, not id, where it arrives: {inbox}"
    );
    assert!(
        inbox.contains("save the images: curbside consult save"),
        "{inbox}"
    );
    let out = dir.join("bob-images");
    let saved = run(&[
        "consult",
        "save",
        "--profile",
        "bob",
        &id,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(saved.contains("'s 2 images: "), "{saved}");
    assert_eq!(
        std::fs::read(out.join("palm.png")).unwrap(),
        palm,
        "byte for byte"
    );
    assert_eq!(std::fs::read(out.join("back.jpg")).unwrap(), back);
    let again = run(&[
        "consult",
        "save",
        "--profile",
        "bob",
        &id,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        again.contains("palm.png (2)"),
        "an existing file is never overwritten: {again}"
    );
    let plain = cli(
        &dir,
        &server,
        &[
            "consult",
            "save",
            "--profile",
            "bob",
            &consult_id_in(&seen, "Annular"),
            "--out",
            "x",
        ],
    );
    assert!(
        String::from_utf8_lossy(&plain.stderr).contains("came without images"),
        "{plain:?}"
    );
    assert!(
        run(&["consult", "list", "--profile", "alice"]).contains("with 2 images"),
        "the asker sees them too"
    );
}
