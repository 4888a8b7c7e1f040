//! The files of a backup: copying the attachment blobs, reading the files
//! that must be copied (the keys), writing new files and fsyncing them, and
//! fsyncing the whole tree before it gets its name.

use std::path::Path;

use serde::Serialize;

use super::BackupError;
use crate::durable::{self, FileError};
use crate::store::now_ms;

/// What happened to the copy's attachment blobs.
#[derive(Default)]
pub(super) struct Blobs {
    pub(super) copied: u64,
    pub(super) bytes: u64,
    pub(super) expired: u64,
    pub(super) missing: Vec<String>,
}

/// Copies each wanted blob; returns the ids of those that expired (and were
/// deleted) since the database was copied.
pub(super) fn copy_blobs(
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
pub(super) fn read_required(
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

/// Writes a new file (0600) and fsyncs it (its directory is fsynced by [`sync_tree`]).
pub(super) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    durable::create_synced(path, bytes).map_err(|e| BackupError::io("writing", path, e))
}

/// Writes `value` as pretty JSON into a new file (see [`write_file`]).
pub(super) fn write_json(path: &Path, value: &impl Serialize) -> Result<(), BackupError> {
    let mut bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| BackupError::io("encoding", path, std::io::Error::other(e)))?;
    bytes.push(b'\n');
    write_file(path, &bytes)
}

/// Makes every file and directory under `dir` (and `dir` itself) private
/// to the user (0600 files, 0700 directories: what SQLite's `VACUUM INTO`
/// and copied blobs were created with is the umask's) and fsyncs it, so
/// that the whole backup is on disk, and readable by nobody else, before
/// it gets its name.
pub(super) fn sync_tree(dir: &Path) -> Result<(), BackupError> {
    durable::restrict(dir).map_err(|e| BackupError::io("making private", dir, e))?;
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
            durable::restrict(&path).map_err(|e| BackupError::io("making private", &path, e))?;
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
}
