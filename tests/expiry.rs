//! The periodic expiry sweep deletes the rows a client can no longer use,
//! on SQLite and PostgreSQL: ended and past-lifetime HTTP sessions, used
//! invites, and unused invites a week after they expired; a live session,
//! a current invite and the unused bootstrap token are kept.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use curbside_protocol::error::ErrorCode;
use curbside_protocol::http::{InviteTarget, Role};
use curbside_server::store::now_ms;
use sqlx::Connection as _;

/// A direct connection to the test's database.
async fn raw(db: &Db) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(&db.url).await.unwrap()
}

async fn count(db: &Db, sql: &str) -> i64 {
    use sqlx::Row as _;
    let mut c = raw(db).await;
    sqlx::query(sql).fetch_one(&mut c).await.unwrap().get::<i64, _>(0)
}

async fn execute(db: &Db, sql: &str) {
    let mut c = raw(db).await;
    sqlx::query(sql).execute(&mut c).await.unwrap();
}

async fn sweep(world: &World) {
    let dir = world.db.config().data_dir.join("attachments");
    curbside_server::sweep_once(&world.server().state().store, &dir, Duration::from_secs(3600)).await;
}

on_every_backend!(
    the_sweep_deletes_ended_sessions_and_spent_invites,
    |db| async move {
        let world = World::start(db).await;
        let (alice, bob) = world.alice_and_bob().await;
        let bob_id = uid(&bob);
        // Bob's second device is revoked: its session ends. His first device's
        // session is past its lifetime, never used again.
        let second = world.second_device(&bob_id).await;
        let revoked = world.login(&second).await;
        world
            .api()
            .revoke_device(&world.admin_token, second.address.as_ref().unwrap())
            .await
            .unwrap();
        let refused = world.api().directory(&revoked, None, None).await.unwrap_err();
        assert_eq!(refused.code(), Some(ErrorCode::TokenExpired));
        let _old = world.login(&bob).await;
        execute(
            &world.db,
            &format!(
                "UPDATE http_sessions SET expires_at = 1 WHERE user_id = '{}' AND ended_at IS NULL",
                bob_id.as_str()
            ),
        )
        .await;
        let live = world.login(&alice).await;
        // Spent invites: the ones used by the enrollments, and one unused that
        // expired more than a week ago; a current one must stay.
        let _stale = world
            .invite(InviteTarget::NewUser {
                role: Role::Clinician,
            })
            .await;
        let week_ago = now_ms() - 8 * 24 * 3600 * 1000;
        execute(
            &world.db,
            &format!("UPDATE invites SET expires_at = {week_ago} WHERE used_at IS NULL"),
        )
        .await;
        let _current = world
            .invite(InviteTarget::NewUser {
                role: Role::Clinician,
            })
            .await;
        execute(
            &world.db,
            "INSERT INTO invites (token_hash, purpose, role, created_at, expires_at) \
         VALUES ('unused-bootstrap', 'bootstrap', 'admin', 1, 2)",
        )
        .await;
        assert_eq!(
            count(
                &world.db,
                &format!(
                    "SELECT COUNT(*) FROM http_sessions WHERE user_id = '{}'",
                    bob_id.as_str()
                )
            )
            .await,
            2
        );
        assert!(
            count(
                &world.db,
                "SELECT COUNT(*) FROM invites WHERE used_at IS NOT NULL"
            )
            .await
                >= 3
        );

        sweep(&world).await;

        let sessions_of = |who: &str| format!("SELECT COUNT(*) FROM http_sessions WHERE user_id = '{who}'");
        assert_eq!(
            count(&world.db, &sessions_of(bob_id.as_str())).await,
            0,
            "Bob's ended sessions are deleted"
        );
        assert_eq!(
            count(&world.db, &sessions_of(uid(&alice).as_str())).await,
            1,
            "Alice's live one is kept"
        );
        assert_eq!(
            count(
                &world.db,
                "SELECT COUNT(*) FROM invites WHERE used_at IS NOT NULL"
            )
            .await,
            0
        );
        assert_eq!(
            count(
                &world.db,
                "SELECT COUNT(*) FROM invites WHERE purpose <> 'bootstrap'"
            )
            .await,
            1,
            "only the current invite is left"
        );
        assert_eq!(
            count(
                &world.db,
                "SELECT COUNT(*) FROM invites WHERE purpose = 'bootstrap'"
            )
            .await,
            1,
            "the unused bootstrap token is kept"
        );
        // The live session still works, and enrolling still does.
        world.api().directory(&live, None, None).await.unwrap();
        world.clinician("Dr. Carol Chen", NPIS[2], "Cardiology").await;
        world.stop().await;
    }
);
