//! The sending chain: our current ratchet key, the chain key it started,
//! and the length of the sending chain before it (the `pn` every header
//! carries, so that the peer can keep the keys it skipped there).

use rand_core::CryptoRngCore;

use super::chain_key::ChainKey;
use super::ratchet_key::{RatchetKey, RemoteRatchetKey};
use super::root_key::RootKey;
use crate::error::Result;
use crate::message::{Header, RatchetMessage};

/// Our half of the ratchet. Its secrets (ratchet key, chain key) are zeroized on drop.
#[derive(Clone)]
pub(crate) struct SendingChain {
    pub(super) ratchet: RatchetKey,
    pub(super) chain: ChainKey,
    /// How many messages the previous sending chain sent (`pn`).
    pub(super) previous_chain_len: u32,
}

impl SendingChain {
    /// The first sending chain of a session, against `theirs`, with a fresh
    /// ratchet key (32 bytes from `rng`). Returns the next root key with it.
    pub(super) fn first(
        root: &RootKey,
        theirs: &RemoteRatchetKey,
        rng: &mut impl CryptoRngCore,
    ) -> Result<(RootKey, Self)> {
        Self::start(root, theirs, 0, rng)
    }

    /// The DH ratchet step on our side: a new chain against the remote
    /// party's new key, with a fresh ratchet key. `self` is unchanged.
    pub(super) fn next_chain(
        &self,
        root: &RootKey,
        theirs: &RemoteRatchetKey,
        rng: &mut impl CryptoRngCore,
    ) -> Result<(RootKey, Self)> {
        Self::start(root, theirs, self.chain.index(), rng)
    }

    fn start(
        root: &RootKey,
        theirs: &RemoteRatchetKey,
        previous_chain_len: u32,
        rng: &mut impl CryptoRngCore,
    ) -> Result<(RootKey, Self)> {
        let ratchet = RatchetKey::generate(rng);
        let dh = ratchet.diffie_hellman(theirs)?;
        let (root, chain) = root.advance(&dh)?;
        Ok((
            root,
            Self {
                ratchet,
                chain,
                previous_chain_len,
            },
        ))
    }

    /// Our current ratchet key.
    pub(super) fn ratchet_key(&self) -> &RatchetKey {
        &self.ratchet
    }

    /// The index of the next message key (how many this chain has sent).
    pub(super) fn index(&self) -> u32 {
        self.chain.index()
    }

    /// Encrypts `plaintext` with the next message key; the chain moves past
    /// it only if encryption succeeded.
    pub(super) fn encrypt(&mut self, ad: &[u8], plaintext: &[u8]) -> Result<RatchetMessage> {
        let message_key = self.chain.message_key();
        let next = self.chain.next()?;
        let header = Header {
            ratchet_key: self.ratchet.public_key(),
            previous_chain_len: self.previous_chain_len,
            index: message_key.index(),
        };
        let ciphertext = message_key.encrypt(ad, &header, plaintext)?;
        self.chain = next;
        Ok(RatchetMessage { header, ciphertext })
    }
}
