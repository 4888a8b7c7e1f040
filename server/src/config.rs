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
    /// Seconds a new connection has to authenticate.
    pub auth_deadline_secs: u64,
    /// Deliveries pushed to a device and not yet acknowledged, at most.
    pub max_unacked_deliveries: usize,
    /// Seconds a push may wait on a socket that does not drain before the connection is closed.
    pub write_timeout_secs: u64,
    /// Seconds undelivered ciphertext is kept.
    pub queue_ttl_secs: u64,
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
    /// Most concurrent connections.
    pub max_connections: usize,
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
            auth_deadline_secs: 10,
            max_unacked_deliveries: 256,
            write_timeout_secs: 30,
            queue_ttl_secs: 30 * 24 * 3600,
            session_idle_secs: 15 * 60,
            session_max_secs: 12 * 3600,
            invite_ttl_secs: 72 * 3600,
            max_one_time_prekeys: 500,
            prekeys_low_threshold: 10,
            max_connections: 20_000,
        }
    }
}

impl Config {
    /// Defaults, then `file` (if given and present), then `CURBSIDE_*` variables.
    pub fn load(file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Self::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment
            .merge(Env::prefixed("CURBSIDE_").split("__").ignore(&[
                "config",
                "passphrase",
                "test_postgres_url",
            ]))
            .extract()
            .map_err(Box::new)
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
