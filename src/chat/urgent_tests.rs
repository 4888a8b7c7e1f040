//! The chat's urgent pages over a real server, drawn on ratatui's
//! `TestBackend`: a stat message pinned until `/ack`, the sender told; a
//! page sent with `/stat`; `/recall`.

use std::time::Duration;

use curbside_client::content::Content;
use curbside_client::local::LocalState;
use curbside_client::{Client, Urgency};
use curbside_protocol::frames::MessageKind;
use curbside_protocol::referral::Priority;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use super::app::{Action, App};
use super::execute::execute;
use super::tests::{clinician, receive_until, screen, typed, world, World};
use crate::messages::random_message_id;
use crate::profile::Profile;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stat_page_stays_pinned_until_acknowledged_and_the_sender_is_told() {
    let dir = tempfile::tempdir().unwrap();
    let World {
        server,
        info,
        api,
        admin_token: token,
    } = world(dir.path(), "127.0.0.1:0".parse().unwrap()).await;
    let alice = clinician(&info, &api, &token, "Dr. Alice", "1234567893").await;
    let bob = clinician(&info, &api, &token, "Dr. Bob", "1245319599").await;
    let (alice_id, bob_id) = (alice.user_id().unwrap().clone(), bob.user_id().unwrap().clone());
    let profile = Profile::for_tests(&dir.path().join("alice")).unwrap();
    let mut state = LocalState::new();
    let mut client = Client::connect(alice).await.unwrap();
    let mut app = App::new(alice_id.clone());
    let mut term = Terminal::new(TestBackend::new(140, 20)).unwrap();

    // Bob pages Alice.
    let mut b = Client::connect(bob).await.unwrap();
    let page = Content::text(vec![alice_id.clone()], "Sats 84% in bay 2".into());
    let stat = Urgency {
        priority: Priority::Stat,
        escalation: None,
        role: None,
        consult: None,
    };
    let id = random_message_id().unwrap();
    b.send_with(
        std::slice::from_ref(&alice_id),
        MessageKind::Message,
        &id,
        &page.to_bytes(),
        &stat,
    )
    .await
    .unwrap();
    receive_until(&profile, &mut state, &mut client, |s| !s.open_urgent().is_empty()).await;
    // As the loop does after each connection: names for the ids met.
    super::terminal::catch_up(&mut app, &profile, &mut state, &client).await;
    let open = typed(&mut app, &state, &format!("/to {bob_id}")).unwrap();
    execute(open, &mut app, &profile, &mut state, &mut client)
        .await
        .unwrap();
    term.draw(|f| app.render(f, &state, &client.account)).unwrap();
    let shown = screen(&term);
    assert!(shown.contains("Urgent: not yet acknowledged"), "{shown}");
    assert!(
        shown.contains("STAT from Dr. Bob: Sats 84% in bay 2 — /ack to acknowledge"),
        "{shown}"
    );
    assert!(shown.contains("Dr. Bob: [STAT] Sats 84% in bay 2"), "{shown}");

    // One action acknowledges it: the pin goes, Bob is told end to end.
    let ack = typed(&mut app, &state, "/ack").unwrap();
    assert_eq!(ack, Action::Acknowledge);
    execute(ack, &mut app, &profile, &mut state, &mut client)
        .await
        .unwrap();
    term.draw(|f| app.render(f, &state, &client.account)).unwrap();
    let shown = screen(&term);
    assert!(!shown.contains("Urgent: not yet acknowledged"), "{shown}");
    assert!(shown.contains("[STAT, acknowledged by you"), "{shown}");
    let told = b.next_message(Duration::from_secs(5)).await.unwrap().unwrap();
    let content = Content::from_bytes(told.content.as_ref().unwrap());
    assert_eq!(
        content,
        Content::Acknowledge {
            message_ids: vec![id]
        }
    );

    // Alice pages back with /stat: pinned on her side until Bob acknowledges.
    let send = typed(&mut app, &state, "/stat Coming, start O2").unwrap();
    assert!(matches!(send, Action::Urgent(_, _, Priority::Stat)));
    execute(send, &mut app, &profile, &mut state, &mut client)
        .await
        .unwrap();
    term.draw(|f| app.render(f, &state, &client.account)).unwrap();
    let shown = screen(&term);
    assert!(
        shown.contains("STAT to Dr. Bob: waiting for an acknowledgement: Coming, start O2"),
        "{shown}"
    );
    let got = b.next_message(Duration::from_secs(5)).await.unwrap().unwrap();
    assert_eq!(got.priority, Priority::Stat);
    b.ack(&[got.delivery_id]).await.unwrap();

    // /recall takes back the last message sent here, for everyone.
    let recall = typed(&mut app, &state, "/recall").unwrap();
    execute(recall, &mut app, &profile, &mut state, &mut client)
        .await
        .unwrap();
    term.draw(|f| app.render(f, &state, &client.account)).unwrap();
    let shown = screen(&term);
    assert!(shown.contains("me: [message recalled]"), "{shown}");
    // Whether Bob's acknowledgement of the delivery committed before the
    // recall decides which of the two notices: the message is named in both.
    assert!(shown.contains("Recalled \"Coming, start O2\""), "{shown}");
    let control = b.next_message(Duration::from_secs(5)).await.unwrap().unwrap();
    let content = Content::from_bytes(control.content.as_ref().unwrap());
    assert_eq!(
        content,
        Content::Recall {
            message_ids: vec![got.message_id]
        }
    );
    client.close().await;
    b.close().await;
    server.shutdown().await;
}
