//! The high-level client: enroll, connect, send to users (all their
//! devices and our own other devices), receive and acknowledge.
//!
//! ## Layout
//! - `mod.rs`: enrollment, [`Client`] and its connection.
//! - `sessions.rs`: the ratchet sessions with other devices: opened from
//!   their prekey bundles, or accepted from their first message; our
//!   one-time prekeys replenished.
//! - `send.rs`: sending to every device of the recipients, and the outbox
//!   resent after reconnecting.
//! - `receive.rs`: deliveries decrypted and deduplicated, receipts and
//!   acknowledgements.

mod receive;
mod send;
mod sessions;

use std::collections::VecDeque;

use curbside_protocol::auth::{enrollment_transcript, EnrollPurpose};
use curbside_protocol::http::EnrollRequest;
use curbside_protocol::ids::{Address, MessageId};

use crate::account::{Account, PREKEY_BATCH};
use crate::api::Api;
use crate::connection::Connection;
use crate::error::{ClientError, Result};
use crate::local::Outgoing;
use crate::ServerInfo;

pub use receive::Received;
use send::Encoded;
pub use send::{fresh_message_id, SendOutcome, Urgency};

/// A new user's professional details.
#[derive(Clone, Debug, Default)]
pub struct UserDetails {
    /// Name shown to colleagues.
    pub display_name: String,
    /// National Provider Identifier (clinicians).
    pub npi: Option<String>,
    /// Specialty (clinicians).
    pub specialty: Option<String>,
}

/// Enrolls a new device with an invite (or the bootstrap token) and returns its account.
pub async fn enroll(server: ServerInfo, invite: &str, profile: &UserDetails) -> Result<Account> {
    let mut account = Account::generate(server)?;
    let api = Api::new(&account.server)?;
    let identity_key = account.identity.public().to_bytes();
    // The proof of possession is good for this server, this invite and its
    // purpose only (a device invite's prefix says it adds a device).
    let signature = account.identity.sign(&enrollment_transcript(
        EnrollPurpose::of_invite(invite),
        &account.server.server_name,
        invite,
        &identity_key,
    ))?;
    let one_time_prekeys = account
        .one_time_prekeys
        .values()
        .map(|k| {
            let p = k.public();
            curbside_protocol::frames::OneTimePrekey {
                id: p.id.0,
                public_key: p.public.as_bytes().to_vec().into(),
            }
        })
        .collect();
    let response = api
        .enroll(&EnrollRequest {
            invite: invite.to_owned(),
            display_name: profile.display_name.clone(),
            npi: profile.npi.clone(),
            specialty: profile.specialty.clone(),
            identity_key: identity_key.to_vec().into(),
            signature: signature.as_bytes().to_vec().into(),
            signed_prekey: account.signed_prekey.public().to_bytes().into(),
            one_time_prekeys,
        })
        .await?;
    account.address = Some(Address {
        user_id: response.user_id,
        device_id: response.device_id,
    });
    Ok(account)
}

/// A connected, authenticated client.
#[derive(Debug)]
pub struct Client {
    /// Keys and sessions (persist after every send and receive).
    pub account: Account,
    conn: Connection,
    outbox: Vec<Outgoing<Encoded>>,
    seen: VecDeque<(Address, MessageId)>,
    /// Delivery receipts received so far: (message, recipient device, time).
    pub receipts: Vec<(MessageId, Address, i64)>,
    /// Referral envelopes pushed by the server (created or changed) so far.
    pub referral_updates: Vec<curbside_protocol::referral::Referral>,
    /// On-call roles pushed as changed (`oncall_changed`), for the caller to take.
    pub oncall_changes: Vec<curbside_protocol::oncall::OnCallRole>,
    /// Trust at send time: the identity keys (their
    /// [`crate::local::key_set_fingerprint`]) each colleague had when the
    /// user confirmed the safety number. A send to a colleague whose keys
    /// are no longer these (learned while preparing the send: a new device,
    /// a reinstall, or someone in the middle) is refused with
    /// [`ClientError::KeysChanged`] before anything is encrypted, unless
    /// the user is in [`Client::allow_changed`].
    pub verified_keys: std::collections::BTreeMap<curbside_protocol::ids::UserId, String>,
    /// Colleagues the user chose to send to although their keys changed.
    pub allow_changed: std::collections::BTreeSet<curbside_protocol::ids::UserId>,
}

impl Client {
    /// Connects and authenticates; uploads one-time prekeys if the server runs low.
    pub async fn connect(account: Account) -> Result<Self> {
        Self::connect_or_return(account).await.map_err(|(_, e)| e)
    }

    /// [`Client::connect`], handing the account back if it fails (so a
    /// caller can keep working offline, for example queue a message).
    pub async fn connect_or_return(account: Account) -> std::result::Result<Self, (Account, ClientError)> {
        let address = match account.address() {
            Ok(a) => a.clone(),
            Err(e) => return Err((account, e)),
        };
        let conn = match Connection::connect(&account.server, &address, &account.identity).await {
            Ok(conn) => conn,
            Err(e) => return Err((account, e)),
        };
        let low = conn.one_time_prekeys < PREKEY_BATCH / 4;
        let mut client = Self {
            account,
            conn,
            outbox: Vec::new(),
            seen: VecDeque::new(),
            receipts: Vec::new(),
            referral_updates: Vec::new(),
            oncall_changes: Vec::new(),
            verified_keys: std::collections::BTreeMap::new(),
            allow_changed: std::collections::BTreeSet::new(),
        };
        if low {
            if let Err(e) = client.replenish_prekeys().await {
                return Err((client.account, e));
            }
        }
        Ok(client)
    }

    /// Our address.
    pub fn address(&self) -> Result<Address> {
        self.account.address().cloned()
    }

    /// The underlying connection (for raw frames in tests and tools).
    #[must_use]
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Closes the connection and returns the account.
    pub async fn close(self) -> Account {
        self.conn.close().await;
        self.account
    }
}
