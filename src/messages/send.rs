//! Sending: `send`, the outbox and the one function every client command
//! sends content with.

use anyhow::bail;
use clap::Args;
use curbside_client::content::Content;
use curbside_client::local::{key_set_fingerprint, LocalState, Outgoing, Status, Trust};
use curbside_client::urgent::UrgentRecord;
use curbside_client::{Client, Urgency};
use curbside_protocol::error::ErrorCode;
use curbside_protocol::frames::MessageKind;
use curbside_protocol::ids::{MessageId, UserId};
use curbside_protocol::referral::Priority;
use rand_core::RngCore as _;
use std::time::Duration;

use super::role::{holders_now, holders_words, resolve_role, send_to_role};
use crate::commands::{out, ProfileArg};
use crate::profile::Profile;

#[derive(Args)]
pub(crate) struct SendArgs {
    #[command(flatten)]
    profile: ProfileArg,
    /// Recipient: a name (or part of one), an NPI or a user id (repeat for several).
    #[arg(long, required_unless_present = "role")]
    to: Vec<String>,
    /// Or an on-call role ("On-call dermatology"): whoever holds it now
    /// receives the message (`curbside oncall list` shows who).
    #[arg(long, conflicts_with = "to")]
    role: Option<String>,
    /// Send even to colleagues whose keys changed since you verified them,
    /// or whom no administrator verified (without it, a terminal asks and a
    /// script is refused).
    #[arg(long)]
    allow_unverified: bool,
    /// Message id (default: random); resending with the same id never duplicates.
    #[arg(long)]
    id: Option<MessageId>,
    /// routine (the default), urgent or stat: an urgent or stat message keeps
    /// alerting its recipients until one acknowledges it (`curbside ack`).
    #[arg(long, default_value = "routine", value_parser = parse_priority)]
    priority: Priority,
    /// For urgent and stat: the colleague (name, NPI or id) who receives the
    /// message if nobody acknowledged it within --escalate-after. Encrypted to
    /// them now; the server holds it, so your device need not be online.
    #[arg(long)]
    escalate_to: Option<String>,
    /// The escalation delay (default 5m): seconds, or with a unit (90s, 5m, 1h); at most 7 days.
    #[arg(long, value_parser = parse_delay, requires = "escalate_to")]
    escalate_after: Option<u64>,
    /// The text.
    text: String,
}

pub(crate) fn parse_priority(s: &str) -> Result<Priority, String> {
    Priority::parse(&s.to_ascii_lowercase())
        .ok_or_else(|| format!("{s:?} is not a priority: give routine, urgent or stat"))
}

/// "90", "90s", "5m", "1h" → seconds (at least 1).
pub(crate) fn parse_delay(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = digits.parse().map_err(|_| {
        format!("{s:?} is not a delay: give whole seconds, minutes or hours (90, 90s, 5m, 1h)")
    })?;
    let secs = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        _ => {
            return Err(format!(
                "{s:?} is not a delay: give whole seconds, minutes or hours (90, 90s, 5m, 1h)"
            ))
        }
    };
    if secs == 0 {
        return Err("the delay must be at least 1 second".into());
    }
    Ok(secs)
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
    send_content_with(profile, state, client, to, id, content, &Urgency::routine()).await
}

/// [`send_content`] with a priority and an escalation (recorded in the
/// sealed state first, so that a message queued offline keeps them).
pub(crate) async fn send_content_with(
    profile: &Profile,
    state: &mut LocalState,
    client: &mut Client,
    to: &[UserId],
    id: &MessageId,
    content: Content,
    urgency: &Urgency,
) -> anyhow::Result<Sent> {
    let me = client.address()?.user_id;
    record_urgency(state, &me, to, id, urgency);
    let result = client
        .send_with(to, MessageKind::Message, id, &content.to_bytes(), urgency)
        .await;
    let (status, outcome) = match result {
        Ok(true) => (Status::Sent, Ok(Sent::Duplicate)),
        Ok(false) => (Status::Sent, Ok(Sent::Accepted)),
        Err(e) if e.is_retryable() => (Status::Queued, Ok(Sent::Queued(e.to_string()))),
        // Nothing was sent: the caller asks the user, then sends again.
        Err(e @ curbside_client::ClientError::KeysChanged(_)) => return Err(e.into()),
        Err(e) => (Status::Failed, Err(e)),
    };
    // A refused send is kept only in conversations that exist: a mistyped
    // id must not become a contact.
    let recorded: Vec<UserId> = if status == Status::Failed {
        to.iter()
            .filter(|u| state.conversations.contains_key(*u))
            .cloned()
            .collect()
    } else {
        to.to_vec()
    };
    if !recorded.is_empty() {
        state.record_outgoing(&me, &recorded, id, &content, now_ms(), status);
    }
    if status == Status::Failed {
        state.urgent.retain(|u| !(u.sender == me && u.message_id == *id));
    }
    if status == Status::Queued {
        state.outbox.push(Outgoing {
            message_id: id.clone(),
            to: to.to_vec(),
            content,
            role: urgency.role.clone(),
        });
    }
    profile.save_state(state)?;
    match outcome {
        Err(e) if e.code() == Some(ErrorCode::NotFound) => {
            let names: Vec<&str> = to.iter().map(UserId::as_str).collect();
            bail!(
                "{} is not a user of this server: check the id (`curbside directory --profile {}` \
                 finds colleagues by name)",
                names.join(", "),
                profile.dir().display()
            )
        }
        outcome => Ok(outcome?),
    }
}

/// Warns (on stderr) when a contact verified earlier now has other keys.
pub(super) fn warn_if_keys_changed(
    profile: &Profile,
    account: &curbside_client::Account,
    state: &LocalState,
    user: &UserId,
) {
    let Some(contact) = state.contacts.get(user) else {
        return;
    };
    let keys = account.identity_keys_of(user);
    if contact.trust(&key_set_fingerprint(&keys)) == Trust::Changed {
        crate::audit::note(&format!(
            "WARNING: {user}'s identity keys changed since you verified them (a new device or a reinstall, \
             or someone in the middle): compare safety numbers again with \
             `curbside verify --profile {} --with {user}`.",
            profile.dir().display()
        ));
    }
}

pub(crate) use curbside_protocol::time::now_ms;

/// Records a message about to be sent as urgent or stat (a routine one is
/// not recorded), with when its escalation would be released.
fn record_urgency(state: &mut LocalState, me: &UserId, to: &[UserId], id: &MessageId, urgency: &Urgency) {
    let now = now_ms();
    state.record_urgent(UrgentRecord {
        sender: me.clone(),
        message_id: id.clone(),
        priority: urgency.priority,
        to: to.to_vec(),
        escalated: false,
        escalation: urgency.escalation.as_ref().map(|(backup, after)| {
            let after_ms = i64::try_from(after.as_millis()).unwrap_or(i64::MAX);
            (backup.clone(), now.saturating_add(after_ms))
        }),
        acknowledged: None,
        at_ms: now,
    });
}

/// The priority and escalation a queued message was sent with.
fn urgency_of(state: &LocalState, me: &UserId, id: &MessageId) -> Urgency {
    let Some(u) = state.urgent_of(me, id) else {
        return Urgency::routine();
    };
    Urgency {
        priority: u.priority,
        escalation: u.escalation.as_ref().map(|(backup, release_at)| {
            let ms = release_at.saturating_sub(u.at_ms).max(1000);
            (
                backup.clone(),
                Duration::from_millis(u64::try_from(ms).unwrap_or(1000)),
            )
        }),
        role: None,
        consult: None,
    }
}

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
    let mut readdressed = false;
    while let Some(item) = state.outbox.first().cloned() {
        let mut refused_unknown = false;
        let urgency = Urgency {
            role: item.role.clone(),
            ..urgency_of(state, &me, &item.message_id)
        };
        let status = match client
            .send_with(
                &item.to,
                item.kind(),
                &item.message_id,
                &item.content.to_bytes(),
                &urgency,
            )
            .await
        {
            Ok(_) => Status::Sent,
            // Not now (unreachable, storage unavailable): stays queued, in order.
            Err(e) if e.is_retryable() => return Err(e.into()),
            // Written to a role handed off since: to its holders now, once.
            Err(e) if e.code() == Some(ErrorCode::HoldersChanged) && !readdressed => {
                readdressed = true;
                if super::role::readdress(&client.account, state, &me).await {
                    profile.save_state(state)?;
                    continue;
                }
                Status::Failed
            }
            Err(e) => {
                tracing::warn!(error = %e, "queued message refused");
                crate::audit::note(&format!(
                    "A queued message ({}) was refused: {e}",
                    item.message_id
                ));
                refused_unknown = e.code() == Some(ErrorCode::NotFound);
                Status::Failed
            }
        };
        readdressed = false;
        for peer in &item.to {
            state.raise_status(&me, peer, std::slice::from_ref(&item.message_id), status);
            // A conversation that only ever held refused messages to an id
            // the server does not know (queued while offline) is no contact.
            if refused_unknown
                && state
                    .conversations
                    .get(peer)
                    .is_some_and(|c| c.iter().all(|m| m.status == Status::Failed))
            {
                state.conversations.remove(peer);
                state.contacts.remove(peer);
            }
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
    let server = account.server.clone();
    let mut client = Client::connect(account)
        .await
        .map_err(|e| crate::commands::unreachable(&server, e))?;
    // The organisation's retention policy, applied at every connection.
    if let Err(e) = super::urgent::refresh_policy(profile, state, &client.account).await {
        tracing::info!(error = %e, "retention policy not read");
    }
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
    let (mut to, role) = match &args.role {
        Some(typed) => {
            let role = resolve_role(&account, &mut state, typed).await?;
            crate::audit::note(&holders_words(&role));
            (holders_now(&role, account.user_id()?)?, Some(role))
        }
        None => (
            crate::people::recipients(&account, &mut state, &args.to, args.allow_unverified, &profile)
                .await?,
            None,
        ),
    };
    let urgency = urgency_from(&account, &mut state, &args, &profile).await?;
    if let Some((backup, _)) = &urgency.escalation {
        if to.contains(backup) {
            bail!(
                "--escalate-to names {}, who already receives the page: escalate to someone else",
                state.name(backup)
            );
        }
    }
    let id = match args.id {
        Some(id) => id,
        None => random_message_id()?,
    };
    let content = Content::text(to.clone(), args.text.clone());
    let mut client = match Client::connect_or_return(account).await {
        Ok(client) => client,
        // Unreachable, or unable to store it now: keep it for later.
        Err((account, e)) if e.is_retryable() => {
            let me = account.user_id()?.clone();
            record_urgency(&mut state, &me, &to, &id, &urgency);
            state.record_outgoing(&me, &to, &id, &content, now_ms(), Status::Queued);
            state.outbox.push(Outgoing {
                message_id: id.clone(),
                to: to.clone(),
                content,
                role: None,
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
    let result = match role {
        Some(role) => {
            let me = client.address()?.user_id;
            let how = (&urgency, Some(args.allow_unverified));
            match send_to_role(&profile, &mut state, &mut client, role, (&id, &args.text), how).await {
                Ok((role, sent)) => {
                    // Handed off meanwhile: it went to the holders now.
                    to = holders_now(&role, &me)?;
                    Ok(sent)
                }
                Err(e) => Err(e),
            }
        }
        None => {
            let trust = args.allow_unverified;
            send_trusting(
                &profile,
                &mut state,
                &mut client,
                (&to, &id),
                content,
                trust,
                &urgency,
            )
            .await
        }
    };
    let account = client.close().await;
    profile.save(&account)?;
    if urgency.priority != Priority::Routine && result.is_ok() {
        crate::audit::note(&urgency_words(&state, &to, &urgency));
    }
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

/// [`send_content`] with trust at send time: a colleague whose keys changed
/// since the user verified them is sent to only with `allow` or after the
/// user says so on a terminal.
pub(crate) async fn send_trusting(
    profile: &Profile,
    state: &mut LocalState,
    client: &mut Client,
    (to, id): (&[UserId], &MessageId),
    content: Content,
    allow: bool,
    urgency: &Urgency,
) -> anyhow::Result<Sent> {
    crate::people::pin_verified(state, client);
    if allow {
        client.allow_changed.extend(to.iter().cloned());
        client
            .allow_changed
            .extend(urgency.escalation.iter().map(|(b, _)| b.clone()));
    }
    match send_content_with(profile, state, client, to, id, content.clone(), urgency).await {
        Err(e) => match e.downcast_ref::<curbside_client::ClientError>() {
            Some(curbside_client::ClientError::KeysChanged(changed)) => {
                let changed = changed.clone();
                crate::people::confirm_anyway(
                    &crate::people::changed_warning(state, &changed),
                    true,
                    profile,
                )?;
                client.allow_changed.extend(changed);
                send_content_with(profile, state, client, to, id, content, urgency).await
            }
            _ => Err(e),
        },
        sent => sent,
    }
}

/// The send's priority and escalation from its flags (the backup found by
/// name like a recipient).
async fn urgency_from(
    account: &curbside_client::Account,
    state: &mut LocalState,
    args: &SendArgs,
    profile: &Profile,
) -> anyhow::Result<Urgency> {
    let Some(backup) = &args.escalate_to else {
        return Ok(Urgency {
            priority: args.priority,
            escalation: None,
            role: None,
            consult: None,
        });
    };
    if args.priority == Priority::Routine {
        bail!("--escalate-to needs --priority urgent or --priority stat: a routine message never escalates");
    }
    let found = crate::people::recipients(
        account,
        state,
        std::slice::from_ref(backup),
        args.allow_unverified,
        profile,
    )
    .await?;
    let Some(backup) = found.into_iter().next() else {
        bail!("no colleague found for --escalate-to {backup:?}: `curbside directory` finds them by name");
    };
    if Some(&backup) == account.user_id().ok() {
        bail!("--escalate-to names you: escalate to a colleague who can take the page if nobody answers");
    }
    let after = args.escalate_after.unwrap_or(300);
    if after > curbside_protocol::frames::MAX_ESCALATION_SECS {
        bail!("--escalate-after is at most 7 days (168h): a page that waits longer is not urgent");
    }
    Ok(Urgency {
        priority: args.priority,
        escalation: Some((backup, Duration::from_secs(after))),
        role: None,
        consult: None,
    })
}

/// "Dr. Bob Brennan is" / "Dr. Bob Brennan and Dr. Carol Chen are".
fn alerted(state: &LocalState, to: &[UserId]) -> String {
    format!("{} {}", state.names(to), if to.len() == 1 { "is" } else { "are" })
}

/// What the sender is told of an urgent or stat message just sent.
fn urgency_words(state: &LocalState, to: &[UserId], urgency: &Urgency) -> String {
    let what = urgency.priority.as_str().to_uppercase();
    match &urgency.escalation {
        Some((backup, after)) => format!(
            "{what}: {} alerted until acknowledged; if nobody acknowledges it within {}, it goes to {} \
             (held by the server until then).",
            alerted(state, to),
            curbside_client::content::duration_words(after.as_secs()),
            state.name(backup)
        ),
        None => format!("{what}: {} alerted until acknowledged.", alerted(state, to)),
    }
}
