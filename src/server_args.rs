//! The flags that say where a server's data lives, shared by `serve` and
//! `backup` (a backup is taken with the same flags the server runs with).

use std::path::PathBuf;

use anyhow::Context as _;
use curbside_server::Config;

/// Where the server's configuration, data, keys and certificate are.
#[derive(clap::Args)]
pub(crate) struct ServerLocation {
    /// TOML configuration file (overridden by CURBSIDE_* variables and by flags).
    #[arg(long, env = "CURBSIDE_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory [default: ./curbside-data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Database URL: sqlite://… or postgres://… [default: SQLite in the data directory].
    #[arg(long)]
    database_url: Option<String>,
    /// PEM certificate chain [default: self-signed, generated in the data directory].
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The audit log key file, shared by every node of a cluster [default: audit-log-key.pk8 in the data directory].
    #[arg(long)]
    audit_log_key: Option<PathBuf>,
}

impl ServerLocation {
    /// The configuration: defaults, then the file, then `CURBSIDE_*`
    /// variables, then these flags.
    pub(crate) fn config(self) -> anyhow::Result<Config> {
        let mut config = Config::load(self.config.as_deref()).context("reading the configuration")?;
        if let Some(v) = self.data_dir {
            config.data_dir = v;
        }
        if let Some(v) = self.database_url {
            config.database_url = Some(v);
        }
        if let Some(v) = self.audit_log_key {
            config.audit_log_key = Some(v);
        }
        if let (Some(cert), Some(key)) = (self.tls_cert, self.tls_key) {
            config.tls_cert = Some(cert);
            config.tls_key = Some(key);
        }
        Ok(config)
    }
}
