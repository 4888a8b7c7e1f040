//! Passphrase-based sealing for the client's local store.
//!
//! A 256-bit store key is derived from the user's passphrase with Argon2id
//! (RFC 9106) once per run; each file is then sealed with
//! XChaCha20-Poly1305 under a random 192-bit nonce:
//!
//! ```text
//! sealed = "CBLS" ‖ version(1)=1 ‖ m_cost_kib(u32) ‖ t_cost(u32) ‖ p_cost(u32) ‖ salt(16)
//!          ‖ nonce(24) ‖ XChaCha20-Poly1305(store key, nonce, AD = header (33 bytes) ‖ nonce (24) ‖ context, plaintext)
//! ```
//!
//! The default parameters are RFC 9106's second recommended option
//! (Argon2id, m = 64 MiB, t = 3, p = 4). The header records them, so a store
//! sealed with other parameters still opens; parameters read from disk are
//! bounded (m ≤ 2 GiB, t ≤ 64, p ≤ 64) so a corrupt file cannot demand
//! unbounded work. `context` names the file (for example `b"sessions"`), so
//! sealed files cannot be swapped for one another.

use argon2::{Algorithm, Argon2, Params, Version};
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::codec::{Reader, Writer};
use crate::error::{DecodeError, Error, Result};
use crate::labels;
use crate::primitives::aead::{self, AeadKey, XNONCE_LEN};

const VERSION: u8 = 1;
/// Salt length.
pub const SALT_LEN: usize = 16;
/// Header length (magic, version, parameters, salt).
pub const HEADER_LEN: usize = 4 + 1 + 12 + SALT_LEN;

/// Argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Passes.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl KdfParams {
    /// RFC 9106 §4, second recommended option: 64 MiB, 3 passes, 4 lanes.
    pub const RECOMMENDED: Self = Self {
        m_cost_kib: 64 * 1024,
        t_cost: 3,
        p_cost: 4,
    };

    /// Cheap parameters for tests only (not for real passphrases).
    pub const INSECURE_FOR_TESTS: Self = Self {
        m_cost_kib: 64,
        t_cost: 1,
        p_cost: 1,
    };

    fn check(self) -> Result<Params> {
        let bounded = (1..=64).contains(&self.t_cost)
            && (1..=64).contains(&self.p_cost)
            && self.m_cost_kib >= 8 * self.p_cost
            && self.m_cost_kib <= 2 * 1024 * 1024;
        if !bounded {
            return Err(Error::InvalidKdfParams);
        }
        Params::new(self.m_cost_kib, self.t_cost, self.p_cost, Some(32)).map_err(|_| Error::InvalidKdfParams)
    }
}

/// The key that seals the local store. Zeroized on drop; never printed.
pub struct StoreKey {
    key: AeadKey,
    salt: [u8; SALT_LEN],
    params: KdfParams,
}

impl StoreKey {
    /// Derives the key for a new store: draws a 16-byte salt from `rng`.
    pub fn create(passphrase: &[u8], params: KdfParams, rng: &mut impl CryptoRngCore) -> Result<Self> {
        let mut salt = [0u8; SALT_LEN];
        rng.fill_bytes(&mut salt);
        Self::derive(passphrase, salt, params)
    }

    /// Derives the key from a passphrase, a salt and parameters (slow by design).
    pub fn derive(passphrase: &[u8], salt: [u8; SALT_LEN], params: KdfParams) -> Result<Self> {
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.check()?);
        let mut key = Zeroizing::new([0u8; 32]);
        argon
            .hash_password_into(passphrase, &salt, key.as_mut())
            .map_err(|_| Error::InvalidKdfParams)?;
        Ok(Self {
            key: AeadKey::from_bytes(*key),
            salt,
            params,
        })
    }

    /// Derives the key that opens `sealed`, reading salt and parameters from its header.
    pub fn derive_for(passphrase: &[u8], sealed: &[u8]) -> Result<Self> {
        let (salt, params) = parse_header(sealed)?;
        Self::derive(passphrase, salt, params)
    }

    /// The salt (stored in every sealed blob's header).
    #[must_use]
    pub fn salt(&self) -> &[u8; SALT_LEN] {
        &self.salt
    }

    /// The Argon2id parameters.
    #[must_use]
    pub fn params(&self) -> KdfParams {
        self.params
    }

    fn header(&self) -> Vec<u8> {
        let mut h = Vec::with_capacity(HEADER_LEN + XNONCE_LEN);
        h.put(labels::LOCAL_STORE_MAGIC);
        h.put_u8(VERSION);
        h.put_u32(self.params.m_cost_kib);
        h.put_u32(self.params.t_cost);
        h.put_u32(self.params.p_cost);
        h.put(&self.salt);
        h
    }

    /// Seals `plaintext` for the file named `context`, with a nonce drawn from `rng`.
    pub fn seal(&self, context: &[u8], plaintext: &[u8], rng: &mut impl CryptoRngCore) -> Result<Vec<u8>> {
        let mut nonce = [0u8; XNONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let mut out = self.header();
        out.put(&nonce);
        let aad = [out.as_slice(), context].concat();
        let sealed = aead::seal_x(&self.key, &nonce, &aad, plaintext)?;
        out.put(&sealed);
        Ok(out)
    }

    /// Opens a blob sealed by [`StoreKey::seal`] with the same `context`.
    pub fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let (salt, params) = parse_header(sealed)?;
        if salt != self.salt || params != self.params {
            return Err(Error::StoreKeyMismatch);
        }
        let mut r = Reader::new(sealed);
        let header_and_nonce = r.take(HEADER_LEN + XNONCE_LEN)?;
        let mut nonce = [0u8; XNONCE_LEN];
        nonce.copy_from_slice(&header_and_nonce[HEADER_LEN..]);
        let aad = [header_and_nonce, context].concat();
        aead::open_x(&self.key, &nonce, &aad, r.rest())
            .map(Zeroizing::new)
            .map_err(|_| Error::WrongPassphraseOrCorrupt)
    }
}

impl core::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StoreKey")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

fn parse_header(sealed: &[u8]) -> Result<([u8; SALT_LEN], KdfParams)> {
    let mut r = Reader::new(sealed);
    let magic: [u8; 4] = r.array()?;
    if &magic != labels::LOCAL_STORE_MAGIC {
        return Err(DecodeError::InvalidTag(magic[0]).into());
    }
    let version = r.u8()?;
    if version != VERSION {
        return Err(Error::UnsupportedVersion(version));
    }
    let params = KdfParams {
        m_cost_kib: r.u32()?,
        t_cost: r.u32()?,
        p_cost: r.u32()?,
    };
    params.check()?;
    let salt = r.array()?;
    let _nonce: [u8; XNONCE_LEN] = r.array()?;
    if r.rest().len() < aead::TAG_LEN {
        return Err(DecodeError::UnexpectedEnd.into());
    }
    Ok((salt, params))
}
