//! Sending: `send`, the outbox and the one function every client command
//! sends content with.

use anyhow::bail;
use clap::Args;
use curbside_client::content::Content;
use curbside_client::local::{key_set_fingerprint, LocalState, Outgoing, Status, Trust};
use curbside_client::Client;
use curbside_protocol::frames::MessageKind;
use curbside_protocol::ids::{MessageId, UserId};
use rand_core::RngCore as _;

use crate::commands::{out, ProfileArg};
use crate::profile::Profile;

#[derive(Args)]
pub(crate) struct SendArgs {
    #[command(flatten)]
    profile: ProfileArg,
    /// Recipient: a name (or part of one), an NPI or a user id (repeat for several).
    #[arg(long, required = true)]
    to: Vec<String>,
    /// Send even to colleagues whose keys changed since you verified them,
    /// or whom no administrator verified (without it, a terminal asks and a
    /// script is refused).
    #[arg(long)]
    allow_unverified: bool,
    /// Message id (default: random); resending with the same id never duplicates.
    #[arg(long)]
    id: Option<MessageId>,
    /// The text.
    text: String,
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
    if status == Status::Queued {
        state.outbox.push(Outgoing {
            message_id: id.clone(),
            to: to.to_vec(),
            content,
        });
    }
    profile.save_state(state)?;
    match outcome {
        Err(e) if e.code() == Some(curbside_protocol::error::ErrorCode::NotFound) => {
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
        let mut refused_unknown = false;
        let status = match client
            .send(&item.to, item.kind(), &item.message_id, &item.content.to_bytes())
            .await
        {
            Ok(_) => Status::Sent,
            // Not now (unreachable, storage unavailable): stays queued, in order.
            Err(e) if e.is_retryable() => return Err(e.into()),
            Err(e) => {
                tracing::warn!(error = %e, "queued message refused");
                crate::audit::note(&format!(
                    "A queued message ({}) was refused: {e}",
                    item.message_id
                ));
                refused_unknown = e.code() == Some(curbside_protocol::error::ErrorCode::NotFound);
                Status::Failed
            }
        };
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
    let to =
        crate::people::recipients(&account, &mut state, &args.to, args.allow_unverified, &profile).await?;
    let id = match args.id {
        Some(id) => id,
        None => random_message_id()?,
    };
    let content = Content::Text {
        to: to.clone(),
        text: args.text,
    };
    let mut client = match Client::connect_or_return(account).await {
        Ok(client) => client,
        // Unreachable, or unable to store it now: keep it for later.
        Err((account, e)) if e.is_retryable() => {
            let me = account.user_id()?.clone();
            state.record_outgoing(&me, &to, &id, &content, now_ms(), Status::Queued);
            state.outbox.push(Outgoing {
                message_id: id.clone(),
                to: to.clone(),
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
    let result = send_trusting(
        &profile,
        &mut state,
        &mut client,
        &to,
        &id,
        content,
        args.allow_unverified,
    )
    .await;
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

/// [`send_content`] with trust at send time: a colleague whose keys changed
/// since the user verified them is sent to only with `allow` or after the
/// user says so on a terminal.
pub(crate) async fn send_trusting(
    profile: &Profile,
    state: &mut LocalState,
    client: &mut Client,
    to: &[UserId],
    id: &MessageId,
    content: Content,
    allow: bool,
) -> anyhow::Result<Sent> {
    crate::people::pin_verified(state, client);
    if allow {
        client.allow_changed.extend(to.iter().cloned());
    }
    match send_content(profile, state, client, to, id, content.clone()).await {
        Err(e) => match e.downcast_ref::<curbside_client::ClientError>() {
            Some(curbside_client::ClientError::KeysChanged(changed)) => {
                let changed = changed.clone();
                crate::people::confirm_anyway(
                    &crate::people::changed_warning(state, &changed),
                    true,
                    profile,
                )?;
                client.allow_changed.extend(changed);
                send_content(profile, state, client, to, id, content).await
            }
            _ => Err(e),
        },
        sent => sent,
    }
}
