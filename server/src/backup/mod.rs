//! `curbside backup`: a consistent copy of a running SQLite server, laid out
//! as a data directory.
//!
//! What it copies, and how:
//!
//! - **The database**, with SQLite's `VACUUM INTO` on a connection of its
//!   own (read-only on the live file). `VACUUM INTO` reads the whole
//!   database inside one read transaction, so the copy is the state of one
//!   instant: every transaction committed before the backup began (every
//!   message the server acknowledged, with its audit entries) is in it, and
//!   no transaction is in it halfway. In WAL mode the server's writer keeps
//!   committing while it runs; traffic does not stop.
//! - **The attachment blobs the copied database refers to**, from the data
//!   directory's `attachments/`. A blob is made durable before its row
//!   commits and deleted only after its row is, so every row of the copy has
//!   its blob on disk while the backup copies it, unless the row expired in
//!   the meantime (it is then dropped from the copy as well). Blobs uploaded
//!   after the database was copied are not in the backup, and nothing refers
//!   to them there.
//! - **The keys**: the audit log key (`audit-log-key.pk8`, or the file
//!   configured with `audit_log_key`) and the TLS certificate and key
//!   (`tls/`, or the configured `tls_cert`/`tls_key`), under their default
//!   names, so that a server started on the backup signs with the same log
//!   key and presents the certificate clients pinned.
//! - `backup.json`, what was copied (the [`BackupReport`]), and
//!   `backup-audit-witness.json`, a tree head of the copied audit log signed
//!   with its log key, in the form of a compliance officer's saved head
//!   (`audit-witness.json`: README.md, "Backups and restore").
//!
//! Everything is written into a hidden directory next to the destination
//! (`.<name>.partial-<hex>`), every file and directory in it fsynced, and
//! only then renamed to the destination (and its parent fsynced): a
//! destination that exists holds a complete backup, and a backup that
//! failed or was interrupted leaves nothing under that name. Restoring is
//! copying the directory into place: `curbside serve --data-dir <backup>`
//! starts on it as it is.
//!
//! PostgreSQL is refused: its backups are `pg_dump` plus the data
//! directory's keys and blobs (README.md, "Backups and restore").

//!
//! Layout: this module holds the entry point ([`backup`]: the staging
//! directory, the keys, the order of the copies, the rename into place) and
//! its error; `source` finds what to copy from the configuration,
//! `database` copies and checks the database, `files` copies the attachment
//! blobs and writes and fsyncs files, and `manifest` is what is written
//! about the backup ([`BackupReport`] and the witness).

mod database;
mod files;
mod manifest;
mod source;

use std::path::{Path, PathBuf};

use curbside_protocol::audit::TreeHeadResponse;
use curbside_protocol::bytes::Base64;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions as _, Connection as _};

use crate::audit::{LogKey, LOG_KEY_FILE};
use crate::config::Config;
use crate::durable::{self, FileError, FileProblem};
use crate::error::ServerError;
use crate::store::now_ms;

pub use manifest::BackupReport;

use database::{check_copy, copy_database};
use files::{read_required, sync_tree, write_file, write_json};
use manifest::Witness;
use source::Source;

/// The database file's name in a data directory (and in a backup).
pub const DATABASE_FILE: &str = "curbside.db";
/// What the backup holds, written into it.
pub const MANIFEST_FILE: &str = "backup.json";
/// The copied audit log's signed tree head, in the form of a compliance
/// officer's saved head (`curbside_client::audit::Witness`).
pub const WITNESS_FILE: &str = "backup-audit-witness.json";
/// The folder of attachment blobs in a data directory.
const ATTACHMENTS_DIR: &str = "attachments";

/// Why a backup was not made. Nothing is left at the destination.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// The server runs on PostgreSQL.
    #[error(
        "the server's database is PostgreSQL: `curbside backup` copies SQLite servers only. Back up \
         PostgreSQL with pg_dump (or your database's own backups), and copy the data directory's \
         audit log key, TLS certificate and key and attachments/ with it, as README.md \
         (\"Backups and restore\") describes"
    )]
    Postgres,
    /// The SQLite database is not a file (in memory), or the URL is not SQLite's.
    #[error(
        "the database URL {0:?} does not name an SQLite database file: give the server's \
         --data-dir (and --database-url sqlite://<file> if it uses another file)"
    )]
    NotAFile(String),
    /// There is no database where the configuration says.
    #[error(
        "no SQLite database at {}: give the server's --data-dir (and its --database-url or \
         --config, if it uses them), as `curbside serve` was started with",
        .0.display()
    )]
    NoDatabase(PathBuf),
    /// The destination exists and is not an empty directory.
    #[error(
        "{} already exists and is not an empty directory: give the backup a new directory \
         (a backup never writes over anything)",
        .0.display()
    )]
    DestinationExists(PathBuf),
    /// A file the backup must hold does not exist.
    #[error("{what} {} does not exist: {remedy}", path.display())]
    Missing {
        /// Which file.
        what: &'static str,
        /// Where it was looked for.
        path: PathBuf,
        /// What to do.
        remedy: &'static str,
    },
    /// A file the backup must hold is empty, unreadable or not what it must be.
    #[error(transparent)]
    File(#[from] FileError),
    /// The database refused (the live one, or the copy).
    #[error("{what}: {source}. Check that the database is readable and that the backup's disk has free space, then run the backup again")]
    Database {
        /// What was being done.
        what: &'static str,
        /// The cause.
        source: sqlx::Error,
    },
    /// Reading or writing a file failed.
    #[error("{what} {}: {source}. Check that the data directory is readable and that the backup's disk is writable and has free space, then run the backup again", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// Which file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The copy is damaged: SQLite's integrity check failed on it.
    #[error(
        "the copied database failed SQLite's integrity check ({0}): the server's database may be \
         damaged. Keep your earlier backups, run `PRAGMA integrity_check` on the server's \
         database, and restore the last good backup if it fails there too"
    )]
    Integrity(String),
    /// The copied audit log's tree head cannot be read.
    #[error(
        "the copied audit log's tree head is unreadable ({0}): the server's database may be \
         damaged. Keep your earlier backups and run `curbside audit verify` on an export of the \
         server's log"
    )]
    AuditHead(String),
    /// Another server error (the log key could not be loaded).
    #[error(transparent)]
    Server(#[from] ServerError),
}

impl BackupError {
    fn io(what: &'static str, path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            what,
            path: path.to_path_buf(),
            source,
        }
    }

    fn db(what: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Database { what, source }
    }
}

/// Removes the partial backup unless the backup completed (also when the
/// backup's future is dropped halfway).
struct Staging {
    dir: PathBuf,
    keep: bool,
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Takes a consistent copy of the SQLite server configured by `config`
/// (its database, the attachment blobs the copy refers to, its audit log
/// key and TLS certificate and key) into the new directory `dest`, laid
/// out as a data directory. Runs beside the server while it serves.
/// `dest` must not exist, or be an empty directory.
pub async fn backup(config: &Config, dest: &Path) -> Result<BackupReport, BackupError> {
    let started_at_ms = now_ms();
    let source = Source::of(config)?;
    let replace_empty = match std::fs::read_dir(dest).map(|mut entries| entries.next().is_none()) {
        Ok(true) => true,
        Ok(false) => return Err(BackupError::DestinationExists(dest.to_path_buf())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if dest.symlink_metadata().is_ok() {
                return Err(BackupError::DestinationExists(dest.to_path_buf()));
            }
            false
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            return Err(BackupError::DestinationExists(dest.to_path_buf()))
        }
        Err(e) => return Err(BackupError::io("reading the backup directory", dest, e)),
    };
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    durable::create_dir_all(&parent)
        .map_err(|e| BackupError::io("creating the backup's parent directory", &parent, e))?;
    let name = dest
        .file_name()
        .ok_or_else(|| BackupError::DestinationExists(dest.to_path_buf()))?;
    let random = crate::auth::random32();
    let mut staged_name = std::ffi::OsString::from(".");
    staged_name.push(name);
    staged_name.push(format!(
        ".partial-{}",
        hex::encode(random.get(..8).unwrap_or_default())
    ));
    let mut staging = Staging {
        dir: parent.join(staged_name),
        keep: false,
    };
    durable::create_dir(&staging.dir)
        .map_err(|e| BackupError::io("creating the backup directory", &staging.dir, e))?;

    let mut report = write_backup(&source, &staging.dir, started_at_ms).await?;
    report.dir = dest.to_path_buf();
    write_json(&staging.dir.join(MANIFEST_FILE), &report)?;
    let dir = staging.dir.clone();
    tokio::task::spawn_blocking(move || sync_tree(&dir))
        .await
        .map_err(|e| BackupError::io("syncing the backup", &staging.dir, std::io::Error::other(e)))??;

    if replace_empty {
        std::fs::remove_dir(dest).map_err(|e| BackupError::io("replacing the empty directory", dest, e))?;
    }
    std::fs::rename(&staging.dir, dest)
        .map_err(|e| BackupError::io("giving the backup its name", dest, e))?;
    staging.keep = true;
    durable::sync_dir(&parent).map_err(|e| BackupError::io("syncing the directory", &parent, e))?;
    tracing::info!(
        backup = %dest.display(),
        audit_entries = report.audit.tree_head.size,
        attachments = report.attachments,
        "backup complete"
    );
    Ok(report)
}

/// Everything but the manifest, into `dir`.
async fn write_backup(source: &Source, dir: &Path, started_at_ms: i64) -> Result<BackupReport, BackupError> {
    // The keys first: a data directory without them cannot be restored, so
    // find that out before copying anything large.
    let key_path = dir.join(LOG_KEY_FILE);
    let log_key = read_required(
        &source.log_key,
        "the audit log key",
        "give the server's --audit-log-key (or --data-dir) as `curbside serve` was started with",
    )?;
    write_file(&key_path, &log_key)?;
    let log_key = LogKey::load_or_create_at(key_path).map_err(|_| {
        FileError::new(
            &source.log_key,
            FileProblem::Invalid("it is not an Ed25519 PKCS#8 key".into()),
            "The server cannot be signing with it: check that --audit-log-key names the key the \
             server uses, or restore the key from an earlier backup",
        )
    })?;
    let tls = dir.join("tls");
    durable::create_dir_all(&tls).map_err(|e| BackupError::io("creating", &tls, e))?;
    let remedy = "give the server's --tls-cert and --tls-key (or --data-dir) as `curbside serve` was \
                  started with; a server creates its default certificate when it first starts";
    let cert = read_required(&source.tls_cert, "the TLS certificate", remedy)?;
    let key = read_required(&source.tls_key, "the TLS key", remedy)?;
    write_file(&tls.join("cert.pem"), &cert)?;
    write_file(&tls.join("key.pem"), &key)?;

    let copy = dir.join(DATABASE_FILE);
    copy_database(&source.url, &copy).await?;
    let finished_at_ms = now_ms();
    let database_bytes = std::fs::metadata(&copy)
        .map_err(|e| BackupError::io("reading", &copy, e))?
        .len();

    let mut conn = SqliteConnectOptions::new()
        .filename(&copy)
        .create_if_missing(false)
        .disable_statement_logging()
        .connect()
        .await
        .map_err(BackupError::db("opening the copied database"))?;
    let checked = check_copy(&mut conn, &source.attachments, &dir.join(ATTACHMENTS_DIR)).await;
    let closed = conn
        .close()
        .await
        .map_err(BackupError::db("closing the copied database"));
    let (tree, blobs) = checked?;
    closed?;

    let head = log_key.sign(tree.size(), tree.root(), now_ms());
    let audit = TreeHeadResponse {
        tree_head: head,
        log_key: Base64(log_key.public_key()),
    };
    write_json(
        &dir.join(WITNESS_FILE),
        &Witness {
            log_key: &audit.log_key,
            last_head: &audit.tree_head,
        },
    )?;
    Ok(BackupReport {
        dir: dir.to_path_buf(),
        started_at_ms,
        finished_at_ms,
        source_database: source.database.clone(),
        database_bytes,
        audit,
        attachments: blobs.copied,
        attachment_bytes: blobs.bytes,
        attachments_expired: blobs.expired,
        attachments_missing: blobs.missing,
        notes: source.notes.clone(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn postgres_is_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            database_url: Some("postgres://curbside:secret@db/curbside".into()),
            ..Config::default()
        };
        let e = backup(&config, &dir.path().join("b")).await.unwrap_err();
        assert!(matches!(e, BackupError::Postgres));
        let text = e.to_string();
        assert!(
            text.contains("pg_dump") && text.contains("Backups and restore"),
            "{text}"
        );
        assert!(!text.contains("secret"), "no credentials in the message");
        assert!(!dir.path().join("b").exists());
    }

    #[tokio::test]
    async fn a_missing_database_and_an_occupied_destination_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        let e = backup(&config, &dir.path().join("b")).await.unwrap_err();
        assert!(matches!(e, BackupError::NoDatabase(_)), "{e}");
        std::fs::create_dir_all(&config.data_dir).unwrap();
        std::fs::write(config.data_dir.join(DATABASE_FILE), b"").unwrap();
        let occupied = dir.path().join("occupied");
        std::fs::create_dir_all(&occupied).unwrap();
        std::fs::write(occupied.join("x"), b"x").unwrap();
        let e = backup(&config, &occupied).await.unwrap_err();
        assert!(matches!(e, BackupError::DestinationExists(_)), "{e}");
        // No key: refused, and nothing is left behind.
        let e = backup(&config, &dir.path().join("b")).await.unwrap_err();
        assert!(matches!(e, BackupError::Missing { .. }), "{e}");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 2, "{left:?}");
    }
}
