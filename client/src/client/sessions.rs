//! The ratchet sessions with other devices: opened from their prekey
//! bundles (verified before use), or accepted from their first message;
//! and our one-time prekeys, replenished when the server runs low.

use curbside_crypto::prekeys::SignedPreKey;
use curbside_crypto::primitives::x25519::AgreementPublic;
use curbside_crypto::{IdentityKey, OneTimePreKey, PreKeyBundle, PreKeyId, PreKeyMessage, Session};
use curbside_protocol::frames::{ClientFrame, ServerFrame};
use curbside_protocol::ids::{Address, UserId};
use rand_core::OsRng;
use zeroize::Zeroizing;

use super::Client;
use crate::account::PREKEY_BATCH;
use crate::error::{ClientError, Result};

impl Client {
    /// Uploads a new batch of one-time prekeys.
    pub async fn replenish_prekeys(&mut self) -> Result<u32> {
        let keys = self.account.new_one_time_prekeys(PREKEY_BATCH, &mut OsRng);
        match self
            .conn
            .request(|id| ClientFrame::PublishPrekeys {
                id,
                signed_prekey: None,
                one_time_prekeys: keys,
            })
            .await?
        {
            ServerFrame::PrekeysPublished { one_time_prekeys, .. } => Ok(one_time_prekeys),
            other => Err(ClientError::Protocol(format!("unexpected reply {other:?}"))),
        }
    }

    /// Fetches a user's bundles and opens an X3DH session with every device
    /// we have none with; sessions with devices the server no longer lists
    /// (revoked) are dropped. Bundle signatures are verified before use.
    pub async fn open_sessions(&mut self, user: &UserId) -> Result<usize> {
        let reply = self
            .conn
            .request(|id| ClientFrame::FetchBundles {
                id,
                user_id: user.clone(),
            })
            .await?;
        let ServerFrame::Bundles { devices, .. } = reply else {
            return Err(ClientError::Protocol("expected bundles".into()));
        };
        let me = self.address()?;
        let current: std::collections::BTreeSet<_> = devices.iter().map(|d| d.device_id).collect();
        self.account
            .sessions
            .retain(|a, _| a.user_id != *user || current.contains(&a.device_id));
        let mut opened = 0;
        for d in devices {
            let address = Address {
                user_id: user.clone(),
                device_id: d.device_id,
            };
            if address == me || self.account.sessions.contains_key(&address) {
                continue;
            }
            let identity = IdentityKey::from_bytes(d.identity_key.as_slice())?;
            let signed = SignedPreKey::from_bytes(&identity, d.signed_prekey.as_slice())?;
            let one_time = d
                .one_time_prekey
                .map(|k| {
                    let public: [u8; 32] = k
                        .public_key
                        .as_slice()
                        .try_into()
                        .map_err(|_| curbside_crypto::Error::InvalidKey)?;
                    Ok::<_, curbside_crypto::Error>(OneTimePreKey {
                        id: PreKeyId(k.id),
                        public: AgreementPublic::from_bytes(public),
                    })
                })
                .transpose()?;
            let bundle = PreKeyBundle::new(identity, signed, one_time)?;
            let session = Session::initiate(&self.account.identity, &bundle, &mut OsRng)?;
            self.account.sessions.insert(address, session);
            opened += 1;
        }
        Ok(opened)
    }

    /// Accepts the session a peer device started with `prekey_message` (its first
    /// message, or a new session replacing ours), returning the plaintext.
    /// The one-time prekey it used is deleted only on success.
    pub(super) fn accept_session(
        &mut self,
        sender: &Address,
        prekey_message: &PreKeyMessage,
    ) -> std::result::Result<Zeroizing<Vec<u8>>, curbside_crypto::Error> {
        let fields = &prekey_message.prekey;
        let spk = [
            Some(&self.account.signed_prekey),
            self.account.previous_signed_prekey.as_ref(),
        ]
        .into_iter()
        .flatten()
        .find(|k| k.id() == fields.signed_prekey_id)
        .ok_or(curbside_crypto::Error::SignedPreKeyMismatch(
            fields.signed_prekey_id.0,
        ))?;
        let otk = match fields.one_time_prekey_id {
            Some(id) => Some(
                self.account
                    .one_time_prekeys
                    .get(&id.0)
                    .ok_or(curbside_crypto::Error::OneTimePreKeyMismatch)?,
            ),
            None => None,
        };
        let (session, plaintext) =
            Session::accept(&self.account.identity, spk, otk, prekey_message, &mut OsRng)?;
        if let Some(id) = fields.one_time_prekey_id {
            self.account.one_time_prekeys.remove(&id.0);
        }
        self.account.sessions.insert(sender.clone(), session);
        Ok(plaintext)
    }
}
