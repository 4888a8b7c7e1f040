//! A Double Ratchet session between two devices, started by X3DH.

use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use super::ratchet_key::{RatchetKey, RemoteRatchetKey};
use super::receiving_chains::{derive_new_chain, ReceivingChains};
use super::root_key::RootKey;
use super::sending_chain::SendingChain;
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
    pub(super) receiving: ReceivingChains,
    /// Sent with every message until the peer answers, so that it can run X3DH.
    pub(super) pending_prekey: Option<PreKeyFields>,
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
            receiving: ReceivingChains::awaiting(their_ratchet),
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
        let step = derive_new_chain(&RootKey::new(sk.0), &first_ratchet, &ad, &message.message)?;
        let their_ratchet = RemoteRatchetKey::from(message.message.header.ratchet_key);
        let (root, sending) = SendingChain::first(&step.root, &their_ratchet, rng)?;
        let session = Self {
            role: Role::Responder,
            ad,
            local_identity,
            remote_identity,
            root,
            sending,
            receiving: ReceivingChains::first(their_ratchet, step.skipped, step.chain),
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
        let plaintext = match self.receiving.decrypt_known(&self.ad, message)? {
            Some(plaintext) => plaintext,
            None => self.receive_on_new_chain(message, rng)?,
        };
        self.pending_prekey = None;
        Ok(plaintext)
    }

    /// A message on a new remote ratchet key: the DH ratchet step on both
    /// sides, committed only once the message has decrypted.
    fn receive_on_new_chain(
        &mut self,
        message: &RatchetMessage,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let their_ratchet = RemoteRatchetKey::from(message.header.ratchet_key);
        // First the keys left in the current receiving chain.
        let leftover = self.receiving.leftover(message.header.previous_chain_len)?;
        let step = derive_new_chain(&self.root, self.sending.ratchet_key(), &self.ad, message)?;
        let (root, sending) = self.sending.next_chain(&step.root, &their_ratchet, rng)?;

        // Commit.
        self.receiving
            .start_chain(their_ratchet, leftover, step.skipped, step.chain);
        self.root = root;
        self.sending = sending;
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
        self.receiving.skipped_len()
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
            .field("receiving_index", &self.receiving.index())
            .field("skipped_keys", &self.receiving.skipped_len())
            .field("awaiting_first_reply", &self.pending_prekey.is_some())
            .finish_non_exhaustive()
    }
}
