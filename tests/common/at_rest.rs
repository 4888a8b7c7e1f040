//! At-rest scans: assert that a marker (a message's text, a key) is nowhere
//! in what the server keeps: the SQLite files (main and WAL), every row of
//! every PostgreSQL table (as text and as hex), the server log.

use std::path::Path;

use curbside_server::store::Backend;
use sqlx::{Connection as _, Row as _};

use super::db::Db;

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Asserts `marker` is nowhere in the test's database files (SQLite main
/// and WAL) or PostgreSQL tables (as text and as hex), nor in `log`.
pub async fn assert_absent(db: &Db, log: Option<&Path>, marker: &str) {
    if let Some(log) = log {
        assert!(
            !contains(&std::fs::read(log).unwrap(), marker.as_bytes()),
            "marker found in the server log"
        );
    }
    match db.backend {
        Backend::Sqlite => {
            let mut files = 0;
            for entry in std::fs::read_dir(db.dir.path()).unwrap() {
                let path = entry.unwrap().path();
                if path
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("curbside.db")
                {
                    files += 1;
                    assert!(
                        !contains(&std::fs::read(&path).unwrap(), marker.as_bytes()),
                        "marker found in {}",
                        path.display()
                    );
                }
            }
            assert!(files >= 1);
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
            let tables: Vec<String> =
                sqlx::query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                    .fetch_all(&mut conn)
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| r.get::<String, _>(0))
                    .collect();
            assert!(tables.iter().any(|t| t == "queue"));
            for table in tables {
                // Every row of every table as text (bytea as hex, so also search the hex form).
                let rows = sqlx::query(&format!("SELECT CAST(t AS TEXT) FROM {table} t"))
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
                let hex: String = marker.bytes().map(|b| format!("{b:02x}")).collect();
                for row in rows {
                    let text: String = row.get(0);
                    assert!(
                        !text.contains(marker) && !text.contains(&hex),
                        "marker found in table {table}"
                    );
                }
            }
        }
    }
}
