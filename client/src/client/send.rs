//! Sending to every device of the recipients and to our own other
//! devices, and the outbox: what the connection failed to send, resent
//! with the same ids after reconnecting.

use std::collections::BTreeSet;
use std::time::Duration;

use curbside_protocol::error::ErrorCode;
use curbside_protocol::frames::{ClientFrame, Envelope, ErrorDetails, Escalation, MessageKind, ServerFrame};
use curbside_protocol::ids::{MessageId, UserId};
use curbside_protocol::referral::Priority;
use rand_core::OsRng;
use zeroize::Zeroizing;

use super::Client;
use crate::connection::Connection;
use crate::error::{ClientError, Result};
use crate::local::Outgoing;

/// What the in-memory outbox keeps of a message (see [`Outgoing`]): the
/// plaintext as [`Client::send_or_queue`] was given it, and its kind.
pub(super) struct Encoded {
    kind: MessageKind,
    plaintext: Zeroizing<Vec<u8>>,
    urgency: Urgency,
}

/// A message's priority and escalation (PROTOCOL.md, "Priority,
/// acknowledgement and escalation").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Urgency {
    /// Routine, urgent or stat.
    pub priority: Priority,
    /// For urgent and stat: the backup who receives the message if nobody
    /// acknowledged it within the delay (copies encrypted now, held by the
    /// server).
    pub escalation: Option<(UserId, Duration)>,
    /// Sent to this on-call role: the recipients are its holders now (the
    /// server checks it, and audits who held it for this message).
    pub role: Option<curbside_protocol::ids::OnCallRoleId>,
    /// A curbside consult's question or answer (the server checks who it goes to).
    pub consult: Option<curbside_protocol::ids::ConsultId>,
}

impl Urgency {
    /// A routine message.
    #[must_use]
    pub fn routine() -> Self {
        Self::default()
    }
}

impl core::fmt::Debug for Encoded {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The plaintext is never printed; destructured so that a new field must be considered here.
        let Self {
            kind,
            plaintext,
            urgency,
        } = self;
        f.debug_struct("Encoded")
            .field("kind", kind)
            .field("plaintext_len", &plaintext.len())
            .field("urgency", urgency)
            .finish()
    }
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

impl Client {
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
        self.send_or_queue_with(to, kind, message_id, plaintext, &Urgency::routine())
            .await
    }

    /// [`Client::send_or_queue`] with a priority and an escalation.
    pub async fn send_or_queue_with(
        &mut self,
        to: &[UserId],
        kind: MessageKind,
        message_id: &MessageId,
        plaintext: &[u8],
        urgency: &Urgency,
    ) -> Result<SendOutcome> {
        match self.send_with(to, kind, message_id, plaintext, urgency).await {
            Ok(true) => Ok(SendOutcome::Duplicate),
            Ok(false) => Ok(SendOutcome::Accepted),
            Err(e) if is_transport(&e) => {
                tracing::info!(message_id = %message_id, "send failed in transport; queued for resend");
                self.outbox.push(Outgoing {
                    message_id: message_id.clone(),
                    to: to.to_vec(),
                    content: Encoded {
                        kind,
                        plaintext: Zeroizing::new(plaintext.to_vec()),
                        urgency: urgency.clone(),
                    },
                    role: urgency.role.clone(),
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
            match self
                .send_with(
                    &m.to,
                    m.content.kind,
                    &m.message_id,
                    &m.content.plaintext,
                    &m.content.urgency,
                )
                .await
            {
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

    /// Refuses, before anything is encrypted, a send to colleagues whose
    /// identity keys are not the ones the user verified (see
    /// [`Client::verified_keys`]).
    fn check_keys(&self, users: &BTreeSet<UserId>) -> Result<()> {
        let changed: Vec<UserId> = users
            .iter()
            .filter(|u| !self.allow_changed.contains(*u))
            .filter(|u| {
                self.verified_keys.get(*u).is_some_and(|verified| {
                    *verified != crate::local::key_set_fingerprint(&self.account.identity_keys_of(u))
                })
            })
            .cloned()
            .collect();
        if changed.is_empty() {
            Ok(())
        } else {
            Err(ClientError::KeysChanged(changed))
        }
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
        self.send_with(to, kind, message_id, plaintext, &Urgency::routine())
            .await
    }

    /// [`Client::send`] with a priority and, for urgent and stat, an
    /// escalation: the same plaintext is encrypted to every device of the
    /// backup now, and the server holds those copies until the delay passes
    /// unacknowledged.
    pub async fn send_with(
        &mut self,
        to: &[UserId],
        kind: MessageKind,
        message_id: &MessageId,
        plaintext: &[u8],
        urgency: &Urgency,
    ) -> Result<bool> {
        let me = self.address()?;
        let backup = urgency.escalation.as_ref().map(|(user, _)| user.clone());
        if let Some(backup) = &backup {
            if *backup == me.user_id || to.contains(backup) {
                return Err(ClientError::Refused(
                    "the escalation's backup must be someone other than you and the recipients: choose \
                     another colleague to escalate to"
                        .into(),
                ));
            }
        }
        let mut users: BTreeSet<UserId> = to.iter().cloned().collect();
        users.insert(me.user_id.clone());
        users.extend(backup.clone());
        for attempt in 0..4 {
            for user in &users {
                if *user != me.user_id && self.account.known_devices(user).is_empty() {
                    self.open_sessions(user).await?;
                }
            }
            if let Err(ClientError::KeysChanged(changed)) = self.check_keys(&users) {
                // Perhaps only a device that is gone (revoked): ask the
                // server for the current devices before refusing.
                for user in &changed {
                    self.open_sessions(user).await?;
                }
                self.check_keys(&users)?;
            }
            let mut recipients = Vec::new();
            let mut held = Vec::new();
            for (address, session) in &mut self.account.sessions {
                if users.contains(&address.user_id) && *address != me {
                    let envelope = Envelope {
                        user_id: address.user_id.clone(),
                        device_id: address.device_id,
                        ciphertext: session.encrypt(plaintext)?.to_bytes().into(),
                    };
                    if backup.as_ref() == Some(&address.user_id) {
                        held.push(envelope);
                    } else {
                        recipients.push(envelope);
                    }
                }
            }
            let escalation = urgency.escalation.as_ref().map(|(backup, after)| Escalation {
                after_secs: after.as_secs(),
                backup: backup.clone(),
                recipients: std::mem::take(&mut held),
            });
            if recipients.is_empty() {
                let without: Vec<&str> = to
                    .iter()
                    .filter(|u| **u != me.user_id)
                    .map(UserId::as_str)
                    .collect();
                return Err(ClientError::Refused(format!(
                    "no device to send to: {} has no active device on this server. Check the id \
                     (`curbside directory` finds colleagues by name); if it is right, they must \
                     enroll a device first (an administrator can issue a device invite)",
                    without.join(", ")
                )));
            }
            let result = self
                .conn
                .request(|id| ClientFrame::Send {
                    id,
                    message_id: message_id.clone(),
                    kind,
                    recipients,
                    priority: urgency.priority,
                    escalation,
                    role: urgency.role.clone(),
                    consult: urgency.consult.clone(),
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
}

impl Client {
    /// Acknowledges an urgent or stat message received from `sender` (or
    /// escalated to us): the server records it and withdraws a held
    /// escalation; then the sender's devices, everyone else who has the
    /// message (as the server answers) and our own other devices are told,
    /// end to end encrypted. Returns when it was first acknowledged
    /// and whether this was the first acknowledgement.
    pub async fn acknowledge(&mut self, sender: &UserId, message_id: &MessageId) -> Result<(i64, bool)> {
        let reply = self
            .conn
            .request(|id| ClientFrame::Acknowledge {
                id,
                sender: sender.clone(),
                message_id: message_id.clone(),
            })
            .await?;
        let ServerFrame::Acknowledged {
            acknowledged_at,
            first,
            also,
            ..
        } = reply
        else {
            return Err(ClientError::Protocol(format!("unexpected reply {reply:?}")));
        };
        let content = crate::content::Content::Acknowledge {
            message_ids: vec![message_id.clone()],
        };
        let id = fresh_message_id()?;
        // The sender, and everyone else who has it: they stop alerting.
        let mut to = vec![sender.clone()];
        to.extend(also);
        self.send_or_queue(&to, MessageKind::Receipt, &id, &content.to_bytes())
            .await?;
        Ok((acknowledged_at, first))
    }

    /// Recalls a message we sent to `to` (and the escalation backup, if
    /// any): the server deletes its undelivered copies, then every device
    /// of the recipients and our other devices are told to delete theirs.
    /// Returns how many copies were still undelivered.
    pub async fn recall(&mut self, to: &[UserId], message_id: &MessageId) -> Result<u64> {
        let reply = self
            .conn
            .request(|id| ClientFrame::Recall {
                id,
                message_id: message_id.clone(),
            })
            .await?;
        let ServerFrame::Recalled { undelivered, .. } = reply else {
            return Err(ClientError::Protocol(format!("unexpected reply {reply:?}")));
        };
        let content = crate::content::Content::Recall {
            message_ids: vec![message_id.clone()],
        };
        let id = fresh_message_id()?;
        self.send_or_queue(to, MessageKind::Control, &id, &content.to_bytes())
            .await?;
        Ok(undelivered)
    }
}

/// A random message id: 32 lowercase hex digits.
pub fn fresh_message_id() -> Result<MessageId> {
    let mut bytes = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut OsRng, &mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    MessageId::new(hex).map_err(|e| ClientError::Protocol(e.to_string()))
}
