//! ChaCha20-Poly1305 (RFC 8439) and XChaCha20-Poly1305 with combined
//! ciphertext ‖ tag output.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, XChaCha20Poly1305};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Key length of both AEADs.
pub const KEY_LEN: usize = 32;
/// Nonce length of ChaCha20-Poly1305.
pub const NONCE_LEN: usize = 12;
/// Nonce length of XChaCha20-Poly1305.
pub const XNONCE_LEN: usize = 24;
/// Authentication tag length.
pub const TAG_LEN: usize = 16;

/// A 256-bit AEAD key. Zeroized on drop; never printed.
#[derive(Clone)]
pub struct AeadKey(Zeroizing<[u8; KEY_LEN]>);

impl AeadKey {
    /// Wraps key bytes.
    #[must_use]
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// Wraps key bytes given as a slice of exactly [`KEY_LEN`] bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        let arr: [u8; KEY_LEN] = bytes.try_into().map_err(|_| Error::InvalidKey)?;
        Ok(Self::from_bytes(arr))
    }

    pub(crate) fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl core::fmt::Debug for AeadKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("AeadKey([redacted])")
    }
}

/// ChaCha20-Poly1305 encryption; returns ciphertext ‖ tag.
pub fn seal(key: &AeadKey, nonce: &[u8; NONCE_LEN], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    ChaCha20Poly1305::new(key.as_bytes().into())
        .encrypt(nonce.into(), Payload { msg: plaintext, aad })
        .map_err(|_| Error::InvalidLength)
}

/// ChaCha20-Poly1305 decryption of ciphertext ‖ tag. The plaintext is
/// released only if the tag verifies.
pub fn open(key: &AeadKey, nonce: &[u8; NONCE_LEN], aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
    ChaCha20Poly1305::new(key.as_bytes().into())
        .decrypt(nonce.into(), Payload { msg: sealed, aad })
        .map_err(|_| Error::DecryptionFailed)
}

/// XChaCha20-Poly1305 encryption (192-bit nonce, safe to draw at random).
pub fn seal_x(key: &AeadKey, nonce: &[u8; XNONCE_LEN], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    XChaCha20Poly1305::new(key.as_bytes().into())
        .encrypt(nonce.into(), Payload { msg: plaintext, aad })
        .map_err(|_| Error::InvalidLength)
}

/// XChaCha20-Poly1305 decryption of ciphertext ‖ tag.
pub fn open_x(key: &AeadKey, nonce: &[u8; XNONCE_LEN], aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
    XChaCha20Poly1305::new(key.as_bytes().into())
        .decrypt(nonce.into(), Payload { msg: sealed, aad })
        .map_err(|_| Error::DecryptionFailed)
}
