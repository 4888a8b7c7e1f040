//! Receiving: deliveries decrypted (a peer's new session accepted on the
//! way) and deduplicated, delivery receipts recorded, and acknowledgements.

use std::time::Duration;

use curbside_crypto::Message;
use curbside_protocol::frames::{ClientFrame, MessageKind, ServerFrame};
use curbside_protocol::ids::{Address, DeliveryId, MessageId, ReceiptId};
use rand_core::OsRng;
use zeroize::Zeroizing;

use super::Client;
use crate::error::{ClientError, Result};

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
    /// The sender's priority.
    pub priority: curbside_protocol::referral::Priority,
    /// An escalation copy: nobody acknowledged the message in time.
    pub escalated: bool,
}

/// How many message ids are remembered to suppress re-deliveries.
const SEEN_CAPACITY: usize = 10_000;

impl Client {
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
        self.accept_session(sender, prekey_message)
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

    /// Waits until the server pushed something (a delivery, a receipt, a
    /// referral change) or the connection is gone; cancel-safe. Read what
    /// came with [`Client::next_message`] and a zero wait.
    pub async fn wait_for_activity(&mut self) {
        self.conn.wait_event().await;
    }

    /// Handles pushed frames until one delivery arrives (returned, not yet
    /// acknowledged) or nothing arrives for `wait`. Receipts are collected in
    /// [`Client::receipts`]; low prekeys are replenished; re-deliveries of a
    /// message already received are acknowledged silently. A connection
    /// that is gone is an error ([`ClientError::Closed`]), not a quiet one,
    /// so that callers reconnect.
    pub async fn next_message(&mut self, wait: Duration) -> Result<Option<Received>> {
        loop {
            let Some(frame) = self.conn.next_event_within(wait).await else {
                if self.conn.is_closed() {
                    return Err(ClientError::Closed);
                }
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
                    priority,
                    escalated,
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
                        priority,
                        escalated,
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
                ServerFrame::OncallChanged { role } => {
                    self.oncall_changes.push(role);
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
        receipt_id: ReceiptId,
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
