//! Databases: a fresh SQLite file or PostgreSQL database per test (`Db`),
//! and `on_every_backend!`, which runs a test once on each backend
//! (PostgreSQL when `CURBSIDE_TEST_POSTGRES_URL` is set). Without it, a
//! PostgreSQL test is reported `ignored` with the reason (`build.rs` sets
//! the cfg), never `ok`; under `CI=true` it runs and fails.

use curbside_server::config::Config;
use curbside_server::store::Backend;
use sqlx::Connection as _;

/// Where a test's data lives.
pub struct Db {
    pub backend: Backend,
    pub url: String,
    pg_name: Option<String>,
    pub dir: tempfile::TempDir,
}

/// The PostgreSQL URL from `CURBSIDE_TEST_POSTGRES_URL`. A PostgreSQL test
/// runs only with it (or under CI): without it the test is reported
/// `ignored` (`build.rs`), so reaching here without it is a failure.
pub fn postgres_url() -> Option<String> {
    match std::env::var("CURBSIDE_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => panic!(
            "CURBSIDE_TEST_POSTGRES_URL is not set: this PostgreSQL test cannot run \
             (set it, e.g. postgres://postgres@127.0.0.1:5432/test)"
        ),
    }
}

impl Db {
    pub async fn new(backend: Backend) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        match backend {
            Backend::Sqlite => Some(Self {
                backend,
                url: format!("sqlite://{}?mode=rwc", dir.path().join("curbside.db").display()),
                pg_name: None,
                dir,
            }),
            Backend::Postgres => {
                let base = postgres_url()?;
                let name = format!(
                    "curbside_t_{:016x}",
                    rand_core::RngCore::next_u64(&mut rand_core::OsRng)
                );
                let mut admin = sqlx::PgConnection::connect(&base)
                    .await
                    .expect("connecting to PostgreSQL");
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                let url = match base.rsplit_once('/') {
                    Some((prefix, _)) => format!("{prefix}/{name}"),
                    None => panic!("CURBSIDE_TEST_POSTGRES_URL needs a database path"),
                };
                Some(Self {
                    backend,
                    url,
                    pg_name: Some(name),
                    dir,
                })
            }
        }
    }

    /// Drops the PostgreSQL database (best effort).
    pub async fn drop_database(&self) {
        if let (Some(name), Some(base)) = (&self.pg_name, std::env::var("CURBSIDE_TEST_POSTGRES_URL").ok()) {
            if let Ok(mut admin) = sqlx::PgConnection::connect(&base).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await;
            }
        }
    }

    /// The first column of the first row of `sql` (a count), read over a
    /// connection of its own, as a DBA would.
    pub async fn count(&self, sql: &str) -> i64 {
        use sqlx::Row as _;
        sqlx::any::install_default_drivers();
        let mut c = sqlx::AnyConnection::connect(&self.url).await.unwrap();
        sqlx::query(sql).fetch_one(&mut c).await.unwrap().get::<i64, _>(0)
    }

    /// Runs a statement over a connection of its own.
    pub async fn execute(&self, sql: &str) {
        sqlx::any::install_default_drivers();
        let mut c = sqlx::AnyConnection::connect(&self.url).await.unwrap();
        sqlx::query(sql).execute(&mut c).await.unwrap();
    }

    pub fn config(&self) -> Config {
        Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: self.dir.path().to_path_buf(),
            database_url: Some(self.url.clone()),
            ..Config::default()
        }
    }
}

/// Runs `test` once per backend: SQLite always, PostgreSQL when configured.
#[macro_export]
macro_rules! on_every_backend {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = common::Db::new(curbside_server::store::Backend::Sqlite)
                    .await
                    .unwrap();
                ($body)(db).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(
                all(not(curbside_postgres), not(curbside_ci)),
                ignore = "on PostgreSQL: set CURBSIDE_TEST_POSTGRES_URL to run it"
            )]
            async fn postgres() {
                let Some(db) = common::Db::new(curbside_server::store::Backend::Postgres).await else {
                    return;
                };
                let name = db.url.clone();
                ($body)(db).await;
                let _ = name;
            }
        }
    };
}
