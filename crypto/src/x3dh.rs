//! X3DH key agreement (Signal's X3DH specification, revision 1), with
//! Curbside's labels.
//!
//! ```text
//! DH1 = X25519(IK_A, SPK_B)   DH2 = X25519(EK_A, IK_B)
//! DH3 = X25519(EK_A, SPK_B)   DH4 = X25519(EK_A, OPK_B)   (if a one-time prekey was used)
//! SK  = HKDF-SHA256(salt = 0^32, IKM = 0xFF^32 ‖ DH1 ‖ DH2 ‖ DH3 [‖ DH4],
//!                   info = "Curbside v1 X3DH", L = 32)
//! AD  = "Curbside v1 session AD" ‖ Ed25519(A) ‖ X25519(A) ‖ Ed25519(B) ‖ X25519(B)
//! ```
//!
//! A is the initiator, B the responder. Every DH refuses an all-zero output.

use zeroize::Zeroizing;

use crate::codec::Writer;
use crate::error::Result;
use crate::identity::{IdentityKey, IdentityKeyPair};
use crate::labels;
use crate::prekeys::{OneTimePreKeyPair, PreKeyBundle, SignedPreKeyPair};
use crate::primitives::hash::hkdf_sha256;
use crate::primitives::x25519::{AgreementPublic, AgreementSecret, SharedSecret};

/// The 32-byte X3DH output.
pub(crate) struct X3dhSecret(pub(crate) Zeroizing<[u8; 32]>);

fn derive(dhs: &[&SharedSecret]) -> Result<X3dhSecret> {
    let mut ikm = Zeroizing::new(Vec::with_capacity(32 * 5));
    ikm.put(&labels::X3DH_F);
    for dh in dhs {
        ikm.put(dh.as_bytes());
    }
    let mut sk = Zeroizing::new([0u8; 32]);
    hkdf_sha256(&labels::X3DH_SALT, &ikm, labels::X3DH_INFO, sk.as_mut())?;
    Ok(X3dhSecret(sk))
}

/// The session associated data, initiator first.
pub(crate) fn associated_data(initiator: &IdentityKey, responder: &IdentityKey) -> Vec<u8> {
    let mut ad = Vec::with_capacity(labels::ASSOCIATED_DATA.len() + 128);
    ad.put(labels::ASSOCIATED_DATA);
    ad.put(&initiator.key_bytes());
    ad.put(&responder.key_bytes());
    ad
}

/// Initiator side: our identity, our ephemeral key and the (verified) bundle.
pub(crate) fn initiate(
    ours: &IdentityKeyPair,
    ephemeral: &AgreementSecret,
    bundle: &PreKeyBundle,
) -> Result<X3dhSecret> {
    let spk = bundle.signed_prekey().public_key();
    let dh1 = ours.agree(spk)?;
    let dh2 = ephemeral.diffie_hellman(bundle.identity().agreement_key())?;
    let dh3 = ephemeral.diffie_hellman(spk)?;
    match bundle.one_time_prekey() {
        Some(otk) => {
            let dh4 = ephemeral.diffie_hellman(&otk.public)?;
            derive(&[&dh1, &dh2, &dh3, &dh4])
        }
        None => derive(&[&dh1, &dh2, &dh3]),
    }
}

/// Responder side: our identity and prekeys, the initiator's identity and ephemeral key.
pub(crate) fn respond(
    ours: &IdentityKeyPair,
    signed_prekey: &SignedPreKeyPair,
    one_time_prekey: Option<&OneTimePreKeyPair>,
    their_identity: &IdentityKey,
    their_ephemeral: &AgreementPublic,
) -> Result<X3dhSecret> {
    let dh1 = signed_prekey
        .secret()
        .diffie_hellman(their_identity.agreement_key())?;
    let dh2 = ours.agree(their_ephemeral)?;
    let dh3 = signed_prekey.secret().diffie_hellman(their_ephemeral)?;
    match one_time_prekey {
        Some(otk) => {
            let dh4 = otk.secret().diffie_hellman(their_ephemeral)?;
            derive(&[&dh1, &dh2, &dh3, &dh4])
        }
        None => derive(&[&dh1, &dh2, &dh3]),
    }
}
