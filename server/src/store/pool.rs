//! Connections to the database, and what keeps them honest under faults.
//!
//! - **A connection whose transaction state is unknown is never reused.**
//!   SQLite rolls a transaction back by itself on some errors (a full disk,
//!   an I/O error, BUSY past the timeout); sqlx then believes the
//!   connection is still inside it, and every later transaction on that
//!   connection would become a savepoint inside one that never commits. So
//!   when a connection returns to the pool still counting an open
//!   transaction, it is closed, and the next request opens a fresh one.
//! - **Every wait is bounded.** Acquiring a connection gives up after
//!   `acquire_timeout`; on PostgreSQL each statement after
//!   `statement_timeout`, and a transaction left idle (its client gone)
//!   is ended by the server so that it releases its locks. A request that
//!   hits any of these is refused with `storage_unavailable`.
//! - **Readiness follows the writes** ([`Health`]): a failed commit marks
//!   the store unavailable, and only a write that commits again (a
//!   request's or `/readyz`'s probe) marks it available. Both transitions
//!   are logged.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::pool::PoolConnectionMetadata;
use sqlx::{AnyConnection, AnyPool, Connection as _, Executor as _};

use super::Backend;
use crate::error::ServerError;

/// How the store waits for its database.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Longest wait for a connection from the pool (including opening one).
    pub acquire_timeout: Duration,
    /// Longest a single statement may run (PostgreSQL; SQLite waits at most
    /// this long for a lock). Also bounds a whole group commit, doubled.
    pub statement_timeout: Duration,
    /// SQLite only: the most pages the database file may grow to (0: no
    /// limit). A full database is refused like a full disk.
    pub sqlite_max_pages: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            acquire_timeout: Duration::from_secs(3),
            statement_timeout: Duration::from_secs(5),
            sqlite_max_pages: 0,
        }
    }
}

impl StoreOptions {
    /// The longest one transaction of the message path may take from
    /// acquiring its connection to its commit.
    #[must_use]
    pub fn transaction_deadline(&self) -> Duration {
        self.acquire_timeout + self.statement_timeout * 2
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// Closes a connection that comes back still counting an open transaction
/// (see the module documentation). On SQLite the rollback queued by a
/// dropped transaction is flushed first with a no-op statement, so that
/// only a connection whose rollback failed is discarded.
async fn release_if_clean(conn: &mut AnyConnection, backend: Backend) -> Result<bool, sqlx::Error> {
    if backend == Backend::Sqlite && conn.is_in_transaction() && conn.execute("SELECT 1").await.is_err() {
        return Ok(false);
    }
    if conn.is_in_transaction() {
        tracing::warn!("database connection discarded: its transaction state is unknown after an error");
        return Ok(false);
    }
    Ok(true)
}

/// The writing pool (the only one on PostgreSQL).
pub(super) async fn writer(
    url: &str,
    backend: Backend,
    options: &StoreOptions,
    max_pages: Arc<AtomicU64>,
) -> Result<AnyPool, ServerError> {
    let statement_ms = millis(options.statement_timeout);
    let pool = match backend {
        Backend::Sqlite => AnyPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(options.acquire_timeout)
            .after_connect(move |conn, _| {
                let max_pages = max_pages.clone();
                Box::pin(async move {
                    for pragma in [
                        "PRAGMA journal_mode = WAL",
                        "PRAGMA synchronous = FULL",
                        "PRAGMA foreign_keys = ON",
                    ] {
                        conn.execute(pragma).await?;
                    }
                    conn.execute(format!("PRAGMA busy_timeout = {statement_ms}").as_str())
                        .await?;
                    apply_max_pages(conn, max_pages.load(Ordering::Acquire)).await?;
                    Ok(())
                })
            })
            .after_release(move |conn, _: PoolConnectionMetadata| {
                Box::pin(async move { release_if_clean(conn, Backend::Sqlite).await })
            }),
        Backend::Postgres => AnyPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(options.acquire_timeout)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    conn.execute(format!("SET statement_timeout = {statement_ms}").as_str())
                        .await?;
                    conn.execute(format!("SET lock_timeout = {statement_ms}").as_str())
                        .await?;
                    // A transaction whose client vanished (a cut network)
                    // would otherwise hold its locks, the audit head's
                    // among them, until the server noticed the dead socket.
                    let idle = statement_ms.saturating_mul(2);
                    conn.execute(format!("SET idle_in_transaction_session_timeout = {idle}").as_str())
                        .await?;
                    Ok(())
                })
            })
            .after_release(move |conn, _: PoolConnectionMetadata| {
                Box::pin(async move { release_if_clean(conn, Backend::Postgres).await })
            }),
    };
    Ok(pool.connect(url).await?)
}

/// SQLite's read-only pool beside the writer.
pub(super) async fn sqlite_reads(url: &str, options: &StoreOptions) -> Result<AnyPool, ServerError> {
    let statement_ms = millis(options.statement_timeout);
    Ok(AnyPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(options.acquire_timeout)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                conn.execute("PRAGMA query_only = ON").await?;
                conn.execute(format!("PRAGMA busy_timeout = {statement_ms}").as_str())
                    .await?;
                Ok(())
            })
        })
        .connect(url)
        .await?)
}

/// Sets SQLite's page limit on one connection (0: SQLite's own maximum).
pub(super) async fn apply_max_pages(conn: &mut AnyConnection, pages: u64) -> Result<(), sqlx::Error> {
    // SQLite's largest page count; the pragma cannot lower the limit below
    // the pages in use.
    let pages = if pages == 0 { 4_294_967_294 } else { pages };
    conn.execute(format!("PRAGMA max_page_count = {pages}").as_str())
        .await?;
    Ok(())
}

/// Whether writes commit. Shared by the store's handles.
#[derive(Debug)]
pub(crate) struct Health {
    available: AtomicBool,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            available: AtomicBool::new(true),
        }
    }
}

impl Health {
    /// Records the outcome of a write transaction.
    pub(crate) fn observe<T>(&self, result: &Result<T, ServerError>) {
        match result {
            Ok(_) => self.mark_available(),
            Err(e) if e.is_storage_unavailable() => {
                if self.available.swap(false, Ordering::AcqRel) {
                    tracing::error!(error = %e, "storage lost: writes cannot commit; requests are refused with storage_unavailable until they can");
                }
            }
            Err(_) => {}
        }
    }

    /// A write committed.
    pub(crate) fn mark_available(&self) {
        if !self.available.swap(true, Ordering::AcqRel) {
            tracing::info!("storage is back: writes commit again");
        }
    }

    /// True unless the last write failed for want of storage.
    pub(crate) fn available(&self) -> bool {
        self.available.load(Ordering::Acquire)
    }
}
