//! Urgent and stat messages in the chat: `/urgent` and `/stat` send with a
//! priority, `/ack` acknowledges every one still alerting, `/recall`
//! recalls the last message sent in the conversation; the pinned lines
//! above the messages keep what is not acknowledged in view, in red.

use curbside_client::content::Content;
use curbside_client::local::LocalState;
use curbside_client::{Client, Urgency};
use curbside_protocol::ids::UserId;
use curbside_protocol::referral::Priority;

use super::app::App;
use crate::messages::{random_message_id, send_content_with, Sent};
use crate::profile::Profile;

/// What stays pinned above the conversation until acknowledged: urgent and
/// stat messages received (in any conversation) and those sent waiting for
/// an acknowledgement.
pub(crate) fn pinned_lines(state: &LocalState, me: &UserId) -> Vec<String> {
    let open = state.open_urgent();
    let mut lines: Vec<String> = open
        .iter()
        .take(3)
        .map(|u| {
            let what = u.priority.as_str().to_uppercase();
            let text = state
                .find(&u.message_id)
                .map(|m| m.content.summary())
                .unwrap_or_default();
            if u.sender == *me {
                let now = crate::messages::now_ms();
                let escalation = u.escalation.as_ref().map_or(String::new(), |(backup, at)| {
                    if *at > now {
                        let minutes = u64::try_from((at - now + 59_999) / 60_000).unwrap_or(1);
                        format!(" (escalates to {} in {minutes} min)", state.name(backup))
                    } else {
                        format!(
                            " (escalated to {}: nobody acknowledged in time)",
                            state.name(backup)
                        )
                    }
                });
                format!(
                    "{what} to {}: waiting for an acknowledgement{escalation}: {text}",
                    state.names(&u.to)
                )
            } else {
                format!(
                    "{what}{} from {}: {text} — /ack to acknowledge",
                    if u.escalated { " (escalated to you)" } else { "" },
                    state.name(&u.sender)
                )
            }
        })
        .collect();
    if open.len() > 3 {
        lines.push(format!(
            "… and {} more (curbside urgent lists them)",
            open.len() - 3
        ));
    }
    lines
}

/// Sends `text` to `user` as urgent or stat.
pub(super) async fn send(
    app: &mut App,
    profile: &Profile,
    state: &mut LocalState,
    client: &mut Client,
    (user, text, priority): (UserId, String, Priority),
) -> anyhow::Result<()> {
    let to = vec![user];
    let content = Content::text(to.clone(), text);
    let urgency = Urgency {
        priority,
        escalation: None,
        role: None,
        consult: None,
    };
    let id = random_message_id()?;
    crate::people::pin_verified(state, client);
    let sent = send_content_with(profile, state, client, &to, &id, content, &urgency).await?;
    app.notice(match sent {
        Sent::Queued(reason) => format!("Queued ({reason}); sent when the connection is back"),
        _ => format!(
            "{} sent: {} is alerted until they acknowledge it",
            priority.as_str().to_uppercase(),
            state.names(&to)
        ),
    });
    Ok(())
}

/// Sends `text` to a team as urgent or stat: every other member is alerted
/// until one of them acknowledges it.
pub(super) async fn send_team(
    app: &mut App,
    profile: &Profile,
    state: &mut LocalState,
    client: &mut Client,
    (team, text, priority): (curbside_client::team::TeamId, String, Priority),
) -> anyhow::Result<()> {
    let content = Content::text(Vec::new(), text);
    crate::teams::team_send_with(profile, state, client, &team, content, priority).await?;
    let name = state.teams.get(&team).map(|t| t.name.clone()).unwrap_or_default();
    app.notice(format!(
        "{} sent to team {name}: every other member is alerted until one of them acknowledges it",
        priority.as_str().to_uppercase()
    ));
    Ok(())
}

/// Acknowledges every urgent or stat message received and still alerting.
pub(super) async fn acknowledge_all(
    app: &mut App,
    profile: &Profile,
    state: &mut LocalState,
    client: &mut Client,
) -> anyhow::Result<()> {
    let me = client.address()?.user_id;
    let open: Vec<(UserId, curbside_protocol::ids::MessageId)> = state
        .open_urgent()
        .into_iter()
        .filter(|u| u.sender != me)
        .map(|u| (u.sender.clone(), u.message_id.clone()))
        .collect();
    if open.is_empty() {
        app.notice("Nothing to acknowledge: no urgent or stat message is waiting for you");
        return Ok(());
    }
    let mut names = Vec::new();
    for (sender, id) in &open {
        let (at, _) = client.acknowledge(sender, id).await?;
        state.mark_acknowledged(sender, std::slice::from_ref(id), &me, at);
        names.push(state.name(sender));
        profile.save_state(state)?;
    }
    profile.save(&client.account)?;
    names.dedup();
    app.notice(format!("Acknowledged; {} told", names.join(", ")));
    Ok(())
}

/// Recalls the last message this user sent in the conversation with `user`.
pub(super) async fn recall_last(
    app: &mut App,
    profile: &Profile,
    state: &mut LocalState,
    client: &mut Client,
    user: UserId,
) -> anyhow::Result<()> {
    let me = client.address()?.user_id;
    let last = state
        .conversations
        .get(&user)
        .and_then(|c| c.iter().rev().find(|m| m.from == me).cloned());
    let Some(last) = last else {
        app.notice("Nothing to recall: you sent nothing in this conversation");
        return Ok(());
    };
    if matches!(last.content, Content::Recall { .. }) {
        app.notice("Your last message here is already recalled (/recall takes back only the last one)");
        return Ok(());
    }
    let id = last.message_id.clone();
    let what: String = last.content.summary().chars().take(40).collect();
    // Everyone it went to (several holders of a role, say), not only this conversation's.
    let mut to: Vec<UserId> = last
        .content
        .recipients()
        .iter()
        .filter(|u| **u != me)
        .cloned()
        .collect();
    if !to.contains(&user) {
        to.push(user.clone());
    }
    let undelivered = client.recall(&to, &id).await?;
    state.apply_recall(&me, std::slice::from_ref(&id));
    profile.save_state(state)?;
    profile.save(&client.account)?;
    app.notice(if undelivered > 0 {
        format!(
            "Recalled \"{what}\": deleted before {} received it",
            state.names(&to)
        )
    } else {
        format!(
            "Recalled \"{what}\": {} {} told to delete it, but may have read it already",
            state.names(&to),
            if to.len() == 1 { "is" } else { "are" }
        )
    });
    Ok(())
}
