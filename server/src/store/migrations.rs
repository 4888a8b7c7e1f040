//! The schema's migrations: which are applied, applying the missing ones,
//! and what a server started without the right to change the schema does.
//!
//! - **`curbside migrate`** ([`Store::migrate`]) runs as the role that owns
//!   the schema: it applies the missing migrations (sqlx's migrator, which
//!   on PostgreSQL holds an advisory lock while it works, so two at once
//!   apply each migration once) and says which it applied.
//! - **`curbside serve`** first reads the migrations table
//!   (`_sqlx_migrations`, a `SELECT`: a least-privilege role can) and
//!   compares it with the migrations built into the binary. When every one
//!   is applied it changes nothing: sqlx's migrator would start with
//!   `CREATE TABLE IF NOT EXISTS _sqlx_migrations`, which PostgreSQL 15
//!   refuses to a role without `CREATE` on the schema even when the table
//!   exists. When some are missing it applies them ([`Migrations::Apply`],
//!   the default: the embedded SQLite setup needs nothing else) or refuses
//!   to start naming `curbside migrate` ([`Migrations::Require`],
//!   `serve --no-migrate`). A role refused the schema change is told the
//!   same.
//! - A migration changed after it was applied, one left half applied, or
//!   one the binary does not know (the database was migrated by a newer
//!   version) is refused, as sqlx's migrator refuses them.

use std::collections::BTreeMap;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::{AnyConnection, Row as _};

use super::pool::Writer;
use super::Backend;
use crate::error::ServerError;

static SQLITE: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("../migrations/postgres");

/// What a server does with migrations missing from its database at start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Migrations {
    /// Applies them (needs the right to change the schema).
    #[default]
    Apply,
    /// Refuses to start, naming `curbside migrate` (`serve --no-migrate`).
    Require,
}

/// One migration of the schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Migration {
    /// Its number (the file's prefix).
    pub version: i64,
    /// What it does (the file's name after the number).
    pub description: String,
}

impl std::fmt::Display for Migration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04} {}", self.version, self.description.replace('_', " "))
    }
}

/// The migrations of a backend.
fn migrator(backend: Backend) -> &'static Migrator {
    match backend {
        Backend::Sqlite => &SQLITE,
        Backend::Postgres => &POSTGRES,
    }
}

/// What to do for a role that may not change the schema.
const RUN_MIGRATE: &str = "run `curbside migrate --database-url URL` (the same URL, with the role that owns \
     the schema), then start the server again";

/// The migrations of `backend` that the database lacks, oldest first;
/// an error for a database that does not match them (see the module
/// documentation). Reads only.
pub(super) async fn missing(
    conn: &mut AnyConnection,
    backend: Backend,
) -> Result<Vec<Migration>, ServerError> {
    let exists = match backend {
        Backend::Sqlite => {
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
        }
        Backend::Postgres => {
            "SELECT COUNT(*) AS n FROM pg_catalog.pg_tables \
             WHERE tablename = '_sqlx_migrations' AND schemaname = current_schema()"
        }
    };
    let n: i64 = sqlx::query(exists).fetch_one(&mut *conn).await?.try_get("n")?;
    let mut applied = BTreeMap::new();
    if n > 0 {
        // `success` is a BOOLEAN, which the Any driver does not decode on SQLite.
        let rows = sqlx::query(
            "SELECT version, checksum, CAST(CASE WHEN success THEN 1 ELSE 0 END AS BIGINT) AS ok \
             FROM _sqlx_migrations ORDER BY version",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| match permission_denied(&e) {
            true => ServerError::Schema(format!(
                "this database role may not read the migrations table _sqlx_migrations ({e}): grant it \
                     SELECT on it (README.md, \"PostgreSQL in production\")"
            )),
            false => e.into(),
        })?;
        for row in rows {
            let version: i64 = row.try_get("version")?;
            if row.try_get::<i64, _>("ok")? == 0 {
                return Err(MigrateError::Dirty(version).into());
            }
            applied.insert(version, row.try_get::<Vec<u8>, _>("checksum")?);
        }
    }
    let known = migrator(backend);
    let mut missing = Vec::new();
    for m in known.iter().filter(|m| !m.migration_type.is_down_migration()) {
        match applied.remove(&m.version) {
            Some(checksum) if checksum != *m.checksum => {
                return Err(MigrateError::VersionMismatch(m.version).into())
            }
            Some(_) => {}
            None => missing.push(Migration {
                version: m.version,
                description: m.description.to_string(),
            }),
        }
    }
    if let Some(version) = applied.keys().next() {
        return Err(ServerError::Schema(format!(
            "the database has migration {version}, which this version of curbside does not know: it was \
             migrated by a newer version; run that version (or restore a backup taken before it)"
        )));
    }
    Ok(missing)
}

/// Whether PostgreSQL refused for want of a privilege (SQLSTATE 42501).
fn permission_denied(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("42501"))
}

impl Writer {
    /// At start: applies the missing migrations or refuses to start (see
    /// the module documentation).
    pub(super) async fn prepare_schema(&self, policy: Migrations) -> Result<(), ServerError> {
        let missing = {
            let mut conn = self.pool().acquire().await?;
            missing(&mut conn, self.backend()).await?
        };
        if missing.is_empty() {
            tracing::debug!("every migration is applied");
            return Ok(());
        }
        let names: Vec<String> = missing.iter().map(ToString::to_string).collect();
        if policy == Migrations::Require {
            return Err(ServerError::Schema(format!(
                "the database lacks {} migration(s) ({}) and the server was started with --no-migrate: {RUN_MIGRATE}",
                missing.len(),
                names.join(", ")
            )));
        }
        self.apply().await?;
        tracing::info!(migrations = %names.join(", "), "migrations applied");
        Ok(())
    }

    /// Applies the missing migrations; returns them.
    pub(super) async fn apply(&self) -> Result<Vec<Migration>, ServerError> {
        let missing = {
            let mut conn = self.pool().acquire().await?;
            missing(&mut conn, self.backend()).await?
        };
        migrator(self.backend())
            .run(self.pool())
            .await
            .map_err(|e| match &e {
                MigrateError::Execute(db) | MigrateError::ExecuteMigration(db, _)
                    if permission_denied(db) =>
                {
                    ServerError::Schema(format!(
                        "this database role may not change the schema ({e}), and {} migration(s) are \
                         missing: {RUN_MIGRATE}",
                        missing.len().max(1)
                    ))
                }
                _ => e.into(),
            })?;
        Ok(missing)
    }
}
