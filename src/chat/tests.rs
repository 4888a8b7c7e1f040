//! The chat's UI test: the whole interface over a real server, drawn on
//! ratatui's `TestBackend` (open a conversation, send, see it read, lock and
//! unlock, the referral inbox).

use std::time::Duration;

use curbside_client::api::Api;
use curbside_client::content::Content;
use curbside_client::local::{LocalState, Status};
use curbside_client::{Account, Client, ServerInfo};
use curbside_protocol::frames::MessageKind;
use curbside_protocol::http::{CreateInviteRequest, InviteTarget, Role};
use curbside_protocol::referral::Priority;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;

use super::app::{Action, App, Conversation};
use super::execute::{execute, mark_shown_read};
use crate::messages::{random_message_id, receive};
use crate::profile::Profile;

pub(super) fn screen(term: &Terminal<TestBackend>) -> String {
    let buffer = term.backend().buffer();
    let width = usize::from(buffer.area.width);
    buffer
        .content
        .chunks(width)
        .map(|row| row.iter().map(ratatui::buffer::Cell::symbol).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

pub(super) fn typed(app: &mut App, state: &LocalState, text: &str) -> Option<Action> {
    for c in text.chars() {
        assert_eq!(
            app.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE), state),
            None
        );
    }
    app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE), state)
}

pub(super) async fn clinician(info: &ServerInfo, api: &Api, admin: &str, name: &str, npi: &str) -> Account {
    let req = CreateInviteRequest {
        target: InviteTarget::NewUser {
            role: Role::Clinician,
        },
        expires_in_secs: None,
    };
    let invite = api.create_invite(admin, &req).await.unwrap().invite;
    let details = curbside_client::UserDetails {
        display_name: name.into(),
        npi: Some(npi.into()),
        specialty: Some("Dermatology".into()),
    };
    let account = curbside_client::enroll(info.clone(), &invite, &details)
        .await
        .unwrap();
    api.verify_user(admin, account.user_id().unwrap()).await.unwrap();
    account
}

/// A server's configuration: SQLite in `dir`, listening on `listen`.
pub(super) fn config(dir: &std::path::Path, listen: std::net::SocketAddr) -> curbside_server::Config {
    curbside_server::Config {
        listen,
        data_dir: dir.join("server"),
        database_url: Some(format!("sqlite://{}?mode=rwc", dir.join("server.db").display())),
        ..curbside_server::Config::default()
    }
}

/// A running server, how to reach it, and its first administrator's session.
pub(super) struct World {
    pub(super) server: curbside_server::Server,
    pub(super) info: ServerInfo,
    pub(super) api: Api,
    pub(super) admin_token: String,
}

/// Starts a server (see [`config`]) and enrolls its first administrator.
pub(super) async fn world(dir: &std::path::Path, listen: std::net::SocketAddr) -> World {
    let server = curbside_server::start(config(dir, listen)).await.unwrap();
    let info = ServerInfo {
        address: server.addr.to_string(),
        server_name: "localhost".into(),
        cert_pem: server.cert_pem.clone(),
    };
    let admin_details = curbside_client::UserDetails {
        display_name: "Admin".into(),
        ..curbside_client::UserDetails::default()
    };
    let admin = curbside_client::enroll(
        info.clone(),
        server.bootstrap_token.as_deref().unwrap(),
        &admin_details,
    )
    .await
    .unwrap();
    let api = Api::new(&info).unwrap();
    let a = admin.address().unwrap().clone();
    let admin_token = api
        .login(&a.user_id, a.device_id, admin.identity())
        .await
        .unwrap();
    World {
        server,
        info,
        api,
        admin_token,
    }
}

/// The chat UI over a real server: open a conversation, send, watch the
/// status go from sent to read when the colleague reads it, see the reply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_ui_sends_and_shows_the_message_read() {
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
    let mut term = Terminal::new(TestBackend::new(120, 16)).unwrap();

    let open = typed(&mut app, &state, &format!("/to {bob_id}")).unwrap();
    execute(open, &mut app, &profile, &mut state, &mut client)
        .await
        .unwrap();
    let send = typed(&mut app, &state, "Quick look at a rash?").unwrap();
    assert_eq!(
        send,
        Action::Send(
            Conversation::With(bob_id.clone()),
            "Quick look at a rash?".into(),
            false
        )
    );
    execute(send, &mut app, &profile, &mut state, &mut client)
        .await
        .unwrap();
    term.draw(|f| app.render(f, &state, &client.account)).unwrap();
    let shown = screen(&term);
    assert!(shown.contains("● connected"), "{shown}");
    // Names, not ids: the conversation list and the title show who it is.
    assert!(shown.contains("Dr. Bob (Dermatology)"), "{shown}");
    assert!(!shown.contains(bob_id.as_str()), "{shown}");
    assert!(shown.contains("me: Quick look at a rash?  [sent]"), "{shown}");

    // Bob reads it and answers; his client sends the read receipt.
    let mut b = Client::connect(bob).await.unwrap();
    let got = b.next_message(Duration::from_secs(5)).await.unwrap().unwrap();
    b.ack(&[got.delivery_id]).await.unwrap();
    let read = Content::Read {
        message_ids: vec![got.message_id.clone()],
    };
    b.send(
        std::slice::from_ref(&alice_id),
        MessageKind::Receipt,
        &random_message_id().unwrap(),
        &read.to_bytes(),
    )
    .await
    .unwrap();
    let reply = Content::text(vec![alice_id.clone()], "Send a photo".into());
    b.send(
        std::slice::from_ref(&alice_id),
        MessageKind::Message,
        &random_message_id().unwrap(),
        &reply.to_bytes(),
    )
    .await
    .unwrap();

    // Alice's loop takes messages in as they arrive.
    receive_until(&profile, &mut state, &mut client, |state| {
        state.conversations[&bob_id].iter().any(|m| m.from == bob_id)
            && state.conversations[&bob_id][0].status == Status::Read
    })
    .await;
    term.draw(|f| app.render(f, &state, &client.account)).unwrap();
    let shown = screen(&term);
    assert!(shown.contains("me: Quick look at a rash?  [read]"), "{shown}");
    assert!(shown.contains("Dr. Bob: Send a photo"), "{shown}");
    // Shown is read: the reply's read receipt goes back to Bob.
    mark_shown_read(&app, &profile, &mut state, &mut client)
        .await
        .unwrap();
    let receipt = b.next_message(Duration::from_secs(5)).await.unwrap().unwrap();
    let content = Content::from_bytes(receipt.content.as_ref().unwrap());
    assert!(matches!(content, Content::Read { .. }), "{content:?}");
    // Nothing readable on disk: not the messages, not the identity key.
    profile.save(&client.account).unwrap();
    let secret = client.account.identity().to_bytes();
    for entry in std::fs::read_dir(dir.path().join("alice")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for needle in [
            b"Quick look".as_slice(),
            b"Send a photo",
            &secret[..32],
            &secret[32..64],
        ] {
            assert!(!bytes.windows(needle.len()).any(|w| w == needle));
        }
    }
    // Idle lock: hidden until the passphrase is typed again.
    app.lock();
    term.draw(|f| app.render(f, &state, &client.account)).unwrap();
    let locked = screen(&term);
    assert!(
        locked.contains("Locked after inactivity") && !locked.contains("Send a photo"),
        "{locked}"
    );
    let wrong = typed(&mut app, &state, "not it").unwrap();
    execute(wrong, &mut app, &profile, &mut state, &mut client)
        .await
        .unwrap();
    term.draw(|f| app.render(f, &state, &client.account)).unwrap();
    let refused = screen(&term);
    assert!(
        refused.contains("Wrong passphrase: type it again") && !refused.contains("Send a photo"),
        "{refused}"
    );
    let right = typed(&mut app, &state, "test passphrase").unwrap();
    assert_eq!(format!("{right:?}"), "Unlock(Passphrase(***))");
    execute(right, &mut app, &profile, &mut state, &mut client)
        .await
        .unwrap();
    term.draw(|f| app.render(f, &state, &client.account)).unwrap();
    assert!(screen(&term).contains("Send a photo"));
    // An unknown command is explained, not sent.
    assert_eq!(typed(&mut app, &state, "/frobnicate"), None);
    term.draw(|f| app.render(f, &state, &client.account)).unwrap();
    assert!(screen(&term).contains("unknown command /frobnicate"));

    // A referral from Bob appears in Alice's referral inbox, with its
    // priority and patient, and she accepts it from the input line.
    let bob_address = b.account.address().unwrap().clone();
    let bob_token = api
        .login(&bob_address.user_id, bob_address.device_id, b.account.identity())
        .await
        .unwrap();
    let patient = curbside_client::fhir::Patient::parse(
        br#"{"resourceType":"Patient","name":[{"family":"Roe","given":["Jane"]}]}"#,
    )
    .unwrap();
    let request = curbside_client::fhir::Request {
        referral_id: "ref-ui",
        status: curbside_protocol::referral::Status::Requested,
        priority: "stat",
        specialty: "Dermatology",
        requester: curbside_client::fhir::Practitioner {
            user_id: bob_id.as_str(),
            npi: Some("1245319599"),
            name: Some("Dr. Bob"),
        },
        performer: curbside_client::fhir::Practitioner {
            user_id: alice_id.as_str(),
            npi: Some("1234567893"),
            name: Some("Dr. Alice"),
        },
        note: None,
        status_reason: None,
        authored_on: "2026-11-23",
        last_modified: None,
    };
    let content = Content::Referral {
        referral_id: "ref-ui".into(),
        bundle: curbside_client::fhir::referral_bundle(&patient, &request).to_string(),
        attachments: Vec::new(),
    };
    let content_id = random_message_id().unwrap();
    b.send(
        std::slice::from_ref(&alice_id),
        MessageKind::Referral,
        &content_id,
        &content.to_bytes(),
    )
    .await
    .unwrap();
    let envelope = curbside_protocol::referral::CreateReferral {
        referral_id: "ref-ui".into(),
        to: alice_id.clone(),
        specialty: "Dermatology".into(),
        priority: Priority::Stat,
        message_id: content_id,
    };
    api.create_referral(&bob_token, &envelope).await.unwrap();
    receive_until(&profile, &mut state, &mut client, |state| {
        state.referral_envelopes.contains_key("ref-ui") && state.referrals.contains_key("ref-ui")
    })
    .await;
    assert_eq!(typed(&mut app, &state, "/referrals"), None);
    term.draw(|f| app.render(f, &state, &client.account)).unwrap();
    let inbox = screen(&term);
    assert!(inbox.contains("Referrals (1 open)"), "{inbox}");
    assert!(
        inbox.contains("stat") && inbox.contains("requested ref-ui") && inbox.contains("patient Jane Roe"),
        "{inbox}"
    );
    let accept = typed(&mut app, &state, "/refer accept ref-ui").unwrap();
    execute(accept, &mut app, &profile, &mut state, &mut client)
        .await
        .unwrap();
    term.draw(|f| app.render(f, &state, &client.account)).unwrap();
    assert!(screen(&term).contains("accepted  ref-ui"), "{}", screen(&term));

    b.close().await;
    client.close().await;
    server.shutdown().await;
}

/// Takes messages in, as the chat's loop does, until `done` holds (for at
/// most about 5 s).
pub(super) async fn receive_until(
    profile: &Profile,
    state: &mut LocalState,
    client: &mut Client,
    done: impl Fn(&LocalState) -> bool,
) {
    for _ in 0..50 {
        receive(profile, state, client, Duration::from_millis(100), false, false)
            .await
            .unwrap();
        if done(state) {
            break;
        }
    }
}
