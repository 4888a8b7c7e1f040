//! The persisted encoding of a [`Session`]: versioned, bounded, and
//! rejecting trailing bytes. It holds every secret of the session, so it is
//! stored only sealed (see [`crate::local_store`]).

use zeroize::Zeroizing;

use super::chain_key::ChainKey;
use super::message_key::MessageKey;
use super::ratchet_key::{RatchetKey, RemoteRatchetKey};
use super::receiving_chains::ReceivingChains;
use super::root_key::RootKey;
use super::sending_chain::SendingChain;
use super::session::{Role, Session};
use super::skipped::SkippedKeys;
use super::{MAX_PREVIOUS_CHAINS, MAX_SKIPPED_KEYS};
use crate::codec::{Reader, Writer};
use crate::error::{DecodeError, Error, Result};
use crate::identity::IdentityKey;
use crate::message::PreKeyFields;
use crate::prekeys::PreKeyId;
use crate::primitives::x25519::{AgreementPublic, AgreementSecret};
use crate::x3dh;

const FORMAT_VERSION: u8 = 1;

impl Session {
    /// Versioned encoding of the whole state. Contains secrets: store it only
    /// sealed (see [`crate::local_store`]).
    ///
    /// ```text
    /// version(1)=1 ‖ role(1) ‖ local identity(128) ‖ remote identity(128) ‖ root key(32)
    /// ‖ sending ratchet secret(32) ‖ sending chain key(32) ‖ sending index(u32) ‖ pn(u32)
    /// ‖ flag ‖ [remote ratchet key(32)] ‖ flag ‖ [receiving chain key(32) ‖ index(u32)]
    /// ‖ flag ‖ [base key(32) ‖ signed prekey id(u32) ‖ flag ‖ [one-time prekey id(u32)]]
    /// ‖ previous count(u8) ‖ count × ratchet key(32)
    /// ‖ skipped count(u32) ‖ count × (ratchet key(32) ‖ index(u32) ‖ seed(32))
    /// ```
    #[must_use]
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(400 + 68 * self.receiving.skipped.len()));
        out.put_u8(FORMAT_VERSION);
        out.put_u8(match self.role {
            Role::Initiator => 0,
            Role::Responder => 1,
        });
        out.put(&self.local_identity.to_bytes());
        out.put(&self.remote_identity.to_bytes());
        out.put(self.root.as_bytes());
        out.put(self.sending.ratchet.secret_bytes().as_ref());
        out.put(self.sending.chain.key_bytes());
        out.put_u32(self.sending.chain.index());
        out.put_u32(self.sending.previous_chain_len);
        out.put_flag(self.receiving.remote_ratchet.is_some());
        if let Some(key) = &self.receiving.remote_ratchet {
            out.put(key.as_bytes());
        }
        out.put_flag(self.receiving.chain.is_some());
        if let Some(chain) = &self.receiving.chain {
            out.put(chain.key_bytes());
            out.put_u32(chain.index());
        }
        out.put_flag(self.pending_prekey.is_some());
        if let Some(p) = &self.pending_prekey {
            out.put(p.base_key.as_bytes());
            out.put_u32(p.signed_prekey_id.0);
            out.put_flag(p.one_time_prekey_id.is_some());
            if let Some(id) = p.one_time_prekey_id {
                out.put_u32(id.0);
            }
        }
        // Bounded by MAX_PREVIOUS_CHAINS and MAX_SKIPPED_KEYS, far below the field sizes.
        out.put_u8(u8::try_from(self.receiving.previous_remote_ratchets.len()).unwrap_or(u8::MAX));
        for key in &self.receiving.previous_remote_ratchets {
            out.put(key.as_bytes());
        }
        out.put_u32(u32::try_from(self.receiving.skipped.len()).unwrap_or(u32::MAX));
        for (key, mk) in self.receiving.skipped.iter() {
            out.put(key.as_bytes());
            out.put_u32(mk.index());
            out.put(mk.seed());
        }
        out
    }

    /// Parses [`Session::to_bytes`] output. Unknown versions, bad identity
    /// signatures, counts above the bounds and trailing bytes are errors.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != FORMAT_VERSION {
            return Err(Error::UnsupportedVersion(version));
        }
        let role = match r.u8()? {
            0 => Role::Initiator,
            1 => Role::Responder,
            other => return Err(DecodeError::InvalidTag(other).into()),
        };
        let local_identity = IdentityKey::read(&mut r)?;
        let remote_identity = IdentityKey::read(&mut r)?;
        let root = RootKey::new(Zeroizing::new(r.array()?));
        let sending_ratchet =
            RatchetKey::from(AgreementSecret::from_bytes(*Zeroizing::new(r.array::<32>()?)));
        let sending_chain = ChainKey::new(Zeroizing::new(r.array()?), r.u32()?);
        let previous_chain_len = r.u32()?;
        let remote_ratchet = if r.flag()? {
            Some(read_remote(&mut r)?)
        } else {
            None
        };
        let receiving_chain = if r.flag()? {
            Some(ChainKey::new(Zeroizing::new(r.array()?), r.u32()?))
        } else {
            None
        };
        let pending_prekey = if r.flag()? {
            let base_key = AgreementPublic::from_bytes(r.array()?);
            let signed_prekey_id = PreKeyId(r.u32()?);
            let one_time_prekey_id = if r.flag()? { Some(PreKeyId(r.u32()?)) } else { None };
            Some(PreKeyFields {
                identity: local_identity,
                base_key,
                signed_prekey_id,
                one_time_prekey_id,
            })
        } else {
            None
        };
        let previous_count = usize::from(r.u8()?);
        if previous_count > MAX_PREVIOUS_CHAINS {
            return Err(DecodeError::TooLong.into());
        }
        let mut previous_remote_ratchets = Vec::with_capacity(previous_count);
        for _ in 0..previous_count {
            previous_remote_ratchets.push(read_remote(&mut r)?);
        }
        let count = r.u32()? as usize;
        if count > MAX_SKIPPED_KEYS {
            return Err(DecodeError::TooLong.into());
        }
        let mut skipped = SkippedKeys::default();
        for _ in 0..count {
            let key = read_remote(&mut r)?;
            let index = r.u32()?;
            let seed = Zeroizing::new(r.array()?);
            skipped.extend(key, vec![MessageKey::new(seed, index)]);
        }
        r.finish()?;
        let ad = match role {
            Role::Initiator => x3dh::associated_data(&local_identity, &remote_identity),
            Role::Responder => x3dh::associated_data(&remote_identity, &local_identity),
        };
        Ok(Self {
            role,
            ad,
            local_identity,
            remote_identity,
            root,
            sending: SendingChain {
                ratchet: sending_ratchet,
                chain: sending_chain,
                previous_chain_len,
            },
            receiving: ReceivingChains {
                remote_ratchet,
                chain: receiving_chain,
                previous_remote_ratchets,
                skipped,
            },
            pending_prekey,
        })
    }
}

fn read_remote(r: &mut Reader<'_>) -> Result<RemoteRatchetKey> {
    Ok(RemoteRatchetKey::from(AgreementPublic::from_bytes(r.array()?)))
}
