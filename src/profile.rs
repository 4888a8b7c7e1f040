//! The clinician's local profile: the device account, sealed at rest with a
//! key derived from the passphrase (Argon2id, then XChaCha20-Poly1305; see
//! SECURITY.md). Written atomically (temporary file, then rename), so a
//! crash never leaves a half-written profile, and never overwritten when it
//! cannot be opened.

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

/// An opened profile: where it lives and the key that seals it. The account
/// itself is handed out separately, so it can move into a `Client`.
pub(crate) struct Profile {
    dir: PathBuf,
    key: StoreKey,
}

/// The passphrase from `CURBSIDE_PASSPHRASE`, or asked for on the terminal.
fn passphrase(prompt: &str, confirm: bool) -> anyhow::Result<zeroize::Zeroizing<String>> {
    if let Ok(p) = std::env::var("CURBSIDE_PASSPHRASE") {
        return Ok(zeroize::Zeroizing::new(p));
    }
    let first =
        zeroize::Zeroizing::new(rpassword::prompt_password(prompt).context("reading the passphrase")?);
    if confirm {
        let again = zeroize::Zeroizing::new(
            rpassword::prompt_password("Repeat the passphrase: ").context("reading the passphrase")?,
        );
        if *first != *again {
            bail!("the passphrases differ");
        }
    }
    if first.len() < 8 {
        bail!("use a passphrase of at least 8 characters");
    }
    Ok(first)
}

impl Profile {
    /// Creates a new profile directory for a freshly enrolled account.
    pub(crate) fn create(dir: &Path, account: &Account) -> anyhow::Result<Self> {
        if dir.join(FILE).exists() {
            bail!(
                "{} already holds a profile; choose another --profile",
                dir.display()
            );
        }
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let pass = passphrase("Choose a passphrase for this device's profile: ", true)?;
        let key = StoreKey::create(pass.as_bytes(), KdfParams::RECOMMENDED, &mut OsRng)?;
        let profile = Self {
            dir: dir.to_path_buf(),
            key,
        };
        profile.save(account)?;
        Ok(profile)
    }

    /// Opens an existing profile (asks for the passphrase once).
    pub(crate) fn open(dir: &Path) -> anyhow::Result<(Self, Account)> {
        let path = dir.join(FILE);
        let sealed = std::fs::read(&path)
            .with_context(|| format!("no profile at {} (run `curbside enroll` first)", path.display()))?;
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
            },
            account,
        ))
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
        })
    }
}
