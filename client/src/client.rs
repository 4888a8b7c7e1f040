//! The high-level client: enroll, connect, send to users (all their
//! devices and our own other devices), receive and acknowledge.

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use curbside_crypto::prekeys::SignedPreKey;
use curbside_crypto::primitives::x25519::AgreementPublic;
use curbside_crypto::{IdentityKey, Message, OneTimePreKey, PreKeyBundle, PreKeyId, Session};
use curbside_protocol::auth::enrollment_transcript;
use curbside_protocol::error::ErrorCode;
use curbside_protocol::frames::{ClientFrame, Envelope, ErrorDetails, MessageKind, ServerFrame};
use curbside_protocol::http::EnrollRequest;
use curbside_protocol::ids::{Address, DeliveryId, MessageId, UserId};
use rand_core::OsRng;
use zeroize::Zeroizing;

use crate::account::{Account, PREKEY_BATCH};
use crate::api::Api;
use crate::connection::Connection;
use crate::error::{ClientError, Result};
use crate::ServerInfo;

/// A new user's professional details.
#[derive(Clone, Debug, Default)]
pub struct Profile {
    /// Name shown to colleagues.
    pub display_name: String,
    /// National Provider Identifier (clinicians).
    pub npi: Option<String>,
    /// Specialty (clinicians).
    pub specialty: Option<String>,
}

/// A message received and decrypted.
#[derive(Debug)]
pub struct Received {
    /// The delivery, to acknowledge once stored.
    pub delivery_id: DeliveryId,
    /// The sender's message id.
    pub message_id: MessageId,
    /// Who sent it.
    pub sender: Address,
    /// What it is.
    pub kind: MessageKind,
    /// The plaintext, or why it could not be decrypted.
    pub content: std::result::Result<Zeroizing<Vec<u8>>, curbside_crypto::Error>,
    /// Server acceptance time (ms since the epoch).
    pub sent_at: i64,
}

/// How many message ids are remembered to suppress re-deliveries.
const SEEN_CAPACITY: usize = 10_000;

/// Enrolls a new device with an invite (or the bootstrap token) and returns its account.
pub async fn enroll(server: ServerInfo, invite: &str, profile: &Profile) -> Result<Account> {
    let mut account = Account::generate(server)?;
    let api = Api::new(&account.server)?;
    let identity_key = account.identity.public().to_bytes();
    let signature = account
        .identity
        .sign(&enrollment_transcript(&account.server.server_name, &identity_key))?;
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

/// A message not yet acknowledged by the server, to resend after reconnecting.
#[derive(Debug)]
struct Outgoing {
    to: Vec<UserId>,
    kind: MessageKind,
    message_id: MessageId,
    plaintext: Zeroizing<Vec<u8>>,
}

/// The outcome of [`Client::send_or_queue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    /// Durably accepted by the server.
    Accepted,
    /// The server had already accepted this id.
    Duplicate,
    /// The connection failed: kept in the outbox, resent by [`Client::reconnect`].
    Queued,
}

/// Whether an error means "try again later" rather than a refusal.
fn is_transport(e: &ClientError) -> bool {
    e.is_retryable()
}

/// A connected, authenticated client.
#[derive(Debug)]
pub struct Client {
    /// Keys and sessions (persist after every send and receive).
    pub account: Account,
    conn: Connection,
    outbox: Vec<Outgoing>,
    seen: VecDeque<(Address, MessageId)>,
    /// Delivery receipts received so far: (message, recipient device, time).
    pub receipts: Vec<(MessageId, Address, i64)>,
    /// Referral envelopes pushed by the server (created or changed) so far.
    pub referral_updates: Vec<curbside_protocol::referral::Referral>,
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

    /// Sends like [`Client::send`], but if the connection fails the message is
    /// kept in the outbox and resent (same id, so never duplicated) by
    /// [`Client::reconnect`]. Refusals by the server are still errors.
    pub async fn send_or_queue(
        &mut self,
        to: &[UserId],
        kind: MessageKind,
        message_id: &MessageId,
        plaintext: &[u8],
    ) -> Result<SendOutcome> {
        match self.send(to, kind, message_id, plaintext).await {
            Ok(true) => Ok(SendOutcome::Duplicate),
            Ok(false) => Ok(SendOutcome::Accepted),
            Err(e) if is_transport(&e) => {
                tracing::info!(message_id = %message_id, "send failed in transport; queued for resend");
                self.outbox.push(Outgoing {
                    to: to.to_vec(),
                    kind,
                    message_id: message_id.clone(),
                    plaintext: Zeroizing::new(plaintext.to_vec()),
                });
                Ok(SendOutcome::Queued)
            }
            Err(e) => Err(e),
        }
    }

    /// Messages waiting in the outbox.
    #[must_use]
    pub fn outbox_len(&self) -> usize {
        self.outbox.len()
    }

    /// Reconnects with exponential backoff (100 ms doubling to 10 s, with
    /// jitter), up to `max_attempts`, then resends the outbox in order.
    /// Authentication refusals (revoked device, bad key) are not retried.
    pub async fn reconnect(&mut self, max_attempts: u32) -> Result<()> {
        let address = self.address()?;
        let mut delay = Duration::from_millis(100);
        let mut attempt = 0;
        let conn = loop {
            attempt += 1;
            match Connection::connect(&self.account.server, &address, &self.account.identity).await {
                Ok(conn) => break conn,
                Err(e) if is_transport(&e) && attempt < max_attempts => {
                    let jitter =
                        Duration::from_millis(u64::from(rand_core::RngCore::next_u32(&mut OsRng) % 100));
                    tracing::info!(attempt, error = %e, "reconnect failed; backing off");
                    tokio::time::sleep(delay + jitter).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
                Err(e) => return Err(e),
            }
        };
        let old = std::mem::replace(&mut self.conn, conn);
        drop(old);
        let pending = std::mem::take(&mut self.outbox);
        let mut failed = Vec::new();
        for (i, m) in pending.into_iter().enumerate() {
            if !failed.is_empty() {
                failed.push(m);
                continue;
            }
            match self.send(&m.to, m.kind, &m.message_id, &m.plaintext).await {
                Ok(_) => {}
                Err(e) if is_transport(&e) => {
                    tracing::info!(index = i, "resend failed in transport; kept in the outbox");
                    failed.push(m);
                }
                Err(e) => return Err(e),
            }
        }
        self.outbox = failed;
        Ok(())
    }

    /// Closes the connection and returns the account.
    pub async fn close(self) -> Account {
        self.conn.close().await;
        self.account
    }

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
    /// we have none with. Bundle signatures are verified before use.
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

    /// Sends `plaintext` to every device of `to` and to our own other
    /// devices, under a client-chosen id (resending the same id never
    /// duplicates). Returns `true` if the server had already accepted this id.
    pub async fn send(
        &mut self,
        to: &[UserId],
        kind: MessageKind,
        message_id: &MessageId,
        plaintext: &[u8],
    ) -> Result<bool> {
        let me = self.address()?;
        let mut users: BTreeSet<UserId> = to.iter().cloned().collect();
        users.insert(me.user_id.clone());
        for attempt in 0..4 {
            for user in &users {
                if *user != me.user_id && self.account.known_devices(user).is_empty() {
                    self.open_sessions(user).await?;
                }
            }
            let mut recipients = Vec::new();
            for (address, session) in &mut self.account.sessions {
                if users.contains(&address.user_id) && *address != me {
                    recipients.push(Envelope {
                        user_id: address.user_id.clone(),
                        device_id: address.device_id,
                        ciphertext: session.encrypt(plaintext)?.to_bytes().into(),
                    });
                }
            }
            if recipients.is_empty() {
                return Err(ClientError::Refused(
                    "no device to send to: the recipient has no registered device".into(),
                ));
            }
            let result = self
                .conn
                .request(|id| ClientFrame::Send {
                    id,
                    message_id: message_id.clone(),
                    kind,
                    recipients,
                })
                .await;
            match result {
                Ok(ServerFrame::Accepted { duplicate, .. }) => return Ok(duplicate),
                Ok(other) => return Err(ClientError::Protocol(format!("unexpected reply {other:?}"))),
                Err(ClientError::Server {
                    code: ErrorCode::StaleDevices,
                    details: Some(ErrorDetails::StaleDevices { missing, extra }),
                    ..
                }) if attempt < 3 => {
                    for address in extra {
                        self.account.sessions.remove(&address);
                    }
                    let missing_users: BTreeSet<UserId> = missing.into_iter().map(|a| a.user_id).collect();
                    for user in missing_users {
                        self.open_sessions(&user).await?;
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(ClientError::Protocol("the device list kept changing".into()))
    }

    fn decrypt(
        &mut self,
        sender: &Address,
        ciphertext: &[u8],
    ) -> std::result::Result<Zeroizing<Vec<u8>>, curbside_crypto::Error> {
        let message = Message::from_bytes(ciphertext)?;
        if let Some(session) = self.account.sessions.get_mut(sender) {
            match session.decrypt(&message, &mut OsRng) {
                Ok(plaintext) => return Ok(plaintext),
                Err(e) if !matches!(message, Message::PreKey(_)) => return Err(e),
                Err(_) => {} // the peer started a new session: accept it below
            }
        }
        let Message::PreKey(prekey_message) = &message else {
            return Err(curbside_crypto::Error::DecryptionFailed);
        };
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

    fn remember(&mut self, key: (Address, MessageId)) -> bool {
        if self.seen.contains(&key) {
            return false;
        }
        if self.seen.len() >= SEEN_CAPACITY {
            self.seen.pop_front();
        }
        self.seen.push_back(key);
        true
    }

    /// Handles pushed frames until one delivery arrives (returned, not yet
    /// acknowledged) or nothing arrives for `wait`. Receipts are collected in
    /// [`Client::receipts`]; low prekeys are replenished; re-deliveries of a
    /// message already received are acknowledged silently.
    pub async fn next_message(&mut self, wait: Duration) -> Result<Option<Received>> {
        loop {
            let Some(frame) = self.conn.next_event_within(wait).await else {
                return Ok(None);
            };
            match frame {
                ServerFrame::Deliver {
                    delivery_id,
                    message_id,
                    sender,
                    kind,
                    ciphertext,
                    sent_at,
                } => {
                    let content = self.decrypt(&sender, ciphertext.as_slice());
                    let key = (sender.clone(), message_id.clone());
                    let duplicate = matches!(content, Err(curbside_crypto::Error::DuplicateMessage))
                        || !self.remember(key);
                    if duplicate {
                        self.ack(&[delivery_id]).await?;
                        continue;
                    }
                    return Ok(Some(Received {
                        delivery_id,
                        message_id,
                        sender,
                        kind,
                        content,
                        sent_at,
                    }));
                }
                ServerFrame::Delivered {
                    receipt_id,
                    message_id,
                    recipient,
                    delivered_at,
                } => {
                    self.record_receipt(receipt_id, message_id, recipient, delivered_at)
                        .await?;
                }
                ServerFrame::PrekeysLow { .. } => {
                    self.replenish_prekeys().await?;
                }
                ServerFrame::ReferralUpdated { referral } => {
                    self.referral_updates.push(referral);
                }
                ServerFrame::Error {
                    code,
                    message,
                    details,
                    ..
                } => {
                    return Err(ClientError::Server {
                        code,
                        message,
                        details,
                    })
                }
                _ => {}
            }
        }
    }

    /// Receives until nothing arrives for `wait`, acknowledging each message
    /// after it was decrypted. Callers that persist messages should use
    /// [`Client::next_message`], persist, then [`Client::ack`].
    pub async fn receive_all(&mut self, wait: Duration) -> Result<Vec<Received>> {
        let mut out = Vec::new();
        while let Some(received) = self.next_message(wait).await? {
            self.ack(&[received.delivery_id]).await?;
            out.push(received);
        }
        Ok(out)
    }

    /// Records a delivery receipt and acknowledges it, so the server deletes it.
    async fn record_receipt(
        &mut self,
        receipt_id: i64,
        message_id: MessageId,
        recipient: Address,
        at: i64,
    ) -> Result<()> {
        self.receipts.push((message_id, recipient, at));
        self.conn
            .send(&ClientFrame::Ack {
                delivery_ids: Vec::new(),
                receipt_ids: vec![receipt_id],
            })
            .await
    }

    /// Acknowledges deliveries: the server deletes their ciphertext.
    pub async fn ack(&self, ids: &[DeliveryId]) -> Result<()> {
        self.conn
            .send(&ClientFrame::Ack {
                delivery_ids: ids.to_vec(),
                receipt_ids: Vec::new(),
            })
            .await
    }

    /// Waits up to `wait` for pushed receipts, returning all received so far.
    pub async fn wait_for_receipts(
        &mut self,
        count: usize,
        wait: Duration,
    ) -> Result<&[(MessageId, Address, i64)]> {
        let deadline = tokio::time::Instant::now() + wait;
        while self.receipts.len() < count {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                break;
            }
            if let Some(ServerFrame::Delivered {
                receipt_id,
                message_id,
                recipient,
                delivered_at,
            }) = self.conn.next_event_within(left).await
            {
                self.record_receipt(receipt_id, message_id, recipient, delivered_at)
                    .await?;
            }
        }
        Ok(&self.receipts)
    }
}
