//! The chat's loop over a real server, on ratatui's `TestBackend`, with keys
//! from a channel: a colleague opened by name, a server restart shown as
//! `reconnecting…`, a message typed meanwhile queued and sent on
//! reconnection, the safety number and the help in a panel of their own, a
//! referral's transitions seen by the referring clinician live and after
//! the chat was closed.

use std::time::Duration;

use curbside_client::content::Content;
use curbside_client::local::LocalState;
use curbside_client::Client;
use curbside_protocol::frames::MessageKind;
use curbside_protocol::ids::UserId;
use curbside_protocol::referral::{CreateReferral, Priority, Transition};
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use tokio::sync::{mpsc, watch};

use super::app::App;
use super::terminal::event_loop;
use super::tests::{clinician, config, screen, world, World};
use crate::messages::random_message_id;
use crate::profile::Profile;

struct Keys(mpsc::UnboundedSender<Event>);

impl Keys {
    fn key(&self, code: KeyCode, modifiers: KeyModifiers) {
        self.0.send(Event::Key(KeyEvent::new(code, modifiers))).unwrap();
    }

    fn line(&self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c), KeyModifiers::NONE);
        }
        self.key(KeyCode::Enter, KeyModifiers::NONE);
    }
}

type Chat = tokio::task::JoinHandle<(Profile, LocalState, Client)>;

/// The chat's loop in a task of its own (after catching up, as `run` does),
/// with keys sent by the returned `Keys` and every screen drawn published.
fn spawn_chat(
    profile: Profile,
    state: LocalState,
    client: Client,
    me: UserId,
) -> (Keys, watch::Receiver<String>, Chat) {
    let (key_tx, mut key_rx) = mpsc::unbounded_channel();
    let (screen_tx, screens) = watch::channel(String::new());
    let chat = tokio::spawn(async move {
        let mut term = Terminal::new(TestBackend::new(150, 24)).unwrap();
        let (mut app, mut state, mut client) = (App::new(me), state, client);
        super::terminal::catch_up(&mut app, &profile, &mut state, &client).await;
        event_loop(
            &mut term,
            &mut key_rx,
            &mut app,
            &profile,
            &mut state,
            &mut client,
            Duration::from_secs(3600),
            |t| {
                screen_tx.send_replace(screen(t));
            },
        )
        .await
        .unwrap();
        (profile, state, client)
    });
    (Keys(key_tx), screens, chat)
}

/// Waits (at most 20 s) until the screen shows what `done` looks for.
async fn until(screens: &mut watch::Receiver<String>, what: &str, done: impl Fn(&str) -> bool) -> String {
    let wait = async {
        loop {
            let shown = screens.borrow_and_update().clone();
            if done(&shown) {
                return shown;
            }
            screens.changed().await.unwrap();
        }
    };
    match tokio::time::timeout(Duration::from_secs(20), wait).await {
        Ok(shown) => shown,
        Err(_) => panic!("the screen never showed {what}:\n{}", *screens.borrow()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_reconnects_after_a_server_restart_and_sends_what_was_typed_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let World {
        server,
        info,
        api,
        admin_token: token,
    } = world(dir.path(), "127.0.0.1:0".parse().unwrap()).await;
    let addr = server.addr;
    let alice = clinician(&info, &api, &token, "Dr. Alice Adams", "1234567893").await;
    let bob = clinician(&info, &api, &token, "Dr. Bob Brennan", "1245319599").await;
    let alice_id = alice.user_id().unwrap().clone();

    let alice_token = api
        .login(&alice_id, alice.address().unwrap().device_id, alice.identity())
        .await
        .unwrap();
    let bob_address = bob.address().unwrap().clone();
    let bob_token = api
        .login(&bob_address.user_id, bob_address.device_id, bob.identity())
        .await
        .unwrap();
    let bob_id = bob_address.user_id.clone();

    let profile = Profile::for_tests(&dir.path().join("alice")).unwrap();
    let client = Client::connect(alice).await.unwrap();
    let (keys, mut screens, chat) = spawn_chat(profile, LocalState::new(), client, alice_id.clone());

    // A colleague by (part of) a name; the screen shows names, not ids.
    keys.line("/to Brennan");
    let shown = until(&mut screens, "Dr. Bob Brennan", |s| {
        s.contains("Dr. Bob Brennan (Dermatology)")
    })
    .await;
    assert!(shown.contains("Dr. Alice Adams (Dermatology)"), "{shown}");
    keys.line("Before the restart");
    until(&mut screens, "the first message sent", |s| {
        s.contains("me: Before the restart  [sent]")
    })
    .await;

    // The server goes away: the chat says so instead of `● connected`.
    server.shutdown().await;
    until(&mut screens, "reconnecting", |s| s.contains("reconnecting…")).await;
    // A colleague already in the list opens without the server.
    keys.line("/to Brennan");
    until(&mut screens, "the conversation opened offline", |s| {
        s.contains("Writing to Dr. Bob Brennan")
    })
    .await;
    keys.line("While it was down");
    until(&mut screens, "the message queued", |s| {
        s.contains("me: While it was down  [queued]")
    })
    .await;

    // It comes back on the same address: reconnected, the queued message sent.
    let server = curbside_server::start(config(dir.path(), addr)).await.unwrap();
    let shown = until(&mut screens, "the queued message sent", |s| {
        s.contains("● connected") && s.contains("me: While it was down  [sent]")
    })
    .await;
    assert!(!shown.contains("[failed]"), "{shown}");

    // Bob gets both, in order, and answers; the answer shows under his name.
    let mut b = Client::connect(bob).await.unwrap();
    let mut texts = Vec::new();
    while texts.len() < 2 {
        let got = b.next_message(Duration::from_secs(10)).await.unwrap().unwrap();
        b.ack(&[got.delivery_id]).await.unwrap();
        if let Content::Text { text, .. } = Content::from_bytes(got.content.as_ref().unwrap()) {
            texts.push(text);
        }
    }
    assert_eq!(texts, ["Before the restart", "While it was down"]);
    let reply = Content::text(vec![alice_id.clone()], "Got both".into());
    b.send(
        std::slice::from_ref(&alice_id),
        MessageKind::Message,
        &random_message_id().unwrap(),
        &reply.to_bytes(),
    )
    .await
    .unwrap();
    let shown = until(&mut screens, "the reply", |s| {
        s.contains("Dr. Bob Brennan: Got both")
    })
    .await;
    assert!(
        shown.contains("from Dr. Bob Brennan (device 1): Got both"),
        "names in the notice: {shown}"
    );

    // The safety number has a panel of its own, in groups of five digits.
    keys.line("/verify");
    let shown = until(&mut screens, "the safety number", |s| {
        s.contains("Safety number with")
    })
    .await;
    let groups = shown.lines().find(|l| {
        l.split(|c: char| c.is_whitespace() || c == '│')
            .filter(|w| w.len() == 5 && w.bytes().all(|b| b.is_ascii_digit()))
            .count()
            == 6
    });
    assert!(groups.is_some(), "{shown}");
    keys.line("/confirm 00000 00000");
    until(&mut screens, "a short confirmation refused", |s| {
        s.contains("/confirm takes the 60 digits your colleague reads out; 10 were typed")
    })
    .await;
    keys.line(&format!("/confirm {}", "0".repeat(60)));
    until(&mut screens, "a refused confirmation", |s| {
        s.contains("Safety numbers differ")
    })
    .await;
    keys.key(KeyCode::Esc, KeyModifiers::NONE);
    keys.line("/help");
    until(&mut screens, "the help", |s| s.contains("/download [N] [DIR]")).await;

    keys.key(KeyCode::Esc, KeyModifiers::NONE);

    // A referral Alice made: she sees each transition Bob makes as it
    // happens, and those made while her chat was closed when it opens.
    let referral = CreateReferral {
        referral_id: "ref-live".into(),
        to: bob_id.clone(),
        specialty: "Dermatology".into(),
        priority: Priority::Urgent,
        message_id: random_message_id().unwrap(),
    };
    api.create_referral(&alice_token, &referral).await.unwrap();
    keys.line("/referrals");
    until(&mut screens, "the referral made", |s| {
        s.contains("requested ref-live") && s.contains("to Dr. Bob Brennan")
    })
    .await;
    let accept = Transition::parse("accept").unwrap();
    api.transition_referral(&bob_token, "ref-live", accept, None)
        .await
        .unwrap();
    until(&mut screens, "the referral accepted", |s| {
        s.contains("accepted  ref-live")
    })
    .await;

    keys.key(KeyCode::Char('c'), KeyModifiers::CONTROL);
    let (profile, state, client) = chat.await.unwrap();
    assert!(state.outbox.is_empty());
    let complete = Transition::parse("complete").unwrap();
    api.transition_referral(&bob_token, "ref-live", complete, None)
        .await
        .unwrap();
    let (keys, mut screens, chat) = spawn_chat(profile, state, client, alice_id.clone());
    keys.line("/referrals");
    until(&mut screens, "the referral completed while away", |s| {
        s.contains("completed ref-live")
    })
    .await;
    keys.key(KeyCode::Char('c'), KeyModifiers::CONTROL);
    let (_, _, client) = chat.await.unwrap();
    client.close().await;
    b.close().await;
    server.shutdown().await;
}
