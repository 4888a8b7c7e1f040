//! The receiving side: the chain of the remote party's current ratchet
//! key, the keys of its earlier chains (so that a replay of theirs is
//! refused without any DH computation, bounded by [`MAX_PREVIOUS_CHAINS`]),
//! and the message keys skipped by out-of-order delivery (bounded by
//! [`super::MAX_SKIPPED_KEYS`], see [`SkippedKeys`]).
//!
//! Every change is computed first and committed only once the message has
//! decrypted: a message that fails leaves the chains as they were.

use zeroize::Zeroizing;

use super::chain_key::ChainKey;
use super::message_key::MessageKey;
use super::ratchet_key::{RatchetKey, RemoteRatchetKey};
use super::root_key::RootKey;
use super::skipped::SkippedKeys;
use super::MAX_PREVIOUS_CHAINS;
use crate::error::{Error, Result};
use crate::message::RatchetMessage;

/// The remote half of the ratchet. Its secrets (chain and message keys) are zeroized on drop.
#[derive(Clone)]
pub(crate) struct ReceivingChains {
    /// The remote party's current ratchet key (for an initiator that has
    /// not heard back yet: their signed prekey, with no chain).
    pub(super) remote_ratchet: Option<RemoteRatchetKey>,
    /// The chain of `remote_ratchet`, once a message arrived on it.
    pub(super) chain: Option<ChainKey>,
    /// Remote ratchet keys of earlier receiving chains, newest last.
    pub(super) previous_remote_ratchets: Vec<RemoteRatchetKey>,
    pub(super) skipped: SkippedKeys,
}

/// A receiving chain for a new remote ratchet key, derived and used for one
/// message, before anything is committed.
pub(super) struct NewChain {
    /// The root key after the step.
    pub(super) root: RootKey,
    /// The keys skipped before the message in the new chain.
    pub(super) skipped: Vec<MessageKey>,
    /// The new chain, positioned after the message.
    pub(super) chain: ChainKey,
    pub(super) plaintext: Zeroizing<Vec<u8>>,
}

/// The DH ratchet step on the receiving side: derives the receiving chain
/// for the new remote ratchet key in `message` and decrypts `message` with
/// it. Pure: nothing is committed.
pub(super) fn derive_new_chain(
    root: &RootKey,
    ours: &RatchetKey,
    ad: &[u8],
    message: &RatchetMessage,
) -> Result<NewChain> {
    let header = &message.header;
    let dh = ours.diffie_hellman(&RemoteRatchetKey::from(header.ratchet_key))?;
    let (root, chain) = root.advance(&dh)?;
    let (skipped, chain) = chain.skip_to(header.index)?;
    let plaintext = chain.message_key().decrypt(ad, header, &message.ciphertext)?;
    Ok(NewChain {
        root,
        skipped,
        chain: chain.next()?,
        plaintext,
    })
}

impl ReceivingChains {
    /// An initiator's, before any reply: the remote ratchet key is the peer's
    /// signed prekey, and no chain yet.
    pub(super) fn awaiting(theirs: RemoteRatchetKey) -> Self {
        Self {
            remote_ratchet: Some(theirs),
            chain: None,
            previous_remote_ratchets: Vec::new(),
            skipped: SkippedKeys::default(),
        }
    }

    /// A responder's, from the chain of the first message.
    pub(super) fn first(theirs: RemoteRatchetKey, skipped: Vec<MessageKey>, chain: ChainKey) -> Self {
        let mut keys = SkippedKeys::default();
        keys.extend(theirs, skipped);
        Self {
            remote_ratchet: Some(theirs),
            chain: Some(chain),
            previous_remote_ratchets: Vec::new(),
            skipped: keys,
        }
    }

    /// The index of the next message key in the current chain, if there is one.
    pub(super) fn index(&self) -> Option<u32> {
        self.chain.as_ref().map(ChainKey::index)
    }

    /// Number of skipped message keys stored.
    pub(super) fn skipped_len(&self) -> usize {
        self.skipped.len()
    }

    /// Decrypts a message whose key is already here: a skipped key (used
    /// once, then deleted), or one at or ahead of the current chain's index.
    /// `Ok(None)` for a message on a new remote ratchet key (the caller runs
    /// the DH ratchet step); [`Error::DuplicateMessage`] for a known chain
    /// whose key was used or evicted. On any error nothing changes.
    pub(super) fn decrypt_known(
        &mut self,
        ad: &[u8],
        message: &RatchetMessage,
    ) -> Result<Option<Zeroizing<Vec<u8>>>> {
        let header = &message.header;
        let theirs = RemoteRatchetKey::from(header.ratchet_key);
        let on_current_chain = self.remote_ratchet.as_ref() == Some(&theirs);
        let ahead_in_current = on_current_chain
            && self
                .chain
                .as_ref()
                .is_some_and(|chain| header.index >= chain.index());

        if !ahead_in_current {
            if let Some(position) = self.skipped.find(&theirs, header.index) {
                let key = self.skipped.get(position).ok_or(Error::DuplicateMessage)?;
                let plaintext = key.decrypt(ad, header, &message.ciphertext)?;
                self.skipped.remove(position);
                return Ok(Some(plaintext));
            }
            if on_current_chain || self.previous_remote_ratchets.contains(&theirs) {
                // A known chain, and not among the skipped keys: already used or evicted.
                return Err(Error::DuplicateMessage);
            }
        }

        if on_current_chain {
            let chain = self.chain.as_ref().ok_or(Error::DecryptionFailed)?;
            let (skipped, chain) = chain.skip_to(header.index)?;
            let plaintext = chain.message_key().decrypt(ad, header, &message.ciphertext)?;
            let next = chain.next()?;
            self.skipped.extend(theirs, skipped);
            self.chain = Some(next);
            return Ok(Some(plaintext));
        }
        Ok(None)
    }

    /// The keys left in the current chain up to `previous_chain_len` (the
    /// `pn` of a message on a new remote ratchet key). `self` is unchanged.
    pub(super) fn leftover(&self, previous_chain_len: u32) -> Result<Vec<MessageKey>> {
        match &self.chain {
            Some(chain) => Ok(chain.skip_to(previous_chain_len)?.0),
            None => Ok(Vec::new()),
        }
    }

    /// Commits a new receiving chain for `theirs`: the current chain's
    /// `leftover` keys are kept as skipped and its ratchet key remembered
    /// (the oldest forgotten beyond [`MAX_PREVIOUS_CHAINS`]), then the new
    /// chain's skipped keys.
    pub(super) fn start_chain(
        &mut self,
        theirs: RemoteRatchetKey,
        leftover: Vec<MessageKey>,
        skipped: Vec<MessageKey>,
        chain: ChainKey,
    ) {
        if let Some(old) = self.remote_ratchet {
            self.skipped.extend(old, leftover);
            self.previous_remote_ratchets.push(old);
            if self.previous_remote_ratchets.len() > MAX_PREVIOUS_CHAINS {
                self.previous_remote_ratchets.remove(0);
            }
        }
        self.skipped.extend(theirs, skipped);
        self.remote_ratchet = Some(theirs);
        self.chain = Some(chain);
    }
}
