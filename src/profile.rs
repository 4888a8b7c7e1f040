//! The clinician's local profile: the device account, sealed at rest with a
//! key derived from the passphrase (Argon2id, then XChaCha20-Poly1305; see
//! SECURITY.md). Written atomically (temporary file, then rename), so a
//! crash never leaves a half-written profile, and never overwritten when it
//! cannot be opened.
//!
//! One process at a time: an opened profile holds an exclusive lock on
//! `profile.lock` (with its process id in it) until the process ends, so a
//! `curbside send` while `curbside chat` runs on the same profile is refused
//! with "in use by process N" instead of one of them overwriting the
//! other's history.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use curbside_client::local::LocalState;
use curbside_client::Account;
use curbside_crypto::local_store::{KdfParams, StoreKey};
use rand_core::OsRng;

const CONTEXT: &[u8] = b"curbside profile v1";
const FILE: &str = "profile.sealed";
const STATE_CONTEXT: &[u8] = b"curbside local state v1";
const STATE_FILE: &str = "state.sealed";
const LOCK_FILE: &str = "profile.lock";

/// An opened profile: where it lives and the key that seals it. The account
/// itself is handed out separately, so it can move into a `Client`.
pub(crate) struct Profile {
    dir: PathBuf,
    key: StoreKey,
    /// Held (locked) for as long as the profile is open.
    _lock: Option<std::fs::File>,
}

/// Takes the profile's lock, or says which process holds it.
fn lock(dir: &Path) -> anyhow::Result<std::fs::File> {
    use std::io::{Read as _, Seek as _, Write as _};
    let path = dir.join(LOCK_FILE);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let by = if holder.is_empty() {
                "another process".to_owned()
            } else {
                format!("process {holder}")
            };
            bail!(
                "the profile {} is in use by {by} (a `curbside chat`?): close it, or wait for it to finish, and run this again",
                dir.display()
            );
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking {}", path.display()));
        }
    }
    // Best effort: who holds it, for the next one's message.
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = write!(file, "{}", std::process::id());
    let _ = file.flush();
    Ok(file)
}

/// The passphrase from `CURBSIDE_PASSPHRASE`, or asked for on the terminal.
fn passphrase(prompt: &str, confirm: bool) -> anyhow::Result<zeroize::Zeroizing<String>> {
    let first = match std::env::var("CURBSIDE_PASSPHRASE") {
        Ok(p) => zeroize::Zeroizing::new(p),
        Err(_) => {
            let first = zeroize::Zeroizing::new(
                rpassword::prompt_password(prompt).context("reading the passphrase from the terminal")?,
            );
            if confirm {
                let again = zeroize::Zeroizing::new(
                    rpassword::prompt_password("Repeat the passphrase: ")
                        .context("reading the passphrase from the terminal")?,
                );
                if *first != *again {
                    bail!("the passphrases differ: run this again (nothing was sent to the server)");
                }
            }
            first
        }
    };
    // A new passphrase, typed or from the environment, is long enough; an
    // existing profile opens with the one it was sealed with.
    if confirm && first.len() < 8 {
        bail!("use a passphrase of at least 8 characters (nothing was sent to the server)");
    }
    Ok(first)
}

impl Profile {
    /// Prepares a new profile directory, before enrolling: checks that it
    /// holds no profile yet, takes its lock, and asks for (and confirms) the
    /// passphrase, so that nothing the user can get wrong is left for after
    /// the server has created the account. [`Profile::save`] writes it.
    pub(crate) fn prepare(dir: &Path) -> anyhow::Result<Self> {
        if dir.join(FILE).exists() {
            bail!(
                "{} already holds a profile; choose another --profile",
                dir.display()
            );
        }
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let lock = lock(dir)?;
        if dir.join(FILE).exists() {
            bail!(
                "{} already holds a profile; choose another --profile",
                dir.display()
            );
        }
        let pass = passphrase("Choose a passphrase for this device's profile: ", true)?;
        let key = StoreKey::create(pass.as_bytes(), KdfParams::RECOMMENDED, &mut OsRng)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            key,
            _lock: Some(lock),
        })
    }

    /// Opens an existing profile (asks for the passphrase once).
    pub(crate) fn open(dir: &Path) -> anyhow::Result<(Self, Account)> {
        let path = dir.join(FILE);
        let sealed = std::fs::read(&path)
            .with_context(|| format!("no profile at {} (run `curbside enroll` first)", path.display()))?;
        let lock = lock(dir)?;
        let pass = passphrase("Passphrase: ", false)?;
        let key = StoreKey::derive_for(pass.as_bytes(), &sealed).context("the profile file is corrupt")?;
        let plain = key
            .open(CONTEXT, &sealed)
            .context("wrong passphrase, or the profile file is corrupt")?;
        let account = Account::from_bytes(&plain).context("the profile contents are corrupt")?;
        Ok((
            Self {
                dir: dir.to_path_buf(),
                key,
                _lock: Some(lock),
            },
            account,
        ))
    }

    /// The profile's directory (as given with `--profile`).
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Seals and writes the profile atomically.
    pub(crate) fn save(&self, account: &Account) -> anyhow::Result<()> {
        let plain = account.to_bytes()?;
        let sealed = self.key.seal(CONTEXT, &plain, &mut OsRng)?;
        let path = self.dir.join(FILE);
        curbside_client::files::replace(&path, &sealed)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    /// The sealed local state (contacts, conversations, history); empty if
    /// there is none yet. A file that does not open is an error, never
    /// replaced.
    pub(crate) fn load_state(&self) -> anyhow::Result<LocalState> {
        let path = self.dir.join(STATE_FILE);
        let sealed = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LocalState::new()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let plain = zeroize::Zeroizing::new(
            self.key
                .open(STATE_CONTEXT, &sealed)
                .with_context(|| format!("{} is corrupt (left untouched)", path.display()))?,
        );
        let mut state = LocalState::from_bytes(&plain)
            .with_context(|| format!("{} is corrupt (left untouched)", path.display()))?;
        // Disappearing messages are enforced at every load, before anything is shown.
        if state.purge_expired(curbside_protocol::time::now_ms()) > 0 {
            self.save_state(&state)?;
        }
        Ok(state)
    }

    /// Seals and writes the local state atomically.
    pub(crate) fn save_state(&self, state: &LocalState) -> anyhow::Result<()> {
        let plain = zeroize::Zeroizing::new(state.to_bytes()?);
        let sealed = self.key.seal(STATE_CONTEXT, &plain, &mut OsRng)?;
        let path = self.dir.join(STATE_FILE);
        curbside_client::files::replace(&path, &sealed)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    /// Whether `passphrase` opens this profile (to unlock an idle session).
    pub(crate) fn passphrase_matches(&self, passphrase: &str) -> bool {
        let Ok(sealed) = std::fs::read(self.dir.join(FILE)) else {
            return false;
        };
        StoreKey::derive_for(passphrase.as_bytes(), &sealed)
            .and_then(|key| key.open(CONTEXT, &sealed))
            .is_ok()
    }

    /// A profile sealed with a fixed passphrase and test-only KDF parameters.
    #[cfg(test)]
    pub(crate) fn for_tests(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            key: StoreKey::create(b"test passphrase", KdfParams::INSECURE_FOR_TESTS, &mut OsRng)?,
            _lock: None,
        })
    }
}
