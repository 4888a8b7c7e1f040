//! Storage: one interface, two backends (SQLite, PostgreSQL) behind sqlx's
//! `Any` driver. The SQL is shared (`$N` placeholders work on both); the few
//! statements that differ are chosen by [`Backend`].
//!
//! SQLite (the embedded default) runs on a single connection, so every
//! transaction is serialised and the one-time-prekey claim is atomic. On
//! PostgreSQL the claim uses `FOR UPDATE SKIP LOCKED`, so concurrent fetches
//! never hand out the same prekey and never wait on each other.
//!
//! The store never holds plaintext: messages are opaque ciphertext, and
//! invites, bootstrap and session tokens are stored as SHA-256 hashes.
//!
//! ## Layout
//! - this file: the [`Store`], its [`Backend`], connecting, readiness and
//!   the bounded wait every request's storage step runs in.
//! - `pool`: the connections, and which one may run what: the writer
//!   (every change), the read pool (only `SELECT`s), fault handling.
//! - `tx`: the transaction every change runs in, which appends its audit
//!   entries before it commits.
//! - `migrations`: which migrations the database lacks, applying them
//!   (`curbside migrate`), and what `serve` does when some are missing.
//! - `sql`: placeholder lists, and the read-only statements of `select!`.
//! - `rows`: decoding ids and values from rows (corrupt values are errors).
//! - `enroll`: the bootstrap token, invites, enrollment.
//! - `users`: roles, verification, the admins' list, the directory.
//! - `devices`: devices, current device lists, revocation.
//! - `prekeys`: signed and one-time prekeys, bundle fetches;
//!   `fetch_limit`: how often one may fetch another user's bundles.
//! - `queue`: accepting messages, queues, acknowledgements, receipts,
//!   expiry; `batch`: the group commit they go through; `usage`: what each
//!   device's queue holds, and its quotas.
//! - `attachments`: attachment records.
//! - `sessions`: login challenges and HTTP sessions.
//! - `referrals`: referral envelopes and their lifecycle.
//! - `consults`: curbside consults, their recipients and answers.
//! - `oncall`: on-call roles and their shifts.
//! - `urgent`: acknowledging urgent messages, escalations, recall, the
//!   retention policy.
//! - `audit`: the audit log's storage, queries and proofs.

mod attachments;
mod audit;
mod batch;
mod consults;
mod devices;
mod enroll;
mod fetch_limit;
mod migrations;
mod oncall;
mod pool;
mod prekeys;
mod queue;
mod referrals;
mod rows;
mod sessions;
mod sql;
mod tx;
mod urgent;
mod usage;
mod users;

pub use self::audit::{AuditFilter, PageRequest};
pub use self::batch::{Accepted, HeldEscalation, NewMessage, Pending};
pub use self::consults::{ConsultProblem, ConsultRole};
pub use self::devices::DeviceRecord;
pub use self::enroll::{Bootstrap, InviteClaim};
pub use self::enroll::{DeviceKeys, EnrollProblem, Enrolled, Grant, InviteProblem, UserDetails};
pub use self::fetch_limit::BundleFetchLimit;
pub use self::migrations::{Migration, Migrations};
pub use self::oncall::OnCallProblem;
pub use self::pool::StoreOptions;
pub use self::queue::{Acked, Queued, Receipt};
pub use self::referrals::ReferralProblem;
pub use self::sessions::ChallengeUse;
pub use self::urgent::{Acknowledgement, Released, UrgentProblem};
pub use self::usage::{QueueFull, QueueQuota, QuotaScope};
pub use self::users::DirectoryFilter;
pub use self::users::{Deactivation, UserStatus};

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use self::pool::{Reads, Writer};
use self::tx::Tx;

use crate::error::ServerError;

pub use curbside_protocol::time::now_ms;

/// Which database is behind the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file (embedded default).
    Sqlite,
    /// PostgreSQL server (scale-out).
    Postgres,
}

/// The backend a database URL names.
fn backend_of(url: &str) -> Result<Backend, ServerError> {
    sqlx::any::install_default_drivers();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else {
        Err(ServerError::Config(
            "database URL must start with sqlite: or postgres://".into(),
        ))
    }
}

/// The storage interface of the server.
#[derive(Clone, Debug)]
pub struct Store {
    /// Every change, and the reads that are not the hot path's (see
    /// [`pool`] for which connection runs what).
    writer: Writer,
    /// Reads of the hot path (authentication, device lists, queues): on
    /// SQLite read-only connections beside the writer, on PostgreSQL the
    /// writer's pool.
    reads: Reads,
    /// The message path's group commit (accepts and acknowledgements).
    commits: batch::GroupCommit,
    health: Arc<pool::Health>,
    max_pages: Arc<AtomicU64>,
    deadline: Duration,
    /// Bundle fetches per requester and target (in memory, per node).
    bundle_fetches: Arc<fetch_limit::BundleFetches>,
}

/// 64 KiB of random bytes (random so that no page compression or
/// deduplication makes the probe cheaper than a real write).
fn probe_pad() -> Vec<u8> {
    let mut pad = vec![0u8; 64 * 1024];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut pad);
    pad
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Store {
    /// Connects with the default [`StoreOptions`] and runs the migrations.
    pub async fn connect(url: &str) -> Result<Self, ServerError> {
        Self::connect_with(url, &StoreOptions::default()).await
    }

    /// Connects and, when the database lacks migrations of the backend
    /// named by the URL, applies them or refuses (`options.migrations`;
    /// nothing is changed when every one is applied).
    pub async fn connect_with(url: &str, options: &StoreOptions) -> Result<Self, ServerError> {
        let backend = backend_of(url)?;
        let max_pages = Arc::new(AtomicU64::new(options.sqlite_max_pages));
        let writer = pool::writer(url, backend, options, max_pages.clone()).await?;
        let health = Arc::new(pool::Health::default());
        let commits = batch::GroupCommit::start(
            writer.clone(),
            health.clone(),
            options.transaction_deadline(),
            options.queue_quota,
        )?;
        let mut store = Self {
            reads: writer.shared_reads(),
            writer,
            commits,
            health,
            max_pages,
            deadline: options.transaction_deadline(),
            bundle_fetches: Arc::new(fetch_limit::BundleFetches::new(options.bundle_fetch_limit)),
        };
        store.writer.prepare_schema(options.migrations).await?;
        if backend == Backend::Sqlite {
            store.reads = pool::sqlite_reads(url, options).await?;
        }
        Ok(store)
    }

    /// `curbside migrate`: applies the migrations the database lacks and
    /// returns them (none when it was up to date), then closes the
    /// connection. Run it as the role that owns the schema.
    pub async fn migrate(url: &str, options: &StoreOptions) -> Result<Vec<Migration>, ServerError> {
        let backend = backend_of(url)?;
        let writer = pool::writer(url, backend, options, Arc::new(AtomicU64::new(0))).await?;
        let applied = writer.apply().await;
        writer.close().await;
        applied
    }

    /// SQLite: changes the most pages the database may grow to (0: no limit)
    /// while the server runs; the writing connection applies it at once and
    /// every connection opened later too. Nothing on PostgreSQL.
    pub async fn set_sqlite_max_pages(&self, pages: u64) -> Result<(), ServerError> {
        self.max_pages.store(pages, std::sync::atomic::Ordering::Release);
        if self.backend() == Backend::Sqlite {
            self.writer.apply_max_pages(pages).await?;
        }
        Ok(())
    }

    /// Runs one storage operation within the store's deadline (acquire plus
    /// twice the statement timeout): a database that stops answering in the
    /// middle of a query (a cut network) fails the request with
    /// `storage_unavailable` instead of holding it until TCP gives up.
    pub async fn bounded<T>(
        &self,
        operation: impl std::future::Future<Output = Result<T, ServerError>>,
    ) -> Result<T, ServerError> {
        tokio::time::timeout(self.deadline, operation)
            .await
            .unwrap_or(Err(ServerError::Database(sqlx::Error::PoolTimedOut)))
    }

    /// The longest [`Store::bounded`] waits.
    #[must_use]
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// Whether the store can take writes now, answered within `deadline`
    /// whatever the database does. While the last write committed, a
    /// round trip to the writing connection; after a write failed for want
    /// of storage, a small write that must commit (so a full disk stays
    /// not ready until there is room again).
    pub async fn ready(&self, deadline: Duration) -> bool {
        let check = async {
            if self.health.available() {
                self.writer.execute(sqlx::query("SELECT 1")).await.is_ok()
            } else {
                let probed = self.probe_write().await;
                self.health.observe(&probed);
                probed.is_ok()
            }
        };
        tokio::time::timeout(deadline, check).await.unwrap_or(false)
    }

    /// Writes and commits a 64 KiB row (replacing the previous one), which
    /// needs free pages as a real request would.
    async fn probe_write(&self) -> Result<(), ServerError> {
        let mut tx = self.begin().await?;
        let now = now_ms();
        sqlx::query("DELETE FROM readiness_probe WHERE checked_at < $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO readiness_probe (checked_at, pad) VALUES ($1, $2)")
            .bind(now)
            .bind(probe_pad())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The backend in use.
    #[must_use]
    pub fn backend(&self) -> Backend {
        self.writer.backend()
    }

    /// Sends a PostgreSQL notification (multi-node relay).
    pub async fn notify_nodes(&self, channel: &str, payload: &str) -> Result<(), ServerError> {
        self.writer
            .execute(
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(channel)
                    .bind(payload),
            )
            .await?;
        Ok(())
    }

    /// Closes the pools, waiting for in-flight queries.
    pub async fn close(&self) {
        self.reads.close().await;
        self.writer.close().await;
    }

    async fn begin(&self) -> Result<Tx, ServerError> {
        self.writer.begin().await
    }
}
