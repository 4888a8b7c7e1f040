//! Device identities: an Ed25519 signing key and an X25519 agreement key
//! whose public half is signed by the Ed25519 key.

use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::codec::{Reader, Writer};
use crate::error::{Error, Result};
use crate::labels;
use crate::primitives::sign::{Signature, SigningKey, VerifyingKey, SIGNATURE_LEN};
use crate::primitives::x25519::{AgreementPublic, AgreementSecret, SharedSecret};

const FORMAT_VERSION: u8 = 1;

/// The public identity of one device: its Ed25519 key, its X25519 key and the
/// Ed25519 signature binding them. A value of this type always carries a
/// valid signature: every constructor verifies it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdentityKey {
    signing: VerifyingKey,
    agreement: AgreementPublic,
    signature: Signature,
}

/// A device's private identity. Zeroized on drop; its `Debug` shows only the public half.
#[derive(Clone)]
pub struct IdentityKeyPair {
    signing: SigningKey,
    agreement: AgreementSecret,
    public: IdentityKey,
}

fn agreement_signature_input(key: &AgreementPublic) -> Vec<u8> {
    let mut m = Vec::with_capacity(labels::IDENTITY_SIGNATURE.len() + 32);
    m.put(labels::IDENTITY_SIGNATURE);
    m.put(key.as_bytes());
    m
}

impl IdentityKey {
    /// Encoded length: Ed25519 key, X25519 key, signature.
    pub const ENCODED_LEN: usize = 32 + 32 + SIGNATURE_LEN;

    /// Builds an identity from its parts, verifying the signature.
    pub fn new(signing: VerifyingKey, agreement: AgreementPublic, signature: Signature) -> Result<Self> {
        signing.verify(&agreement_signature_input(&agreement), signature.as_bytes())?;
        Ok(Self {
            signing,
            agreement,
            signature,
        })
    }

    /// The Ed25519 key that authenticates this device.
    #[must_use]
    pub fn signing_key(&self) -> &VerifyingKey {
        &self.signing
    }

    /// The X25519 identity key used in X3DH.
    #[must_use]
    pub fn agreement_key(&self) -> &AgreementPublic {
        &self.agreement
    }

    /// Verifies `signature` over `message` with the device's Ed25519 key
    /// (the counterpart of [`IdentityKeyPair::sign`]): [`Error::BadSignature`]
    /// unless it verifies. `message` must begin with the domain-separation
    /// label of its context, as the signer's did.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<()> {
        self.signing.verify(message, signature)
    }

    /// Ed25519 key ‖ X25519 key ‖ signature.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; Self::ENCODED_LEN] {
        let mut out = [0u8; Self::ENCODED_LEN];
        out[..32].copy_from_slice(self.signing.as_bytes());
        out[32..64].copy_from_slice(self.agreement.as_bytes());
        out[64..].copy_from_slice(self.signature.as_bytes());
        out
    }

    /// The 64 bytes that identify the device in associated data and safety
    /// numbers: Ed25519 key ‖ X25519 key.
    pub(crate) fn key_bytes(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(self.signing.as_bytes());
        out[32..].copy_from_slice(self.agreement.as_bytes());
        out
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self> {
        let signing = VerifyingKey::from_bytes(r.array()?);
        let agreement = AgreementPublic::from_bytes(r.array()?);
        let signature = Signature::from_bytes(r.array()?);
        Self::new(signing, agreement, signature)
    }

    /// Parses [`IdentityKey::to_bytes`] output and verifies its inner
    /// signature (the Ed25519 key's over the X25519 key): a public identity
    /// received from anyone — a peer's bundle, a device enrolling with a
    /// server — goes through here. A flipped bit anywhere is
    /// [`Error::BadSignature`]; a wrong length is [`Error::Decode`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        let key = Self::read(&mut r)?;
        r.finish()?;
        Ok(key)
    }
}

impl core::fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IdentityKey")
            .field("signing", &self.signing)
            .field("agreement", &self.agreement)
            .finish_non_exhaustive()
    }
}

impl IdentityKeyPair {
    /// Generates a new device identity: an Ed25519 seed then an X25519 key,
    /// each 32 bytes drawn from `rng`, in that order.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Result<Self> {
        let signing = SigningKey::generate(rng)?;
        let agreement = AgreementSecret::generate(rng);
        Self::from_parts(signing, agreement)
    }

    fn from_parts(signing: SigningKey, agreement: AgreementSecret) -> Result<Self> {
        let agreement_public = agreement.public_key();
        let signature = signing.sign(&agreement_signature_input(&agreement_public))?;
        let public = IdentityKey::new(signing.verifying_key(), agreement_public, signature)?;
        Ok(Self {
            signing,
            agreement,
            public,
        })
    }

    /// The public identity.
    #[must_use]
    pub fn public(&self) -> &IdentityKey {
        &self.public
    }

    /// Signs `message` with the device's Ed25519 key. Callers must prefix a
    /// domain-separation label of their own (as the server-authentication
    /// transcript does) so that no signature can be replayed in another context.
    pub fn sign(&self, message: &[u8]) -> Result<Signature> {
        self.signing.sign(message)
    }

    pub(crate) fn agree(&self, their: &AgreementPublic) -> Result<SharedSecret> {
        self.agreement.diffie_hellman(their)
    }

    /// Versioned private encoding: version ‖ Ed25519 seed ‖ X25519 secret.
    /// Store it only encrypted (see [`crate::local_store`]).
    #[must_use]
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(65));
        out.put_u8(FORMAT_VERSION);
        out.put(self.signing.seed());
        out.put(self.agreement.to_bytes().as_ref());
        out
    }

    /// Parses [`IdentityKeyPair::to_bytes`] output.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != FORMAT_VERSION {
            return Err(Error::UnsupportedVersion(version));
        }
        let seed = Zeroizing::new(r.array::<32>()?);
        let agreement = Zeroizing::new(r.array::<32>()?);
        r.finish()?;
        Self::from_parts(
            SigningKey::from_seed(&seed)?,
            AgreementSecret::from_bytes(*agreement),
        )
    }
}

impl core::fmt::Debug for IdentityKeyPair {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let Self {
            signing: _,
            agreement: _,
            public,
        } = self;
        f.debug_struct("IdentityKeyPair")
            .field("public", public)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use rand_core::OsRng;

    use super::*;
    use crate::DecodeError;

    #[test]
    fn every_flipped_bit_is_refused() {
        let pair = IdentityKeyPair::generate(&mut OsRng).unwrap();
        let good = pair.public().to_bytes();
        assert_eq!(IdentityKey::from_bytes(&good).unwrap(), *pair.public());
        for i in 0..IdentityKey::ENCODED_LEN {
            for bit in 0..8 {
                let mut bad = good;
                bad[i] ^= 1 << bit;
                assert!(
                    matches!(IdentityKey::from_bytes(&bad), Err(Error::BadSignature)),
                    "byte {i} bit {bit} accepted"
                );
            }
        }
    }

    #[test]
    fn another_devices_signature_is_refused() {
        let a = IdentityKeyPair::generate(&mut OsRng).unwrap().public().to_bytes();
        let b = IdentityKeyPair::generate(&mut OsRng).unwrap().public().to_bytes();
        let mut spliced = a;
        spliced[64..].copy_from_slice(&b[64..]);
        assert!(matches!(
            IdentityKey::from_bytes(&spliced),
            Err(Error::BadSignature)
        ));
        // Another device's agreement key under our signing key.
        let mut swapped = a;
        swapped[32..64].copy_from_slice(&b[32..64]);
        assert!(matches!(
            IdentityKey::from_bytes(&swapped),
            Err(Error::BadSignature)
        ));
    }

    #[test]
    fn wrong_lengths_are_decode_errors() {
        let good = IdentityKeyPair::generate(&mut OsRng).unwrap().public().to_bytes();
        assert!(matches!(
            IdentityKey::from_bytes(&good[..127]),
            Err(Error::Decode(DecodeError::UnexpectedEnd))
        ));
        let longer = [good.as_slice(), &[0]].concat();
        assert!(matches!(
            IdentityKey::from_bytes(&longer),
            Err(Error::Decode(DecodeError::TrailingBytes))
        ));
    }

    #[test]
    fn verify_checks_the_device_signature() {
        let pair = IdentityKeyPair::generate(&mut OsRng).unwrap();
        let other = IdentityKeyPair::generate(&mut OsRng).unwrap();
        let signature = pair.sign(b"label and message").unwrap();
        pair.public()
            .verify(b"label and message", signature.as_bytes())
            .unwrap();
        assert!(matches!(
            pair.public().verify(b"label and messagE", signature.as_bytes()),
            Err(Error::BadSignature)
        ));
        assert!(matches!(
            other.public().verify(b"label and message", signature.as_bytes()),
            Err(Error::BadSignature)
        ));
        assert!(matches!(
            pair.public()
                .verify(b"label and message", &signature.as_bytes()[..63]),
            Err(Error::BadSignature)
        ));
    }
}
