//! Ratchet keys: ours, a key pair whose secret half is zeroized on drop, and
//! the remote party's, a public key only. They are distinct types so that a
//! key of one side is never taken for the other's: ours goes into the
//! headers we send and into our half of each DH ratchet step; theirs is read
//! from the headers we receive (or, for the first sending chain of an
//! initiator, from the peer's signed prekey) and names a receiving chain.

use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::error::Result;
use crate::primitives::x25519::{AgreementPublic, AgreementSecret, SharedSecret, KEY_LEN};

/// Our current ratchet key pair. The secret is zeroized on drop (by
/// [`AgreementSecret`]) and never printed.
#[derive(Clone)]
pub(crate) struct RatchetKey {
    secret: AgreementSecret,
    /// Cached public half of `secret`.
    public: AgreementPublic,
}

impl RatchetKey {
    /// Draws a new ratchet key (32 bytes) from `rng`.
    pub(crate) fn generate(rng: &mut impl CryptoRngCore) -> Self {
        Self::from(AgreementSecret::generate(rng))
    }

    /// The public half, as it goes into the headers we send.
    pub(crate) fn public_key(&self) -> AgreementPublic {
        self.public
    }

    /// DH(ours, theirs), refusing non-contributory results.
    pub(crate) fn diffie_hellman(&self, theirs: &RemoteRatchetKey) -> Result<SharedSecret> {
        self.secret.diffie_hellman(&theirs.0)
    }

    /// The secret bytes, for the persisted encoding only.
    pub(crate) fn secret_bytes(&self) -> Zeroizing<[u8; KEY_LEN]> {
        self.secret.to_bytes()
    }
}

impl From<AgreementSecret> for RatchetKey {
    fn from(secret: AgreementSecret) -> Self {
        let public = secret.public_key();
        Self { secret, public }
    }
}

impl core::fmt::Debug for RatchetKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Destructured so that a new field must be considered here.
        let Self { secret: _, public } = self;
        f.debug_struct("RatchetKey")
            .field("public", public)
            .finish_non_exhaustive()
    }
}

/// The remote party's ratchet public key: the name of one of its sending
/// chains (our receiving chain).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RemoteRatchetKey(AgreementPublic);

impl RemoteRatchetKey {
    pub(crate) fn as_bytes(&self) -> &[u8; KEY_LEN] {
        self.0.as_bytes()
    }
}

impl From<AgreementPublic> for RemoteRatchetKey {
    fn from(key: AgreementPublic) -> Self {
        Self(key)
    }
}
