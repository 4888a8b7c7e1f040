//! `send`: one message, one ciphertext per current device of every
//! recipient and of the sender's other devices.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use curbside_protocol::error::ErrorCode;
use curbside_protocol::frames::{Envelope, ErrorDetails, MessageKind, ServerFrame};
use curbside_protocol::ids::{Address, MessageId, RequestId, UserId};

use super::{Pending, Refusal, Reply};
use crate::error::ApiError;
use crate::hub::HubEvent;
use crate::store::now_ms;
use crate::ws::connection::End;
use crate::ws::session::Session;

/// Answers `accepted` once the message committed, or refuses it.
pub(super) async fn execute(
    session: &mut Session,
    id: RequestId,
    message_id: MessageId,
    kind: MessageKind,
    recipients: Vec<Envelope>,
) -> Result<Reply, End> {
    Ok(match submit(session, id, message_id, kind, recipients).await {
        Ok(pending) => Reply::Later(pending),
        Err(refusal) => Reply::Refused(refusal),
    })
}

/// Validates a send and queues it for the group commit; the returned
/// future resolves (to `accepted` or an error) once it committed, and then
/// wakes the recipients.
async fn submit(
    session: &mut Session,
    id: RequestId,
    message_id: MessageId,
    kind: MessageKind,
    recipients: Vec<Envelope>,
) -> Result<Pending, Refusal> {
    let started = Instant::now();
    let limits = &session.state.config.limits;
    if recipients.is_empty() {
        return Err(ApiError::new(ErrorCode::InvalidRequest, "a send needs at least one recipient").into());
    }
    if recipients.len() > limits.max_recipients {
        return Err(ApiError::new(
            ErrorCode::TooManyRecipients,
            format!("at most {} recipient devices", limits.max_recipients),
        )
        .into());
    }
    if recipients.iter().any(|e| e.ciphertext.is_empty()) {
        return Err(ApiError::new(ErrorCode::InvalidRequest, "empty ciphertext").into());
    }
    let store = &session.state.store;
    let sender = &session.device;
    let named: HashSet<Address> = recipients
        .iter()
        .map(|e| Address {
            user_id: e.user_id.clone(),
            device_id: e.device_id,
        })
        .collect();
    if named.len() != recipients.len() {
        return Err(ApiError::new(ErrorCode::InvalidRequest, "a device is named twice").into());
    }
    let mut users: Vec<UserId> = recipients.iter().map(|e| e.user_id.clone()).collect();
    users.push(sender.user_id.clone());
    users.sort();
    users.dedup();
    let mut required: HashSet<Address> = HashSet::new();
    let mut devices = store
        .bounded(store.current_devices_of(&users))
        .await
        .map_err(Refusal::from)?;
    for user in &users {
        let Some(current) = devices.remove(user) else {
            return Err(ApiError::new(ErrorCode::NotFound, format!("no such user {user}")).into());
        };
        for device_id in current {
            let address = Address {
                user_id: user.clone(),
                device_id,
            };
            if address != *sender {
                required.insert(address);
            }
        }
    }
    let mut missing: Vec<Address> = required.difference(&named).cloned().collect();
    let mut extra: Vec<Address> = named.difference(&required).cloned().collect();
    if !missing.is_empty() || !extra.is_empty() {
        missing.sort();
        extra.sort();
        return Err(Refusal::with_details(
            ApiError::new(
                ErrorCode::StaleDevices,
                "the device list is out of date: fetch bundles and encrypt for the current devices",
            ),
            ErrorDetails::StaleDevices { missing, extra },
        ));
    }
    let now = now_ms();
    let ttl = Duration::from_secs(limits.queue_ttl_secs);
    let pending = store
        .submit_message(sender, &message_id, kind, &recipients, &session.actor, now, ttl)
        .map_err(Refusal::from)?;
    let hub = session.state.hub.clone();
    let sender = sender.clone();
    let bytes: usize = recipients.iter().map(|e| e.ciphertext.len()).sum();
    let count = recipients.len();
    let addresses: Vec<Address> = recipients
        .into_iter()
        .map(|e| Address {
            user_id: e.user_id,
            device_id: e.device_id,
        })
        .collect();
    Ok(Box::pin(async move {
        let result = match pending.wait().await {
            Err(e) => Err(Refusal::from(e)),
            Ok(accepted) => {
                let stored = accepted.stored;
                if stored {
                    crate::metrics::with(|m| m.messages_accepted.inc());
                    tracing::info!(user = %sender.user_id, device = %sender.device_id, message_id = %message_id, recipients = count, bytes, "message accepted");
                    for address in &addresses {
                        hub.notify(address, HubEvent::Wake);
                    }
                }
                Ok(ServerFrame::Accepted {
                    id,
                    message_id,
                    duplicate: !stored,
                    accepted_at: accepted.accepted_at,
                })
            }
        };
        crate::metrics::with(|m| m.send_latency.observe(started.elapsed().as_secs_f64()));
        result
    }))
}
