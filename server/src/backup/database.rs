//! The database copy: `VACUUM INTO` from a read-only connection to the live
//! database, then the checks on the copy (SQLite's integrity check, the
//! audit log's tree) and the copy of the attachment blobs its rows refer
//! to, dropping the rows of those that expired meanwhile.

use std::path::Path;
use std::str::FromStr as _;
use std::time::Duration;

use curbside_protocol::merkle::CompactRange;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions as _, Connection as _, Row as _};

use super::files::{copy_blobs, Blobs};
use super::{BackupError, ATTACHMENTS_DIR};

/// `VACUUM INTO` from a read-only connection to the live database.
pub(super) async fn copy_database(url: &str, copy: &Path) -> Result<(), BackupError> {
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

/// Checks the copy's integrity, reads its audit tree, copies the blobs its
/// rows refer to (dropping the rows of blobs that expired meanwhile).
pub(super) async fn check_copy(
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
