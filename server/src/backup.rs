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

use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::time::Duration;

use curbside_protocol::audit::{SignedTreeHead, TreeHeadResponse};
use curbside_protocol::bytes::Base64;
use curbside_protocol::merkle::CompactRange;
use serde::Serialize;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions as _, Connection as _, Row as _};

use crate::audit::{LogKey, LOG_KEY_FILE};
use crate::config::Config;
use crate::durable::{self, FileError, FileProblem};
use crate::error::ServerError;
use crate::store::now_ms;

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

/// What a backup holds (also written into it as [`MANIFEST_FILE`]).
#[derive(Clone, Debug, Serialize)]
pub struct BackupReport {
    /// The backup directory.
    pub dir: PathBuf,
    /// When the backup began (ms since the epoch): everything the server
    /// acknowledged before this is in it.
    pub started_at_ms: i64,
    /// When the database copy was complete.
    pub finished_at_ms: i64,
    /// The database copied from.
    pub source_database: PathBuf,
    /// Size of the copied database, in bytes.
    pub database_bytes: u64,
    /// The copied audit log: its size and root, signed with the log key
    /// when the backup was made.
    pub audit: TreeHeadResponse,
    /// Attachment blobs copied.
    pub attachments: u64,
    /// Their bytes.
    pub attachment_bytes: u64,
    /// Attachments that expired while the backup ran (their blob was
    /// already deleted): left out, rows and all.
    pub attachments_expired: u64,
    /// Attachments whose row is in the database but whose blob is not on
    /// the server's disk (the server's data directory is damaged): the rows
    /// are kept, the blobs cannot be. Empty on a healthy server.
    pub attachments_missing: Vec<String>,
    /// What the operator must know to restore it (configured paths).
    pub notes: Vec<String>,
}

/// Where everything to be copied is.
struct Source {
    database: PathBuf,
    url: String,
    attachments: PathBuf,
    log_key: PathBuf,
    tls_cert: PathBuf,
    tls_key: PathBuf,
    notes: Vec<String>,
}

impl Source {
    fn of(config: &Config) -> Result<Self, BackupError> {
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
    std::fs::create_dir(&staging.dir)
        .map_err(|e| BackupError::io("creating the backup directory", &staging.dir, e))?;

    let mut report = write_backup(&source, &staging.dir, started_at_ms).await?;
    report.dir = dest.to_path_buf();
    write_json(&staging.dir.join(MANIFEST_FILE), &report, false)?;
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
    write_file(&key_path, &log_key, true)?;
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
    write_file(&tls.join("cert.pem"), &cert, false)?;
    write_file(&tls.join("key.pem"), &key, true)?;

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
        false,
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

/// The compliance officer's saved head (`curbside_client::audit::Witness`).
#[derive(Serialize)]
struct Witness<'a> {
    log_key: &'a Base64,
    last_head: &'a SignedTreeHead,
}

/// `VACUUM INTO` from a read-only connection to the live database.
async fn copy_database(url: &str, copy: &Path) -> Result<(), BackupError> {
    let target = copy
        .to_str()
        .ok_or_else(|| {
            BackupError::io(
                "naming the copy",
                copy,
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "the backup's path is not UTF-8; choose a destination whose path is",
                ),
            )
        })?
        .to_owned();
    let mut live = SqliteConnectOptions::from_str(url)
        .map_err(BackupError::db("reading the database URL"))?
        .read_only(true)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(30))
        .disable_statement_logging()
        .connect()
        .await
        .map_err(BackupError::db("opening the server's database"))?;
    let copied = sqlx::query("VACUUM INTO ?1")
        .bind(target)
        .execute(&mut live)
        .await
        .map_err(BackupError::db("copying the database"));
    let _ = live.close().await;
    copied.map(|_| ())
}

/// What happened to the copy's attachment blobs.
#[derive(Default)]
struct Blobs {
    copied: u64,
    bytes: u64,
    expired: u64,
    missing: Vec<String>,
}

/// Checks the copy's integrity, reads its audit tree, copies the blobs its
/// rows refer to (dropping the rows of blobs that expired meanwhile).
async fn check_copy(
    conn: &mut SqliteConnection,
    from: &Path,
    to: &Path,
) -> Result<(CompactRange, Blobs), BackupError> {
    let problems: Vec<String> = sqlx::query("PRAGMA integrity_check")
        .fetch_all(&mut *conn)
        .await
        .map_err(BackupError::db("checking the copied database"))?
        .iter()
        .filter_map(|r| r.try_get::<String, _>(0).ok())
        .filter(|line| line != "ok")
        .collect();
    if !problems.is_empty() {
        return Err(BackupError::Integrity(problems.join("; ")));
    }
    let head = sqlx::query("SELECT size, peaks FROM audit_head WHERE id = 1")
        .fetch_optional(&mut *conn)
        .await
        .map_err(BackupError::db("reading the copied audit log"))?
        .ok_or_else(|| BackupError::AuditHead("no audit_head row".into()))?;
    let size: i64 = head
        .try_get("size")
        .map_err(|e| BackupError::AuditHead(e.to_string()))?;
    let peaks: Vec<u8> = head
        .try_get("peaks")
        .map_err(|e| BackupError::AuditHead(e.to_string()))?;
    let size = u64::try_from(size).map_err(|_| BackupError::AuditHead(format!("size {size}")))?;
    let tree = CompactRange::from_bytes(size, &peaks).map_err(|e| BackupError::AuditHead(e.to_string()))?;

    let rows = sqlx::query("SELECT attachment_id, expires_at FROM attachments ORDER BY attachment_id")
        .fetch_all(&mut *conn)
        .await
        .map_err(BackupError::db("listing the copied attachments"))?;
    let mut wanted = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: String = row
            .try_get("attachment_id")
            .map_err(BackupError::db("listing the copied attachments"))?;
        let expires_at: i64 = row
            .try_get("expires_at")
            .map_err(BackupError::db("listing the copied attachments"))?;
        wanted.push((id, expires_at));
    }
    let (from, to) = (from.to_path_buf(), to.to_path_buf());
    let (blobs, gone) = tokio::task::spawn_blocking(move || copy_blobs(&from, &to, wanted))
        .await
        .map_err(|e| {
            BackupError::io(
                "copying attachments",
                Path::new(ATTACHMENTS_DIR),
                std::io::Error::other(e),
            )
        })??;
    for id in &gone {
        sqlx::query("DELETE FROM attachments WHERE attachment_id = ?1")
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(BackupError::db("dropping expired attachments from the copy"))?;
    }
    Ok((tree, blobs))
}

/// Copies each wanted blob; returns the ids of those that expired (and were
/// deleted) since the database was copied.
fn copy_blobs(
    from: &Path,
    to: &Path,
    wanted: Vec<(String, i64)>,
) -> Result<(Blobs, Vec<String>), BackupError> {
    let mut blobs = Blobs::default();
    let mut gone = Vec::new();
    if wanted.is_empty() {
        return Ok((blobs, gone));
    }
    durable::create_dir_all(to).map_err(|e| BackupError::io("creating", to, e))?;
    for (id, expires_at) in wanted {
        // Ids are 32 lowercase hex digits; anything else is not a file name
        // the server could have written.
        let valid = id.len() == 32
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !valid {
            blobs.missing.push(id);
            continue;
        }
        let source = from.join(&id);
        match std::fs::copy(&source, to.join(&id)) {
            Ok(bytes) => {
                blobs.copied += 1;
                blobs.bytes += bytes;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if expires_at <= now_ms() {
                    blobs.expired += 1;
                    gone.push(id);
                } else {
                    tracing::warn!(attachment = %id, "an attachment's blob is missing from the server's data directory; its row is kept in the backup");
                    blobs.missing.push(id);
                }
            }
            Err(e) => return Err(BackupError::io("copying the attachment blob", &source, e)),
        }
    }
    Ok((blobs, gone))
}

/// Reads a file that must exist and not be empty.
fn read_required(
    path: &Path,
    what: &'static str,
    remedy: &'static str,
) -> Result<zeroize::Zeroizing<Vec<u8>>, BackupError> {
    match durable::read(path) {
        Ok(Some(bytes)) => Ok(bytes),
        Ok(None) => Err(BackupError::Missing {
            what,
            path: path.to_path_buf(),
            remedy,
        }),
        Err(problem) => Err(FileError::new(
            path,
            problem,
            "The server cannot be using it as it is: restore it from an earlier backup, then back up again",
        )
        .into()),
    }
}

/// Writes a new file and fsyncs it (its directory is fsynced by [`sync_tree`]).
fn write_file(path: &Path, bytes: &[u8], private: bool) -> Result<(), BackupError> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    options
        .open(path)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()))
        .map_err(|e| BackupError::io("writing", path, e))
}

fn write_json(path: &Path, value: &impl Serialize, private: bool) -> Result<(), BackupError> {
    let mut bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| BackupError::io("encoding", path, std::io::Error::other(e)))?;
    bytes.push(b'\n');
    write_file(path, &bytes, private)
}

/// fsyncs every file and directory under `dir` (and `dir` itself), so that
/// the whole backup is on disk before it gets its name.
fn sync_tree(dir: &Path) -> Result<(), BackupError> {
    let entries = std::fs::read_dir(dir).map_err(|e| BackupError::io("listing", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| BackupError::io("listing", dir, e))?;
        let path = entry.path();
        let kind = entry
            .file_type()
            .map_err(|e| BackupError::io("reading", &path, e))?;
        if kind.is_dir() {
            sync_tree(&path)?;
        } else if kind.is_file() {
            std::fs::File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(|e| BackupError::io("syncing", &path, e))?;
        }
    }
    durable::sync_dir(dir).map_err(|e| BackupError::io("syncing", dir, e))
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

    #[test]
    fn blobs_that_expired_meanwhile_are_dropped_and_missing_ones_reported() {
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("from"), dir.path().join("to"));
        std::fs::create_dir_all(&from).unwrap();
        let [present, expired, lost] = ["0".repeat(32), "1".repeat(32), "2".repeat(32)];
        std::fs::write(from.join(&present), b"ciphertext").unwrap();
        std::fs::write(from.join("..."), b"not a blob").unwrap();
        let wanted = vec![
            (present.clone(), i64::MAX),
            (expired.clone(), 0),
            (lost.clone(), i64::MAX),
            ("../../etc/passwd".to_owned(), i64::MAX),
        ];
        let (blobs, gone) = copy_blobs(&from, &to, wanted).unwrap();
        assert_eq!((blobs.copied, blobs.bytes, blobs.expired), (1, 10, 1));
        assert_eq!(gone, [expired]);
        assert_eq!(blobs.missing, [lost, "../../etc/passwd".to_owned()]);
        assert_eq!(std::fs::read(to.join(&present)).unwrap(), b"ciphertext");
        assert_eq!(std::fs::read_dir(&to).unwrap().count(), 1);
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
