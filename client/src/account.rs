//! A device's account: its identity, prekeys and ratchet sessions, with a
//! versioned encoding for the sealed local profile.

use std::collections::BTreeMap;

use curbside_crypto::{IdentityKeyPair, OneTimePreKeyPair, PreKeyId, Session, SignedPreKeyPair};
use curbside_protocol::bytes::Base64;
use curbside_protocol::frames::OneTimePrekey;
use curbside_protocol::ids::{Address, DeviceId, UserId};
use rand_core::{CryptoRngCore, OsRng};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{ClientError, Result};
use crate::ServerInfo;

/// One-time prekeys generated at enrollment and at each replenishment.
pub const PREKEY_BATCH: u32 = 100;

/// A device's keys and sessions. Holds secrets: never logged.
pub struct Account {
    /// The server this account belongs to.
    pub server: ServerInfo,
    /// Our address, once enrolled.
    pub address: Option<Address>,
    pub(crate) identity: IdentityKeyPair,
    pub(crate) signed_prekey: SignedPreKeyPair,
    pub(crate) previous_signed_prekey: Option<SignedPreKeyPair>,
    pub(crate) one_time_prekeys: BTreeMap<u32, OneTimePreKeyPair>,
    pub(crate) next_prekey_id: u32,
    pub(crate) sessions: BTreeMap<Address, Session>,
}

impl core::fmt::Debug for Account {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Account")
            .field("address", &self.address)
            .field("sessions", &self.sessions.len())
            .field("one_time_prekeys", &self.one_time_prekeys.len())
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct Stored {
    version: u32,
    server: ServerInfo,
    address: Option<Address>,
    identity: Base64,
    signed_prekey: Base64,
    previous_signed_prekey: Option<Base64>,
    one_time_prekeys: Vec<Base64>,
    next_prekey_id: u32,
    sessions: Vec<(Address, Base64)>,
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Account {
    /// A new device: identity, a signed prekey and a batch of one-time prekeys.
    pub fn generate(server: ServerInfo) -> Result<Self> {
        let rng = &mut OsRng;
        let identity = IdentityKeyPair::generate(rng)?;
        let signed_prekey = SignedPreKeyPair::generate(&identity, PreKeyId(1), now_secs(), rng)?;
        let mut account = Self {
            server,
            address: None,
            identity,
            signed_prekey,
            previous_signed_prekey: None,
            one_time_prekeys: BTreeMap::new(),
            next_prekey_id: 1,
            sessions: BTreeMap::new(),
        };
        account.new_one_time_prekeys(PREKEY_BATCH, rng);
        Ok(account)
    }

    /// Generates `count` more one-time prekeys and returns their public halves for upload.
    pub fn new_one_time_prekeys(&mut self, count: u32, rng: &mut impl CryptoRngCore) -> Vec<OneTimePrekey> {
        let batch = OneTimePreKeyPair::generate_batch(PreKeyId(self.next_prekey_id), count, rng);
        self.next_prekey_id = self.next_prekey_id.wrapping_add(count);
        batch
            .into_iter()
            .map(|k| {
                let public = k.public();
                self.one_time_prekeys.insert(k.id().0, k);
                OneTimePrekey {
                    id: public.id.0,
                    public_key: public.public.as_bytes().to_vec().into(),
                }
            })
            .collect()
    }

    /// Our identity.
    #[must_use]
    pub fn identity(&self) -> &IdentityKeyPair {
        &self.identity
    }

    /// Our address; an error before enrollment.
    pub fn address(&self) -> Result<&Address> {
        self.address
            .as_ref()
            .ok_or_else(|| ClientError::Profile("this profile is not enrolled yet".into()))
    }

    /// Our user id.
    pub fn user_id(&self) -> Result<&UserId> {
        self.address().map(|a| &a.user_id)
    }

    /// The devices we have sessions with, for a user.
    #[must_use]
    pub fn known_devices(&self, user: &UserId) -> Vec<DeviceId> {
        self.sessions
            .keys()
            .filter(|a| &a.user_id == user)
            .map(|a| a.device_id)
            .collect()
    }

    /// The safety-number identity keys of a user's devices we have sessions with.
    #[must_use]
    pub fn identity_keys_of(&self, user: &UserId) -> Vec<curbside_crypto::IdentityKey> {
        self.sessions
            .iter()
            .filter(|(a, _)| &a.user_id == user)
            .map(|(_, s)| *s.remote_identity())
            .collect()
    }

    /// Versioned encoding (secrets included): seal it before writing it anywhere.
    pub fn to_bytes(&self) -> Result<Zeroizing<Vec<u8>>> {
        let stored = Stored {
            version: 1,
            server: self.server.clone(),
            address: self.address.clone(),
            identity: self.identity.to_bytes().to_vec().into(),
            signed_prekey: self.signed_prekey.to_bytes().to_vec().into(),
            previous_signed_prekey: self
                .previous_signed_prekey
                .as_ref()
                .map(|k| k.to_bytes().to_vec().into()),
            one_time_prekeys: self
                .one_time_prekeys
                .values()
                .map(|k| k.to_bytes().to_vec().into())
                .collect(),
            next_prekey_id: self.next_prekey_id,
            sessions: self
                .sessions
                .iter()
                .map(|(a, s)| (a.clone(), s.to_bytes().to_vec().into()))
                .collect(),
        };
        serde_json::to_vec(&stored)
            .map(Zeroizing::new)
            .map_err(|e| ClientError::Profile(e.to_string()))
    }

    /// Parses [`Account::to_bytes`] output.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let stored: Stored = serde_json::from_slice(bytes)
            .map_err(|e| ClientError::Profile(format!("corrupt profile: {e}")))?;
        if stored.version != 1 {
            return Err(ClientError::Profile(format!(
                "unsupported profile version {}",
                stored.version
            )));
        }
        let identity = IdentityKeyPair::from_bytes(stored.identity.as_slice())?;
        let signed_prekey = SignedPreKeyPair::from_bytes(&identity, stored.signed_prekey.as_slice())?;
        let previous_signed_prekey = stored
            .previous_signed_prekey
            .map(|k| SignedPreKeyPair::from_bytes(&identity, k.as_slice()))
            .transpose()?;
        let mut one_time_prekeys = BTreeMap::new();
        for k in stored.one_time_prekeys {
            let k = OneTimePreKeyPair::from_bytes(k.as_slice())?;
            one_time_prekeys.insert(k.id().0, k);
        }
        let mut sessions = BTreeMap::new();
        for (address, state) in stored.sessions {
            sessions.insert(address, Session::from_bytes(state.as_slice())?);
        }
        Ok(Self {
            server: stored.server,
            address: stored.address,
            identity,
            signed_prekey,
            previous_signed_prekey,
            one_time_prekeys,
            next_prekey_id: stored.next_prekey_id,
            sessions,
        })
    }
}
