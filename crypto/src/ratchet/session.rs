//! A Double Ratchet session between two devices, started by X3DH.

use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use super::chain_key::ChainKey;
use super::message_key::MessageKey;
use super::ratchet_key::{RatchetKey, RemoteRatchetKey};
use super::root_key::RootKey;
use super::sending_chain::SendingChain;
use super::skipped::SkippedKeys;
use super::MAX_PREVIOUS_CHAINS;
use crate::error::{Error, Result};
use crate::identity::{IdentityKey, IdentityKeyPair};
use crate::message::{Message, PreKeyFields, PreKeyMessage, RatchetMessage};
use crate::prekeys::{OneTimePreKeyPair, PreKeyBundle, SignedPreKeyPair};
use crate::primitives::x25519::AgreementSecret;
use crate::x3dh;

/// Which side of X3DH this session was on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Fetched the other device's bundle and sent the first message.
    Initiator,
    /// Published the prekeys and accepted the first message.
    Responder,
}

/// One end of a Double Ratchet session. Holds secrets: zeroized on drop,
/// and its `Debug` shows only counters and public keys.
///
/// Persist it with [`Session::to_bytes`] (inside the encrypted local store)
/// after every successful `encrypt` or `decrypt`.
#[derive(Clone)]
pub struct Session {
    pub(super) role: Role,
    pub(super) local_identity: IdentityKey,
    pub(super) remote_identity: IdentityKey,
    /// Session associated data, derived from the identities and role.
    pub(super) ad: Vec<u8>,
    pub(super) root: RootKey,
    pub(super) sending: SendingChain,
    pub(super) remote_ratchet: Option<RemoteRatchetKey>,
    pub(super) receiving_chain: Option<ChainKey>,
    /// Remote ratchet keys of earlier receiving chains, newest last.
    pub(super) previous_remote_ratchets: Vec<RemoteRatchetKey>,
    pub(super) skipped: SkippedKeys,
    /// Sent with every message until the peer answers, so that it can run X3DH.
    pub(super) pending_prekey: Option<PreKeyFields>,
}

/// The result of receiving on a new ratchet key, before anything is committed.
struct ReceivedStep {
    root: RootKey,
    skipped: Vec<MessageKey>,
    receiving_chain: ChainKey,
    plaintext: Zeroizing<Vec<u8>>,
}

/// Derives the receiving chain for a new remote ratchet key and decrypts
/// `message` with it. Pure: nothing is committed.
fn receive_on_new_chain(
    root: &RootKey,
    our_ratchet: &RatchetKey,
    ad: &[u8],
    message: &RatchetMessage,
) -> Result<ReceivedStep> {
    let header = &message.header;
    let dh = our_ratchet.diffie_hellman(&RemoteRatchetKey::from(header.ratchet_key))?;
    let (root, chain) = root.advance(&dh)?;
    let (skipped, chain) = chain.skip_to(header.index)?;
    let plaintext = chain.message_key().decrypt(ad, header, &message.ciphertext)?;
    Ok(ReceivedStep {
        root,
        skipped,
        receiving_chain: chain.next()?,
        plaintext,
    })
}

impl Session {
    /// Starts a session as initiator from a (verified) prekey bundle. Draws
    /// the ephemeral key, then the first ratchet key, from `rng` (32 bytes each).
    /// Every message sent is a [`Message::PreKey`] until the peer answers.
    pub fn initiate(
        ours: &IdentityKeyPair,
        bundle: &PreKeyBundle,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Self> {
        let ephemeral = AgreementSecret::generate(rng);
        let sk = x3dh::initiate(ours, &ephemeral, bundle)?;
        let their_ratchet = RemoteRatchetKey::from(*bundle.signed_prekey().public_key());
        let (root, sending) = SendingChain::first(&RootKey::new(sk.0), &their_ratchet, rng)?;
        let local_identity = *ours.public();
        let remote_identity = *bundle.identity();
        Ok(Self {
            role: Role::Initiator,
            ad: x3dh::associated_data(&local_identity, &remote_identity),
            local_identity,
            remote_identity,
            root,
            sending,
            remote_ratchet: Some(their_ratchet),
            receiving_chain: None,
            previous_remote_ratchets: Vec::new(),
            skipped: SkippedKeys::default(),
            pending_prekey: Some(PreKeyFields {
                identity: local_identity,
                base_key: ephemeral.public_key(),
                signed_prekey_id: bundle.signed_prekey().id(),
                one_time_prekey_id: bundle.one_time_prekey().map(|k| k.id),
            }),
        })
    }

    /// Accepts a prekey message as responder, returning the new session and
    /// the first plaintext. The caller looks up the prekeys the message names
    /// ([`PreKeyMessage::prekey`]) and, on success only, deletes the one-time prekey.
    /// Draws one ratchet key (32 bytes) from `rng`, after decryption succeeded.
    pub fn accept(
        ours: &IdentityKeyPair,
        signed_prekey: &SignedPreKeyPair,
        one_time_prekey: Option<&OneTimePreKeyPair>,
        message: &PreKeyMessage,
        rng: &mut impl CryptoRngCore,
    ) -> Result<(Self, Zeroizing<Vec<u8>>)> {
        let fields = &message.prekey;
        if fields.signed_prekey_id != signed_prekey.id() {
            return Err(Error::SignedPreKeyMismatch(fields.signed_prekey_id.0));
        }
        match (fields.one_time_prekey_id, one_time_prekey) {
            (None, None) => {}
            (Some(id), Some(key)) if id == key.id() => {}
            _ => return Err(Error::OneTimePreKeyMismatch),
        }
        let sk = x3dh::respond(
            ours,
            signed_prekey,
            one_time_prekey,
            &fields.identity,
            &fields.base_key,
        )?;
        let local_identity = *ours.public();
        let remote_identity = fields.identity;
        let ad = x3dh::associated_data(&remote_identity, &local_identity);
        // The signed prekey is the responder's first ratchet key.
        let first_ratchet = RatchetKey::from(signed_prekey.secret().clone());
        let step = receive_on_new_chain(&RootKey::new(sk.0), &first_ratchet, &ad, &message.message)?;
        let their_ratchet = RemoteRatchetKey::from(message.message.header.ratchet_key);
        let (root, sending) = SendingChain::first(&step.root, &their_ratchet, rng)?;
        let mut skipped = SkippedKeys::default();
        skipped.extend(their_ratchet, step.skipped);
        let session = Self {
            role: Role::Responder,
            ad,
            local_identity,
            remote_identity,
            root,
            sending,
            remote_ratchet: Some(their_ratchet),
            receiving_chain: Some(step.receiving_chain),
            previous_remote_ratchets: Vec::new(),
            skipped,
            pending_prekey: None,
        };
        Ok((session, step.plaintext))
    }

    /// Encrypts `plaintext` with the next sending message key.
    pub fn encrypt(&mut self, plaintext: &[u8]) -> Result<Message> {
        let message = self.sending.encrypt(&self.ad, plaintext)?;
        Ok(match self.pending_prekey {
            Some(prekey) => Message::PreKey(PreKeyMessage { prekey, message }),
            None => Message::Ratchet(message),
        })
    }

    /// Decrypts a message of this session. A prekey message is accepted only
    /// if it comes from this session's peer (the initiator repeats the X3DH
    /// fields until it hears back). On any error the session is unchanged.
    pub fn decrypt(&mut self, message: &Message, rng: &mut impl CryptoRngCore) -> Result<Zeroizing<Vec<u8>>> {
        if let Message::PreKey(m) = message {
            if m.prekey.identity != self.remote_identity {
                return Err(Error::DecryptionFailed);
            }
        }
        self.decrypt_ratchet(message.ratchet_message(), rng)
    }

    /// Decrypts a ratchet message. On any error the session is unchanged.
    pub fn decrypt_ratchet(
        &mut self,
        message: &RatchetMessage,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let header = &message.header;
        let their_ratchet = RemoteRatchetKey::from(header.ratchet_key);
        let on_current_chain = self.remote_ratchet.as_ref() == Some(&their_ratchet);
        let ahead_in_current = on_current_chain
            && self
                .receiving_chain
                .as_ref()
                .is_some_and(|chain| header.index >= chain.index());

        if !ahead_in_current {
            if let Some(position) = self.skipped.find(&their_ratchet, header.index) {
                let key = self.skipped.get(position).ok_or(Error::DuplicateMessage)?;
                let plaintext = key.decrypt(&self.ad, header, &message.ciphertext)?;
                self.skipped.remove(position);
                self.pending_prekey = None;
                return Ok(plaintext);
            }
            if on_current_chain || self.previous_remote_ratchets.contains(&their_ratchet) {
                // A known chain, and not among the skipped keys: already used or evicted.
                return Err(Error::DuplicateMessage);
            }
        }

        if on_current_chain {
            let chain = self.receiving_chain.as_ref().ok_or(Error::DecryptionFailed)?;
            let (skipped, chain) = chain.skip_to(header.index)?;
            let plaintext = chain
                .message_key()
                .decrypt(&self.ad, header, &message.ciphertext)?;
            let next = chain.next()?;
            self.skipped.extend(their_ratchet, skipped);
            self.receiving_chain = Some(next);
            self.pending_prekey = None;
            return Ok(plaintext);
        }

        // A new ratchet key: first the keys left in the current receiving chain.
        let leftover = match &self.receiving_chain {
            Some(chain) => chain.skip_to(header.previous_chain_len)?.0,
            None => Vec::new(),
        };
        let step = receive_on_new_chain(&self.root, self.sending.ratchet_key(), &self.ad, message)?;
        let (root, sending) = self.sending.next_chain(&step.root, &their_ratchet, rng)?;

        // Commit.
        if let Some(old) = self.remote_ratchet {
            self.skipped.extend(old, leftover);
            self.previous_remote_ratchets.push(old);
            if self.previous_remote_ratchets.len() > MAX_PREVIOUS_CHAINS {
                self.previous_remote_ratchets.remove(0);
            }
        }
        self.skipped.extend(their_ratchet, step.skipped);
        self.remote_ratchet = Some(their_ratchet);
        self.receiving_chain = Some(step.receiving_chain);
        self.root = root;
        self.sending = sending;
        self.pending_prekey = None;
        Ok(step.plaintext)
    }

    /// Which side of X3DH this session was on.
    #[must_use]
    pub fn role(&self) -> Role {
        self.role
    }

    /// Our device identity.
    #[must_use]
    pub fn local_identity(&self) -> &IdentityKey {
        &self.local_identity
    }

    /// The peer device's identity, as authenticated by X3DH.
    #[must_use]
    pub fn remote_identity(&self) -> &IdentityKey {
        &self.remote_identity
    }

    /// The session associated data (public; binds both identities).
    #[must_use]
    pub fn associated_data(&self) -> &[u8] {
        &self.ad
    }

    /// True while outgoing messages still carry the X3DH fields (the peer has not answered yet).
    #[must_use]
    pub fn awaiting_first_reply(&self) -> bool {
        self.pending_prekey.is_some()
    }

    /// Number of skipped message keys currently stored.
    #[must_use]
    pub fn skipped_key_count(&self) -> usize {
        self.skipped.len()
    }

    /// The root key, for the published test vectors only.
    #[cfg(test)]
    pub(crate) fn root_key_bytes(&self) -> [u8; 32] {
        *self.root.as_bytes()
    }
}

impl core::fmt::Debug for Session {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Session")
            .field("role", &self.role)
            .field("remote_identity", &self.remote_identity)
            .field("sending_index", &self.sending.index())
            .field(
                "receiving_index",
                &self.receiving_chain.as_ref().map(ChainKey::index),
            )
            .field("skipped_keys", &self.skipped.len())
            .field("awaiting_first_reply", &self.pending_prekey.is_some())
            .finish_non_exhaustive()
    }
}
