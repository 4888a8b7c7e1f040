//! Connections to the database: which one may run what, and what keeps
//! them honest under faults.
//!
//! - **Every change goes through the [`Writer`].** On SQLite a single
//!   connection (so transactions are serialised), on PostgreSQL a pool.
//!   A change runs in a [`Tx`] ([`Writer::begin`]) or, when it is one
//!   statement with nothing to audit, as that statement
//!   ([`Writer::execute`]). Reads that are not the hot path's (the
//!   admins', the audit log's, referrals') run on the writer too.
//! - **The read pool cannot write.** [`Reads`] runs [`Select`]s and
//!   nothing else (it has no other method and never lends a connection),
//!   and a `Select` is SQL text that begins with `SELECT`, checked when the
//!   server compiles (`select!`); on SQLite its connections are also
//!   `query_only`. On SQLite it is a pool of its own beside the writer,
//!   whose reads see every transaction committed before they start (WAL)
//!   and never wait behind the writer's commits; on PostgreSQL it is the
//!   writer's pool. It serves the hot path: each connection's
//!   authentication, device lists, queue and receipts.
//! - **A read that a change depends on runs inside the change's [`Tx`]**
//!   (an NPI already taken, a session's expiry, the devices a bundle
//!   claims prekeys of): there it sees the writer's latest state, and
//!   nothing changes what it read before the commit.
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
//! - **What is deleted is gone from the file** (SQLite). The writer runs
//!   with `secure_delete`: a deleted row (an acknowledged ciphertext, an
//!   expired one) is overwritten with zeros in its page, and a page freed
//!   is zeroed, instead of staying readable in the file's free space. Its
//!   earlier image can remain in the write-ahead log until a checkpoint
//!   copies the log back and the log is reused (SECURITY.md, "Data at
//!   rest", says what remains where, PostgreSQL's dead tuples too). The
//!   database file and its `-wal`/`-shm` are the server user's alone
//!   (0600): created so before SQLite opens them, tightened at start if an
//!   older version left them readable ([`private_sqlite_files`]).

use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyQueryResult, AnyRow};
use sqlx::pool::PoolConnectionMetadata;
use sqlx::{AnyConnection, AnyPool, Connection as _, Executor as _};

use super::sql::{Select, Statement};
use super::tx::Tx;
use super::Backend;
use crate::durable::{FileError, FileProblem};
use crate::error::ServerError;

/// The writing pool (see the module documentation): transactions, single
/// statements, and the reads that are not the hot path's.
#[derive(Clone, Debug)]
pub(super) struct Writer {
    pool: AnyPool,
    backend: Backend,
}

impl Writer {
    /// The backend behind it.
    pub(super) fn backend(&self) -> Backend {
        self.backend
    }

    /// Begins a transaction.
    pub(super) async fn begin(&self) -> Result<Tx, ServerError> {
        Tx::begin(&self.pool, self.backend).await
    }

    /// Runs one statement outside a transaction.
    pub(super) async fn execute(&self, q: Statement<'_>) -> Result<AnyQueryResult, ServerError> {
        Ok(q.execute(&self.pool).await?)
    }

    /// Every row of one statement.
    pub(super) async fn fetch_all(&self, q: Statement<'_>) -> Result<Vec<AnyRow>, ServerError> {
        Ok(q.fetch_all(&self.pool).await?)
    }

    /// The one row of one statement.
    pub(super) async fn fetch_one(&self, q: Statement<'_>) -> Result<AnyRow, ServerError> {
        Ok(q.fetch_one(&self.pool).await?)
    }

    /// The row, if any, of one statement.
    pub(super) async fn fetch_optional(&self, q: Statement<'_>) -> Result<Option<AnyRow>, ServerError> {
        Ok(q.fetch_optional(&self.pool).await?)
    }

    /// The pool itself (the migrations run on it: `migrations`).
    pub(super) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Applies SQLite's page limit to the writing connection now.
    pub(super) async fn apply_max_pages(&self, pages: u64) -> Result<(), ServerError> {
        let mut conn = self.pool.acquire().await?;
        apply_max_pages(&mut conn, pages).await?;
        Ok(())
    }

    /// A read pool on the writer's own connections (PostgreSQL).
    pub(super) fn shared_reads(&self) -> Reads {
        Reads {
            pool: self.pool.clone(),
        }
    }

    /// Closes the pool, waiting for in-flight queries.
    pub(super) async fn close(&self) {
        self.pool.close().await;
    }
}

/// The read pool (see the module documentation): it runs [`Select`]s
/// only, through [`ReadOn`].
#[derive(Clone, Debug)]
pub(super) struct Reads {
    pool: AnyPool,
}

impl Reads {
    /// Closes the pool, waiting for in-flight queries.
    pub(super) async fn close(&self) {
        self.pool.close().await;
    }
}

/// What a [`Select`] runs on: the read pool, or a connection of the
/// writer's (a transaction's, as `&mut *tx`).
pub(super) trait ReadOn {
    /// Every row.
    async fn fetch_all(self, q: Select<'_>) -> Result<Vec<AnyRow>, ServerError>;
    /// The one row.
    async fn fetch_one(self, q: Select<'_>) -> Result<AnyRow, ServerError>;
    /// The row, if any.
    async fn fetch_optional(self, q: Select<'_>) -> Result<Option<AnyRow>, ServerError>;
}

impl ReadOn for &Reads {
    async fn fetch_all(self, q: Select<'_>) -> Result<Vec<AnyRow>, ServerError> {
        Ok(q.into_statement().fetch_all(&self.pool).await?)
    }

    async fn fetch_one(self, q: Select<'_>) -> Result<AnyRow, ServerError> {
        Ok(q.into_statement().fetch_one(&self.pool).await?)
    }

    async fn fetch_optional(self, q: Select<'_>) -> Result<Option<AnyRow>, ServerError> {
        Ok(q.into_statement().fetch_optional(&self.pool).await?)
    }
}

impl ReadOn for &mut AnyConnection {
    async fn fetch_all(self, q: Select<'_>) -> Result<Vec<AnyRow>, ServerError> {
        Ok(q.into_statement().fetch_all(self).await?)
    }

    async fn fetch_one(self, q: Select<'_>) -> Result<AnyRow, ServerError> {
        Ok(q.into_statement().fetch_one(self).await?)
    }

    async fn fetch_optional(self, q: Select<'_>) -> Result<Option<AnyRow>, ServerError> {
        Ok(q.into_statement().fetch_optional(self).await?)
    }
}

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
    /// What a device's queue may hold (default: no limit; the server sets
    /// its configured `limits`).
    pub queue_quota: super::QueueQuota,
    /// How often bundles may be fetched (default: no limit; the server sets
    /// its configured `limits`).
    pub bundle_fetch_limit: super::BundleFetchLimit,
    /// What to do with migrations the database lacks (default: apply them).
    pub migrations: super::Migrations,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            acquire_timeout: Duration::from_secs(3),
            statement_timeout: Duration::from_secs(5),
            sqlite_max_pages: 0,
            queue_quota: super::QueueQuota::unlimited(),
            bundle_fetch_limit: super::BundleFetchLimit::unlimited(),
            migrations: super::Migrations::Apply,
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

/// Opens the writing pool (the only one on PostgreSQL).
pub(super) async fn writer(
    url: &str,
    backend: Backend,
    options: &StoreOptions,
    max_pages: Arc<AtomicU64>,
) -> Result<Writer, ServerError> {
    let statement_ms = millis(options.statement_timeout);
    if backend == Backend::Sqlite {
        private_sqlite_files(url)?;
    }
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
                        // Deleted content is overwritten, not left in free
                        // space (the module documentation).
                        "PRAGMA secure_delete = ON",
                        // Statement journals (a multi-row statement that may
                        // fail half-way) in memory, not in temporary files
                        // written and synced beside the database.
                        "PRAGMA temp_store = MEMORY",
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
    Ok(Writer {
        pool: pool.connect(url).await?,
        backend,
    })
}

/// The SQLite database file a URL names, and whether sqlx would create it
/// (`mode=rwc`); `None` for an in-memory database.
fn sqlite_file(url: &str) -> Option<(PathBuf, bool)> {
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url).ok()?;
    let path = options.get_filename();
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let param = |pair: &str| query.split('&').any(|p| p == pair);
    if path.as_os_str().is_empty() || url.contains(":memory:") || param("mode=memory") {
        return None;
    }
    Some((path.to_path_buf(), param("mode=rwc")))
}

/// What SQLite keeps beside a database file.
const COMPANIONS: [&str; 3] = ["-wal", "-shm", "-journal"];

/// Makes the SQLite database private to the server's user before it is
/// opened: a missing file that sqlx would create is created empty with
/// mode 0600 (SQLite gives its `-wal` and `-shm` the database file's
/// mode), and an existing file or companion readable by others (as older
/// versions created them, with the umask's 0644) is tightened, logged.
pub(super) fn private_sqlite_files(url: &str) -> Result<(), ServerError> {
    let Some((path, create)) = sqlite_file(url) else {
        return Ok(());
    };
    if create {
        // A failure here (a missing directory) is sqlx's to report when it
        // opens the file, with its own words.
        let _ = crate::durable::create_private_empty(&path);
    }
    let mut names = vec![path.clone()];
    for suffix in COMPANIONS {
        let mut name = path.clone().into_os_string();
        name.push(suffix);
        names.push(PathBuf::from(name));
    }
    for name in &names {
        let tightened = crate::durable::restrict(name).map_err(|e| cannot_restrict(name, e))?;
        if tightened {
            tracing::warn!(file = %name.display(), "database file was readable by other users (as an older version created it); now 0600");
        }
    }
    Ok(())
}

fn cannot_restrict(path: &Path, e: std::io::Error) -> ServerError {
    FileError::new(
        path,
        FileProblem::Unwritable(e),
        "It is readable by other users and the server cannot change that: give it to the user the \
         server runs as (chown) or make it 0600 (chmod 600), then start again",
    )
    .into()
}

/// Opens SQLite's read-only pool beside the writer.
pub(super) async fn sqlite_reads(url: &str, options: &StoreOptions) -> Result<Reads, ServerError> {
    let statement_ms = millis(options.statement_timeout);
    let pool = AnyPoolOptions::new()
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
        .await?;
    Ok(Reads { pool })
}

/// Sets SQLite's page limit on one connection (0: SQLite's own maximum).
async fn apply_max_pages(conn: &mut AnyConnection, pages: u64) -> Result<(), sqlx::Error> {
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
