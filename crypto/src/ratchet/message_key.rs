//! Message keys: single-use AEAD key and nonce for one message.

use zeroize::Zeroizing;

use crate::error::Result;
use crate::labels;
use crate::message::Header;
use crate::primitives::aead::{self, AeadKey, KEY_LEN, NONCE_LEN};
use crate::primitives::hash::hkdf_sha256;

/// The seed of one message key and its index in its chain. Zeroized on drop.
#[derive(Clone)]
pub(crate) struct MessageKey {
    seed: Zeroizing<[u8; 32]>,
    index: u32,
}

impl MessageKey {
    pub(crate) fn new(seed: Zeroizing<[u8; 32]>, index: u32) -> Self {
        Self { seed, index }
    }

    pub(crate) fn index(&self) -> u32 {
        self.index
    }

    pub(crate) fn seed(&self) -> &[u8; 32] {
        &self.seed
    }

    fn expand(&self) -> Result<(AeadKey, [u8; NONCE_LEN])> {
        let mut okm = Zeroizing::new([0u8; KEY_LEN + NONCE_LEN]);
        hkdf_sha256(
            &labels::MESSAGE_KEY_SALT,
            self.seed.as_ref(),
            labels::MESSAGE_KEY_INFO,
            okm.as_mut(),
        )?;
        let key = AeadKey::from_slice(&okm[..KEY_LEN])?;
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&okm[KEY_LEN..]);
        Ok((key, nonce))
    }

    fn aad(session_ad: &[u8], header: &Header) -> Vec<u8> {
        let mut aad = Vec::with_capacity(session_ad.len() + crate::message::HEADER_LEN);
        aad.extend_from_slice(session_ad);
        aad.extend_from_slice(&header.to_bytes());
        aad
    }

    pub(crate) fn encrypt(&self, session_ad: &[u8], header: &Header, plaintext: &[u8]) -> Result<Vec<u8>> {
        let (key, nonce) = self.expand()?;
        aead::seal(&key, &nonce, &Self::aad(session_ad, header), plaintext)
    }

    pub(crate) fn decrypt(
        &self,
        session_ad: &[u8],
        header: &Header,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let (key, nonce) = self.expand()?;
        aead::open(&key, &nonce, &Self::aad(session_ad, header), ciphertext).map(Zeroizing::new)
    }
}
