//! Signed prekeys, one-time prekeys and the bundle a server hands out.
//!
//! Rotation policy (kept by the client): a new signed prekey every 7 days;
//! the previous one is kept for a 30-day grace period so that prekey
//! messages still in flight can be answered. One-time prekeys are deleted
//! as soon as a session was accepted with them.

use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::codec::{Reader, Writer};
use crate::error::{Error, Result};
use crate::identity::{IdentityKey, IdentityKeyPair};
use crate::labels;
use crate::primitives::sign::Signature;
use crate::primitives::x25519::{AgreementPublic, AgreementSecret};

const FORMAT_VERSION: u8 = 1;

/// Identifies a prekey among its owner's prekeys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PreKeyId(pub u32);

/// The public, signed half of a signed prekey. Always carries a signature
/// that was verified against its owner's identity when it was constructed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedPreKey {
    id: PreKeyId,
    public: AgreementPublic,
    signature: Signature,
}

/// A signed prekey with its private half. Zeroized on drop.
#[derive(Clone)]
pub struct SignedPreKeyPair {
    secret: AgreementSecret,
    public: SignedPreKey,
    created_at: u64,
}

/// The public half of a one-time prekey.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OneTimePreKey {
    /// Its id.
    pub id: PreKeyId,
    /// Its X25519 public key.
    pub public: AgreementPublic,
}

/// A one-time prekey with its private half. Zeroized on drop.
#[derive(Clone)]
pub struct OneTimePreKeyPair {
    id: PreKeyId,
    secret: AgreementSecret,
}

/// What an initiator needs to start a session with a device. Constructing
/// one verifies the signed prekey's signature against the identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreKeyBundle {
    identity: IdentityKey,
    signed_prekey: SignedPreKey,
    one_time_prekey: Option<OneTimePreKey>,
}

fn signed_prekey_input(id: PreKeyId, public: &AgreementPublic) -> Vec<u8> {
    let mut m = Vec::with_capacity(labels::SIGNED_PREKEY_SIGNATURE.len() + 36);
    m.put(labels::SIGNED_PREKEY_SIGNATURE);
    m.put_u32(id.0);
    m.put(public.as_bytes());
    m
}

impl SignedPreKey {
    /// Encoded length: id ‖ public key ‖ signature.
    pub const ENCODED_LEN: usize = 4 + 32 + 64;

    /// Builds a signed prekey, verifying `signature` with `owner`'s Ed25519 key.
    pub fn new(
        owner: &IdentityKey,
        id: PreKeyId,
        public: AgreementPublic,
        signature: Signature,
    ) -> Result<Self> {
        owner
            .signing_key()
            .verify(&signed_prekey_input(id, &public), signature.as_bytes())?;
        Ok(Self {
            id,
            public,
            signature,
        })
    }

    /// Its id.
    #[must_use]
    pub fn id(&self) -> PreKeyId {
        self.id
    }

    /// Its X25519 public key.
    #[must_use]
    pub fn public_key(&self) -> &AgreementPublic {
        &self.public
    }

    /// Its signature.
    #[must_use]
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// id ‖ public key ‖ signature (100 bytes), as the server relays it.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::ENCODED_LEN);
        self.write(&mut out);
        out
    }

    /// Parses [`SignedPreKey::to_bytes`] output, verifying the signature with `owner`'s key.
    pub fn from_bytes(owner: &IdentityKey, bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        let key = Self::read(&mut r, owner)?;
        r.finish()?;
        Ok(key)
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.put_u32(self.id.0);
        out.put(self.public.as_bytes());
        out.put(self.signature.as_bytes());
    }

    fn read(r: &mut Reader<'_>, owner: &IdentityKey) -> Result<Self> {
        let id = PreKeyId(r.u32()?);
        let public = AgreementPublic::from_bytes(r.array()?);
        let signature = Signature::from_bytes(r.array()?);
        Self::new(owner, id, public, signature)
    }
}

impl SignedPreKeyPair {
    /// Generates a signed prekey (32 bytes drawn from `rng`) and signs it.
    /// `created_at` (seconds since the epoch) is kept for rotation.
    pub fn generate(
        identity: &IdentityKeyPair,
        id: PreKeyId,
        created_at: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Self> {
        Self::from_secret(identity, id, created_at, AgreementSecret::generate(rng))
    }

    fn from_secret(
        identity: &IdentityKeyPair,
        id: PreKeyId,
        created_at: u64,
        secret: AgreementSecret,
    ) -> Result<Self> {
        let public = secret.public_key();
        let signature = identity.sign(&signed_prekey_input(id, &public))?;
        let public = SignedPreKey::new(identity.public(), id, public, signature)?;
        Ok(Self {
            secret,
            public,
            created_at,
        })
    }

    /// The public, signed half.
    #[must_use]
    pub fn public(&self) -> &SignedPreKey {
        &self.public
    }

    /// Its id.
    #[must_use]
    pub fn id(&self) -> PreKeyId {
        self.public.id
    }

    /// When it was created (seconds since the epoch, as given to `generate`).
    #[must_use]
    pub fn created_at(&self) -> u64 {
        self.created_at
    }

    pub(crate) fn secret(&self) -> &AgreementSecret {
        &self.secret
    }

    /// Versioned private encoding: version ‖ id ‖ created_at ‖ secret.
    /// The signature is recomputed (Ed25519 is deterministic) on load.
    #[must_use]
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(45));
        out.put_u8(FORMAT_VERSION);
        out.put_u32(self.public.id.0);
        out.put_u64(self.created_at);
        out.put(self.secret.to_bytes().as_ref());
        out
    }

    /// Parses [`SignedPreKeyPair::to_bytes`] output for the identity that owns it.
    pub fn from_bytes(identity: &IdentityKeyPair, bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != FORMAT_VERSION {
            return Err(Error::UnsupportedVersion(version));
        }
        let id = PreKeyId(r.u32()?);
        let created_at = r.u64()?;
        let secret = Zeroizing::new(r.array::<32>()?);
        r.finish()?;
        Self::from_secret(identity, id, created_at, AgreementSecret::from_bytes(*secret))
    }
}

impl core::fmt::Debug for SignedPreKeyPair {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let Self {
            secret: _,
            public,
            created_at,
        } = self;
        f.debug_struct("SignedPreKeyPair")
            .field("public", public)
            .field("created_at", created_at)
            .finish_non_exhaustive()
    }
}

impl OneTimePreKeyPair {
    /// Generates a one-time prekey (32 bytes drawn from `rng`).
    pub fn generate(id: PreKeyId, rng: &mut impl CryptoRngCore) -> Self {
        Self {
            id,
            secret: AgreementSecret::generate(rng),
        }
    }

    /// Generates `count` one-time prekeys with consecutive ids from `first_id`
    /// (wrapping at `u32::MAX`).
    pub fn generate_batch(first_id: PreKeyId, count: u32, rng: &mut impl CryptoRngCore) -> Vec<Self> {
        (0..count)
            .map(|i| Self::generate(PreKeyId(first_id.0.wrapping_add(i)), rng))
            .collect()
    }

    /// Its id.
    #[must_use]
    pub fn id(&self) -> PreKeyId {
        self.id
    }

    /// The public half, for upload.
    #[must_use]
    pub fn public(&self) -> OneTimePreKey {
        OneTimePreKey {
            id: self.id,
            public: self.secret.public_key(),
        }
    }

    pub(crate) fn secret(&self) -> &AgreementSecret {
        &self.secret
    }

    /// Versioned private encoding: version ‖ id ‖ secret.
    #[must_use]
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(37));
        out.put_u8(FORMAT_VERSION);
        out.put_u32(self.id.0);
        out.put(self.secret.to_bytes().as_ref());
        out
    }

    /// Parses [`OneTimePreKeyPair::to_bytes`] output.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != FORMAT_VERSION {
            return Err(Error::UnsupportedVersion(version));
        }
        let id = PreKeyId(r.u32()?);
        let secret = Zeroizing::new(r.array::<32>()?);
        r.finish()?;
        Ok(Self {
            id,
            secret: AgreementSecret::from_bytes(*secret),
        })
    }
}

impl core::fmt::Debug for OneTimePreKeyPair {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OneTimePreKeyPair")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl PreKeyBundle {
    /// Assembles a bundle. The signed prekey was verified against `identity`
    /// when it was built; this checks that it was built for this identity.
    pub fn new(
        identity: IdentityKey,
        signed_prekey: SignedPreKey,
        one_time_prekey: Option<OneTimePreKey>,
    ) -> Result<Self> {
        let signed_prekey = SignedPreKey::new(
            &identity,
            signed_prekey.id,
            signed_prekey.public,
            signed_prekey.signature,
        )?;
        Ok(Self {
            identity,
            signed_prekey,
            one_time_prekey,
        })
    }

    /// The device's identity.
    #[must_use]
    pub fn identity(&self) -> &IdentityKey {
        &self.identity
    }

    /// The signed prekey.
    #[must_use]
    pub fn signed_prekey(&self) -> &SignedPreKey {
        &self.signed_prekey
    }

    /// The one-time prekey, if the server had one left.
    #[must_use]
    pub fn one_time_prekey(&self) -> Option<&OneTimePreKey> {
        self.one_time_prekey.as_ref()
    }

    /// version ‖ identity ‖ signed prekey ‖ flag [‖ one-time id ‖ one-time key].
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + IdentityKey::ENCODED_LEN + SignedPreKey::ENCODED_LEN + 37);
        out.put_u8(FORMAT_VERSION);
        out.put(&self.identity.to_bytes());
        self.signed_prekey.write(&mut out);
        out.put_flag(self.one_time_prekey.is_some());
        if let Some(otk) = &self.one_time_prekey {
            out.put_u32(otk.id.0);
            out.put(otk.public.as_bytes());
        }
        out
    }

    /// Parses and verifies [`PreKeyBundle::to_bytes`] output.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != FORMAT_VERSION {
            return Err(Error::UnsupportedVersion(version));
        }
        let identity = IdentityKey::read(&mut r)?;
        let signed_prekey = SignedPreKey::read(&mut r, &identity)?;
        let one_time_prekey = if r.flag()? {
            Some(OneTimePreKey {
                id: PreKeyId(r.u32()?),
                public: AgreementPublic::from_bytes(r.array()?),
            })
        } else {
            None
        };
        r.finish()?;
        Ok(Self {
            identity,
            signed_prekey,
            one_time_prekey,
        })
    }
}
