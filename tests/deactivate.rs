//! An administrator deactivates an account (`curbside admin deactivate USER
//! --yes`), with the real binary on both databases: without `--yes` it
//! changes nothing and says what it would do; with it the account's devices
//! are revoked, what was queued to it is dropped with its quota
//! bookkeeping, it leaves the directory and cannot log in, senders are told
//! it was deactivated, no device invite is issued for it, it is audited in
//! the same transaction (`user.deactivated`, `device.revoked`), and its NPI
//! enrolls again with a new invite. An orphaned account (its clinician
//! revoked the last device) is deactivated the same way.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use sqlx::{Connection as _, Row as _};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `SELECT COUNT(*) AS n …` with one text parameter, on the test's database.
async fn count(db: &Db, sql: &str, user: &str) -> i64 {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let n = sqlx::query(sql)
        .bind(user.to_owned())
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .try_get::<i64, _>("n")
        .unwrap();
    conn.close().await.unwrap();
    n
}

on_every_backend!(
    an_admin_deactivates_an_account_and_its_npi_enrolls_again,
    |db: Db| async move {
        let dir = db.dir.path().to_path_buf();
        let server = spawn_for_cli(&db, "127.0.0.1:0");
        let ids = enroll_clinicians(
            &dir,
            &server,
            &[
                ("alice", "Dermatology"),
                ("bob", "Cardiology"),
                ("carol", "Cardiology"),
            ],
        );
        let (alice, bob, carol) = (&ids[0], &ids[1], &ids[2]);
        let run = |args: &[&str]| cli_ok(&dir, &server, args);
        // Two messages wait in Alice's queue.
        run(&["send", "--profile", "bob", "--to", alice, "first"]);
        run(&["send", "--profile", "bob", "--to", alice, "second"]);
        let queued = "SELECT COUNT(*) AS n FROM queue WHERE recipient_user = $1";
        assert_eq!(count(&db, queued, alice).await, 2);

        // Without --yes: what it would do, nothing done.
        let asked = cli(
            &dir,
            &server,
            &["admin", "deactivate", "--profile", "admin", alice],
        );
        assert!(!asked.status.success());
        let message = stderr(&asked);
        assert!(
            message.contains("Dr. alice") && message.contains(NPIS[0]) && message.contains("--yes"),
            "{message}"
        );
        assert_eq!(count(&db, queued, alice).await, 2, "nothing was dropped");

        // An admin cannot deactivate their own account.
        let me = run(&["whoami", "--profile", "admin"]);
        let admin_id = me.split_whitespace().nth(1).unwrap().to_owned();
        let own = cli(
            &dir,
            &server,
            &["admin", "deactivate", "--profile", "admin", &admin_id, "--yes"],
        );
        assert!(!own.status.success());
        assert!(stderr(&own).contains("own account"), "{}", stderr(&own));

        let done = run(&["admin", "deactivate", "--profile", "admin", alice, "--yes"]);
        assert!(
            done.contains("1 device(s) revoked, 2 queued message(s) dropped"),
            "{done}"
        );
        assert_eq!(count(&db, queued, alice).await, 0);
        for table in ["queue_usage", "queue_pair_usage"] {
            let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE recipient_user = $1");
            assert_eq!(count(&db, &sql, alice).await, 0, "{table}");
        }
        // Audited in the same transaction.
        let audited = "SELECT COUNT(*) AS n FROM audit_log WHERE counterpart_user = $1 \
                   AND action IN ('user.deactivated', 'device.revoked')";
        assert_eq!(count(&db, audited, alice).await, 2);
        let again = cli(
            &dir,
            &server,
            &["admin", "deactivate", "--profile", "admin", alice, "--yes"],
        );
        assert!(
            stderr(&again).contains("already deactivated"),
            "{}",
            stderr(&again)
        );

        // Gone from the directory; listed as deactivated for admins.
        let found = run(&["directory", "--profile", "admin", "--specialty", "Dermatology"]);
        assert!(!found.contains(alice.as_str()), "{found}");
        let users = run(&["admin", "users", "--profile", "admin"]);
        let line = users.lines().find(|l| l.starts_with(alice.as_str())).unwrap();
        assert!(
            line.contains("DEACTIVATED") && line.contains("1 (revoked)"),
            "{users}"
        );
        // She cannot log in; Bob (who has a session with her device) is told
        // by the server (past the client's own check that she left the
        // directory).
        let login = cli(&dir, &server, &["inbox", "--profile", "alice"]);
        assert!(!login.status.success());
        assert!(stderr(&login).contains("revoked"), "{}", stderr(&login));
        let refused = cli(
            &dir,
            &server,
            &[
                "send",
                "--profile",
                "bob",
                "--to",
                alice,
                "third",
                "--allow-unverified",
            ],
        );
        assert!(!refused.status.success());
        assert!(
            stderr(&refused).contains("deactivated by an administrator"),
            "{}",
            stderr(&refused)
        );
        // Nor is a device invite issued for her account.
        let invite = cli(
            &dir,
            &server,
            &["admin", "device-invite", "--profile", "admin", alice],
        );
        assert!(!invite.status.success());
        assert!(stderr(&invite).contains("deactivated"), "{}", stderr(&invite));

        // Her NPI enrolls again with a new invite: a new account.
        let invite = run(&["admin", "invite", "--profile", "admin"]);
        let enrolled = run(&[
            "enroll",
            "--profile",
            "alice-again",
            "--invite",
            &invite,
            "--name",
            "Dr. Alice",
            "--npi",
            NPIS[0],
            "--specialty",
            "Dermatology",
        ]);
        let new_id = enrolled.split_whitespace().nth(2).unwrap().to_owned();
        assert_ne!(&new_id, alice);
        run(&["admin", "verify", "--profile", "admin", &new_id]);
        run(&["send", "--profile", "bob", "--to", &new_id, "welcome back"]);
        let inbox = run(&["inbox", "--profile", "alice-again", "--wait", "1"]);
        assert!(inbox.ends_with("welcome back"), "{inbox}");

        // An orphaned account: Carol revoked her last device; the admin
        // deactivates it, and nothing was left queued.
        run(&["devices", "revoke", "--profile", "carol", "1", "--yes"]);
        let done = run(&["admin", "deactivate", "--profile", "admin", carol, "--yes"]);
        assert!(
            done.contains("0 device(s) revoked, 0 queued message(s) dropped"),
            "{done}"
        );
        let found = run(&["directory", "--profile", "admin", "--specialty", "Cardiology"]);
        assert!(
            !found.contains(carol.as_str()) && found.contains(bob.as_str()),
            "{found}"
        );
        drop(server);
        db.drop_database().await;
    }
);
