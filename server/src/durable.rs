//! Files that survive power loss.
//!
//! Every file the server creates in its data directory (the TLS certificate
//! and key, the audit log key, attachment blobs) is written here, the same
//! way: under a temporary name in the same directory, fsynced, given its
//! final name by a rename (or, for a file that must never replace another, a
//! hard link), and then the directory is fsynced so that the new name is on
//! disk too. After a power loss the final name therefore holds either
//! nothing (it was never persisted) or the whole file, never a prefix or
//! 0 bytes; what can be left behind is a temporary file, which start-up
//! removes ([`remove_temporaries`]). SECURITY.md, "Durability", describes
//! the whole picture.
//!
//! Temporary names are `.<final name>.tmp-<16 hex digits>`: hidden, in the
//! same directory (a rename across file systems is not atomic), and never a
//! valid final name of anything the server stores.
//!
//! Everything here is private to the user the server runs as, whatever the
//! umask: files are created with mode 0600 and directories with 0700, from
//! the first byte. What an older version left readable to others (a data
//! directory 0755, a database 0644) is tightened at start
//! ([`prepare_data_dir`], [`restrict`]). SECURITY.md, "Data at rest".

use std::ffi::OsString;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt as _;
use zeroize::Zeroizing;

/// A file the server needs that is empty, damaged, unreadable or cannot be
/// written: which file, what is wrong with it, and what the operator should do.
#[derive(Debug, thiserror::Error)]
#[error("{}: {problem}. {remedy}", path.display())]
pub struct FileError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub problem: FileProblem,
    /// What the operator should do about it.
    pub remedy: String,
}

/// What is wrong with a file (see [`FileError`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileProblem {
    /// It exists with 0 bytes: what a power loss leaves of a file whose
    /// content was not yet on disk.
    #[error(
        "the file is empty (0 bytes), as a power loss or a full disk leaves a file that was being written"
    )]
    Empty,
    /// Reading it failed (permissions, an I/O error, a directory in its place).
    #[error("cannot read it ({0})")]
    Unreadable(io::Error),
    /// Its content is not what it must be.
    #[error("{0}")]
    Invalid(String),
    /// Writing it (durably) failed.
    #[error("cannot write it ({0})")]
    Unwritable(io::Error),
}

impl FileError {
    /// A problem with `path`, and what to do about it.
    pub(crate) fn new(path: &Path, problem: FileProblem, remedy: impl Into<String>) -> Self {
        Self {
            path: path.to_path_buf(),
            problem,
            remedy: remedy.into(),
        }
    }
}

/// Reads a whole file the server created: `Ok(None)` if there is no such
/// file, [`FileProblem::Empty`] if it has 0 bytes. The bytes are zeroed
/// when dropped (keys are read through here).
pub(crate) fn read(path: &Path) -> Result<Option<Zeroizing<Vec<u8>>>, FileProblem> {
    match std::fs::read(path) {
        Ok(bytes) if bytes.is_empty() => Err(FileProblem::Empty),
        Ok(bytes) => Ok(Some(Zeroizing::new(bytes))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(FileProblem::Unreadable(e)),
    }
}

/// Replaces (or creates) `path` with `bytes` so that after a crash it holds
/// either its previous content or all of `bytes`. Mode 0600.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let temp = write_temp(path, bytes)?;
    if let Err(e) = std::fs::rename(&temp, path) {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    sync_dir(parent(path))
}

/// Like [`write_atomic`], but never replaces an existing file: fails with
/// [`io::ErrorKind::AlreadyExists`] if `path` exists (someone else, such as
/// another node sharing the file, created it first). The final name is
/// put in place with a hard link, which fails rather than replace; on a file
/// system without hard links it falls back to a rename after checking that
/// `path` is absent (a narrow race that only two nodes creating the same
/// file in the same instant could lose).
pub(crate) fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let temp = write_temp(path, bytes)?;
    let published = match std::fs::hard_link(&temp, path) {
        Ok(()) => {
            // Published; the temporary name is only a second link now.
            let _ = std::fs::remove_file(&temp);
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        Err(_) if path.symlink_metadata().is_err() => std::fs::rename(&temp, path),
        Err(_) => Err(io::ErrorKind::AlreadyExists.into()),
    };
    if let Err(e) = published {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    sync_dir(parent(path))
}

/// Creates `dir` and its missing parents (mode 0700), and fsyncs the
/// directory holding each new one, so that the directories survive a power
/// loss as well as the files later written into them. An existing
/// directory is left as it is (see [`prepare_data_dir`]).
pub(crate) fn create_dir_all(dir: &Path) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut next = Some(dir);
    while let Some(d) = next {
        if d.as_os_str().is_empty() || d.is_dir() {
            break;
        }
        missing.push(d);
        next = d.parent();
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)?;
    for created in missing.iter().rev() {
        sync_dir(parent(created))?;
    }
    Ok(())
}

/// Creates the one directory `dir` (mode 0700; its parent must exist, and
/// `dir` must not). Its entry is the caller's to make durable ([`sync_dir`]).
pub(crate) fn create_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// fsyncs a directory: the names created, renamed or removed in it reach
/// the disk. (On systems other than Unix this is a no-op: a directory cannot
/// be opened as a file there, and the file system orders metadata itself.)
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Whether `name` is one of this module's temporary names.
pub(crate) fn is_temporary(name: &str) -> bool {
    name.starts_with('.') && name.contains(".tmp-")
}

/// Removes the temporary files that an interrupted write left in `dir`
/// (only names of [`is_temporary`] form; nothing else is touched) and
/// returns how many. A missing directory has none.
pub(crate) fn remove_temporaries(dir: &Path) -> io::Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        if entry.file_name().to_str().is_some_and(is_temporary) && entry.file_type()?.is_file() {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// A file being written in pieces (an upload) under a temporary name.
/// Dropped before [`Staged::persist`], it removes itself, so an interrupted
/// or refused write leaves nothing behind.
#[derive(Debug)]
pub(crate) struct Staged {
    file: Option<tokio::fs::File>,
    temp: PathBuf,
    path: PathBuf,
}

impl Staged {
    /// Starts writing what will become `path` (mode 0600).
    pub(crate) async fn create(path: &Path) -> io::Result<Self> {
        let temp = temp_name(path);
        let file = tokio::fs::OpenOptions::from(private_new_file())
            .open(&temp)
            .await?;
        Ok(Self {
            file: Some(file),
            temp,
            path: path.to_path_buf(),
        })
    }

    /// Appends `bytes`.
    pub(crate) async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.file {
            Some(file) => file.write_all(bytes).await,
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// Makes the content durable and gives it its final name: fsync the
    /// file, rename it, fsync the directory. When this returns `Ok`, the file
    /// survives a power loss under its final name.
    pub(crate) async fn persist(mut self) -> io::Result<()> {
        let Some(mut file) = self.file.take() else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        file.flush().await?;
        file.sync_all().await?;
        drop(file);
        tokio::fs::rename(&self.temp, &self.path).await?;
        // From here the temporary name is gone: nothing for `drop` to remove.
        self.temp = PathBuf::new();
        let dir = parent(&self.path).to_path_buf();
        tokio::task::spawn_blocking(move || sync_dir(&dir))
            .await
            .map_err(io::Error::other)?
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.temp.as_os_str().is_empty() {
            drop(self.file.take());
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// The directory holding `path` (`.` for a bare file name).
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A fresh temporary name next to `path`.
fn temp_name(path: &Path) -> PathBuf {
    let random = crate::auth::random32();
    let suffix = hex::encode(random.get(..8).unwrap_or_default());
    let mut name = OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!(".tmp-{suffix}"));
    path.with_file_name(name)
}

/// Creates `path` (which must not exist) with `bytes` and fsyncs it; mode
/// 0600 from the first byte. Its directory entry is the caller's to make
/// durable ([`sync_dir`]).
pub(crate) fn create_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    private_new_file()
        .open(path)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()))
}

/// Options that create a new file (failing if it exists), readable and
/// writable by its owner only (0600) whatever the umask.
pub(crate) fn private_new_file() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options
}

/// Removes every permission of the group and of others from `path` (a file
/// 0644 becomes 0600, a directory 0755 becomes 0700); returns whether it
/// had any. A symbolic link is left alone (its target may be anyone's); a
/// missing path has nothing to remove. (Nothing on systems other than Unix.)
pub(crate) fn restrict(path: &Path) -> io::Result<bool> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let metadata = match path.symlink_metadata() {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        let mode = metadata.permissions().mode();
        if metadata.file_type().is_symlink() || mode & 0o077 == 0 {
            return Ok(false);
        }
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
        Ok(true)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(false)
    }
}

/// The files a data directory holds at its top level (besides temporaries):
/// the SQLite database and its companions, the audit log key, and what a
/// backup writes into the directory it makes.
const DATA_FILES: &[&str] = &[
    "curbside.db",
    "curbside.db-wal",
    "curbside.db-shm",
    "curbside.db-journal",
    crate::audit::LOG_KEY_FILE,
    "backup.json",
    "backup-audit-witness.json",
];

/// The folders of a data directory; every file in them is the server's.
const DATA_DIRS: &[&str] = &["tls", "attachments"];

/// Prepares the data directory at start: creates it (0700) if it is
/// missing, removes what interrupted writes left in it, and takes every
/// permission of the group and others away from it, its folders (`tls/`,
/// `attachments/`) and the files the server keeps there, so that a
/// directory an older version created 0755, with files 0644, is private
/// from now on (logged, with how many were tightened). Files the server
/// does not know at the top level are left alone: the directory may have
/// been pointed at a folder that holds other things.
pub(crate) fn prepare_data_dir(dir: &Path) -> io::Result<()> {
    create_dir_all(dir)?;
    remove_temporaries(dir)?;
    let mut tightened = usize::from(restrict(dir)?);
    for name in DATA_FILES {
        tightened += usize::from(restrict(&dir.join(name))?);
    }
    for name in DATA_DIRS {
        let sub = dir.join(name);
        if !sub.symlink_metadata().is_ok_and(|m| m.is_dir()) {
            continue;
        }
        tightened += usize::from(restrict(&sub)?);
        for entry in std::fs::read_dir(&sub)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                tightened += usize::from(restrict(&entry.path())?);
            }
        }
    }
    if tightened > 0 {
        tracing::warn!(
            dir = %dir.display(),
            tightened,
            "data directory permissions tightened: the directory, its folders and the server's files were readable by other users (as an older version created them); they are now the server's user's only (0700 directories, 0600 files)"
        );
    }
    Ok(())
}

/// Creates the file (0600) if it does not exist yet, and fsyncs nothing:
/// for a file another component fills (the SQLite database), so that it
/// is private before its first byte. Returns whether it was created.
pub(crate) fn create_private_empty(path: &Path) -> io::Result<bool> {
    match private_new_file().open(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// Writes `bytes` to a new temporary file next to `path` and fsyncs it;
/// returns its name (removed again if anything failed).
fn write_temp(path: &Path, bytes: &[u8]) -> io::Result<PathBuf> {
    let temp = temp_name(path);
    match create_synced(&temp, bytes) {
        Ok(()) => Ok(temp),
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn write_atomic_replaces_whole_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cert.pem");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert_eq!(names(dir.path()), ["cert.pem"]);
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn every_file_and_directory_is_private_whatever_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        write_atomic(&path, b"secret").unwrap();
        assert_eq!(mode(&path), 0o600);
        let new = dir.path().join("log.pk8");
        write_new(&new, b"secret").unwrap();
        assert_eq!(mode(&new), 0o600);
        let synced = dir.path().join("backup.json");
        create_synced(&synced, b"{}").unwrap();
        assert_eq!(mode(&synced), 0o600);
        let nested = dir.path().join("a").join("b");
        create_dir_all(&nested).unwrap();
        assert_eq!((mode(&dir.path().join("a")), mode(&nested)), (0o700, 0o700));
        let mut staged = Staged::create(&nested.join("0123")).await.unwrap();
        staged.write_all(b"x").await.unwrap();
        // The name it is published under is a rename of this file: same mode.
        assert_eq!(mode(&nested.join(&names(&nested)[0])), 0o600);
        drop(staged);
        let db = dir.path().join("curbside.db");
        assert!(create_private_empty(&db).unwrap());
        assert!(!create_private_empty(&db).unwrap(), "an existing file is kept");
        assert_eq!(mode(&db), 0o600);
    }

    #[cfg(unix)]
    #[test]
    fn an_old_data_directory_is_tightened_and_foreign_files_are_left_alone() {
        use std::os::unix::fs::PermissionsExt as _;
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("data");
        let open =
            |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
        for sub in ["tls", "attachments"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
            open(&dir.join(sub), 0o755);
        }
        open(&dir, 0o755);
        let ours = [
            dir.join("curbside.db"),
            dir.join("curbside.db-wal"),
            dir.join("audit-log-key.pk8"),
            dir.join("tls").join("cert.pem"),
            dir.join("attachments").join("0".repeat(32)),
        ];
        for file in &ours {
            std::fs::write(file, b"x").unwrap();
            open(file, 0o644);
        }
        let foreign = dir.join("notes.sh");
        std::fs::write(&foreign, b"x").unwrap();
        open(&foreign, 0o755);
        std::fs::write(dir.join(".curbside.db.tmp-0011223344556677"), b"x").unwrap();

        prepare_data_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(
            (mode(&dir.join("tls")), mode(&dir.join("attachments"))),
            (0o700, 0o700)
        );
        for file in &ours {
            assert_eq!(mode(file), 0o600, "{}", file.display());
        }
        assert_eq!(
            mode(&foreign),
            0o755,
            "a file the server does not know is not its to change"
        );
        assert!(!dir.join(".curbside.db.tmp-0011223344556677").exists());

        let fresh = parent.path().join("fresh").join("data");
        prepare_data_dir(&fresh).unwrap();
        assert_eq!((mode(fresh.parent().unwrap()), mode(&fresh)), (0o700, 0o700));
    }

    #[test]
    fn write_new_never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit-log-key.pk8");
        write_new(&path, b"first").unwrap();
        let e = write_new(&path, b"second").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        assert_eq!(names(dir.path()), ["audit-log-key.pk8"]);
    }

    #[test]
    fn read_tells_missing_from_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        assert!(read(&path).unwrap().is_none());
        std::fs::write(&path, b"").unwrap();
        assert!(matches!(read(&path), Err(FileProblem::Empty)));
        std::fs::write(&path, b"x").unwrap();
        assert_eq!(read(&path).unwrap().unwrap().as_slice(), b"x");
    }

    #[test]
    fn create_dir_all_creates_nested() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a").join("b");
        create_dir_all(&nested).unwrap();
        assert!(nested.is_dir());
        create_dir_all(&nested).unwrap();
    }

    #[tokio::test]
    async fn a_staged_file_is_persisted_whole_or_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0123");
        let mut staged = Staged::create(&path).await.unwrap();
        staged.write_all(b"abc").await.unwrap();
        assert_eq!(names(dir.path()).len(), 1);
        assert!(is_temporary(&names(dir.path())[0]));
        drop(staged);
        assert!(names(dir.path()).is_empty(), "dropped before persisting: removed");

        let mut staged = Staged::create(&path).await.unwrap();
        staged.write_all(b"abc").await.unwrap();
        staged.write_all(b"def").await.unwrap();
        staged.persist().await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"abcdef");
        assert_eq!(names(dir.path()), ["0123"]);
    }

    #[test]
    fn only_temporaries_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".cert.pem.tmp-0011223344556677"), b"x").unwrap();
        std::fs::write(dir.path().join("cert.pem"), b"x").unwrap();
        std::fs::write(dir.path().join(".hidden"), b"x").unwrap();
        assert_eq!(remove_temporaries(dir.path()).unwrap(), 1);
        assert_eq!(names(dir.path()), [".hidden", "cert.pem"]);
    }
}
