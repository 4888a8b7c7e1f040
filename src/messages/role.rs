//! Writing to an on-call role: whoever holds it now, read from the server
//! just before sending; a hand-off in between (`holders_changed`) reads it
//! again and sends once more under the same id.

use anyhow::bail;
use curbside_client::content::{Content, RoleTag};
use curbside_client::local::LocalState;
use curbside_client::{Client, ClientError, Urgency};
use curbside_protocol::error::ErrorCode;
use curbside_protocol::ids::{MessageId, UserId};
use curbside_protocol::oncall::OnCallRole;

use super::send::{send_content_with, send_trusting, Sent};
use crate::profile::Profile;

/// The on-call role a user means, with its holders now (their names
/// remembered); nobody holding it is an error saying what to do.
pub(crate) async fn resolve_role(
    account: &curbside_client::Account,
    state: &mut LocalState,
    typed: &str,
) -> anyhow::Result<OnCallRole> {
    let (api, token) = crate::commands::login(account).await?;
    let roles = api.oncall_roles(&token).await?;
    let role = crate::oncall::find_role(&roles, typed)?;
    if role.holders.is_empty() {
        bail!(
            "nobody holds {} now: `curbside oncall list` shows its shifts; write to a colleague by name instead",
            role.name
        );
    }
    for h in &role.holders {
        state.remember(h.clone());
    }
    Ok(role.clone())
}

/// "To On-call dermatology: Dr. Carol Chen holds it now."
pub(crate) fn holders_words(role: &OnCallRole) -> String {
    let names: Vec<&str> = role.holders.iter().map(|h| h.display_name.as_str()).collect();
    format!(
        "To {}: {} {} it now.",
        role.name,
        names.join(" and "),
        if names.len() == 1 { "holds" } else { "hold" }
    )
}

/// Who a message to `role` goes to: its holders but oneself; holding it
/// alone oneself is an error saying so.
pub(crate) fn holders_now(role: &OnCallRole, me: &UserId) -> anyhow::Result<Vec<UserId>> {
    let holders: Vec<UserId> = role
        .holders
        .iter()
        .map(|h| h.user_id.clone())
        .filter(|u| u != me)
        .collect();
    if holders.is_empty() {
        bail!(
            "you hold {} now yourself: messages to it come to you (`curbside oncall handoff` hands it on)",
            role.name
        );
    }
    Ok(holders)
}

/// Sends `text` to whoever holds `role` (as read just before). If the server
/// answers `holders_changed` (a hand-off in between), reads the role again
/// and sends once more under the same id, to its holders then. `prompt`:
/// `Some(allow)` asks on the terminal about changed keys (the CLI, as
/// [`send_trusting`]); `None` sends as [`send_content_with`] (the chat
/// has its own confirmation). Returns the role as it was sent to.
pub(crate) async fn send_to_role(
    profile: &Profile,
    state: &mut LocalState,
    client: &mut Client,
    role: OnCallRole,
    (id, text): (&MessageId, &str),
    (urgency, prompt): (&Urgency, Option<bool>),
) -> anyhow::Result<(OnCallRole, Sent)> {
    let me = client.address()?.user_id;
    let mut role = role;
    let mut again = true;
    loop {
        let holders = holders_now(&role, &me)?;
        let content = Content::Text {
            to: holders.clone(),
            text: text.to_owned(),
            role: Some(role_tag(&role)),
        };
        let urgency = Urgency {
            role: Some(role.role_id.clone()),
            ..urgency.clone()
        };
        let sent = match prompt {
            Some(allow) => {
                send_trusting(profile, state, client, (&holders, id), content, allow, &urgency).await
            }
            None => send_content_with(profile, state, client, &holders, id, content, &urgency).await,
        };
        match sent {
            Err(e) if again && holders_changed(&e) => {
                again = false;
                tracing::info!(role = %role.role_id, "role handed off while sending: read again");
                role = resolve_role(&client.account, state, role.role_id.as_str()).await?;
            }
            sent => return sent.map(|sent| (role, sent)),
        }
    }
}

/// The first message in the outbox was written to a role handed off since:
/// re-addresses it to the role's holders now (moving it, still queued, from
/// the conversations with those who no longer hold it). False when the
/// role cannot be read now or nobody else holds it (the caller fails it).
pub(crate) async fn readdress(
    account: &curbside_client::Account,
    state: &mut LocalState,
    me: &UserId,
) -> bool {
    let Some(item) = state.outbox.first().cloned() else {
        return false;
    };
    let Some(role_id) = &item.role else {
        return false;
    };
    let Ok(role) = resolve_role(account, state, role_id.as_str()).await else {
        return false;
    };
    let Ok(to) = holders_now(&role, me) else {
        return false;
    };
    let content = match item.content.clone() {
        Content::Text { text, .. } => Content::Text {
            to: to.clone(),
            text,
            role: Some(role_tag(&role)),
        },
        Content::Attachment { file, .. } => Content::Attachment {
            to: to.clone(),
            file,
            role: Some(role_tag(&role)),
        },
        _ => return false,
    };
    for old in item.to.iter().filter(|u| !to.contains(u)) {
        if let Some(conversation) = state.conversations.get_mut(old) {
            conversation.retain(|m| !(m.from == *me && m.message_id == item.message_id));
        }
    }
    let at = curbside_protocol::time::now_ms();
    state.record_outgoing(
        me,
        &to,
        &item.message_id,
        &content,
        at,
        curbside_client::local::Status::Queued,
    );
    if let Some(first) = state.outbox.first_mut() {
        first.to = to;
        first.content = content;
    }
    true
}

/// The tag a message to `role` carries in its content.
pub(crate) fn role_tag(role: &OnCallRole) -> RoleTag {
    RoleTag {
        role_id: role.role_id.to_string(),
        name: role.name.clone(),
    }
}

fn holders_changed(e: &anyhow::Error) -> bool {
    e.downcast_ref::<ClientError>().and_then(ClientError::code) == Some(ErrorCode::HoldersChanged)
}
