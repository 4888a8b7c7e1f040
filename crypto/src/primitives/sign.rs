//! Ed25519 signatures (RFC 8032) from `ring`.
//!
//! `ring` verifies strictly: it rejects non-canonical `S` (malleability) and
//! public keys that do not decode.

use rand_core::CryptoRngCore;
use ring::signature::{self, KeyPair as _};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Ed25519 public key length.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Ed25519 seed (private key) length.
pub const SEED_LEN: usize = 32;
/// Ed25519 signature length.
pub const SIGNATURE_LEN: usize = 64;

/// An Ed25519 private key, kept as its 32-byte seed. Zeroized on drop; never printed.
#[derive(Clone)]
pub struct SigningKey {
    seed: Zeroizing<[u8; SEED_LEN]>,
    public: VerifyingKey,
}

/// An Ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct VerifyingKey([u8; PUBLIC_KEY_LEN]);

/// An Ed25519 signature.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature([u8; SIGNATURE_LEN]);

impl SigningKey {
    /// Draws a new seed (32 bytes) from `rng`.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Result<Self> {
        let mut seed = Zeroizing::new([0u8; SEED_LEN]);
        rng.fill_bytes(seed.as_mut());
        Self::from_seed(&seed)
    }

    /// Rebuilds the key from its 32-byte seed.
    pub fn from_seed(seed: &[u8; SEED_LEN]) -> Result<Self> {
        let pair = signature::Ed25519KeyPair::from_seed_unchecked(seed).map_err(|_| Error::InvalidKey)?;
        let mut public = [0u8; PUBLIC_KEY_LEN];
        public.copy_from_slice(pair.public_key().as_ref());
        Ok(Self {
            seed: Zeroizing::new(*seed),
            public: VerifyingKey(public),
        })
    }

    pub(crate) fn seed(&self) -> &[u8; SEED_LEN] {
        &self.seed
    }

    /// The public half.
    #[must_use]
    pub fn verifying_key(&self) -> VerifyingKey {
        self.public
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Signature> {
        let pair = signature::Ed25519KeyPair::from_seed_unchecked(self.seed.as_ref())
            .map_err(|_| Error::InvalidKey)?;
        Signature::try_from(pair.sign(message).as_ref())
    }
}

impl core::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let Self { seed: _, public } = self;
        f.debug_struct("SigningKey")
            .field("public", public)
            .finish_non_exhaustive()
    }
}

impl VerifyingKey {
    /// Wraps 32 public-key bytes (checked when a signature is verified).
    #[must_use]
    pub const fn from_bytes(bytes: [u8; PUBLIC_KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// The 32 public-key bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.0
    }

    /// Verifies `signature` over `message`. Any length other than 64 bytes,
    /// a non-canonical signature or an undecodable key is an error.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<()> {
        signature::UnparsedPublicKey::new(&signature::ED25519, &self.0)
            .verify(message, signature)
            .map_err(|_| Error::BadSignature)
    }
}

impl TryFrom<&[u8]> for VerifyingKey {
    type Error = Error;
    fn try_from(bytes: &[u8]) -> Result<Self> {
        <[u8; PUBLIC_KEY_LEN]>::try_from(bytes)
            .map(Self)
            .map_err(|_| Error::InvalidKey)
    }
}

impl core::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "VerifyingKey(")?;
        for b in &self.0[..8] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
}

impl Signature {
    /// Wraps 64 signature bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; SIGNATURE_LEN]) -> Self {
        Self(bytes)
    }

    /// The 64 signature bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; SIGNATURE_LEN] {
        &self.0
    }
}

impl TryFrom<&[u8]> for Signature {
    type Error = Error;
    fn try_from(bytes: &[u8]) -> Result<Self> {
        <[u8; SIGNATURE_LEN]>::try_from(bytes)
            .map(Self)
            .map_err(|_| Error::BadSignature)
    }
}

impl core::fmt::Debug for Signature {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Signature(")?;
        for b in &self.0[..8] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
}
