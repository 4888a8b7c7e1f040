//! Server configuration: built-in defaults, then a TOML file, then
//! `CURBSIDE_*` environment variables, then command-line flags (applied by
//! the binary), each overriding the one before.
//!
//! Environment variables name a field in upper case (`CURBSIDE_LISTEN`,
//! `CURBSIDE_DATABASE_URL`); nested limits use a double underscore
//! (`CURBSIDE_LIMITS__MAX_FRAME_BYTES`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// Everything the server needs to start.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on (TLS).
    pub listen: SocketAddr,
    /// Directory for the SQLite database, the generated certificate and keys.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; default: SQLite in `data_dir`.
    pub database_url: Option<String>,
    /// The name clients sign in the authentication transcript and connect to.
    pub server_name: String,
    /// PEM certificate chain; default: a self-signed certificate generated in `data_dir`.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// The audit log's Ed25519 key (PKCS#8); default: `audit-log-key.pk8` in
    /// `data_dir`, created if absent. Every node of a cluster must use the same key.
    pub audit_log_key: Option<PathBuf>,
    /// This node's name in logs and in the relay between nodes; default: a
    /// random id per start. Give each node of a cluster a distinct, stable one.
    pub node_id: Option<String>,
    /// Whether `serve` applies the migrations its database lacks (default
    /// true). False (`serve --no-migrate`, `CURBSIDE_MIGRATE=false`): it
    /// refuses to start while any is missing; `curbside migrate`, run as
    /// the schema's owner, applies them. Either way a database that has
    /// every migration is not changed.
    pub migrate: bool,
    /// Replace an unused bootstrap token with a new one at this start
    /// (`serve --new-bootstrap-token`, for a lost token; the old one stops
    /// working). Not a setting: a flag of one start.
    #[serde(skip)]
    pub new_bootstrap_token: bool,
    /// Serve the web client from this directory, read on each request
    /// (`serve --web-dir web/public`, for developing it); default: the
    /// client built into the binary.
    pub web_dir: Option<PathBuf>,
    /// Limits and timeouts.
    pub limits: Limits,
}

/// Limits on everything that grows, and timeouts.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest WebSocket frame accepted, in bytes.
    pub max_frame_bytes: usize,
    /// Most recipient devices in one send.
    pub max_recipients: usize,
    /// Frames per second a connection may send on average…
    pub rate_per_sec: u32,
    /// …and in a burst.
    pub rate_burst: u32,
    /// Milliseconds a new WebSocket connection has to authenticate (the
    /// `auth_deadline_ms` its `hello` announces; in milliseconds like it:
    /// this key was `auth_deadline_secs` before, and a configuration that
    /// still names that key is refused at start, naming it).
    pub auth_deadline_ms: u64,
    /// Deliveries pushed to a device and not yet acknowledged, at most.
    pub max_unacked_deliveries: usize,
    /// Seconds a push may wait on a socket that does not drain before the connection is closed.
    pub write_timeout_secs: u64,
    /// Seconds undelivered ciphertext is kept.
    pub queue_ttl_secs: u64,
    /// Seconds after acceptance during which a sender may recall a message.
    pub recall_window_secs: u64,
    /// Most clinicians one curbside consult goes to (chosen at random among
    /// those who opted in, when more did).
    pub max_consult_recipients: usize,
    /// Most consults one clinician may have open at once.
    pub max_open_consults: u64,
    /// Most deliveries queued for one device, from all senders (0: no
    /// limit). A send that would exceed it for any of its devices is
    /// refused whole with `recipient_queue_full`.
    pub max_queued_messages_per_device: u64,
    /// Most bytes of ciphertext queued for one device, from all senders (0: no limit).
    pub max_queued_bytes_per_device: u64,
    /// Most deliveries one sending user may have queued for one device of
    /// another user (0: no limit); a user's own devices have only the
    /// per-device limits.
    pub max_queued_messages_per_sender: u64,
    /// Most bytes one sending user may have queued for one device of another user (0: no limit).
    pub max_queued_bytes_per_sender: u64,
    /// Seconds without use after which an HTTP session ends (automatic logoff).
    pub session_idle_secs: u64,
    /// Seconds after which an HTTP session ends regardless.
    pub session_max_secs: u64,
    /// Default invite lifetime in seconds.
    pub invite_ttl_secs: u64,
    /// Most one-time prekeys stored per device.
    pub max_one_time_prekeys: usize,
    /// The owner is told to upload more when fewer one-time prekeys remain.
    pub prekeys_low_threshold: u32,
    /// Fetches of one user's prekey bundles by one requesting device per
    /// `bundle_fetch_window_secs` (0: no limit); past it, `rate_limited`
    /// (one audit entry per requester, target and window) and nothing claimed.
    pub bundle_fetches_per_requester: u32,
    /// Fetches of one user's prekey bundles by everyone together per
    /// `bundle_fetch_window_secs` (0: no limit). Counted per node.
    pub bundle_fetches_per_target: u32,
    /// The window of the bundle fetch limits, in seconds.
    pub bundle_fetch_window_secs: u64,
    /// Most concurrent connections: every accepted TCP connection counts,
    /// from before its TLS handshake until it closes, whatever it is (TLS
    /// handshake, HTTP request, idle keep-alive, WebSocket authenticated or
    /// not). A connection over the limit is closed at once, before TLS.
    pub max_connections: usize,
    /// Most concurrent connections from one source address (an IPv4 address,
    /// or an IPv6 /64 network), counted like `max_connections`; 0: no
    /// per-address limit (behind a TCP proxy or load balancer every client
    /// has the proxy's address: set it to 0 there and limit at the proxy).
    pub max_connections_per_address: usize,
    /// Milliseconds a new connection has to complete its TLS handshake.
    pub tls_handshake_timeout_ms: u64,
    /// Milliseconds the server waits for a complete HTTP request head (request
    /// line and headers), counted from the end of the TLS handshake or of the
    /// previous response: it bounds the time to send a head and the idle time
    /// of a keep-alive connection between requests. Past it the connection is
    /// closed without a response.
    pub request_head_timeout_ms: u64,
    /// While a request body is being read, at least `request_body_min_bytes`
    /// of it (or its end) must arrive every this many milliseconds; otherwise
    /// the request fails and the connection is closed.
    pub request_body_timeout_ms: u64,
    /// See `request_body_timeout_ms`.
    pub request_body_min_bytes: u64,
    /// Failed anonymous attempts (authentication, enrollment) of one source
    /// address recorded one audit entry each per window; past it, the source
    /// is refused with `rate_limited` until the window ends and its attempts
    /// are recorded as one entry (count, first and last time). 0: no limit
    /// (every failure is recorded; behind a TCP proxy, where every client has
    /// the proxy's address, set 0 and limit at the proxy).
    pub failures_per_source: u32,
    /// The window of `failures_per_source`, in seconds.
    pub failure_window_secs: u64,
    /// Login challenges (`GET /v1/auth/challenge`) one source address (IPv4;
    /// IPv6 /64) may be issued per minute, the challenges' lifetime; past it
    /// `rate_limited`. 0: no limit.
    pub challenges_per_source: u32,
    /// Largest attachment blob accepted, in bytes.
    pub max_attachment_bytes: u64,
    /// Most bytes of unexpired attachments one user may have stored (all
    /// their devices together); an upload past it is refused with
    /// `payload_too_large`. 0: no quota.
    pub max_attachment_bytes_per_user: u64,
    /// Seconds an attachment blob is kept.
    pub attachment_ttl_secs: u64,
    /// Milliseconds a request waits for a database connection before it is
    /// refused with `storage_unavailable`.
    pub db_acquire_timeout_ms: u64,
    /// Milliseconds one database statement may run (PostgreSQL), or wait for
    /// a lock (SQLite), before the request is refused with `storage_unavailable`.
    pub db_statement_timeout_ms: u64,
    /// SQLite only: the most MiB the database file may grow to (0: until the
    /// disk is full). Past it, writes are refused as on a full disk, leaving
    /// room on the disk for everything else.
    pub sqlite_max_database_mib: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            data_dir: PathBuf::from("curbside-data"),
            database_url: None,
            server_name: "localhost".into(),
            tls_cert: None,
            tls_key: None,
            audit_log_key: None,
            node_id: None,
            migrate: true,
            new_bootstrap_token: false,
            web_dir: None,
            limits: Limits::default(),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_bytes: 1 << 20,
            max_recipients: 200,
            rate_per_sec: 50,
            rate_burst: 200,
            auth_deadline_ms: 10_000,
            max_unacked_deliveries: 256,
            write_timeout_secs: 30,
            queue_ttl_secs: 30 * 24 * 3600,
            recall_window_secs: 3600,
            max_consult_recipients: 20,
            max_open_consults: 3,
            max_queued_messages_per_device: 10_000,
            max_queued_bytes_per_device: 256 << 20,
            max_queued_messages_per_sender: 2_000,
            max_queued_bytes_per_sender: 64 << 20,
            session_idle_secs: 15 * 60,
            session_max_secs: 12 * 3600,
            invite_ttl_secs: 72 * 3600,
            max_one_time_prekeys: 500,
            prekeys_low_threshold: 10,
            bundle_fetches_per_requester: 30,
            bundle_fetches_per_target: 300,
            bundle_fetch_window_secs: 3600,
            max_connections: 20_000,
            max_connections_per_address: 1_000,
            tls_handshake_timeout_ms: 10_000,
            request_head_timeout_ms: 15_000,
            request_body_timeout_ms: 30_000,
            request_body_min_bytes: 1024,
            failures_per_source: 20,
            failure_window_secs: 60,
            challenges_per_source: 300,
            max_attachment_bytes: 100 << 20,
            max_attachment_bytes_per_user: 2 << 30,
            attachment_ttl_secs: 30 * 24 * 3600,
            db_acquire_timeout_ms: 3_000,
            db_statement_timeout_ms: 5_000,
            sqlite_max_database_mib: 0,
        }
    }
}

/// The top-level settings that `CURBSIDE_*` variables may set.
const SETTINGS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "server_name",
    "tls_cert",
    "tls_key",
    "audit_log_key",
    "node_id",
    "migrate",
];

impl Config {
    /// Defaults, then `file` (if given and present), then `CURBSIDE_*` variables.
    pub fn load(file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Self::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        // Other tools share the CURBSIDE_ prefix (CURBSIDE_LOG, CURBSIDE_CONFIG,
        // client settings…): read only the variables that name a server setting.
        let env = Env::prefixed("CURBSIDE_")
            .filter(|key| {
                let key = key.as_str().to_ascii_lowercase();
                SETTINGS.contains(&key.as_str()) || key.starts_with("limits__")
            })
            .split("__");
        figment.merge(env).extract().map_err(Box::new)
    }

    /// How the store waits for its database.
    #[must_use]
    pub fn store_options(&self) -> crate::store::StoreOptions {
        let limits = &self.limits;
        crate::store::StoreOptions {
            acquire_timeout: std::time::Duration::from_millis(limits.db_acquire_timeout_ms),
            statement_timeout: std::time::Duration::from_millis(limits.db_statement_timeout_ms),
            // SQLite's default page size, 4 KiB.
            sqlite_max_pages: limits.sqlite_max_database_mib.saturating_mul(256),
            queue_quota: crate::store::QueueQuota {
                device_messages: limits.max_queued_messages_per_device,
                device_bytes: limits.max_queued_bytes_per_device,
                pair_messages: limits.max_queued_messages_per_sender,
                pair_bytes: limits.max_queued_bytes_per_sender,
            },
            bundle_fetch_limit: crate::store::BundleFetchLimit {
                per_requester: limits.bundle_fetches_per_requester,
                per_target: limits.bundle_fetches_per_target,
                window: std::time::Duration::from_secs(limits.bundle_fetch_window_secs),
            },
            migrations: if self.migrate {
                crate::store::Migrations::Apply
            } else {
                crate::store::Migrations::Require
            },
        }
    }

    /// The database URL in effect.
    #[must_use]
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("curbside.db").display()
            )
        })
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closure signature
mod tests {
    use super::*;

    #[test]
    fn file_then_environment_override_defaults_and_other_variables_are_ignored() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "curbside.toml",
                "server_name = \"clinic.example\"\n[limits]\nmax_recipients = 7\n",
            )?;
            jail.set_env("CURBSIDE_LIMITS__MAX_RECIPIENTS", "9");
            jail.set_env("CURBSIDE_LISTEN", "127.0.0.1:9999");
            jail.set_env("CURBSIDE_LOG", "debug");
            jail.set_env("CURBSIDE_TEST_POSTGRES_URL", "postgres://x/y");
            let config = Config::load(Some(Path::new("curbside.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(config.server_name, "clinic.example");
            assert_eq!(config.limits.max_recipients, 9);
            assert_eq!(config.listen.port(), 9999);
            assert_eq!(config.limits.rate_burst, Limits::default().rate_burst);
            Ok(())
        });
    }

    #[test]
    fn the_auth_deadline_is_in_milliseconds_and_the_old_key_is_refused_by_name() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("ms.toml", "[limits]\nauth_deadline_ms = 2500\n")?;
            let config = Config::load(Some(Path::new("ms.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(config.limits.auth_deadline_ms, 2500);
            jail.create_file("old.toml", "[limits]\nauth_deadline_secs = 5\n")?;
            let refused = Config::load(Some(Path::new("old.toml"))).unwrap_err().to_string();
            assert!(refused.contains("auth_deadline_secs"), "{refused}");
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_in_the_file_are_errors() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "listn = \"127.0.0.1:1\"\n")?;
            assert!(Config::load(Some(Path::new("bad.toml"))).is_err());
            Ok(())
        });
    }
}
