//! PostgreSQL in production (README.md): the schema's owner applies the
//! migrations with `curbside migrate`, and the real `curbside serve` runs as
//! a least-privilege role (DML only, no CREATE on the schema, no UPDATE or
//! DELETE on the audit log), set up with the README's SQL. Enrollment and
//! messaging work; a server started as that role on a database nobody
//! migrated refuses to start and names `curbside migrate`, with and without
//! `--no-migrate`. On SQLite: `migrate` then `serve --no-migrate`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use curbside_server::store::Backend;
use sqlx::Connection as _;

/// `base` (postgres://user@host/db) with another role and database.
fn url_as(base: &str, role: &str, database: &str) -> String {
    let rest = base
        .strip_prefix("postgres://")
        .or_else(|| base.strip_prefix("postgresql://"))
        .expect("a postgres:// URL");
    let host = rest.split_once('@').map_or(rest, |(_, host)| host);
    let host = host.split_once('/').map_or(host, |(host, _)| host);
    format!("postgres://{role}@{host}/{database}")
}

/// `curbside ARGS` in `dir`, which must end within 30 s.
fn run_to_end(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_curbside"))
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let started = Instant::now();
    let (done, wait) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    loop {
        if let Ok(out) = wait.recv_timeout(Duration::from_millis(100)) {
            return out.unwrap();
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = std::process::Command::new("kill").arg(pid.to_string()).status();
            panic!("curbside {args:?} did not end within 30 s");
        }
    }
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

/// The number of migrations of a backend (files in `migrations/<dir>`).
fn migrations(dir: &str) -> usize {
    std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/").to_owned() + dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "sql"))
        .count()
}

async fn exec(url: &str, statements: &[String]) {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    for sql in statements {
        sqlx::query(sql)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    all(not(curbside_postgres), not(curbside_ci)),
    ignore = "on PostgreSQL: set CURBSIDE_TEST_POSTGRES_URL to run it"
)]
async fn the_owner_migrates_and_a_least_privilege_role_serves() {
    let Some(mut db) = Db::new(Backend::Postgres).await else {
        return;
    };
    let base = postgres_url().unwrap();
    let database = db.url.rsplit('/').next().unwrap().to_owned();
    let tag = database.trim_start_matches("curbside_t_").to_owned();
    let (owner, app) = (format!("cbs_owner_{tag}"), format!("cbs_app_{tag}"));
    // README.md, "PostgreSQL in production", as a superuser: the owner, the
    // group role the migrations grant to (shared by every test on this
    // PostgreSQL, so created once), the server's login role, and the
    // database owned by the owner (here the test's fresh one, given to it).
    exec(
        &base,
        &[
            format!("CREATE ROLE {owner} LOGIN"),
            "DO $$ BEGIN CREATE ROLE curbside_app NOLOGIN; \
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
                .to_owned(),
            format!("CREATE ROLE {app} LOGIN IN ROLE curbside_app"),
            format!("ALTER DATABASE {database} OWNER TO {owner}"),
        ],
    )
    .await;
    // Then in the database.
    exec(
        &db.url,
        &[
            "REVOKE CREATE ON SCHEMA public FROM PUBLIC".to_owned(),
            "GRANT USAGE ON SCHEMA public TO curbside_app".to_owned(),
            format!(
                "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public \
                 GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO curbside_app"
            ),
            format!(
                "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public \
                 GRANT USAGE, SELECT ON SEQUENCES TO curbside_app"
            ),
        ],
    )
    .await;
    let owner_url = url_as(&base, &owner, &database);
    let app_url = url_as(&base, &app, &database);
    let dir = db.dir.path().to_path_buf();
    let data = dir.join("node");
    let data = data.to_str().unwrap();

    // Nobody migrated: the least-privilege server refuses to start, and
    // says what to run, with --no-migrate and without.
    for extra in [&["--no-migrate"][..], &[]] {
        let mut args = vec![
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data,
            "--database-url",
            &app_url,
        ];
        args.extend_from_slice(extra);
        let out = run_to_end(&dir, &args);
        assert!(
            !out.status.success(),
            "serve {extra:?} started: {}",
            text(&out.stdout)
        );
        let err = text(&out.stderr);
        assert!(
            err.contains("curbside migrate --database-url") && err.contains("owns the schema"),
            "serve {extra:?}: {err}"
        );
        if extra.is_empty() {
            assert!(err.contains("may not change the schema"), "{err}");
        } else {
            assert!(err.contains("--no-migrate") && err.contains("0001 init"), "{err}");
        }
    }

    // The owner migrates: each migration named once, then nothing to do.
    let out = run_to_end(&dir, &["migrate", "--database-url", &owner_url]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    let applied: Vec<&str> = printed
        .lines()
        .filter(|l| l.starts_with("Applied migration "))
        .collect();
    assert_eq!(applied.len(), migrations("postgres"), "{printed}");
    assert!(applied[0].starts_with("Applied migration 0001 init"), "{printed}");
    let again = run_to_end(&dir, &["migrate", "--database-url", &owner_url]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(
        text(&again.stdout).contains("up to date"),
        "{}",
        text(&again.stdout)
    );

    // The login role holds no more than the server needs.
    let mut conn = sqlx::PgConnection::connect(&app_url).await.unwrap();
    for refused in [
        "CREATE TABLE intruder (x INTEGER)",
        "UPDATE audit_log SET outcome = 'success'",
        "DELETE FROM audit_nodes",
    ] {
        let e = sqlx::query(refused).execute(&mut conn).await.unwrap_err();
        assert!(e.to_string().contains("permission denied"), "{refused}: {e}");
    }
    conn.close().await.unwrap();

    // The real server as that role (migrations only checked, never run:
    // CURBSIDE_MIGRATE=false is --no-migrate), then enrollment and messaging.
    db.url = app_url;
    let server = spawn_with_env(
        &db,
        &dir.join("server.log"),
        "127.0.0.1:0",
        &[("CURBSIDE_MIGRATE", "false")],
    );
    std::fs::create_dir_all(dir.join("curbside-data/tls")).unwrap();
    std::fs::copy(dir.join("tls/cert.pem"), dir.join("curbside-data/tls/cert.pem")).unwrap();
    assert!(server.token.is_some(), "a bootstrap token on the first start");
    let ids = enroll_clinicians(&dir, &server, &[("alice", "Dermatology"), ("bob", "Cardiology")]);
    cli_ok(
        &dir,
        &server,
        &[
            "send",
            "--profile",
            "alice",
            "--to",
            &ids[1],
            "from the least-privilege server",
        ],
    );
    let inbox = cli_ok(&dir, &server, &["inbox", "--profile", "bob", "--wait", "1"]);
    assert!(inbox.ends_with("from the least-privilege server"), "{inbox}");
    let users = cli_ok(&dir, &server, &["admin", "users", "--profile", "admin"]);
    assert!(users.contains("Dr. bob"), "{users}");
    drop(server);

    db.drop_database().await;
    exec(&base, &[format!("DROP ROLE {app}"), format!("DROP ROLE {owner}")]).await;
}

#[tokio::test]
async fn sqlite_migrate_then_serve_without_migrating() {
    let db = Db::new(Backend::Sqlite).await.unwrap();
    let dir = db.dir.path();
    let data = dir.to_str().unwrap();
    // Before migrate, --no-migrate refuses.
    let out = run_to_end(
        dir,
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data,
            "--database-url",
            &db.url,
            "--no-migrate",
        ],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("curbside migrate"),
        "{}",
        text(&out.stderr)
    );
    let out = run_to_end(dir, &["migrate", "--data-dir", data, "--database-url", &db.url]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("Applied migration "))
            .count(),
        migrations("sqlite")
    );
    let server = spawn_with_env(
        &db,
        &dir.join("server.log"),
        "127.0.0.1:0",
        &[("CURBSIDE_MIGRATE", "false")],
    );
    assert!(server.token.is_some());
}
