//! On-call roles and consults in the chat, over a real server: two chats
//! (the asker's and a dermatologist's) driven by typed commands, two more
//! colleagues on plain clients. A message to a role reaches its holder; a
//! hand-off typed in the holder's chat moves the next one; a consult reaches
//! exactly the opted-in verified clinicians of the specialty, the answer
//! comes back, and closing it ends it for everyone.

use std::time::Duration;

use curbside_client::content::Content;
use curbside_client::local::LocalState;
use curbside_client::{Account, Client, Urgency};
use curbside_protocol::oncall::{CreateRole, HandOff, ScheduleShift};

use super::app::{App, Conversation};
use super::execute::execute;
use super::tests::{clinician, receive_until, typed, world, World};
use crate::profile::Profile;

/// One clinician's chat: the interface, the profile, the local state, the connection.
struct Chat {
    app: App,
    profile: Profile,
    state: LocalState,
    client: Client,
}

impl Chat {
    async fn open(dir: &std::path::Path, name: &str, account: Account) -> Self {
        let me = account.user_id().unwrap().clone();
        Self {
            app: App::new(me),
            profile: Profile::for_tests(&dir.join(name)).unwrap(),
            state: LocalState::new(),
            client: Client::connect(account).await.unwrap(),
        }
    }

    /// Types a line and carries out what it asks for; the notice after it.
    async fn type_line(&mut self, line: &str) -> String {
        if let Some(action) = typed(&mut self.app, &self.state, line) {
            execute(
                action,
                &mut self.app,
                &self.profile,
                &mut self.state,
                &mut self.client,
            )
            .await
            .unwrap();
        }
        self.app.notice.clone()
    }

    fn panel(&self) -> String {
        self.app
            .panel
            .as_ref()
            .map(|p| p.lines.join("\n"))
            .unwrap_or_default()
    }

    /// What the receive loop says (`json`: as `inbox --json`) until `done` holds of it, or 5 s.
    async fn lines_until(&mut self, json: bool, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        let mut lines = Vec::new();
        for _ in 0..50 {
            let wait = Duration::from_millis(100);
            let more = crate::messages::receive(
                &self.profile,
                &mut self.state,
                &mut self.client,
                wait,
                json,
                false,
            );
            lines.extend(more.await.unwrap());
            if done(&lines) {
                break;
            }
        }
        lines
    }

    async fn receive_until(&mut self, done: impl Fn(&LocalState) -> bool) {
        receive_until(&self.profile, &mut self.state, &mut self.client, done).await;
        super::terminal::catch_up(&mut self.app, &self.profile, &mut self.state, &self.client).await;
    }
}

fn text_of(r: &curbside_client::Received) -> String {
    match Content::from_bytes(r.content.as_ref().unwrap()) {
        Content::Text { text, .. } => text,
        other => panic!("not text: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_hand_offs_and_consults_from_the_chat() {
    let dir = tempfile::tempdir().unwrap();
    let World {
        server,
        info,
        api,
        admin_token: admin,
    } = world(dir.path(), "127.0.0.1:0".parse().unwrap()).await;
    // Every clinician here is a verified dermatologist.
    let alice = clinician(&info, &api, &admin, "Dr. Alice Asker", "1234567893").await;
    let carol = clinician(&info, &api, &admin, "Dr. Carol Chen", "1245319599").await;
    let dan = clinician(&info, &api, &admin, "Dr. Dan Diaz", "1003000126").await;
    let eve = clinician(&info, &api, &admin, "Dr. Eve Evans", "1023011079").await;
    let (carol_id, dan_id) = (carol.user_id().unwrap().clone(), dan.user_id().unwrap().clone());
    let role = api
        .create_oncall_role(
            &admin,
            &CreateRole {
                name: "On-call dermatology".into(),
                specialty: Some("Dermatology".into()),
            },
        )
        .await
        .unwrap();
    let now = curbside_protocol::time::now_ms();
    api.schedule_shift(
        &admin,
        &role.role_id,
        &ScheduleShift {
            user_id: carol_id.clone(),
            starts_at: now - 1000,
            ends_at: now + 2 * 3_600_000,
        },
    )
    .await
    .unwrap();
    // Carol and Dan answer consults; Eve does not.
    for account in [&carol, &dan] {
        let (a, token) = crate::commands::login(account).await.unwrap();
        a.consult_opt_in(&token, vec!["Dermatology".into()])
            .await
            .unwrap();
    }
    let mut a = Chat::open(dir.path(), "alice", alice).await;
    let mut c = Chat::open(dir.path(), "carol", carol).await;
    let mut d = Client::connect(dan).await.unwrap();
    let mut e = Client::connect(eve).await.unwrap();

    // The roles, with who holds each now.
    a.type_line("/oncall").await;
    let panel = a.panel();
    assert!(
        panel.contains("On-call dermatology [Dermatology]: Dr. Carol Chen (until"),
        "{panel}"
    );

    // Writing to the role reaches Carol; Alice's chat opens the conversation with her.
    let notice = a
        .type_line("/oncall dermatology: Rash on the forearm, spreading")
        .await;
    assert!(
        notice.contains("Sent to On-call dermatology: Dr. Carol Chen holds it now"),
        "{notice}"
    );
    assert_eq!(
        a.app.current(&a.state),
        Some(Conversation::With(carol_id.clone()))
    );
    c.receive_until(|s| {
        s.conversations
            .values()
            .flatten()
            .any(|m| m.content.summary().contains("forearm"))
    })
    .await;
    // Carol sees it was written to the role, not only who wrote it.
    assert!(
        c.state
            .conversations
            .values()
            .flatten()
            .any(|m| m.content.summary() == "[to On-call dermatology] Rash on the forearm, spreading"),
        "{:?}",
        c.state.conversations
    );
    // Her chat, at its connection, told her the role is hers.
    assert!(c.state.held_roles.contains_key(role.role_id.as_str()));

    // The holder writing to her own role is told so (not an empty-named error).
    let notice = c.type_line("/oncall dermatology: note to self").await;
    assert!(
        notice.contains("You hold On-call dermatology now yourself"),
        "{notice}"
    );
    // An unknown role names the chat's command, not the CLI's (the chat holds the profile).
    let notice = c.type_line("/oncall cardiology: anyone?").await;
    assert!(
        notice.contains("/oncall lists them (On-call dermatology)"),
        "{notice}"
    );

    // A bad /handoff line says how to write it; Carol hands the role to Dan.
    assert!(c
        .type_line("/handoff dermatology")
        .await
        .contains("/handoff ROLE: NAME"));
    let notice = c.type_line("/handoff dermatology: Dr. Dan Diaz").await;
    assert!(
        notice.contains("Handed off: On-call dermatology [Dermatology]: Dr. Dan Diaz"),
        "{notice}"
    );

    // The next message to the role goes to Dan, not Carol.
    let notice = a
        .type_line("/oncall On-call dermatology: Photo taken, can you look?")
        .await;
    assert!(notice.contains("Dr. Dan Diaz holds it now"), "{notice}");
    assert_eq!(a.app.current(&a.state), Some(Conversation::With(dan_id.clone())));
    let got = d.next_message(Duration::from_secs(5)).await.unwrap().unwrap();
    assert_eq!(text_of(&got), "Photo taken, can you look?");
    d.ack(&[got.delivery_id]).await.unwrap();

    // Handed back to Carol between reading the role and sending: the server
    // refuses the old holders (holders_changed); it goes again, same id, to Carol.
    let stale = crate::messages::resolve_role(&a.client.account, &mut a.state, "dermatology")
        .await
        .unwrap();
    assert_eq!(stale.holders[0].user_id, dan_id);
    let back = HandOff {
        to: carol_id.clone(),
        until: None,
    };
    api.hand_off(&admin, &role.role_id, &back).await.unwrap();
    // Carol's chat is told at once, pushed (`oncall_changed`), in words.
    let told = c
        .lines_until(false, |ls| ls.iter().any(|l| l.starts_with("You now hold")))
        .await;
    assert!(
        told.iter()
            .any(|l| l.starts_with("You now hold On-call dermatology (until ")),
        "{told:?}"
    );
    // Read as JSON lines (`inbox --json`), a push is one JSON object too.
    let to_dan = HandOff {
        to: dan_id.clone(),
        until: None,
    };
    api.hand_off(&admin, &role.role_id, &to_dan).await.unwrap();
    let lines = c.lines_until(true, |ls| !ls.is_empty()).await;
    let pushed: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(pushed["type"], "oncall_changed");
    assert!(
        pushed["text"]
            .as_str()
            .unwrap()
            .starts_with("You no longer hold On-call dermatology: Dr. Dan Diaz holds it now"),
        "{pushed}"
    );
    api.hand_off(&admin, &role.role_id, &back).await.unwrap();
    c.receive_until(|s| s.held_roles.contains_key(role.role_id.as_str()))
        .await;
    let id = crate::messages::random_message_id().unwrap();
    let how = (&Urgency::routine(), None);
    let (now_role, _) = crate::messages::send_to_role(
        &a.profile,
        &mut a.state,
        &mut a.client,
        stale,
        (&id, "Still there?"),
        how,
    )
    .await
    .unwrap();
    assert_eq!(now_role.holders.len(), 1);
    assert_eq!(now_role.holders[0].user_id, carol_id);
    let alice_id = a.app.me.clone();
    c.receive_until(|s| {
        s.conversations
            .get(&alice_id)
            .is_some_and(|ms| ms.iter().any(|m| m.message_id == id))
    })
    .await;
    assert!(
        d.next_message(Duration::from_millis(500))
            .await
            .unwrap()
            .is_none(),
        "Dan no longer holds it"
    );
    // Dan's device was told too: the role as it is now, Carol holding it.
    let pushed = d
        .oncall_changes
        .last()
        .expect("oncall_changed pushed to the old holder");
    assert_eq!(pushed.holders[0].user_id, carol_id);

    // Queued while the server could not take it, to the holder then (Dan),
    // and handed off since: sent from the outbox to Carol, with its role,
    // and moved from the conversation with Dan to the one with her.
    let queued = crate::messages::random_message_id().unwrap();
    let tag = crate::messages::role_tag(&now_role);
    let content = Content::Text {
        to: vec![dan_id.clone()],
        text: "Queued for the role".into(),
        role: Some(tag),
    };
    let at = curbside_protocol::time::now_ms();
    a.state.record_outgoing(
        &alice_id,
        std::slice::from_ref(&dan_id),
        &queued,
        &content,
        at,
        curbside_client::local::Status::Queued,
    );
    a.state.outbox.push(curbside_client::local::Outgoing {
        message_id: queued.clone(),
        to: vec![dan_id.clone()],
        content,
        role: Some(role.role_id.clone()),
    });
    let sent = crate::messages::flush_outbox(&a.profile, &mut a.state, &mut a.client)
        .await
        .unwrap();
    assert_eq!(sent, 1);
    assert!(a.state.outbox.is_empty());
    assert!(!a.state.conversations[&dan_id]
        .iter()
        .any(|m| m.message_id == queued));
    assert!(a.state.conversations[&carol_id]
        .iter()
        .any(|m| m.message_id == queued && m.status >= curbside_client::local::Status::Sent));
    c.receive_until(|s| {
        s.conversations
            .get(&alice_id)
            .is_some_and(|ms| ms.iter().any(|m| m.message_id == queued))
    })
    .await;
    let got = c.state.conversations[&alice_id]
        .iter()
        .find(|m| m.message_id == queued)
        .unwrap();
    assert_eq!(
        got.content.summary(),
        "[to On-call dermatology] Queued for the role"
    );

    // A consult reaches exactly Carol and Dan (opted in), not Eve.
    let notice = a
        .type_line("/consult Dermatology: Target lesions on both palms?")
        .await;
    assert!(
        notice.contains("Consult asked of 2 verified Dermatology clinician(s)"),
        "{notice}"
    );
    c.receive_until(|s| !s.consults.is_empty()).await;
    let question = d.next_message(Duration::from_secs(5)).await.unwrap().unwrap();
    assert!(matches!(
        Content::from_bytes(question.content.as_ref().unwrap()),
        Content::Consult { ref text, .. } if text == "Target lesions on both palms?"
    ));
    d.ack(&[question.delivery_id]).await.unwrap();
    assert!(e
        .next_message(Duration::from_millis(500))
        .await
        .unwrap()
        .is_none());

    // The loop's notice of it uses the chat's number and says how to answer.
    let id = c.state.consults.keys().next().unwrap().clone();
    let line = format!(
        "[consult {id}] Dermatology question from Dr. Alice Asker: Q? (answer: curbside consult answer …)"
    );
    assert_eq!(
        super::consults::notice_words(&c.state, &line).unwrap(),
        "Consult 1: Dermatology question from Dr. Alice Asker: Q? — /answer 1 TEXT answers it"
    );

    // Carol sees it numbered, answers; the answer comes back to Alice.
    c.type_line("/consult").await;
    let panel = c.panel();
    assert!(
        panel.contains("1. open: Dermatology question from Dr. Alice Asker: Target lesions on both palms?"),
        "{panel}"
    );
    assert!(c
        .type_line("/answer 7 what?")
        .await
        .contains("There is no consult 7"));
    let notice = c
        .type_line("/answer 1 Erythema multiforme likely; ask about HSV")
        .await;
    assert!(
        notice.contains("Answered consult 1; Dr. Alice Asker told"),
        "{notice}"
    );
    a.receive_until(|s| s.consults.values().any(|c| !c.answers.is_empty()))
        .await;
    a.type_line("/consult").await;
    let panel = a.panel();
    assert!(
        panel.contains("1. open: you asked Dermatology (2 asked, 1 answer(s))"),
        "{panel}"
    );
    assert!(
        panel.contains("answer from Dr. Carol Chen: Erythema multiforme likely; ask about HSV"),
        "{panel}"
    );

    // Only the asker closes it; then it is closed everywhere and takes no answer.
    assert!(c.type_line("/close 1").await.contains("only they close it"));
    let notice = a.type_line("/close 1").await;
    assert!(notice.contains("Closed consult 1"), "{notice}");
    c.receive_until(|s| s.consults.values().all(|c| c.closed)).await;
    c.type_line("/consult").await;
    assert!(
        c.panel().contains("1. closed: Dermatology question"),
        "{}",
        c.panel()
    );
    let notice = c.type_line("/answer 1 one more thing").await;
    assert!(
        notice.contains("not answered: this consult is closed"),
        "{notice}"
    );

    // A consult with an image (asked from the CLI or the web; the chat
    // saves it): the panel names it, /images saves it byte for byte.
    let scan = dir.path().join("palm.png");
    std::fs::write(&scan, b"\x89PNG pretend pixels of a palm").unwrap();
    let (file, _) = crate::messages::upload_file(&a.client.account, &scan)
        .await
        .unwrap();
    let question = crate::consults::Question {
        specialty: "Dermatology".into(),
        share_answers: false,
        text: "And this one?".into(),
        attachments: vec![file.clone()],
    };
    crate::consults::post(&mut a.state, &mut a.client, question)
        .await
        .unwrap();
    // A hostile sender's flood of references: the first four are kept.
    let flood = crate::consults::Question {
        specialty: "Dermatology".into(),
        share_answers: false,
        text: "Flood".into(),
        attachments: vec![file; 500],
    };
    crate::consults::post(&mut a.state, &mut a.client, flood)
        .await
        .unwrap();
    c.receive_until(|s| s.consults.values().any(|c| c.text == "Flood"))
        .await;
    let kept = c.state.consults.values().find(|c| c.text == "Flood").unwrap();
    assert_eq!(kept.attachments.len(), 4);
    c.receive_until(|s| s.consults.values().any(|c| !c.attachments.is_empty()))
        .await;
    c.type_line("/consult").await;
    assert!(
        c.panel().contains("with 1 image: palm.png (29 bytes)"),
        "{}",
        c.panel()
    );
    assert!(c
        .type_line("/images 1")
        .await
        .contains("Consult 1 came without images"));
    let saved = dir.path().join("carol-saved");
    let notice = c.type_line(&format!("/images 2 {}", saved.display())).await;
    assert!(notice.contains("Saved consult 2's images"), "{notice}");
    assert_eq!(
        std::fs::read(saved.join("palm.png")).unwrap(),
        b"\x89PNG pretend pixels of a palm"
    );
    assert!(c
        .type_line("/images x")
        .await
        .contains("N is the consult's number"));

    for client in [a.client, c.client, d, e] {
        client.close().await;
    }
    server.shutdown().await;
}
