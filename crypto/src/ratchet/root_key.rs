//! The root key and KDF_RK.

use zeroize::Zeroizing;

use super::chain_key::ChainKey;
use crate::error::Result;
use crate::labels;
use crate::primitives::hash::hkdf_sha256;
use crate::primitives::x25519::SharedSecret;

/// The ratchet's root key. Zeroized on drop.
#[derive(Clone)]
pub(crate) struct RootKey(Zeroizing<[u8; 32]>);

impl RootKey {
    pub(crate) fn new(bytes: Zeroizing<[u8; 32]>) -> Self {
        Self(bytes)
    }

    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// KDF_RK: mixes a DH output into the root key, giving the next root key
    /// and a fresh chain key (index 0).
    pub(crate) fn advance(&self, dh: &SharedSecret) -> Result<(Self, ChainKey)> {
        let mut out = Zeroizing::new([0u8; 64]);
        hkdf_sha256(
            self.0.as_ref(),
            dh.as_bytes(),
            labels::ROOT_KDF_INFO,
            out.as_mut(),
        )?;
        let mut root = Zeroizing::new([0u8; 32]);
        let mut chain = Zeroizing::new([0u8; 32]);
        root.copy_from_slice(&out[..32]);
        chain.copy_from_slice(&out[32..]);
        Ok((Self(root), ChainKey::new(chain, 0)))
    }
}
