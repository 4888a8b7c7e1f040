//! # curbside-server
//!
//! The relay: clients connect over TLS WebSockets, authenticate each device
//! with an Ed25519 challenge signature, publish prekeys, and exchange
//! end-to-end-encrypted messages that the server stores only as ciphertext
//! until each recipient device acknowledges them. The server never sees
//! plaintext or ratchet state: it uses `curbside-crypto` only to verify
//! the public keys a device publishes (its identity key's inner signature
//! and its signed prekey's), never a session.
//!
//! ## Layout
//! - [`config`]: defaults, TOML, `CURBSIDE_*` environment.
//! - [`tls`]: rustls configuration and the self-signed default certificate.
//! - `durable`: every file the server writes survives power loss (temporary
//!   name, fsync, rename, directory fsync).
//! - [`store`]: the storage interface over SQLite or PostgreSQL: one file per
//!   concept (enrollment, users, devices, prekeys, queue, attachments,
//!   sessions, referrals, audit), the group commit of the message path
//!   (`store/batch/`), connections and their fault handling (`store/pool.rs`).
//! - [`audit`]: audit events, the actor, and the key that signs tree heads
//!   (the entries themselves are written by the store).
//! - [`auth`]: tokens, challenges and device signatures.
//! - [`hub`]: which devices are connected here, to wake them on new messages.
//! - `cluster`: the hub's events relayed between nodes with PostgreSQL
//!   `LISTEN/NOTIFY`.
//! - `http`: one module per resource (health, enrollment, sessions, admin,
//!   directory, attachments, audit, referrals), merged in `http::router`,
//!   and `http::extract`, the request parts whose refusals are in the
//!   documented error format.
//! - `ws`: one WebSocket connection: the connection, authentication, the
//!   handler's loop, the rate limit, one file per request under `ws/cmd/`.
//! - `failures`: failed anonymous attempts per source address: the limit,
//!   and one aggregated audit entry per window past it.
//! - `challenge_limit`: HTTP challenges issued per source address.
//! - `metrics`: Prometheus counters and `/metrics`.
//! - [`backup`]: `curbside backup`, a consistent online copy of an SQLite server.
//! - [`error`]: [`ServerError`] (startup, storage; a damaged file is a
//!   [`FileError`]) and [`ApiError`] (what a client is told: a stable code and
//!   a safe message).
//! - `listener`: accepts TCP connections under the connection limits (in
//!   total and per source address), TLS handshakes and HTTP/1.1 on them,
//!   each bounded in time (handshake, request head, request body progress).
//! - [`start`]: binds, serves, and returns a [`Server`] handle; [`migrate`]:
//!   `curbside migrate`.
//!
//! ## A request's way through
//! A send: `ws` reads the frame, checks it against the sender's and the
//! recipients' current devices (`store`, read pool), and submits it to the
//! group commit; once its transaction (message, one queue row per device,
//! audit entries) committed, `ws` answers `accepted` and the `hub` wakes the
//! recipients' connections (on another node: through `cluster`), which read
//! their queues from the `store` and push. An acknowledgement deletes the
//! ciphertext and stores a receipt in one transaction, and the hub wakes the
//! sender's connection to push it. HTTP requests go `http` → `store` the same
//! way, each refusal answered with an [`ApiError`].
//!
//! ## Public interface
//! The binary, the tests and the load generator use [`start`] and
//! [`Server`], [`Config`], [`AppState`] and [`app`], the [`store`] (with its
//! [`store::Backend`]), and [`backup`]; everything else is private
//! (`fuzzing`, hidden, gives the fuzz targets in `server/fuzz/` the input
//! checks that need no storage).

#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]

pub mod audit;
pub mod auth;
pub mod backup;
mod challenge_limit;
mod cluster;
pub mod config;
mod durable;
pub mod error;
mod failures;
#[doc(hidden)]
pub mod fuzzing;
mod http;
pub mod hub;
mod listener;
mod metrics;
pub mod store;
pub mod tls;
mod ws;

pub use crate::durable::{FileError, FileProblem};
pub use crate::error::{ApiError, ServerError};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use tokio::sync::{watch, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::audit::LogKey;
pub use crate::config::Config;
use crate::hub::Hub;
use crate::store::{now_ms, Store};

/// Shared state of every request and connection.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The configuration in force.
    pub config: Arc<Config>,
    /// Storage.
    pub store: Store,
    /// Connected devices.
    pub hub: Hub,
    /// The key that signs audit tree heads.
    pub log_key: Arc<LogKey>,
    /// Becomes `true` when the server shuts down.
    pub shutdown: watch::Receiver<bool>,
    /// Failed anonymous attempts per source address (limit, aggregation).
    failures: Arc<failures::Failures>,
    /// Login challenges issued per source address.
    challenges: Arc<challenge_limit::ChallengeLimit>,
    /// `max_connections` slots: the listener holds one per TCP connection,
    /// for its whole life (WebSocket included).
    connections: Arc<Semaphore>,
}

/// The whole application: HTTP routes and the WebSocket at `/v1/ws`.
pub fn app(state: AppState) -> Router {
    http::router(&state)
        .merge(metrics::router())
        .route("/v1/ws", get(websocket))
        .fallback(http::web::serve)
        .layer(axum::middleware::from_fn(http::documented))
        .with_state(state)
}

async fn websocket(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    upgrade: WebSocketUpgrade,
) -> Response {
    // The connection already counts against the connection limits: the
    // listener's slot moves with its stream into the upgraded WebSocket.
    let max = state.config.limits.max_frame_bytes;
    // tungstenite allocates its whole read buffer per connection up front
    // (128 KiB by default): 4 KiB is enough to read frames of any size (a
    // larger frame is assembled in its own buffer) and keeps an idle
    // connection small (BENCHMARKS.md, `idle`).
    upgrade
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| ws::serve(socket, state, peer))
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    /// The address it listens on (useful with port 0).
    pub addr: SocketAddr,
    /// The one-time admin bootstrap token, when this start issued it
    /// (one per database: see [`Server::bootstrap`]).
    pub bootstrap_token: Option<String>,
    /// The database's bootstrap token at this start: issued by it, issued
    /// before (by another node or an earlier start, still valid), or not
    /// needed (an admin exists).
    pub bootstrap: store::Bootstrap,
    /// This node's id (configured, or random for this start).
    pub node: String,
    /// The TLS certificate in use (PEM), for clients to pin.
    pub cert_pem: String,
    /// The database backend in use.
    pub backend: store::Backend,
    /// The audit log's Ed25519 public key, base64 (compliance officers pin it).
    pub log_key: String,
    /// What the operator must act on, found at start (a damaged default
    /// certificate replaced: pins must be renewed; the default certificate
    /// renewed near its expiry; a configured one close to expiry). Also logged.
    pub warnings: Vec<String>,
    state: AppState,
    stop: watch::Sender<bool>,
    /// Drops the HTTP connections still open when shutdown gives up waiting.
    kill: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    sweeper: tokio::task::JoinHandle<()>,
    failure_recorder: tokio::task::JoinHandle<()>,
    relays: Vec<tokio::task::JoinHandle<()>>,
}

/// `curbside migrate`: applies the migrations the configured database
/// lacks, as the role of its URL (the schema's owner), and returns them
/// (none when it was up to date). On SQLite the data directory is
/// prepared first, as `serve` prepares it.
pub async fn migrate(config: &Config) -> Result<Vec<store::Migration>, ServerError> {
    let url = config.database_url();
    if url.starts_with("sqlite:") {
        durable::prepare_data_dir(&config.data_dir)
            .map_err(|e| ServerError::io("preparing the data directory", e))?;
    }
    Store::migrate(&url, &config.store_options()).await
}

/// Prepares the data directory, database, certificate and bootstrap token,
/// then starts serving.
pub async fn start(config: Config) -> Result<Server, ServerError> {
    durable::prepare_data_dir(&config.data_dir)
        .map_err(|e| ServerError::io("preparing the data directory", e))?;
    let store = Store::connect_with(&config.database_url(), &config.store_options()).await?;
    let files = tls::ensure_certificate(
        &config.data_dir,
        &config.server_name,
        config.tls_cert.as_deref(),
        config.tls_key.as_deref(),
    )?;
    let cert_pem =
        std::fs::read_to_string(&files.cert).map_err(|e| ServerError::io("reading the certificate", e))?;
    let log_key = Arc::new(match &config.audit_log_key {
        Some(path) => LogKey::load_or_create_at(path.clone())?,
        None => LogKey::load_or_create(&config.data_dir)?,
    });
    let rustls_config = tls::server_config(&files)?;

    let node = config
        .node_id
        .clone()
        .unwrap_or_else(|| hex::encode(auth::random32().get(..8).unwrap_or_default()));
    // One bootstrap token per database (`Store::issue_bootstrap`): only the
    // start that issues it holds it.
    let (token, hash) = auth::new_token("cbs_boot_");
    let ttl = Duration::from_secs(24 * 3600);
    let bootstrap = if config.new_bootstrap_token {
        store.replace_bootstrap(&hash, &node, now_ms(), ttl).await?
    } else {
        store.issue_bootstrap(&hash, &node, now_ms(), ttl).await?
    };
    let bootstrap_token = matches!(bootstrap, store::Bootstrap::Issued { .. }).then_some(token);

    let (stop, shutdown) = watch::channel(false);
    let state = AppState {
        failures: Arc::new(failures::Failures::new(
            config.limits.failures_per_source,
            Duration::from_secs(config.limits.failure_window_secs),
        )),
        challenges: Arc::new(challenge_limit::ChallengeLimit::new(
            config.limits.challenges_per_source,
            http::CHALLENGE_TTL_MS,
        )),
        connections: Arc::new(Semaphore::new(config.limits.max_connections)),
        config: Arc::new(config),
        store: store.clone(),
        hub: Hub::default(),
        log_key,
        shutdown,
    };
    http::attachments::sweep_orphans(&store, &http::attachments::dir(&state)).await?;
    let listener = std::net::TcpListener::bind(state.config.listen)
        .map_err(|e| ServerError::io("binding the listen address", e))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| ServerError::io("configuring the listener", e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServerError::io("reading the listen address", e))?;
    let listener = tokio::net::TcpListener::from_std(listener)
        .map_err(|e| ServerError::io("configuring the listener", e))?;
    let listener = listener::Listener::new(
        listener,
        rustls_config,
        app(state.clone()),
        Arc::clone(&state.connections),
        &state.config.limits,
    );
    let kill = CancellationToken::new();
    let task = tokio::spawn(listener.serve(state.shutdown.clone(), kill.clone()));
    let retention = Duration::from_secs(state.config.limits.queue_ttl_secs);
    let sweeper = tokio::spawn(sweep(store.clone(), http::attachments::dir(&state), retention));
    let failure_recorder = tokio::spawn(record_failures(state.clone()));
    let relays = if store.backend() == store::Backend::Postgres {
        cluster::start(
            &state.hub,
            store.clone(),
            state.config.database_url(),
            node.clone(),
        )
    } else {
        Vec::new()
    };
    tracing::info!(%addr, node = %node, backend = ?store.backend(), "curbside server listening");
    Ok(Server {
        addr,
        bootstrap_token,
        bootstrap,
        node,
        cert_pem,
        warnings: files.warnings,
        backend: store.backend(),
        log_key: state.log_key.public_key_base64(),
        state,
        stop,
        kill,
        task,
        sweeper,
        failure_recorder,
        relays,
    })
}

/// Every second: records the aggregated entries of failed attempts whose
/// window ended, and releases the escalations that came due.
async fn record_failures(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        record_failures_once(&state, false).await;
        release_escalations(&state).await;
    }
}

/// Releases the held escalations due now and wakes the backups' devices
/// (on every node). A failure is logged and retried the next second.
pub async fn release_escalations(state: &AppState) {
    let store = &state.store;
    loop {
        match store.bounded(store.release_escalations(now_ms(), 100)).await {
            Ok(released) => {
                for r in &released {
                    tracing::info!(sender = %r.sender, message_id = %r.message_id, devices = r.devices.len(), "escalation released");
                    for device in &r.devices {
                        state.hub.notify(device, hub::HubEvent::Wake);
                    }
                }
                if released.len() < 100 {
                    return;
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "releasing due escalations failed; retrying in a second");
                return;
            }
        }
    }
}

async fn record_failures_once(state: &AppState, all: bool) {
    let events = state.failures.take_ended(now_ms(), all);
    if events.is_empty() {
        return;
    }
    let n = events.len();
    if let Err(e) = state.store.bounded(state.store.record(events)).await {
        tracing::error!(error = %e, sources = n, "could not record aggregated failed attempts");
    }
}

/// Deletes expired ciphertext and attachment blobs once a minute.
async fn sweep(store: Store, attachments: std::path::PathBuf, retention: Duration) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        sweep_once(&store, &attachments, retention).await;
    }
}

/// One expiry pass (also used by tests).
pub async fn sweep_once(store: &Store, attachments: &std::path::Path, message_retention: Duration) {
    let now = now_ms();
    // The organisation's retention policy, if any, bounds everything kept.
    let cutoff = match store.policy(0).await {
        Ok(policy) => policy.retention_secs.map_or(i64::MIN, |secs| {
            now.saturating_sub(i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX))
        }),
        Err(e) => {
            tracing::error!(error = %e, "reading the retention policy failed; expiring by the queue lifetime only");
            i64::MIN
        }
    };
    match store.expire(now, message_retention, cutoff).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(expired = n, "expired undelivered messages deleted"),
        Err(e) => tracing::error!(error = %e, "expiry sweep failed"),
    }
    // Ended sessions and spent invites: bounded per pass (a backlog is
    // worked through a pass a minute); unused invites are kept a week past
    // their expiry so that a late clinician is told `invite_expired`.
    match store
        .expire_logins(now, Duration::from_secs(7 * 24 * 3600), 10_000)
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::info!(deleted = n, "ended sessions and spent invites deleted"),
        Err(e) => tracing::error!(error = %e, "session and invite expiry failed"),
    }
    match store.expire_attachments(now, cutoff).await {
        Ok(ids) => {
            for id in &ids {
                let _ = tokio::fs::remove_file(attachments.join(id.as_str())).await;
            }
            if !ids.is_empty() {
                tracing::info!(expired = ids.len(), "expired attachments deleted");
            }
        }
        Err(e) => tracing::error!(error = %e, "attachment expiry failed"),
    }
}

impl Server {
    /// The shared state (for tests and the binary).
    #[must_use]
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Graceful shutdown: the listening socket closes, connections are
    /// told and closed, in-flight requests (and so their commits) finish,
    /// then the database is closed.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        // Every connection (HTTP, or WebSocket after its upgrade) holds a
        // slot until it is closed: wait (bounded) until all are back, so that
        // none is cut off in the middle of a commit.
        let all = u32::try_from(self.state.config.limits.max_connections).unwrap_or(u32::MAX);
        if tokio::time::timeout(Duration::from_secs(10), self.state.connections.acquire_many(all))
            .await
            .is_err()
        {
            tracing::warn!("connections still open after 10 s; closing anyway");
        }
        self.kill.cancel();
        self.sweeper.abort();
        self.failure_recorder.abort();
        record_failures_once(&self.state, true).await;
        for relay in &self.relays {
            relay.abort();
        }
        self.state.store.close().await;
        tracing::info!("curbside server stopped");
    }
}
