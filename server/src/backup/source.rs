//! Where everything a backup copies is, read from the server's
//! configuration: the SQLite database file (PostgreSQL and in-memory
//! databases are refused), the attachments folder, the audit log key and the
//! TLS certificate and key, with the notes an operator needs to restore
//! files read from configured paths.

use std::path::PathBuf;
use std::str::FromStr as _;

use sqlx::sqlite::SqliteConnectOptions;

use super::{BackupError, ATTACHMENTS_DIR, DATABASE_FILE};
use crate::audit::LOG_KEY_FILE;
use crate::config::Config;

/// Where everything to be copied is.
pub(super) struct Source {
    pub(super) database: PathBuf,
    pub(super) url: String,
    pub(super) attachments: PathBuf,
    pub(super) log_key: PathBuf,
    pub(super) tls_cert: PathBuf,
    pub(super) tls_key: PathBuf,
    pub(super) notes: Vec<String>,
}

impl Source {
    pub(super) fn of(config: &Config) -> Result<Self, BackupError> {
        let url = config.database_url();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Err(BackupError::Postgres);
        }
        if !url.starts_with("sqlite:") {
            return Err(BackupError::NotAFile(url));
        }
        let options = SqliteConnectOptions::from_str(&url).map_err(|_| BackupError::NotAFile(url.clone()))?;
        let database = options.get_filename().to_path_buf();
        if database.as_os_str().is_empty() || url.contains(":memory:") {
            return Err(BackupError::NotAFile(url));
        }
        if !database.is_file() {
            return Err(BackupError::NoDatabase(database));
        }
        let mut notes = Vec::new();
        if config.database_url.is_some() && database != config.data_dir.join(DATABASE_FILE) {
            notes.push(format!(
                "The database was read from {} (database_url); the backup holds it as {DATABASE_FILE}, \
                 which a server started with --data-dir on the backup and no --database-url uses. To \
                 restore to the configured path instead, copy {DATABASE_FILE} there.",
                database.display()
            ));
        }
        let log_key = match &config.audit_log_key {
            Some(path) => {
                notes.push(format!(
                    "The audit log key was read from {} (audit_log_key); the backup holds it as \
                     {LOG_KEY_FILE}. On restore, put it back at that path, or start without \
                     --audit-log-key on the restored data directory.",
                    path.display()
                ));
                path.clone()
            }
            None => config.data_dir.join(LOG_KEY_FILE),
        };
        let (tls_cert, tls_key) = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => {
                notes.push(format!(
                    "The TLS certificate and key were read from {} and {} (tls_cert, tls_key); the \
                     backup holds them as tls/cert.pem and tls/key.pem, which a server started \
                     without --tls-cert/--tls-key on the restored data directory uses.",
                    cert.display(),
                    key.display()
                ));
                (cert.clone(), key.clone())
            }
            _ => {
                let tls = config.data_dir.join("tls");
                (tls.join("cert.pem"), tls.join("key.pem"))
            }
        };
        Ok(Self {
            database,
            url,
            attachments: config.data_dir.join(ATTACHMENTS_DIR),
            log_key,
            tls_cert,
            tls_key,
            notes,
        })
    }
}
