//! `send`: one message, one ciphertext per current device of every
//! recipient and of the sender's other devices.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use curbside_protocol::error::ErrorCode;
use curbside_protocol::frames::{
    Envelope, ErrorDetails, Escalation, MessageKind, ServerFrame, MAX_ESCALATION_SECS,
};
use curbside_protocol::ids::{Address, ConsultId, DeviceId, MessageId, OnCallRoleId, RequestId, UserId};
use curbside_protocol::referral::Priority;

use super::{Pending, Refusal, Reply};
use crate::error::ApiError;
use crate::hub::HubEvent;
use crate::store::{now_ms, HeldEscalation, NewMessage, UserStatus};
use crate::ws::connection::End;
use crate::ws::handler::Handler;

/// A `send` as the connection read it.
pub(super) struct SendRequest {
    pub(super) id: RequestId,
    pub(super) message_id: MessageId,
    pub(super) kind: MessageKind,
    pub(super) recipients: Vec<Envelope>,
    pub(super) priority: Priority,
    pub(super) escalation: Option<Escalation>,
    pub(super) role: Option<OnCallRoleId>,
    pub(super) consult: Option<ConsultId>,
}

/// Answers `accepted` once the message committed, or refuses it.
pub(super) async fn execute(handler: &mut Handler, request: SendRequest) -> Result<Reply, End> {
    Ok(match submit(handler, request).await {
        Ok(pending) => Reply::Later(pending),
        Err(refusal) => Reply::Refused(refusal),
    })
}

/// Validates a send and queues it for the group commit; the returned
/// future resolves (to `accepted` or an error) once it committed, and then
/// wakes the recipients (not the backup, whose copies are held).
async fn submit(handler: &mut Handler, request: SendRequest) -> Result<Pending, Refusal> {
    let SendRequest {
        id,
        message_id,
        kind,
        recipients,
        priority,
        escalation,
        role,
        consult,
    } = request;
    let started = Instant::now();
    let limits = &handler.state.config.limits;
    check_priority(
        kind,
        priority,
        escalation.as_ref(),
        &recipients,
        &handler.device.user_id,
    )?;
    if let Some(role) = &role {
        check_holders(&handler.state.store, &handler.device.user_id, role, &recipients).await?;
    }
    let consult_answer = match &consult {
        Some(id) => check_consult(&handler.state.store, &handler.device.user_id, id, &recipients).await?,
        None => None,
    };
    let held: &[Envelope] = escalation.as_ref().map_or(&[], |e| e.recipients.as_slice());
    let all: Vec<Envelope> = recipients.iter().chain(held).cloned().collect();
    let named = check_envelopes(&all, limits.max_recipients)?;
    let store = &handler.state.store;
    let sender = &handler.device;
    let users = users_of(sender, &all);
    let current = store.bounded(store.current_devices_of(&users)).await?;
    if let Err(mismatch) = check_devices(sender, &named, &users, current) {
        if let Mismatch::NoSuchUser(user) = &mismatch {
            if store.bounded(store.user_status(user)).await? == UserStatus::Deactivated {
                return Err(deactivated(user).into());
            }
        }
        return Err(mismatch.into());
    }
    let now = now_ms();
    let ttl = Duration::from_secs(limits.queue_ttl_secs);
    let bytes: usize = all.iter().map(|e| e.ciphertext.len()).sum();
    let count = all.len();
    let addresses: Vec<Address> = recipients
        .iter()
        .map(|e| Address {
            user_id: e.user_id.clone(),
            device_id: e.device_id,
        })
        .collect();
    let pending = store.submit_message(NewMessage {
        sender: sender.clone(),
        message_id: message_id.clone(),
        kind,
        envelopes: recipients,
        priority,
        escalation: escalation.map(|e| HeldEscalation {
            backup: e.backup,
            after: Duration::from_secs(e.after_secs),
            envelopes: e.recipients,
        }),
        role,
        consult_answer,
        actor: handler.actor.clone(),
        now,
        ttl,
    })?;
    let hub = handler.state.hub.clone();
    let sender = sender.clone();
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

/// The priority rules: only a `message` may be urgent or stat; only an
/// urgent or stat message may escalate, within the delay bounds, to a
/// backup who is neither the sender nor a recipient, with envelopes for the
/// backup alone.
fn check_priority(
    kind: MessageKind,
    priority: Priority,
    escalation: Option<&Escalation>,
    recipients: &[Envelope],
    sender: &UserId,
) -> Result<(), ApiError> {
    if kind != MessageKind::Message && priority != Priority::Routine {
        return Err(ApiError::invalid(format!(
            "priority: only a `message` may be urgent or stat, not a `{}`",
            kind.as_str()
        )));
    }
    let Some(e) = escalation else {
        return Ok(());
    };
    if priority == Priority::Routine {
        return Err(ApiError::invalid(
            "escalation: only an urgent or stat message escalates; set `priority`",
        ));
    }
    if e.after_secs == 0 || e.after_secs > MAX_ESCALATION_SECS {
        return Err(ApiError::invalid(format!(
            "escalation.after_secs: {} is not between 1 and {MAX_ESCALATION_SECS}",
            e.after_secs
        )));
    }
    if e.backup == *sender || recipients.iter().any(|r| r.user_id == e.backup) {
        return Err(ApiError::invalid(
            "escalation.backup: the backup must be someone other than the sender and the recipients",
        ));
    }
    if e.recipients.is_empty() || e.recipients.iter().any(|r| r.user_id != e.backup) {
        return Err(ApiError::invalid(
            "escalation.recipients: one envelope per device of the backup, and only of the backup",
        ));
    }
    Ok(())
}

/// A send to an on-call role names exactly the users holding it now
/// (besides the sender's own devices): else `holders_changed`, naming them.
async fn check_holders(
    store: &crate::store::Store,
    sender: &UserId,
    role: &OnCallRoleId,
    recipients: &[Envelope],
) -> Result<(), Refusal> {
    let holders = store.bounded(store.oncall_holders(role, now_ms())).await?;
    if holders.is_empty() {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            "nobody holds this on-call role now: ask an administrator to schedule it, or write to a colleague",
        )
        .into());
    }
    let held: std::collections::BTreeSet<&UserId> = holders.iter().map(|h| &h.user_id).collect();
    let named: std::collections::BTreeSet<&UserId> = recipients
        .iter()
        .map(|e| &e.user_id)
        .filter(|u| *u != sender)
        .collect();
    if held != named {
        // By name: a client may show the refusal as it is.
        let names: Vec<&str> = holders.iter().map(|h| h.display_name.as_str()).collect();
        return Err(ApiError::new(
            ErrorCode::HoldersChanged,
            format!(
                "the on-call role is held by {} now: resolve it again and resend",
                names.join(", ")
            ),
        )
        .into());
    }
    Ok(())
}

/// A send naming a consult: its asker writes to the clinicians the server
/// chose, a recipient answers the asker (or everyone, if answers are
/// shared). Returns, for an answer, the consult and its asker.
async fn check_consult(
    store: &crate::store::Store,
    sender: &UserId,
    id: &ConsultId,
    recipients: &[Envelope],
) -> Result<Option<(ConsultId, UserId)>, Refusal> {
    use crate::store::{ConsultProblem, ConsultRole};
    let others = || recipients.iter().map(|e| &e.user_id).filter(|u| *u != sender);
    match store.bounded(store.consult_role(id, sender)).await? {
        Err(ConsultProblem::Closed) => Err(ApiError::invalid(
            "consult: this consult is closed; its asker closed it (ask a new question instead)",
        )
        .into()),
        Err(_) => Err(ApiError::new(ErrorCode::NotFound, "consult: no such consult of yours").into()),
        Ok(ConsultRole::Asker { recipients: chosen }) => {
            if others().any(|u| !chosen.contains(u)) {
                return Err(ApiError::invalid(
                    "recipients: a consult's question goes only to the clinicians the server chose for it",
                )
                .into());
            }
            Ok(None)
        }
        Ok(ConsultRole::Answerer { allowed, asker }) => {
            if others().any(|u| !allowed.contains(u)) {
                return Err(ApiError::invalid(
                    "recipients: an answer to a consult goes to its asker (and, if shared, to its recipients)",
                )
                .into());
            }
            Ok(Some((id.clone(), asker)))
        }
    }
}

/// The checks of a send's envelopes that need no storage: at least one, at
/// most `max_recipients`, no empty ciphertext, no device named twice.
/// Returns the devices named.
fn check_envelopes(recipients: &[Envelope], max_recipients: usize) -> Result<HashSet<Address>, ApiError> {
    if recipients.is_empty() {
        return Err(ApiError::invalid("a send needs at least one recipient"));
    }
    if recipients.len() > max_recipients {
        return Err(ApiError::new(
            ErrorCode::TooManyRecipients,
            format!("at most {max_recipients} recipient devices"),
        ));
    }
    if recipients.iter().any(|e| e.ciphertext.is_empty()) {
        return Err(ApiError::invalid("empty ciphertext"));
    }
    let named: HashSet<Address> = recipients
        .iter()
        .map(|e| Address {
            user_id: e.user_id.clone(),
            device_id: e.device_id,
        })
        .collect();
    if named.len() != recipients.len() {
        return Err(ApiError::invalid("a device is named twice"));
    }
    Ok(named)
}

/// A send's validation up to its commit, with `current` standing for what
/// the store answers (the current devices of the users that exist): the
/// envelope checks, then the stale-device check, refused as the connection
/// would refuse them. For the fuzz target `ws_send` (`crate::fuzzing`).
pub(crate) fn check_without_storage(
    sender: &Address,
    recipients: &[Envelope],
    max_recipients: usize,
    current: HashMap<UserId, Vec<DeviceId>>,
) -> Result<(), (ApiError, Option<ErrorDetails>)> {
    let named = check_envelopes(recipients, max_recipients).map_err(|e| (e, None))?;
    let users = users_of(sender, recipients);
    check_devices(sender, &named, &users, current).map_err(|m| {
        let Refusal { error, details } = m.into();
        (error, details)
    })
}

/// The users a send concerns: its recipients and the sender, sorted, once each.
fn users_of(sender: &Address, recipients: &[Envelope]) -> Vec<UserId> {
    let mut users: Vec<UserId> = recipients.iter().map(|e| e.user_id.clone()).collect();
    users.push(sender.user_id.clone());
    users.sort();
    users.dedup();
    users
}

/// How the devices a send names differ from those it must name.
#[derive(Debug, PartialEq, Eq)]
enum Mismatch {
    /// One of the users does not exist (the first, in order).
    NoSuchUser(UserId),
    /// The current devices the send omits and the devices it names that
    /// are not current (revoked or unknown), each sorted.
    Stale {
        /// To add.
        missing: Vec<Address>,
        /// To drop.
        extra: Vec<Address>,
    },
}

/// The stale-device check: a send must name every current device of each
/// of `users` (its recipients and the sender) but the sending device itself,
/// and nothing else. `current` holds the current devices of the users that
/// exist.
fn check_devices(
    sender: &Address,
    named: &HashSet<Address>,
    users: &[UserId],
    mut current: HashMap<UserId, Vec<DeviceId>>,
) -> Result<(), Mismatch> {
    let mut required: HashSet<Address> = HashSet::new();
    for user in users {
        let Some(devices) = current.remove(user) else {
            return Err(Mismatch::NoSuchUser(user.clone()));
        };
        for device_id in devices {
            let address = Address {
                user_id: user.clone(),
                device_id,
            };
            if address != *sender {
                required.insert(address);
            }
        }
    }
    let mut missing: Vec<Address> = required.difference(named).cloned().collect();
    let mut extra: Vec<Address> = named.difference(&required).cloned().collect();
    if missing.is_empty() && extra.is_empty() {
        return Ok(());
    }
    missing.sort();
    extra.sort();
    Err(Mismatch::Stale { missing, extra })
}

/// The refusal of a send to, or a bundle fetch of, a deactivated account.
pub(super) fn deactivated(user: &UserId) -> ApiError {
    ApiError::new(
        ErrorCode::UserDeactivated,
        format!(
            "{user}'s account was deactivated by an administrator: nothing can be sent to it. If the \
             clinician is back, they have a new account: find them with `curbside directory`"
        ),
    )
}

impl From<Mismatch> for Refusal {
    fn from(mismatch: Mismatch) -> Self {
        match mismatch {
            Mismatch::NoSuchUser(user) => {
                ApiError::new(ErrorCode::NotFound, format!("no such user {user}")).into()
            }
            Mismatch::Stale { missing, extra } => Refusal::with_details(
                ApiError::new(
                    ErrorCode::StaleDevices,
                    "the device list is out of date: fetch bundles and encrypt for the current devices",
                ),
                ErrorDetails::StaleDevices { missing, extra },
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> UserId {
        UserId::new(name).unwrap()
    }

    fn at(name: &str, device: u32) -> Address {
        Address {
            user_id: user(name),
            device_id: DeviceId(device),
        }
    }

    /// Alice (device 1, sending; device 2 her other one) writes to Bob
    /// (devices 1 and 3).
    fn current() -> HashMap<UserId, Vec<DeviceId>> {
        HashMap::from([
            (user("alice"), vec![DeviceId(1), DeviceId(2)]),
            (user("bob"), vec![DeviceId(1), DeviceId(3)]),
        ])
    }

    fn check(named: &[Address]) -> Result<(), Mismatch> {
        let sender = at("alice", 1);
        let envelopes: Vec<Envelope> = named
            .iter()
            .map(|a| Envelope {
                user_id: a.user_id.clone(),
                device_id: a.device_id,
                ciphertext: vec![1].into(),
            })
            .collect();
        let users = users_of(&sender, &envelopes);
        let named = named.iter().cloned().collect();
        check_devices(&sender, &named, &users, current())
    }

    #[test]
    fn the_envelope_checks_refuse_with_their_codes() {
        let to = |a: Address, ciphertext: Vec<u8>| Envelope {
            user_id: a.user_id,
            device_id: a.device_id,
            ciphertext: ciphertext.into(),
        };
        let code = |envelopes: &[Envelope]| check_envelopes(envelopes, 2).unwrap_err().code;
        assert_eq!(code(&[]), ErrorCode::InvalidRequest);
        let three = [
            to(at("bob", 1), vec![1]),
            to(at("bob", 2), vec![1]),
            to(at("bob", 3), vec![1]),
        ];
        assert_eq!(code(&three), ErrorCode::TooManyRecipients);
        assert_eq!(code(&[to(at("bob", 1), vec![])]), ErrorCode::InvalidRequest);
        let twice = [to(at("bob", 1), vec![1]), to(at("bob", 1), vec![2])];
        assert!(check_envelopes(&twice, 2).unwrap_err().message.contains("twice"));
        let named = check_envelopes(&three[..2], 2).unwrap();
        assert_eq!(named, HashSet::from([at("bob", 1), at("bob", 2)]));
    }

    #[test]
    fn without_storage_a_stale_send_has_its_details() {
        let sender = at("alice", 1);
        let envelopes = [Envelope {
            user_id: user("bob"),
            device_id: DeviceId(3),
            ciphertext: vec![1].into(),
        }];
        let (error, details) = check_without_storage(&sender, &envelopes, 10, current()).unwrap_err();
        assert_eq!(error.code, ErrorCode::StaleDevices);
        assert_eq!(
            details,
            Some(ErrorDetails::StaleDevices {
                missing: vec![at("alice", 2), at("bob", 1)],
                extra: vec![],
            })
        );
    }

    #[test]
    fn every_current_device_but_the_senders_own() {
        assert_eq!(check(&[at("bob", 3), at("alice", 2), at("bob", 1)]), Ok(()));
    }

    #[test]
    fn an_omitted_device_is_missing_and_the_senders_other_devices_count() {
        assert_eq!(
            check(&[at("bob", 3)]),
            Err(Mismatch::Stale {
                missing: vec![at("alice", 2), at("bob", 1)],
                extra: vec![],
            })
        );
    }

    #[test]
    fn a_device_not_current_is_extra_and_so_is_the_sending_one() {
        assert_eq!(
            check(&[
                at("bob", 1),
                at("bob", 2),
                at("bob", 3),
                at("alice", 2),
                at("alice", 1)
            ]),
            Err(Mismatch::Stale {
                missing: vec![],
                extra: vec![at("alice", 1), at("bob", 2)],
            })
        );
    }

    #[test]
    fn both_at_once_sorted() {
        assert_eq!(
            check(&[at("bob", 9), at("bob", 4), at("alice", 2)]),
            Err(Mismatch::Stale {
                missing: vec![at("bob", 1), at("bob", 3)],
                extra: vec![at("bob", 4), at("bob", 9)],
            })
        );
    }

    #[test]
    fn an_unknown_user_is_named_first_in_order() {
        assert_eq!(
            check(&[
                at("zed", 1),
                at("carol", 1),
                at("bob", 1),
                at("bob", 3),
                at("alice", 2)
            ]),
            Err(Mismatch::NoSuchUser(user("carol")))
        );
    }

    #[test]
    fn the_users_are_the_recipients_and_the_sender_once_each() {
        let sender = at("bob", 1);
        let to = |a: Address| Envelope {
            user_id: a.user_id,
            device_id: a.device_id,
            ciphertext: vec![1].into(),
        };
        let envelopes = [to(at("carol", 1)), to(at("alice", 1)), to(at("carol", 2))];
        assert_eq!(
            users_of(&sender, &envelopes),
            vec![user("alice"), user("bob"), user("carol")]
        );
    }
}
