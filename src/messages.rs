//! Conversations from the command line: `send`, `inbox` (alias `sync`),
//! `history`, `contacts`, `attach`, `download`. Every message sent or
//! received is kept in the profile's sealed local state (`state.sealed`),
//! with its status: sent, delivered (server receipt), read (end-to-end
//! read receipt), failed; or received.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::Args;
use curbside_client::content::{AttachmentRef, Content};
use curbside_client::local::{key_set_fingerprint, LocalState, Outgoing, Status, StoredMessage, Trust};
use curbside_client::Client;
use curbside_crypto::attachment;
use curbside_protocol::audit::format_time_ms;
use curbside_protocol::frames::MessageKind;
use curbside_protocol::ids::{MessageId, UserId};
use rand_core::RngCore as _;

use crate::commands::{out, ProfileArg};
use crate::profile::Profile;

#[derive(Args)]
pub(crate) struct SendArgs {
    #[command(flatten)]
    profile: ProfileArg,
    /// Recipient user id (repeat for several).
    #[arg(long, required = true)]
    to: Vec<UserId>,
    /// Message id (default: random); resending with the same id never duplicates.
    #[arg(long)]
    id: Option<MessageId>,
    /// The text.
    text: String,
}

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

#[derive(Args)]
pub(crate) struct HistoryArgs {
    #[command(flatten)]
    profile: ProfileArg,
    /// The other clinician's user id.
    #[arg(long)]
    with: UserId,
    /// Only the last N messages.
    #[arg(long)]
    last: Option<usize>,
    /// One JSON object per message.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub(crate) struct ContactsArgs {
    #[command(flatten)]
    profile: ProfileArg,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub(crate) struct TimerArgs {
    #[command(flatten)]
    profile: ProfileArg,
    /// The other clinician's user id.
    #[arg(long)]
    with: UserId,
    /// Messages disappear this many seconds after they were sent.
    #[arg(long, conflicts_with = "off", required_unless_present = "off")]
    seconds: Option<u64>,
    /// Turn disappearing messages off.
    #[arg(long)]
    off: bool,
}

#[derive(Args)]
pub(crate) struct AttachArgs {
    #[command(flatten)]
    profile: ProfileArg,
    /// Recipient user id (repeat for several).
    #[arg(long, required = true)]
    to: Vec<UserId>,
    /// The file to send.
    file: PathBuf,
}

#[derive(Args)]
pub(crate) struct DownloadArgs {
    #[command(flatten)]
    profile: ProfileArg,
    /// The id of the message that carries the attachment.
    message_id: MessageId,
    /// Where to write the decrypted file.
    #[arg(long)]
    out: PathBuf,
}

pub(crate) fn random_message_id() -> anyhow::Result<MessageId> {
    let mut bytes = [0u8; 16];
    rand_core::OsRng.fill_bytes(&mut bytes);
    Ok(MessageId::new(
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>(),
    )?)
}

/// What became of a message handed to [`send_content`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Sent {
    /// Accepted by the server.
    Accepted,
    /// The server had already accepted this id.
    Duplicate,
    /// The server cannot take it now (unreachable, storage unavailable):
    /// kept in the sealed outbox and sent, with the same id, by the next
    /// send or sync. The reason, for the user.
    Queued(String),
}

impl Sent {
    /// How to tell the user, after `what` (for example "Sent photo.jpg").
    pub(crate) fn describe(&self, what: &str, id: &MessageId) -> String {
        match self {
            Self::Accepted => format!("{what} as message {id}"),
            Self::Duplicate => format!("{what}: already accepted as message {id}"),
            Self::Queued(reason) => format!(
                "Queued: {id} (the server cannot take it now: {reason}; it is sent by the next send or sync)"
            ),
        }
    }
}

/// Sends `content` and records it in every recipient's conversation. A
/// refusal that may succeed later (see `ClientError::is_retryable`) keeps
/// the message in the outbox instead of failing it.
pub(crate) async fn send_content(
    profile: &Profile,
    state: &mut LocalState,
    client: &mut Client,
    to: &[UserId],
    id: &MessageId,
    content: Content,
) -> anyhow::Result<Sent> {
    let me = client.address()?.user_id;
    let result = client
        .send(to, MessageKind::Message, id, &content.to_bytes())
        .await;
    let (status, outcome) = match result {
        Ok(true) => (Status::Sent, Ok(Sent::Duplicate)),
        Ok(false) => (Status::Sent, Ok(Sent::Accepted)),
        Err(e) if e.is_retryable() => (Status::Queued, Ok(Sent::Queued(e.to_string()))),
        Err(e) => (Status::Failed, Err(e)),
    };
    state.record_outgoing(&me, to, id, &content, now_ms(), status);
    if status == Status::Queued {
        state.outbox.push(Outgoing {
            message_id: id.clone(),
            to: to.to_vec(),
            content,
        });
    }
    profile.save_state(state)?;
    Ok(outcome?)
}

/// Warns (on stderr) when a contact verified earlier now has other keys.
fn warn_if_keys_changed(account: &curbside_client::Account, state: &LocalState, user: &UserId) {
    let Some(contact) = state.contacts.get(user) else {
        return;
    };
    let keys = account.identity_keys_of(user);
    if contact.trust(&key_set_fingerprint(&keys)) == Trust::Changed {
        crate::audit::note(&format!(
            "WARNING: {user}'s identity keys changed since you verified them (a new device or a reinstall, \
             or someone in the middle): compare safety numbers again with `curbside verify --with {user}`."
        ));
    }
}

pub(crate) use curbside_protocol::time::now_ms;

/// Sends what waits in the outbox, oldest first, with the ids it was
/// queued under (the server never accepts an id twice). Returns how many
/// went out; what the server refuses is marked failed and dropped.
pub(crate) async fn flush_outbox(
    profile: &Profile,
    state: &mut LocalState,
    client: &mut Client,
) -> anyhow::Result<usize> {
    let me = client.address()?.user_id;
    let mut sent = 0;
    while let Some(item) = state.outbox.first().cloned() {
        let status = match client
            .send(&item.to, item.kind(), &item.message_id, &item.content.to_bytes())
            .await
        {
            Ok(_) => Status::Sent,
            // Not now (unreachable, storage unavailable): stays queued, in order.
            Err(e) if e.is_retryable() => return Err(e.into()),
            Err(e) => {
                tracing::warn!(error = %e, "queued message refused");
                Status::Failed
            }
        };
        for peer in &item.to {
            state.raise_status(&me, peer, std::slice::from_ref(&item.message_id), status);
        }
        state.outbox.remove(0);
        profile.save_state(state)?;
        sent += usize::from(status == Status::Sent);
    }
    Ok(sent)
}

/// Connects and flushes the outbox first. Queued messages that still cannot
/// go (the server cannot store them now) stay queued: the command goes on.
pub(crate) async fn connect(
    profile: &Profile,
    state: &mut LocalState,
    account: curbside_client::Account,
) -> anyhow::Result<Client> {
    let mut client = Client::connect(account).await?;
    match flush_outbox(profile, state, &mut client).await {
        Ok(0) => {}
        Ok(sent) => crate::audit::note(&format!("Sent {sent} queued message(s).")),
        Err(e) => crate::audit::note(&format!(
            "{} queued message(s) not sent yet ({e}); they are sent by the next send or sync.",
            state.outbox.len()
        )),
    }
    Ok(client)
}

pub(crate) async fn send(args: SendArgs) -> anyhow::Result<()> {
    let (profile, account) = Profile::open(&args.profile.profile)?;
    let mut state = profile.load_state()?;
    let id = match args.id {
        Some(id) => id,
        None => random_message_id()?,
    };
    let content = Content::Text {
        to: args.to.clone(),
        text: args.text,
    };
    let mut client = match Client::connect_or_return(account).await {
        Ok(client) => client,
        // Unreachable, or unable to store it now: keep it for later.
        Err((account, e)) if e.is_retryable() => {
            let me = account.user_id()?.clone();
            state.record_outgoing(&me, &args.to, &id, &content, now_ms(), Status::Queued);
            state.outbox.push(Outgoing {
                message_id: id.clone(),
                to: args.to.clone(),
                content,
            });
            profile.save_state(&state)?;
            return out(&format!(
                "Queued: {id} (the server cannot take it now: {e}; it is sent by the next send or sync)"
            ));
        }
        Err((_, e)) => return Err(e.into()),
    };
    match flush_outbox(&profile, &mut state, &mut client).await {
        Ok(0) => {}
        Ok(sent) => crate::audit::note(&format!("Sent {sent} queued message(s).")),
        Err(e) => crate::audit::note(&format!("queued messages not sent yet: {e}")),
    }
    let result = send_content(&profile, &mut state, &mut client, &args.to, &id, content).await;
    let account = client.close().await;
    profile.save(&account)?;
    let duplicate = match result? {
        Sent::Queued(reason) => return out(&Sent::Queued(reason).describe("", &id)),
        sent => sent == Sent::Duplicate,
    };
    out(&format!(
        "{} {id}",
        if duplicate {
            "Already accepted:"
        } else {
            "Accepted:"
        }
    ))
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
                            state.set_timer(peer, *seconds);
                        }
                    } else {
                        state.set_timer(&r.sender.user_id, *seconds);
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
                        lines.push(format!(
                            "[{}] team {} from {} (device {}): {}",
                            r.message_id,
                            team.name,
                            r.sender.user_id,
                            r.sender.device_id,
                            inner.summary()
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
                            "[{}] referral {referral_id} from {}: patient {patient}, {} attachment(s) (curbside refer show {referral_id})",
                            r.message_id,
                            r.sender.user_id,
                            attachments.len()
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
                Content::Text { .. } | Content::Attachment { .. } => {}
            }
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
                    "text": content.summary(),
                })
                .to_string()
            } else {
                format!(
                    "[{}] from {} (device {}): {}",
                    r.message_id,
                    r.sender.user_id,
                    r.sender.device_id,
                    content.summary()
                )
            });
        }
        Ok(())
    }
    .await;
    let senders: std::collections::BTreeSet<&UserId> = to_acknowledge_read.iter().map(|(u, _)| u).collect();
    for sender in senders {
        warn_if_keys_changed(&client.account, state, sender);
    }
    for referral in std::mem::take(&mut client.referral_updates) {
        if state
            .referral_envelopes
            .get(referral.referral_id.as_str())
            .is_none_or(|known| known.updated_at <= referral.updated_at)
        {
            lines.push(format!(
                "[referral {}] {} ({}, {})",
                referral.referral_id,
                referral.status.as_str(),
                referral.priority.as_str(),
                referral.specialty
            ));
            state
                .referral_envelopes
                .insert(referral.referral_id.to_string(), referral);
        }
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
    client.close().await;
    let lines = lines?;
    if lines.is_empty() && !args.json {
        return out("No new messages.");
    }
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
        Content::Attachment { file, .. } => serde_json::json!({
            "type": "attachment", "name": file.name, "size": file.size, "attachment_id": file.attachment_id,
        }),
        Content::Text { text, .. } => serde_json::json!({ "type": "text", "text": text }),
        Content::Read { message_ids } => serde_json::json!({ "type": "read", "message_ids": message_ids }),
        Content::Timer { seconds, .. } => serde_json::json!({ "type": "timer", "seconds": seconds }),
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

pub(crate) fn history(args: HistoryArgs) -> anyhow::Result<()> {
    let (profile, account) = Profile::open(&args.profile.profile)?;
    let me = account.address()?.user_id.clone();
    let mut state = profile.load_state()?;
    warn_if_keys_changed(&account, &state, &args.with);
    let messages = state.conversations.get(&args.with).cloned().unwrap_or_default();
    let skip = args.last.map_or(0, |n| messages.len().saturating_sub(n));
    let mut lines = Vec::new();
    for m in messages.iter().skip(skip) {
        lines.push(if args.json {
            serde_json::json!({
                "message_id": m.message_id, "from": m.from, "at_ms": m.at_ms,
                "status": m.status.as_str(), "content": content_json(&m.content),
            })
            .to_string()
        } else {
            let who = if m.from == me { "me" } else { m.from.as_str() };
            format!(
                "{}  {:<28} {}  ({}, {})",
                format_time_ms(m.at_ms),
                who,
                m.content.summary(),
                m.status.as_str(),
                m.message_id
            )
        });
    }
    if state.mark_read(&args.with) > 0 {
        profile.save_state(&state)?;
    }
    if lines.is_empty() && !args.json {
        return out(&format!("No messages with {}.", args.with));
    }
    out(&lines.join("\n"))
}

pub(crate) fn contacts(args: ContactsArgs) -> anyhow::Result<()> {
    let (profile, account) = Profile::open(&args.profile.profile)?;
    let state = profile.load_state()?;
    let mut lines = Vec::new();
    for (user, contact) in &state.contacts {
        let trust = match contact.trust(&key_set_fingerprint(&account.identity_keys_of(user))) {
            Trust::Verified => "verified",
            Trust::Unverified => "not verified",
            Trust::Changed => "KEYS CHANGED",
        };
        let conversation = state.conversations.get(user);
        let last = conversation.and_then(|c| c.last()).map(|m| m.at_ms);
        let count = conversation.map_or(0, Vec::len);
        lines.push(if args.json {
            serde_json::json!({"user_id": user, "unread": contact.unread, "messages": count, "last_at_ms": last, "trust": trust})
                .to_string()
        } else {
            format!(
                "{user}  {count} messages, {} unread, {trust}{}",
                contact.unread,
                last.map(|t| format!(", last {}", format_time_ms(t)))
                    .unwrap_or_default()
            )
        });
    }
    if lines.is_empty() && !args.json {
        return out("No contacts yet.");
    }
    out(&lines.join("\n"))
}

pub(crate) async fn timer(args: TimerArgs) -> anyhow::Result<()> {
    let (profile, account) = Profile::open(&args.profile.profile)?;
    let mut state = profile.load_state()?;
    let seconds = if args.off { None } else { args.seconds };
    if seconds == Some(0) {
        bail!("use --off to turn disappearing messages off");
    }
    state.set_timer(&args.with, seconds);
    let id = random_message_id()?;
    let mut client = connect(&profile, &mut state, account).await?;
    let to = vec![args.with.clone()];
    let content = Content::Timer {
        to: to.clone(),
        seconds,
    };
    let result = send_content(&profile, &mut state, &mut client, &to, &id, content).await;
    let account = client.close().await;
    profile.save(&account)?;
    if let Sent::Queued(reason) = result? {
        return out(&Sent::Queued(reason).describe("", &id));
    }
    out(&match seconds {
        Some(s) => format!(
            "Messages with {} now disappear {s} s after they are sent, on every device.",
            args.with
        ),
        None => format!("Disappearing messages with {} are off.", args.with),
    })
}

/// Encrypts a file (streamed, never whole in memory) and uploads the opaque
/// blob; returns the reference to send inside a message, and the blob size.
pub(crate) async fn upload_file(
    account: &curbside_client::Account,
    path: &std::path::Path,
) -> anyhow::Result<(AttachmentRef, u64)> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .context("the file has no name")?;
    let plain = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut sealed = tempfile::NamedTempFile::new().context("creating a temporary file")?;
    let info = attachment::encrypt(
        std::io::BufReader::new(plain),
        std::io::BufWriter::new(sealed.as_file_mut()),
        &mut rand_core::OsRng,
    )
    .context("encrypting the attachment")?;
    let (api, token) = crate::commands::login(account).await?;
    let upload = tokio::fs::File::open(sealed.path()).await?;
    let stored = api.upload_attachment(&token, upload).await?;
    Ok((
        AttachmentRef {
            attachment_id: stored.attachment_id.into(),
            key: info.key.as_bytes().to_vec().into(),
            digest: info.digest.to_vec().into(),
            name,
            size: info.plaintext_len,
        },
        info.ciphertext_len,
    ))
}

pub(crate) async fn attach(args: AttachArgs) -> anyhow::Result<()> {
    let (profile, account) = Profile::open(&args.profile.profile)?;
    let mut state = profile.load_state()?;
    let (file, blob_len) = upload_file(&account, &args.file).await?;
    let (name, size) = (file.name.clone(), file.size);
    let id = random_message_id()?;
    let mut client = connect(&profile, &mut state, account).await?;
    let content = Content::Attachment {
        to: args.to.clone(),
        file,
    };
    let result = send_content(&profile, &mut state, &mut client, &args.to, &id, content).await;
    let account = client.close().await;
    profile.save(&account)?;
    out(&result?.describe(
        &format!("Sent {name} ({size} bytes, encrypted {blob_len} bytes)"),
        &id,
    ))
}

pub(crate) async fn download(args: DownloadArgs) -> anyhow::Result<()> {
    let (profile, account) = Profile::open(&args.profile.profile)?;
    let state = profile.load_state()?;
    let Some(message) = state.find(&args.message_id) else {
        bail!(
            "no message {} in this profile's history (run `curbside sync`)",
            args.message_id
        );
    };
    let Content::Attachment { file, .. } = &message.content else {
        bail!("message {} carries no attachment", args.message_id);
    };
    let key: [u8; 32] = file
        .key
        .as_slice()
        .try_into()
        .context("the attachment key is not 32 bytes")?;
    let digest: [u8; 32] = file
        .digest
        .as_slice()
        .try_into()
        .context("the attachment digest is not 32 bytes")?;
    let (api, token) = crate::commands::login(&account).await?;
    let blob = tempfile::NamedTempFile::new().context("creating a temporary file")?;
    let mut writer = tokio::fs::File::create(blob.path()).await?;
    api.download_attachment(&token, &file.attachment_id, &mut writer)
        .await?;
    drop(writer);
    // Decrypt next to the destination, then move it into place: a file that
    // fails verification is never left where the clinician would open it.
    let partial = args.out.with_extension("partial");
    let result = (|| {
        let sealed = std::io::BufReader::new(std::fs::File::open(blob.path())?);
        let out = std::io::BufWriter::new(std::fs::File::create(&partial)?);
        attachment::decrypt(sealed, out, &attachment::AttachmentKey::from_bytes(key), &digest)
    })();
    let size = match result {
        Ok(size) => size,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            bail!("the attachment does not verify or decrypt: {e}");
        }
    };
    std::fs::rename(&partial, &args.out).with_context(|| format!("writing {}", args.out.display()))?;
    out(&format!(
        "Saved {} ({size} bytes) to {}",
        file.name,
        args.out.display()
    ))
}
