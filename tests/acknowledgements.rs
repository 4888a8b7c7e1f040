//! Acknowledgements: the server pushes the next page without waiting for an
//! `ack`'s commit, yet what a device acknowledges is never lost: an `ack`
//! followed at once by a close still deletes what it acknowledged, and an
//! `ack` whose commit storage refuses ends the connection and its
//! deliveries come again. Real server, real TLS clients, real SQLite files
//! and a real PostgreSQL.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cloned_ref_to_slice_refs
)]

mod common;

use std::time::Duration;

use common::*;
use curbside_client::Client;
use curbside_protocol::frames::MessageKind;
use curbside_protocol::ids::{Address, MessageId};
use curbside_server::store::Backend;
use sqlx::Connection as _;

async fn world_with(tweak: impl FnOnce(&mut curbside_server::Config)) -> World {
    World::start_with(Db::new(Backend::Sqlite).await.unwrap(), tweak).await
}

/// Receives until nothing arrives for a while; every message id in arrival
/// order (a re-delivered id would appear twice).
async fn drain(client: &mut Client) -> Vec<MessageId> {
    let mut out = Vec::new();
    while let Some(r) = client.next_message(Duration::from_secs(3)).await.unwrap() {
        assert!(r.content.is_ok(), "every delivered message decrypts");
        client.ack(&[r.delivery_id]).await.unwrap();
        out.push(r.message_id);
    }
    out
}

/// An `ack` commits even when the device closes right after sending it
/// (the server pushes on without waiting for the commit, but never drops it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ack_sent_just_before_closing_still_deletes_what_it_acknowledged() {
    let world = world_with(|c| c.limits.max_unacked_deliveries = 8).await;
    let (alice, bob) = world.alice_and_bob().await;
    let b = uid(&bob);
    let mut a = Client::connect(alice).await.unwrap();
    for i in 0..20 {
        a.send(&[b.clone()], MessageKind::Message, &mid(&format!("c{i}")), b"n")
            .await
            .unwrap();
    }
    let device = Address {
        user_id: b.clone(),
        device_id: bob.address.as_ref().unwrap().device_id,
    };
    let store = world.server().state().store.clone();
    for round in 0..3 {
        let (mut ws, _) = raw_authenticated(&world.info, &bob).await;
        let mut ids = Vec::new();
        while let Some(frame) = next_json(&mut ws, Duration::from_millis(500)).await {
            if frame["type"] == "deliver" {
                ids.push(frame["delivery_id"].as_u64().unwrap().to_string());
            }
        }
        assert_eq!(ids.len(), if round < 2 { 8 } else { 4 }, "round {round}");
        // The ack and the close in one write: the server reads the close
        // while the ack is still committing.
        {
            use futures_util::SinkExt;
            let ack = format!(r#"{{"type":"ack","delivery_ids":[{}]}}"#, ids.join(","));
            ws.feed(WsMessage::text(ack)).await.unwrap();
            let _ = ws.close(None).await;
        }
        drop(ws);
        let left: u64 = [12, 4, 0][round];
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let depth = store.queue_depth(&device).await.unwrap();
            if depth == left {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "round {round}: {depth} queued, {left} expected: an acknowledgement was dropped"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    a.close().await;
    world.stop().await;
}

/// Runs `sql` (statements separated by `;;`) on the world's database.
async fn run_sql(world: &World, sql: &str) {
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(&world.db.url).await.unwrap();
    for statement in sql.split(";;") {
        sqlx::raw_sql(statement).execute(&mut c).await.unwrap();
    }
}

// The server pushes the next page without waiting for an acknowledgement's
// commit; when that commit fails (here the database refuses the deletion,
// while reads still work), the connection ends with an error frame and
// nothing is lost: the next connection gets those deliveries again, then
// the rest, each once.
on_every_backend!(
    an_acknowledgement_storage_refuses_ends_the_connection_and_its_deliveries_come_again,
    |db: Db| async move {
        let world = World::start_with(db, |c| c.limits.max_unacked_deliveries = 4).await;
        let (alice, bob) = world.alice_and_bob().await;
        let b_id = uid(&bob);
        let mut a = Client::connect(alice).await.unwrap();
        let mut accepted = Vec::new();
        for i in 0..10 {
            let id = mid(&format!("window-{i}"));
            a.send(&[b_id.clone()], MessageKind::Message, &id, b"queued for bob")
                .await
                .unwrap();
            accepted.push(id);
        }
        // Bob's raw connection: exactly the window of 4 arrives.
        let (mut ws, _) = raw_authenticated(&world.info, &bob).await;
        let mut first = Vec::new();
        while let Some(frame) = next_json(&mut ws, Duration::from_millis(700)).await {
            if frame["type"] == "deliver" {
                first.push(frame["delivery_id"].as_u64().unwrap());
            }
        }
        assert_eq!(first.len(), 4, "the window");
        // The database now refuses to delete queued deliveries.
        let postgres = world.db.url.starts_with("postgres");
        let refuse = if postgres {
            "CREATE FUNCTION refuse_delete() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$;; \
             CREATE TRIGGER refuse_delete BEFORE DELETE ON queue FOR EACH ROW EXECUTE FUNCTION refuse_delete()"
        } else {
            "CREATE TRIGGER refuse_delete BEFORE DELETE ON queue BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        };
        run_sql(&world, refuse).await;
        let ids: Vec<String> = first.iter().map(u64::to_string).collect();
        send_text(
            &mut ws,
            format!(r#"{{"type":"ack","delivery_ids":[{}]}}"#, ids.join(",")),
        )
        .await;
        // The next page arrives at once (the ack's commit is not awaited)…
        let mut next = Vec::new();
        let mut error = None;
        while let Some(frame) = next_json(&mut ws, Duration::from_secs(5)).await {
            match frame["type"].as_str() {
                Some("deliver") => next.push(frame["delivery_id"].as_u64().unwrap()),
                Some("error") => {
                    error = Some(frame);
                    break;
                }
                _ => {}
            }
        }
        assert!(next.len() <= 4, "at most a window more: {next:?}");
        // …then the refused commit ends the connection with an error frame.
        let error = error.expect("the connection ends with an error frame");
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{error}"
        );
        drop(ws);
        let allow = if postgres {
            "DROP TRIGGER refuse_delete ON queue"
        } else {
            "DROP TRIGGER refuse_delete"
        };
        run_sql(&world, allow).await;
        // The next connection gets all ten, each once (the refused ack deleted nothing).
        let mut b = Client::connect(bob).await.unwrap();
        let received = drain(&mut b).await;
        assert_eq!(received, accepted, "every message once, in order");
        a.close().await;
        b.close().await;
        world.stop().await;
    }
);
