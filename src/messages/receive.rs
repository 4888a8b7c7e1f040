//! Receiving: `inbox`, the receive loop every command shares, read
//! receipts, and content as JSON.

use std::time::Duration;

use clap::Args;
use curbside_client::content::Content;
use curbside_client::local::{LocalState, Status, StoredMessage};
use curbside_client::Client;
use curbside_protocol::frames::MessageKind;
use curbside_protocol::ids::{MessageId, UserId};

use super::send::{connect, random_message_id, warn_if_keys_changed};
use crate::commands::{out, ProfileArg};
use crate::profile::Profile;

#[derive(Args)]
pub(crate) struct InboxArgs {
    #[command(flatten)]
    profile: ProfileArg,
    /// Seconds to wait for more messages.
    #[arg(long, default_value_t = 2)]
    wait: u64,
    /// One JSON object per message.
    #[arg(long)]
    json: bool,
    /// Do not tell senders that their messages were read.
    #[arg(long)]
    no_read_receipts: bool,
}

/// Receives until nothing arrives for `wait`: files every message in the
/// sealed local state (history, team changes, receipts), persists, then
/// acknowledges, then sends read receipts for what will be shown. Returns
/// the lines to show.
pub(crate) async fn receive(
    profile: &Profile,
    state: &mut LocalState,
    client: &mut Client,
    wait: Duration,
    json: bool,
    read_receipts: bool,
) -> anyhow::Result<Vec<String>> {
    let me = client.address()?.user_id;
    let mut lines = Vec::new();
    let mut pending = Vec::new();
    let mut to_acknowledge_read: Vec<(UserId, MessageId)> = Vec::new();
    let outcome: anyhow::Result<()> = async {
        while let Some(r) = client.next_message(wait).await? {
            pending.push(r.delivery_id);
            let content = match &r.content {
                Ok(p) => Content::from_bytes(p),
                Err(e) => {
                    lines.push(format!(
                        "[{}] from {}: [could not decrypt: {e}]",
                        r.message_id, r.sender.user_id
                    ));
                    continue;
                }
            };
            let from_me = r.sender.user_id == me;
            match &content {
                Content::Read { message_ids } => {
                    if !from_me {
                        state.raise_status(&me, &r.sender.user_id, message_ids, Status::Read);
                    }
                    continue;
                }
                Content::Timer { seconds, .. } => {
                    if from_me {
                        for peer in content.recipients().iter().filter(|p| **p != me) {
                            state.set_timer(peer, *seconds, r.sent_at);
                        }
                    } else {
                        state.set_timer(&r.sender.user_id, *seconds, r.sent_at);
                    }
                }
                Content::TeamUpdate {
                    team_id,
                    name,
                    members,
                } => {
                    if let Some(line) =
                        state.apply_team_update(&me, &r.sender.user_id, team_id, name, members)
                    {
                        lines.push(line);
                    }
                    continue;
                }
                Content::TeamMessage { team_id, key, sealed } => {
                    let Some(team) = state.teams.get(team_id).cloned() else {
                        continue;
                    };
                    // Only members' messages, and only while this user is one.
                    if team.removed || !team.members.contains(&r.sender.user_id) {
                        continue;
                    }
                    let inner = match curbside_client::team::open(team_id, &r.message_id, key, sealed) {
                        Ok(inner) => inner,
                        Err(e) => {
                            lines.push(format!(
                                "[{}] team {}: [could not open: {e}]",
                                r.message_id, team.name
                            ));
                            continue;
                        }
                    };
                    let stored = StoredMessage {
                        message_id: r.message_id.clone(),
                        from: r.sender.user_id.clone(),
                        device: Some(r.sender.device_id),
                        at_ms: r.sent_at,
                        content: inner.clone(),
                        status: if from_me { Status::Sent } else { Status::Received },
                    };
                    if state.record_team_message(team_id, stored) && !from_me {
                        // Urgent or stat: alerting here until a member acknowledges it.
                        super::urgent::record_received(state, &me, &r, &inner);
                        lines.push(format!(
                            "[{}] {}team {} from {} (device {}): {}{}",
                            r.message_id,
                            super::urgent::flag(&r),
                            team.name,
                            r.sender.user_id,
                            r.sender.device_id,
                            inner.summary(),
                            super::urgent::hint(&r, profile)
                        ));
                    }
                    continue;
                }
                Content::Referral {
                    referral_id,
                    bundle,
                    attachments,
                } => {
                    if !from_me && !state.referrals.contains_key(referral_id) {
                        let patient = curbside_client::fhir::patient_name(bundle);
                        state.referrals.insert(
                            referral_id.clone(),
                            curbside_client::local::ReferralContent {
                                counterpart: r.sender.user_id.clone(),
                                bundle: bundle.clone(),
                                attachments: attachments.clone(),
                                reason: None,
                            },
                        );
                        lines.push(format!(
                            "[{}] referral {referral_id} from {}: patient {patient}, {} attachment(s) (curbside refer show --profile {} {referral_id})",
                            r.message_id,
                            r.sender.user_id,
                            attachments.len(),
                            profile.dir().display()
                        ));
                    }
                    continue;
                }
                Content::ReferralReason { referral_id, reason } => {
                    if let Some(known) = state.referrals.get_mut(referral_id) {
                        if known.counterpart == r.sender.user_id {
                            known.reason = Some(reason.clone());
                            lines.push(format!("[{}] referral {referral_id}: {reason}", r.message_id));
                        }
                    }
                    continue;
                }
                Content::Acknowledge { message_ids } => {
                    lines.extend(super::urgent::acknowledged(state, &me, &r.sender.user_id, message_ids, r.sent_at));
                    continue;
                }
                Content::Recall { message_ids } => {
                    lines.extend(super::urgent::recalled(state, &r.sender.user_id, message_ids));
                    continue;
                }
                Content::Consult { .. } | Content::ConsultAnswer { .. } | Content::ConsultClosed { .. } => {
                    lines.extend(crate::consults::received(state, &me, &r, &content, profile));
                    continue;
                }
                Content::Text { .. } | Content::Attachment { .. } => {}
            }
            super::urgent::record_received(state, &me, &r, &content);
            let stored = StoredMessage {
                message_id: r.message_id.clone(),
                from: r.sender.user_id.clone(),
                device: Some(r.sender.device_id),
                at_ms: r.sent_at,
                content: content.clone(),
                status: if from_me { Status::Sent } else { Status::Received },
            };
            if from_me {
                // Sent from another of this user's devices: file it under its recipients.
                for peer in content.recipients().iter().filter(|p| **p != me) {
                    state.record_sent(peer, stored.clone());
                }
                continue;
            }
            if !state.record_received(&r.sender.user_id, stored) {
                continue;
            }
            to_acknowledge_read.push((r.sender.user_id.clone(), r.message_id.clone()));
            lines.push(if json {
                serde_json::json!({
                    "message_id": r.message_id, "from": r.sender.user_id, "device": r.sender.device_id,
                    "kind": r.kind, "sent_at": r.sent_at, "content": content_json(&content),
                "priority": r.priority.as_str(), "escalated": r.escalated,
                    "text": content.summary(),
                })
                .to_string()
            } else {
                format!(
                    "[{}] {}from {} (device {}): {}{}",
                    r.message_id,
                    super::urgent::flag(&r),
                    r.sender.user_id,
                    r.sender.device_id,
                    content.summary(),
                    super::urgent::hint(&r, profile)
                )
            });
        }
        Ok(())
    }
    .await;
    let senders: std::collections::BTreeSet<&UserId> = to_acknowledge_read.iter().map(|(u, _)| u).collect();
    for sender in senders {
        warn_if_keys_changed(profile, &client.account, state, sender);
    }
    for referral in std::mem::take(&mut client.referral_updates) {
        if state
            .referral_envelopes
            .get(referral.referral_id.as_str())
            .is_none_or(|known| known.updated_at <= referral.updated_at)
        {
            lines.push(if json {
                serde_json::json!({
                    "type": "referral_updated", "referral_id": referral.referral_id,
                    "status": referral.status.as_str(), "priority": referral.priority.as_str(),
                    "specialty": referral.specialty,
                })
                .to_string()
            } else {
                format!(
                    "[referral {}] {} ({}, {})",
                    referral.referral_id,
                    referral.status.as_str(),
                    referral.priority.as_str(),
                    referral.specialty
                )
            });
            state
                .referral_envelopes
                .insert(referral.referral_id.to_string(), referral);
        }
    }
    // A hand-off pushed while connected: told now (at each connection, the
    // roles are compared with the server's list too: `oncall::role_news`).
    let pushed = std::mem::take(&mut client.oncall_changes);
    for change in curbside_client::oncall::role_changes(
        &me,
        &mut state.held_roles,
        &pushed,
        false,
        curbside_protocol::time::now_ms(),
    ) {
        let words = crate::oncall::change_words(&change);
        lines.push(if json {
            serde_json::json!({ "type": "oncall_changed", "text": words }).to_string()
        } else {
            words
        });
    }
    for (message_id, recipient, _) in std::mem::take(&mut client.receipts) {
        state.raise_status(&me, &recipient.user_id, &[message_id], Status::Delivered);
    }
    // Persist the ratchet state and the history first, then acknowledge: a
    // crash in between means a re-delivery (never shown twice), never a loss.
    profile.save(&client.account)?;
    profile.save_state(state)?;
    if !pending.is_empty() {
        client.ack(&pending).await?;
    }
    if read_receipts {
        send_read_receipts(client, &to_acknowledge_read).await;
        profile.save(&client.account)?;
    }
    outcome?;
    Ok(lines)
}

pub(crate) async fn inbox(args: InboxArgs) -> anyhow::Result<()> {
    let (profile, account) = Profile::open(&args.profile.profile)?;
    let mut state = profile.load_state()?;
    let mut client = connect(&profile, &mut state, account).await?;
    let lines = receive(
        &profile,
        &mut state,
        &mut client,
        Duration::from_secs(args.wait),
        args.json,
        !args.no_read_receipts,
    )
    .await;
    let account = client.close().await;
    let mut lines = lines?;
    // Referrals still open: a transition made while this device was away
    // (one pushed while it was connected is among the lines already); and
    // on-call roles that came or went meanwhile.
    let open = state.referral_envelopes.values().any(|r| {
        matches!(
            r.status,
            curbside_protocol::referral::Status::Requested | curbside_protocol::referral::Status::Accepted
        )
    });
    if !args.json {
        if let Ok((api, token)) = crate::commands::login(&account).await {
            if open {
                lines.extend(crate::refer::catch_up(&api, &token, &mut state).await);
            }
            lines.extend(crate::oncall::role_news(&api, &token, &mut state, account.user_id()?).await);
            profile.save_state(&state)?;
        }
    }
    if lines.is_empty() && !args.json {
        return out("No new messages.");
    }
    if args.json {
        return out(&lines.join("\n"));
    }
    // People by name: "from Dr. Bob Brennan (device 1)".
    let lines = crate::people::name_lines(&account, &mut state, &lines).await;
    profile.save_state(&state)?;
    out(&lines.join("\n"))
}

/// Shown is read: tells each sender, end to end, which of their messages were shown.
async fn send_read_receipts(client: &mut Client, shown: &[(UserId, MessageId)]) {
    let mut by_sender: std::collections::BTreeMap<&UserId, Vec<MessageId>> =
        std::collections::BTreeMap::new();
    for (sender, id) in shown {
        by_sender.entry(sender).or_default().push(id.clone());
    }
    for (sender, ids) in by_sender {
        let Ok(id) = random_message_id() else { continue };
        let receipt = Content::Read { message_ids: ids };
        // A lost read receipt only leaves a message shown as delivered.
        if let Err(e) = client
            .send(
                std::slice::from_ref(sender),
                MessageKind::Receipt,
                &id,
                &receipt.to_bytes(),
            )
            .await
        {
            tracing::warn!(error = %e, "read receipt not sent");
        }
    }
}

pub(crate) fn content_json(content: &Content) -> serde_json::Value {
    match content {
        Content::Attachment { file, role, .. } => serde_json::json!({
            "type": "attachment", "name": file.name, "size": file.size, "attachment_id": file.attachment_id,
            "role": role.as_ref().map(|r| &r.name),
        }),
        Content::Text { text, role, .. } => {
            serde_json::json!({ "type": "text", "text": text, "role": role.as_ref().map(|r| &r.name) })
        }
        Content::Read { message_ids } => serde_json::json!({ "type": "read", "message_ids": message_ids }),
        Content::Acknowledge { message_ids } => {
            serde_json::json!({ "type": "acknowledge", "message_ids": message_ids })
        }
        Content::Recall { message_ids } => {
            serde_json::json!({ "type": "recall", "message_ids": message_ids })
        }
        Content::Timer { seconds, .. } => serde_json::json!({ "type": "timer", "seconds": seconds }),
        Content::Consult {
            consult_id,
            specialty,
            text,
            attachments,
        } => serde_json::json!({
            "type": "consult", "consult_id": consult_id, "specialty": specialty, "text": text,
            "attachments": attachments.iter().map(|f| serde_json::json!({
                "name": f.name, "size": f.size, "attachment_id": f.attachment_id,
            })).collect::<Vec<_>>(),
        }),
        Content::ConsultAnswer { consult_id, text } => {
            serde_json::json!({ "type": "consult_answer", "consult_id": consult_id, "text": text })
        }
        Content::ConsultClosed { consult_id } => {
            serde_json::json!({ "type": "consult_closed", "consult_id": consult_id })
        }
        Content::TeamUpdate {
            team_id,
            name,
            members,
        } => {
            serde_json::json!({ "type": "team_update", "team_id": team_id, "name": name, "members": members })
        }
        Content::TeamMessage { team_id, .. } => {
            serde_json::json!({ "type": "team_message", "team_id": team_id })
        }
        Content::Referral { referral_id, .. } => {
            serde_json::json!({ "type": "referral", "referral_id": referral_id })
        }
        Content::ReferralReason { referral_id, reason } => {
            serde_json::json!({ "type": "referral_reason", "referral_id": referral_id, "reason": reason })
        }
    }
}
