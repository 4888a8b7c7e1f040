//! What the profile keeps: `history`, `contacts`, and the disappearing
//! message `timer`.

use anyhow::bail;
use clap::Args;
use curbside_client::content::Content;
use curbside_client::local::{key_set_fingerprint, Trust};
use curbside_protocol::audit::format_time_ms;

use super::receive::content_json;
use super::send::{connect, now_ms, random_message_id, send_content, warn_if_keys_changed, Sent};
use crate::commands::{out, ProfileArg};
use crate::profile::Profile;

#[derive(Args)]
pub(crate) struct HistoryArgs {
    #[command(flatten)]
    profile: ProfileArg,
    /// The other clinician: a name (or part of one), an NPI or a user id.
    #[arg(long)]
    with: String,
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
    /// The other clinician: a name (or part of one), an NPI or a user id.
    #[arg(long)]
    with: String,
    /// Messages disappear this many seconds after they were sent.
    #[arg(long, conflicts_with = "off", required_unless_present = "off")]
    seconds: Option<u64>,
    /// Turn disappearing messages off.
    #[arg(long)]
    off: bool,
}

pub(crate) fn history(args: HistoryArgs) -> anyhow::Result<()> {
    let (profile, account) = Profile::open(&args.profile.profile)?;
    let me = account.address()?.user_id.clone();
    let mut state = profile.load_state()?;
    let with = crate::people::known(&state, &args.with, &profile)?;
    warn_if_keys_changed(&profile, &account, &state, &with);
    let messages = state.conversations.get(&with).cloned().unwrap_or_default();
    let skip = args.last.map_or(0, |n| messages.len().saturating_sub(n));
    let mut lines = Vec::new();
    for m in messages.iter().skip(skip) {
        let urgent = state.urgent_of(&m.from, &m.message_id);
        lines.push(if args.json {
            serde_json::json!({
                "message_id": m.message_id, "from": m.from, "at_ms": m.at_ms,
                "status": m.status.as_str(), "content": content_json(&m.content),
                "priority": urgent.map_or("routine", |u| u.priority.as_str()),
                "acknowledged": urgent.and_then(|u| u.acknowledged.as_ref())
                    .map(|(by, at)| serde_json::json!({ "by": by, "at_ms": at })),
            })
            .to_string()
        } else {
            let who = if m.from == me {
                "me".to_owned()
            } else {
                state.name(&m.from)
            };
            // "[STAT, acknowledged by Dr. Bob Brennan 10:42] " before a page.
            let flag = urgent.map_or(String::new(), |u| {
                let by = u
                    .acknowledged
                    .as_ref()
                    .map_or(", not yet acknowledged".to_owned(), |(by, at)| {
                        let at = format_time_ms(*at);
                        let by = if *by == me {
                            "you".to_owned()
                        } else {
                            state.name(by)
                        };
                        format!(", acknowledged by {by} {}", at.get(11..16).unwrap_or(&at))
                    });
                format!("[{}{by}] ", u.priority.as_str().to_uppercase())
            });
            format!(
                "{}  {:<28} {flag}{}  ({}, {})",
                format_time_ms(m.at_ms),
                who,
                m.content.summary(),
                m.status.as_str(),
                m.message_id
            )
        });
    }
    if state.mark_read(&with) > 0 {
        profile.save_state(&state)?;
    }
    if lines.is_empty() && !args.json {
        return out(&format!("No messages with {}.", state.name(&with)));
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
            serde_json::json!({"user_id": user, "name": state.people.get(user).map(|p| &p.display_name), "unread": contact.unread, "messages": count, "last_at_ms": last, "trust": trust})
                .to_string()
        } else {
            let listed = if state.people.contains_key(user) {
                ""
            } else {
                ", not in the directory"
            };
            format!(
                "{}  {user}  {count} messages, {} unread, {trust}{listed}{}",
                state.label(user),
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
    let with = crate::people::known(&state, &args.with, &profile)?;
    let id = random_message_id()?;
    // Connecting reads the organisation's policy: a timer longer than its retention is refused.
    let mut client = connect(&profile, &mut state, account).await?;
    if let (Some(s), Some(max)) = (seconds, state.max_timer_secs()) {
        if s > max {
            client.close().await;
            bail!(
                "your organisation deletes every message after {} (its retention policy): a timer can be at \
                 most that long. Give --seconds {max} or less",
                curbside_client::content::duration_words(max)
            );
        }
    }
    state.set_timer(&with, seconds, now_ms());
    let to = vec![with.clone()];
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
            "Messages with {} sent from now on disappear {} after they are sent, on every device; \
             the conversation before now is kept.",
            state.name(&with),
            curbside_client::content::duration_words(s)
        ),
        None => format!("Disappearing messages with {} are off.", state.name(&with)),
    })
}
