//! Urgent and stat messages from the command line: `ack`, `urgent` (what
//! is still alerting), `recall`, `policy`; and what the receive loop does
//! with priorities, acknowledgements and recalls.

use clap::Args;
use curbside_client::content::Content;
use curbside_client::local::LocalState;
use curbside_client::urgent::{policy_words, UrgentRecord};
use curbside_client::Received;
use curbside_protocol::ids::{MessageId, UserId};
use curbside_protocol::referral::Priority;

use super::send::{connect, now_ms};
use crate::commands::{out, ProfileArg};
use crate::profile::Profile;

#[derive(Args)]
pub(crate) struct AckArgs {
    #[command(flatten)]
    profile: ProfileArg,
    /// The urgent or stat messages to acknowledge (ids as `inbox` and
    /// `urgent` show them).
    message_ids: Vec<MessageId>,
    /// Acknowledge every urgent or stat message still alerting.
    #[arg(long, conflicts_with = "message_ids")]
    all: bool,
}

#[derive(Args)]
pub(crate) struct UrgentArgs {
    #[command(flatten)]
    profile: ProfileArg,
    /// Seconds to wait for new messages first.
    #[arg(long, default_value_t = 1)]
    wait: u64,
}

#[derive(Args)]
pub(crate) struct RecallArgs {
    #[command(flatten)]
    profile: ProfileArg,
    /// The message you sent (its id as `send` printed it).
    message_id: MessageId,
}

/// "[STAT] " or "[URGENT, escalated] " before a received message; nothing for routine.
pub(super) fn flag(r: &Received) -> String {
    match (r.priority, r.escalated) {
        (Priority::Routine, _) => String::new(),
        (p, false) => format!("[{}] ", p.as_str().to_uppercase()),
        (p, true) => format!(
            "[{}, escalated to you: nobody it was sent to acknowledged it in time] ",
            p.as_str().to_uppercase()
        ),
    }
}

/// The next step after an urgent or stat message.
pub(super) fn hint(r: &Received, profile: &Profile) -> String {
    if r.priority == Priority::Routine {
        return String::new();
    }
    format!(
        " (acknowledge: curbside ack --profile {} {})",
        profile.dir().display(),
        r.message_id
    )
}

/// Files a received urgent or stat message as alerting (a routine one: nothing).
pub(super) fn record_received(state: &mut LocalState, me: &UserId, r: &Received, content: &Content) {
    let to = if r.sender.user_id == *me {
        content
            .recipients()
            .iter()
            .filter(|u| *u != me)
            .cloned()
            .collect()
    } else {
        vec![me.clone()]
    };
    state.record_urgent(UrgentRecord {
        sender: r.sender.user_id.clone(),
        message_id: r.message_id.clone(),
        priority: r.priority,
        to,
        escalated: r.escalated,
        escalation: None,
        acknowledged: None,
        at_ms: r.sent_at,
    });
}

/// An acknowledgement from `from`: of our messages if a recipient sent it,
/// of messages we received if it came from another of our devices.
pub(super) fn acknowledged(
    state: &mut LocalState,
    me: &UserId,
    from: &UserId,
    ids: &[MessageId],
    at_ms: i64,
) -> Vec<String> {
    if from == me {
        let senders: Vec<UserId> = state
            .urgent
            .iter()
            .filter(|u| ids.contains(&u.message_id) && u.sender != *me)
            .map(|u| u.sender.clone())
            .collect();
        for sender in senders {
            state.mark_acknowledged(&sender, ids, me, at_ms);
        }
        return Vec::new();
    }
    // Of our own pages: only a recipient, or the backup, acknowledges.
    let mine: Vec<MessageId> = state
        .urgent
        .iter()
        .filter(|u| u.sender == *me && ids.contains(&u.message_id))
        .filter(|u| u.to.contains(from) || u.escalation.as_ref().is_some_and(|(b, _)| b == from))
        .map(|u| u.message_id.clone())
        .collect();
    let mut lines: Vec<String> = Vec::new();
    if state.mark_acknowledged(me, &mine, from, at_ms) > 0 {
        lines.extend(mine.iter().map(|id| format!("[{id}] acknowledged by {from}")));
    }
    // Of a page we received too: a colleague took it, we stop alerting.
    let others: Vec<(UserId, MessageId)> = state
        .urgent
        .iter()
        .filter(|u| u.sender != *me && u.sender != *from && ids.contains(&u.message_id) && u.is_open())
        .map(|u| (u.sender.clone(), u.message_id.clone()))
        .collect();
    for (sender, id) in others {
        if state.mark_acknowledged(&sender, std::slice::from_ref(&id), from, at_ms) > 0 {
            lines.push(format!(
                "[{id}] from {sender}: taken by {from}, who acknowledged it"
            ));
        }
    }
    lines
}

/// A recall from `from`: their messages' copies replaced by "message recalled".
pub(super) fn recalled(state: &mut LocalState, from: &UserId, ids: &[MessageId]) -> Vec<String> {
    // Said with when it was sent and how it began, so the reader knows which.
    let said: Vec<String> = ids
        .iter()
        .filter_map(|id| {
            let m = state.find(id).filter(|m| m.from == *from)?;
            if matches!(m.content, Content::Recall { .. }) {
                return None;
            }
            let at = curbside_protocol::audit::format_time_ms(m.at_ms);
            let begins: String = m.content.summary().chars().take(40).collect();
            Some(format!(
                "[{id}] from {from}: their message of {} (\"{begins}…\") was recalled by its sender: it is \
                 deleted here; do not act on it",
                at.get(..16).unwrap_or(&at).replace('T', " ")
            ))
        })
        .collect();
    state.apply_recall(from, ids);
    said
}

/// The urgent and stat messages still open, said for people.
fn open_lines(state: &LocalState, me: &UserId, profile: &Profile) -> Vec<String> {
    let now = now_ms();
    state
        .open_urgent()
        .into_iter()
        .map(|u| {
            let what = u.priority.as_str().to_uppercase();
            let text = state
                .find(&u.message_id)
                .map(|m| m.content.summary())
                .unwrap_or_default();
            if u.sender == *me {
                let escalation = match &u.escalation {
                    Some((backup, at)) if *at > now => format!(
                        "; escalates to {} in {}",
                        state.name(backup),
                        minutes_words(at - now)
                    ),
                    Some((backup, _)) => format!("; escalated to {}", state.name(backup)),
                    None => String::new(),
                };
                format!(
                    "[{}] {what} to {}: not yet acknowledged{escalation}: {text}",
                    u.message_id,
                    state.names(&u.to)
                )
            } else {
                format!(
                    "[{}] {what}{} from {}: {text} (acknowledge: curbside ack --profile {} {})",
                    u.message_id,
                    if u.escalated { ", escalated to you" } else { "" },
                    state.name(&u.sender),
                    profile.dir().display(),
                    u.message_id
                )
            }
        })
        .collect()
}

pub(crate) async fn urgent(args: UrgentArgs) -> anyhow::Result<()> {
    let (profile, account) = Profile::open(&args.profile.profile)?;
    let mut state = profile.load_state()?;
    let me = account.user_id()?.clone();
    let mut client = connect(&profile, &mut state, account).await?;
    let received = receive_shown(&profile, &mut state, &mut client, args.wait).await;
    let account = client.close().await;
    profile.save(&account)?;
    // A page that just arrived is said once: in the list of those waiting.
    let waiting: Vec<String> = state
        .open_urgent()
        .iter()
        .map(|u| format!("[{}] ", u.message_id))
        .collect();
    let mut lines: Vec<String> = received?
        .into_iter()
        .filter(|l| !waiting.iter().any(|w| l.starts_with(w.as_str())))
        .collect();
    let open = open_lines(&state, &me, &profile);
    if open.is_empty() {
        lines.push("No urgent or stat message is waiting for an acknowledgement.".into());
    } else {
        lines.extend(open);
    }
    let lines = crate::people::name_lines(&account, &mut state, &lines).await;
    profile.save_state(&state)?;
    out(&lines.join("\n"))
}

/// Takes in what waits (as `inbox` does), returning the lines to show.
async fn receive_shown(
    profile: &Profile,
    state: &mut LocalState,
    client: &mut curbside_client::Client,
    wait_secs: u64,
) -> anyhow::Result<Vec<String>> {
    let lines = super::receive(
        profile,
        state,
        client,
        std::time::Duration::from_secs(wait_secs),
        false,
        true,
    )
    .await?;
    profile.save_state(state)?;
    Ok(lines)
}

pub(crate) async fn ack(args: AckArgs) -> anyhow::Result<()> {
    let (profile, account) = Profile::open(&args.profile.profile)?;
    if !args.all && args.message_ids.is_empty() {
        anyhow::bail!(
            "name the messages to acknowledge (`curbside urgent --profile {}` lists them with their ids), or give --all",
            profile.dir().display()
        );
    }
    let mut state = profile.load_state()?;
    let me = account.user_id()?.clone();
    let mut client = connect(&profile, &mut state, account).await?;
    // What arrived meanwhile first (an escalation just released, say).
    let mut lines = match receive_shown(&profile, &mut state, &mut client, 1).await {
        Ok(lines) => lines,
        Err(e) => {
            client.close().await;
            return Err(e);
        }
    };
    let targets = match ack_targets(&state, &me, &args, &profile) {
        Ok(t) => t,
        Err(e) => {
            let account = client.close().await;
            profile.save(&account)?;
            return Err(e);
        }
    };
    if targets.is_empty() {
        lines.push("No urgent or stat message is waiting for your acknowledgement.".into());
    }
    let mut failure = None;
    for (sender, id) in &targets {
        match client.acknowledge(sender, id).await {
            Ok((at, first)) => {
                state.mark_acknowledged(sender, std::slice::from_ref(id), &me, at);
                lines.push(if first {
                    format!("Acknowledged {id} from {}; they are told.", state.name(sender))
                } else {
                    format!(
                        "{id} from {} was already acknowledged by a colleague; marked here too.",
                        state.name(sender)
                    )
                });
            }
            Err(e) => {
                failure = Some(anyhow::anyhow!("could not acknowledge {id}: {e}"));
                break;
            }
        }
    }
    let account = client.close().await;
    profile.save(&account)?;
    profile.save_state(&state)?;
    if !lines.is_empty() {
        let lines = crate::people::name_lines(&account, &mut state, &lines).await;
        out(&lines.join("\n"))?;
    }
    failure.map_or(Ok(()), Err)
}

/// The (sender, message) pairs `ack` acknowledges.
fn ack_targets(
    state: &LocalState,
    me: &UserId,
    args: &AckArgs,
    profile: &Profile,
) -> anyhow::Result<Vec<(UserId, MessageId)>> {
    if args.all {
        return Ok(state
            .open_urgent()
            .into_iter()
            .filter(|u| u.sender != *me)
            .map(|u| (u.sender.clone(), u.message_id.clone()))
            .collect());
    }
    let mut targets = Vec::new();
    for id in &args.message_ids {
        if let Some(u) = state
            .urgent
            .iter()
            .find(|u| u.message_id == *id && u.sender != *me)
        {
            targets.push((u.sender.clone(), id.clone()));
            continue;
        }
        if state.urgent.iter().any(|u| u.message_id == *id) {
            anyhow::bail!(
                "{id} is your own page: your colleagues acknowledge it (`curbside urgent --profile {}` shows where it stands)",
                profile.dir().display()
            );
        }
        anyhow::bail!(
            "no urgent or stat message {id} received here: `curbside urgent --profile {}` lists those waiting \
             for an acknowledgement",
            profile.dir().display()
        );
    }
    Ok(targets)
}

pub(crate) async fn recall(args: RecallArgs) -> anyhow::Result<()> {
    let (profile, account) = Profile::open(&args.profile.profile)?;
    let mut state = profile.load_state()?;
    let me = account.user_id()?.clone();
    let id = args.message_id;
    let mut to: Vec<UserId> = state
        .conversations
        .iter()
        .filter(|(_, c)| c.iter().any(|m| m.from == me && m.message_id == id))
        .map(|(peer, _)| peer.clone())
        .collect();
    if to.is_empty() {
        anyhow::bail!(
            "no message {id} sent from this profile: `curbside history --profile {} --with NAME` shows \
             the ids of what you sent",
            profile.dir().display()
        );
    }
    if let Some((backup, _)) = state.urgent_of(&me, &id).and_then(|u| u.escalation.clone()) {
        to.push(backup);
    }
    let mut client = connect(&profile, &mut state, account).await?;
    let result = client.recall(&to, &id).await;
    let account = client.close().await;
    profile.save(&account)?;
    let undelivered = result?;
    state.apply_recall(&me, std::slice::from_ref(&id));
    profile.save_state(&state)?;
    let names = state.names(&to);
    out(&if undelivered > 0 {
        format!(
            "Recalled {id}: {undelivered} undelivered cop{} deleted by the server, and {names} told to \
             delete theirs. Someone who already read it may remember it or have copied it.",
            if undelivered == 1 { "y" } else { "ies" }
        )
    } else {
        format!(
            "Recalled {id}: it had been delivered; {names} told to delete their copies. Someone who already \
             read it may remember it or have copied it."
        )
    })
}

/// Reads the organisation's policy, applies its retention to this
/// profile's history, and returns it.
pub(crate) async fn refresh_policy(
    profile: &Profile,
    state: &mut LocalState,
    account: &curbside_client::Account,
) -> anyhow::Result<curbside_protocol::http::Policy> {
    let (api, token) = crate::commands::login(account).await?;
    let policy = api.policy(&token).await?;
    let purged = state.apply_policy(&policy, now_ms());
    profile.save_state(state)?;
    if purged > 0 {
        crate::audit::note(&format!(
            "{purged} message(s) older than your organisation's retention policy were deleted from this profile."
        ));
    }
    Ok(policy)
}

#[derive(Args)]
pub(crate) struct PolicyArgs {
    #[command(flatten)]
    profile: ProfileArg,
}

pub(crate) async fn policy(args: PolicyArgs) -> anyhow::Result<()> {
    let (profile, account) = Profile::open(&args.profile.profile)?;
    let mut state = profile.load_state()?;
    let policy = refresh_policy(&profile, &mut state, &account).await?;
    out(&format!(
        "{}\nA message you sent can be recalled within {} of sending it (`curbside recall`).",
        policy_words(&policy),
        curbside_client::content::duration_words(policy.recall_window_secs)
    ))
}

/// "4 minutes", "30 seconds": a wait as people say it.
fn minutes_words(ms: i64) -> String {
    let secs = u64::try_from(ms / 1000).unwrap_or(0).max(1);
    if secs >= 120 {
        curbside_client::content::duration_words(secs.div_ceil(60) * 60)
    } else {
        curbside_client::content::duration_words(secs)
    }
}
