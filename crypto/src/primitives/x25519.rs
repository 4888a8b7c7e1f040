//! X25519 key agreement (RFC 7748) that refuses non-contributory results.

use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Length of X25519 keys and shared secrets.
pub const KEY_LEN: usize = 32;

/// An X25519 private key. Zeroized on drop; never printed.
#[derive(Clone)]
pub struct AgreementSecret(x25519_dalek::StaticSecret);

/// An X25519 public key (a Montgomery u-coordinate, as received).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AgreementPublic([u8; KEY_LEN]);

/// The output of a contributory X25519 agreement. Zeroized on drop; never printed.
pub struct SharedSecret(Zeroizing<[u8; KEY_LEN]>);

impl AgreementSecret {
    /// Draws a new private key (32 bytes) from `rng`.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        rng.fill_bytes(bytes.as_mut());
        Self::from_bytes(*bytes)
    }

    /// Wraps 32 private-key bytes; clamping happens in the scalar multiplication.
    #[must_use]
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(x25519_dalek::StaticSecret::from(bytes))
    }

    /// The private key bytes, for persisting state.
    pub(crate) fn to_bytes(&self) -> Zeroizing<[u8; KEY_LEN]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// The matching public key.
    #[must_use]
    pub fn public_key(&self) -> AgreementPublic {
        AgreementPublic(x25519_dalek::PublicKey::from(&self.0).to_bytes())
    }

    /// X25519(self, their). Refuses the all-zero output that low-order points
    /// produce, so a malicious peer cannot force a known shared secret.
    pub fn diffie_hellman(&self, their: &AgreementPublic) -> Result<SharedSecret> {
        let shared = self.0.diffie_hellman(&x25519_dalek::PublicKey::from(their.0));
        if !shared.was_contributory() {
            return Err(Error::NonContributory);
        }
        Ok(SharedSecret(Zeroizing::new(shared.to_bytes())))
    }
}

impl core::fmt::Debug for AgreementSecret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AgreementSecret")
            .field("public", &self.public_key())
            .finish_non_exhaustive()
    }
}

impl AgreementPublic {
    /// Wraps 32 public-key bytes. Every 32-byte string is accepted here; a
    /// low-order key is refused by [`AgreementSecret::diffie_hellman`].
    #[must_use]
    pub const fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// The 32 public-key bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl TryFrom<&[u8]> for AgreementPublic {
    type Error = Error;
    fn try_from(bytes: &[u8]) -> Result<Self> {
        <[u8; KEY_LEN]>::try_from(bytes)
            .map(Self)
            .map_err(|_| Error::InvalidKey)
    }
}

impl core::fmt::Debug for AgreementPublic {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "AgreementPublic(")?;
        for b in &self.0[..8] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
}

impl SharedSecret {
    /// The shared secret bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl core::fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SharedSecret([redacted])")
    }
}
