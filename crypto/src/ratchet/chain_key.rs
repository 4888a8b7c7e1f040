//! Sending and receiving chain keys and KDF_CK.

use zeroize::Zeroizing;

use super::message_key::MessageKey;
use crate::error::{Error, Result};
use crate::labels;
use crate::primitives::hash::hmac_sha256;

/// A chain key and the index of the next message key it yields. Zeroized on drop.
#[derive(Clone)]
pub(crate) struct ChainKey {
    key: Zeroizing<[u8; 32]>,
    index: u32,
}

impl ChainKey {
    pub(crate) fn new(key: Zeroizing<[u8; 32]>, index: u32) -> Self {
        Self { key, index }
    }

    pub(crate) fn key_bytes(&self) -> &[u8; 32] {
        &self.key
    }

    /// The index of the next message key.
    pub(crate) fn index(&self) -> u32 {
        self.index
    }

    /// The message key for the current index.
    pub(crate) fn message_key(&self) -> MessageKey {
        let seed = Zeroizing::new(hmac_sha256(self.key.as_ref(), &[labels::CHAIN_MESSAGE_SEED]));
        MessageKey::new(seed, self.index)
    }

    /// The chain key for the next index.
    pub(crate) fn next(&self) -> Result<Self> {
        let index = self.index.checked_add(1).ok_or(Error::CounterExhausted)?;
        let key = Zeroizing::new(hmac_sha256(self.key.as_ref(), &[labels::CHAIN_NEXT]));
        Ok(Self { key, index })
    }

    /// Derives every message key from the current index up to `until`
    /// (exclusive), refusing gaps above [`super::MAX_SKIP`]. Returns the keys
    /// and the chain positioned at `until`. `self` is unchanged.
    pub(crate) fn skip_to(&self, until: u32) -> Result<(Vec<MessageKey>, Self)> {
        let gap = until.saturating_sub(self.index);
        if gap > super::MAX_SKIP {
            return Err(Error::TooManySkipped {
                requested: u64::from(gap),
                limit: super::MAX_SKIP,
            });
        }
        let mut chain = self.clone();
        let mut keys = Vec::with_capacity(gap as usize);
        while chain.index < until {
            keys.push(chain.message_key());
            chain = chain.next()?;
        }
        Ok((keys, chain))
    }
}
