//! The audit log's server side: the Ed25519 log key that signs tree heads,
//! and [`Event`], an entry before the log gives it a sequence number.
//!
//! Entries are appended by the [`crate::store::Store`] inside the same
//! database transaction as the action they record (see `store/audit.rs`).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use curbside_protocol::audit::{
    tree_head_message, Action, AuditEntry, Details, HexHash, Outcome, SignedTreeHead,
};
use curbside_protocol::error::ErrorCode;
use curbside_protocol::http::Role;
use curbside_protocol::ids::{Address, AttachmentId, DeviceId, MessageId, ReferralId, UserId};
use curbside_protocol::merkle::Hash;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use zeroize::Zeroizing;

use crate::durable::{self, FileError, FileProblem};
use crate::error::ServerError;

/// The file, in the data directory, that holds the log key (PKCS#8, mode 0600).
pub const LOG_KEY_FILE: &str = "audit-log-key.pk8";

/// The server's Ed25519 audit log key. Only the public half is ever shown.
pub struct LogKey {
    pair: Ed25519KeyPair,
    path: PathBuf,
}

impl core::fmt::Debug for LogKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LogKey")
            .field("public", &self.public_key_base64())
            .field("path", &self.path)
            .finish()
    }
}

impl LogKey {
    /// Loads the key from the data directory, creating it on first start.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, ServerError> {
        Self::load_or_create_at(data_dir.join(LOG_KEY_FILE))
    }

    /// Loads the key at `path`, creating it if absent (several nodes point
    /// this at one shared key file: setting `audit_log_key`).
    ///
    /// The key is never replaced: a file that exists but is empty,
    /// unreadable or not an Ed25519 PKCS#8 key stops the start with a
    /// [`FileError`] naming it and telling the operator to restore it from
    /// backup. A new key would sign tree heads that every compliance
    /// officer's pinned key rejects, and the heads signed so far (which
    /// officers keep as evidence) would no longer verify against the key the
    /// server publishes. A new key is created durably (temporary file,
    /// fsync, link into place, directory fsync) and only where no file
    /// exists: two nodes starting at once end up with the same key.
    pub fn load_or_create_at(path: PathBuf) -> Result<Self, ServerError> {
        let pkcs8 = match durable::read(&path) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => create(&path)?,
            Err(problem) => return Err(FileError::new(&path, problem, RESTORE_LOG_KEY).into()),
        };
        let pair = Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| {
            FileError::new(
                &path,
                FileProblem::Invalid("it is not an Ed25519 PKCS#8 key".into()),
                RESTORE_LOG_KEY,
            )
        })?;
        Ok(Self { pair, path })
    }

    /// The 32-byte public key.
    #[must_use]
    pub fn public_key(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }

    /// The public key, base64 (as `curbside serve` prints it).
    #[must_use]
    pub fn public_key_base64(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(self.public_key())
    }

    /// Signs a tree head.
    #[must_use]
    pub fn sign(&self, size: u64, root: Hash, timestamp_ms: i64) -> SignedTreeHead {
        let signature = self.pair.sign(&tree_head_message(size, timestamp_ms, &root));
        SignedTreeHead {
            size,
            timestamp_ms,
            root: HexHash(root),
            signature: signature.as_ref().to_vec().into(),
        }
    }
}

/// What to do about a log key file that cannot be used.
const RESTORE_LOG_KEY: &str = "Restore the audit log key from your backup (or, if it only cannot \
     be read, give the user the server runs as read access to it) and start again. \
     The server will not create a new key in its place: tree heads signed so far (which \
     compliance officers keep as evidence) would no longer verify against the key the server \
     publishes, and every officer's pinned key would reject the new heads. Only if no backup \
     exists: move the file aside (the server then creates a new key and prints its public key) \
     and give every compliance officer the new public key out of band (SECURITY.md, Durability)";

/// Creates a new log key at `path`, or reads the one another node created
/// there a moment earlier.
fn create(path: &Path) -> Result<Zeroizing<Vec<u8>>, ServerError> {
    let rng = ring::rand::SystemRandom::new();
    let doc = Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| ServerError::Config("could not generate the audit log key".into()))?;
    let bytes = Zeroizing::new(doc.as_ref().to_vec());
    match durable::write_new(path, &bytes) {
        Ok(()) => {
            tracing::info!(path = %path.display(), "audit log key created");
            Ok(bytes)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => match durable::read(path) {
            Ok(Some(theirs)) => Ok(theirs),
            Ok(None) => Err(FileError::new(
                path,
                FileProblem::Invalid(
                    "another process created and removed it while the server was creating it".into(),
                ),
                "Start again",
            )
            .into()),
            Err(problem) => Err(FileError::new(path, problem, RESTORE_LOG_KEY).into()),
        },
        Err(e) => Err(FileError::new(
            path,
            FileProblem::Unwritable(e),
            "Check that its directory exists, is writable by the server and has free space",
        )
        .into()),
    }
}

/// Who acts, and from where.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Actor {
    /// The user (none for the server itself or an unauthenticated caller).
    pub user: Option<UserId>,
    /// The device.
    pub device: Option<DeviceId>,
    /// The role acted in.
    pub role: Option<Role>,
    /// The caller's IP address.
    pub source: Option<String>,
}

impl Actor {
    /// The server itself (expiry sweeps).
    #[must_use]
    pub fn server() -> Self {
        Self::default()
    }

    /// An unauthenticated caller.
    #[must_use]
    pub fn anonymous(source: Option<IpAddr>) -> Self {
        Self {
            source: source.map(|ip| ip.to_string()),
            ..Self::default()
        }
    }

    /// An authenticated device acting in `role`.
    #[must_use]
    pub fn device(address: &Address, role: Option<Role>, source: Option<IpAddr>) -> Self {
        Self {
            user: Some(address.user_id.clone()),
            device: Some(address.device_id),
            role,
            source: source.map(|ip| ip.to_string()),
        }
    }

    /// The role a user with `roles` acts in when the action needs none:
    /// clinician if they are one, else their first role.
    #[must_use]
    pub fn usual_role(roles: &[Role]) -> Option<Role> {
        if roles.contains(&Role::Clinician) {
            Some(Role::Clinician)
        } else {
            roles.first().copied()
        }
    }
}

/// An audit entry before the log assigns its sequence number and time.
#[derive(Clone, Debug)]
pub struct Event {
    actor: Actor,
    action: Action,
    counterpart_user: Option<UserId>,
    counterpart_device: Option<DeviceId>,
    message_id: Option<MessageId>,
    referral_id: Option<String>,
    attachment_id: Option<String>,
    outcome: Outcome,
    reason: Option<String>,
    details: Details,
}

impl Event {
    /// A successful `action` by `actor`.
    #[must_use]
    pub fn new(actor: &Actor, action: Action) -> Self {
        Self {
            actor: actor.clone(),
            action,
            counterpart_user: None,
            counterpart_device: None,
            message_id: None,
            referral_id: None,
            attachment_id: None,
            outcome: Outcome::Success,
            reason: None,
            details: Details::default(),
        }
    }

    /// The other user (and device) concerned.
    #[must_use]
    pub fn counterpart(mut self, user: &UserId, device: Option<DeviceId>) -> Self {
        self.counterpart_user = Some(user.clone());
        self.counterpart_device = device;
        self
    }

    /// The message concerned.
    #[must_use]
    pub fn message(mut self, id: &MessageId) -> Self {
        self.message_id = Some(id.clone());
        self
    }

    /// The referral concerned.
    #[must_use]
    pub fn referral(mut self, id: &ReferralId) -> Self {
        self.referral_id = Some(id.as_str().to_owned());
        self
    }

    /// The attachment concerned.
    #[must_use]
    pub fn attachment(mut self, id: &AttachmentId) -> Self {
        self.attachment_id = Some(id.as_str().to_owned());
        self
    }

    /// Marks the action refused or failed, with the error code.
    #[must_use]
    pub fn failed(mut self, code: ErrorCode) -> Self {
        self.outcome = Outcome::Failure;
        self.reason = Some(code.as_str().to_owned());
        self
    }

    /// Sets the details.
    #[must_use]
    pub fn details(mut self, details: Details) -> Self {
        self.details = details;
        self
    }

    /// The action.
    #[must_use]
    pub fn action(&self) -> Action {
        self.action
    }

    pub(crate) fn into_entry(self, seq: u64, time_ms: i64) -> AuditEntry {
        AuditEntry {
            seq,
            time_ms,
            actor_user: self.actor.user,
            actor_device: self.actor.device,
            actor_role: self.actor.role,
            action: self.action,
            counterpart_user: self.counterpart_user,
            counterpart_device: self.counterpart_device,
            message_id: self.message_id,
            referral_id: self.referral_id,
            attachment_id: self.attachment_id,
            source: self.actor.source,
            outcome: self.outcome,
            reason: self.reason,
            details: self.details,
        }
    }
}

/// SHA-256 of bytes, hex (ciphertext digests and key fingerprints).
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes))
}
