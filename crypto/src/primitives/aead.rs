//! ChaCha20-Poly1305 (RFC 8439) and XChaCha20-Poly1305 with combined
//! ciphertext ‖ tag output.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::XChaCha20Poly1305;
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

// ChaCha20-Poly1305 (the IETF construction of RFC 8439) comes from ring,
// whose assembly implementation is several times faster than the portable
// one (BENCHMARKS.md, attachments); XChaCha20-Poly1305, which ring does not
// have, from RustCrypto. The RFC 8439 vectors pin both to the standard.

fn ring_key(key: &AeadKey) -> Result<ring::aead::LessSafeKey> {
    ring::aead::UnboundKey::new(&ring::aead::CHACHA20_POLY1305, key.as_bytes())
        .map(ring::aead::LessSafeKey::new)
        .map_err(|_| Error::InvalidKey)
}

/// ChaCha20-Poly1305 encryption; returns ciphertext ‖ tag.
pub fn seal(key: &AeadKey, nonce: &[u8; NONCE_LEN], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(plaintext.len() + TAG_LEN);
    out.extend_from_slice(plaintext);
    ring_key(key)?
        .seal_in_place_append_tag(
            ring::aead::Nonce::assume_unique_for_key(*nonce),
            ring::aead::Aad::from(aad),
            &mut out,
        )
        .map_err(|_| Error::InvalidLength)?;
    Ok(out)
}

/// ChaCha20-Poly1305 decryption of ciphertext ‖ tag. The plaintext is
/// released only if the tag verifies (otherwise the buffer is wiped).
pub fn open(key: &AeadKey, nonce: &[u8; NONCE_LEN], aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
    if sealed.len() < TAG_LEN {
        return Err(Error::DecryptionFailed);
    }
    let mut buffer = Zeroizing::new(sealed.to_vec());
    let len = ring_key(key)?
        .open_in_place(
            ring::aead::Nonce::assume_unique_for_key(*nonce),
            ring::aead::Aad::from(aad),
            &mut buffer,
        )
        .map_err(|_| Error::DecryptionFailed)?
        .len();
    let mut plaintext = std::mem::take(&mut *buffer);
    plaintext.truncate(len);
    Ok(plaintext)
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
