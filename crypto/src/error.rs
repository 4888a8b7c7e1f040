//! The one error type of `curbside-crypto`.
//!
//! Every parse, key agreement and decryption returns one of these instead of
//! panicking. Variants carry no secret material, so they are safe to log.

/// Why a byte string could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before a complete value was read.
    #[error("input ended early")]
    UnexpectedEnd,
    /// Bytes were left over after a complete value.
    #[error("trailing bytes after a complete value")]
    TrailingBytes,
    /// A type or flag byte had a value this version does not define.
    #[error("invalid tag byte {0:#04x}")]
    InvalidTag(u8),
    /// A length or count was above its documented maximum.
    #[error("length or count above its limit")]
    TooLong,
    /// A field held a value outside its valid range.
    #[error("field value out of range")]
    OutOfRange,
}

/// Errors from every operation of `curbside-crypto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bytes could not be decoded into the expected structure.
    #[error("malformed encoding: {0}")]
    Decode(#[from] DecodeError),
    /// A serialized value carries a format version this build does not know.
    #[error("unsupported format version {0}")]
    UnsupportedVersion(u8),
    /// A key had the wrong length or was otherwise unusable.
    #[error("invalid key")]
    InvalidKey,
    /// An X25519 agreement produced the all-zero output (a low-order public key).
    #[error("key agreement was non-contributory (low-order public key)")]
    NonContributory,
    /// An Ed25519 signature did not verify.
    #[error("signature verification failed")]
    BadSignature,
    /// Authenticated decryption failed: wrong key, tampered data or wrong associated data.
    #[error("decryption failed")]
    DecryptionFailed,
    /// The message's key was already used (a replay) or discarded.
    #[error("message is a duplicate or its key was discarded")]
    DuplicateMessage,
    /// The message would require skipping more message keys than allowed.
    #[error("message skips {requested} keys, more than the limit of {limit}")]
    TooManySkipped {
        /// How many keys the message would skip.
        requested: u64,
        /// The limit ([`crate::ratchet::MAX_SKIP`]).
        limit: u32,
    },
    /// A chain reached its maximum message count; a new session is needed.
    #[error("message counter exhausted")]
    CounterExhausted,
    /// The prekey message names a signed prekey other than the one supplied.
    #[error("signed prekey {0} does not match the message")]
    SignedPreKeyMismatch(u32),
    /// The prekey message names a one-time prekey other than the one supplied (or none).
    #[error("one-time prekey does not match the message")]
    OneTimePreKeyMismatch,
    /// An HKDF output length was zero or above 255 × 32 bytes.
    #[error("invalid output length")]
    InvalidLength,
    /// An encrypted attachment ended before its final chunk.
    #[error("attachment is truncated")]
    Truncated,
    /// An attachment's ciphertext does not match the digest sent with its key.
    #[error("attachment digest mismatch")]
    DigestMismatch,
    /// Argon2 parameters outside the accepted bounds.
    #[error("invalid key-derivation parameters")]
    InvalidKdfParams,
    /// A sealed local-store blob did not open: wrong passphrase, wrong context, or corrupt bytes.
    #[error("wrong passphrase or corrupt data")]
    WrongPassphraseOrCorrupt,
    /// The sealed blob was made with another salt or other parameters than this key.
    #[error("sealed data belongs to a different store key")]
    StoreKeyMismatch,
    /// The operating system's random generator failed.
    #[error("random number generator failure")]
    Rng,
}

/// Result alias for this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;
