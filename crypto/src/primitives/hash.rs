//! SHA-256, HMAC-SHA256 and HKDF-SHA256 (RFC 5869), all from `ring`.

use ring::{digest, hkdf, hmac};

use crate::error::{Error, Result};

/// Output length of SHA-256 and HMAC-SHA256.
pub const DIGEST_LEN: usize = 32;
/// The largest HKDF-SHA256 output: 255 × 32 bytes.
pub const HKDF_MAX_OUTPUT: usize = 255 * DIGEST_LEN;

/// SHA-256 of `data`.
#[must_use]
pub fn sha256(data: &[u8]) -> [u8; DIGEST_LEN] {
    let mut out = [0u8; DIGEST_LEN];
    out.copy_from_slice(digest::digest(&digest::SHA256, data).as_ref());
    out
}

/// Incremental SHA-256.
#[derive(Clone)]
pub struct Sha256(digest::Context);

impl Sha256 {
    /// A fresh hasher.
    #[must_use]
    pub fn new() -> Self {
        Self(digest::Context::new(&digest::SHA256))
    }

    /// Absorbs `data`.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The digest of everything absorbed.
    #[must_use]
    pub fn finish(self) -> [u8; DIGEST_LEN] {
        let mut out = [0u8; DIGEST_LEN];
        out.copy_from_slice(self.0.finish().as_ref());
        out
    }
}

impl Default for Sha256 {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Sha256")
    }
}

/// HMAC-SHA256(key, data).
#[must_use]
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; DIGEST_LEN] {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut out = [0u8; DIGEST_LEN];
    out.copy_from_slice(hmac::sign(&key, data).as_ref());
    out
}

/// Verifies a full 32-byte HMAC-SHA256 tag in constant time.
pub fn hmac_sha256_verify(key: &[u8], data: &[u8], tag: &[u8]) -> Result<()> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    hmac::verify(&key, data, tag).map_err(|_| Error::BadSignature)
}

struct OutputLen(usize);

impl hkdf::KeyType for OutputLen {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-SHA256: extract with `salt` (an empty salt means 32 zero bytes),
/// then expand `info` into `out`. `out` must hold 1 to 8160 bytes.
pub fn hkdf_sha256(salt: &[u8], ikm: &[u8], info: &[u8], out: &mut [u8]) -> Result<()> {
    if out.is_empty() || out.len() > HKDF_MAX_OUTPUT {
        return Err(Error::InvalidLength);
    }
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(ikm);
    let info = [info];
    let okm = prk
        .expand(&info, OutputLen(out.len()))
        .map_err(|_| Error::InvalidLength)?;
    okm.fill(out).map_err(|_| Error::InvalidLength)
}
