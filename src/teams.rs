//! `curbside team create | add | remove | list | send | history`: care teams.
//! The server never learns a team exists: membership changes are
//! end-to-end-encrypted control messages to every old and new member, and a
//! team message goes only to current members (a removed member receives
//! nothing new, and nothing it sends is accepted).

use anyhow::{bail, Context as _};
use clap::Subcommand;
use curbside_client::content::Content;
use curbside_client::local::{LocalState, Status, StoredMessage};
use curbside_client::team::{self, Team, TeamId};
use curbside_client::urgent::UrgentRecord;
use curbside_client::{Client, Urgency};
use curbside_protocol::audit::format_time_ms;
use curbside_protocol::frames::MessageKind;
use curbside_protocol::ids::UserId;
use curbside_protocol::referral::Priority;

use crate::commands::{out, ProfileArg};
use crate::messages::{connect, content_json, now_ms, random_message_id, receive, upload_file};
use crate::profile::Profile;

/// How long `team send` waits for messages already on their way.
const CATCH_UP: std::time::Duration = std::time::Duration::from_millis(300);

#[derive(Subcommand)]
pub(crate) enum TeamCommand {
    /// Create a care team with these colleagues (you are a member).
    Create {
        #[command(flatten)]
        profile: ProfileArg,
        /// The team's name.
        #[arg(long)]
        name: String,
        /// A member: a name (or part of one), an NPI or a user id (repeat).
        #[arg(long = "member", required = true)]
        members: Vec<String>,
    },
    /// Add a colleague to a team.
    Add {
        #[command(flatten)]
        profile: ProfileArg,
        /// The team: its name or id.
        team: String,
        /// The colleague: a name (or part of one), an NPI or a user id.
        user: String,
    },
    /// Remove a colleague from a team: they receive nothing new.
    Remove {
        #[command(flatten)]
        profile: ProfileArg,
        /// The team: its name or id.
        team: String,
        /// The member: a name, an NPI or a user id.
        user: String,
    },
    /// Your teams and their members.
    List {
        #[command(flatten)]
        profile: ProfileArg,
    },
    /// Send a message to a team (encrypted once, its key sent to every member device).
    Send {
        #[command(flatten)]
        profile: ProfileArg,
        /// The team: its name or id.
        team: String,
        /// The text.
        text: String,
        /// routine, urgent or stat: urgent and stat alert every other
        /// member until one of them acknowledges it.
        #[arg(long, default_value = "routine", value_parser = crate::messages::parse_priority)]
        priority: Priority,
    },
    /// Send a file to a team: encrypted and uploaded once; only its key
    /// travels to each member device.
    Attach {
        #[command(flatten)]
        profile: ProfileArg,
        /// The team: its name or id.
        team: String,
        /// The file.
        file: std::path::PathBuf,
    },
    /// A team's conversation.
    History {
        #[command(flatten)]
        profile: ProfileArg,
        /// The team: its name or id.
        team: String,
        /// One JSON object per message.
        #[arg(long)]
        json: bool,
    },
}

/// The team the user means: by id, or by name (ignoring case) if only one
/// of their teams has it.
pub(crate) fn find<'a>(state: &'a LocalState, typed: &str) -> anyhow::Result<&'a Team> {
    if let Some(team) = state.teams.get(typed) {
        return Ok(team);
    }
    let named: Vec<&Team> = state
        .teams
        .values()
        .filter(|t| t.name.eq_ignore_ascii_case(typed))
        .collect();
    match named.as_slice() {
        [team] => Ok(team),
        [] => bail!("no team {typed} (see `curbside team list`)"),
        several => bail!(
            "{} teams are called {typed}: name one by id ({})",
            several.len(),
            several
                .iter()
                .map(|t| t.team_id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn current<'a>(state: &'a LocalState, typed: &str) -> anyhow::Result<&'a Team> {
    let team = find(state, typed)?;
    if team.removed {
        bail!("you were removed from team {}", team.name);
    }
    Ok(team)
}

/// A member the user means, among the team's members (by id, NPI or name).
fn member_of(state: &LocalState, team: &Team, typed: &str) -> anyhow::Result<UserId> {
    let found: Vec<&UserId> = team
        .members
        .iter()
        .filter(|m| {
            m.as_str() == typed
                || state.people.get(*m).is_some_and(|p| {
                    p.npi == typed || p.display_name.to_lowercase().contains(&typed.to_lowercase())
                })
        })
        .collect();
    match found.as_slice() {
        [one] => Ok((*one).clone()),
        [] => bail!(
            "{typed} is not a member of team {} (members: {})",
            team.name,
            state.names(&team.members)
        ),
        several => bail!(
            "\"{typed}\" matches {} members of team {}: {}; name one by NPI or id",
            several.len(),
            team.name,
            several
                .iter()
                .map(|u| format!("{} ({u})", state.name(u)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Sends the team's new membership to every old and new member and stores it.
async fn publish(profile: &ProfileArg, team: Option<&str>, change: Change) -> anyhow::Result<(Team, String)> {
    let (profile, account) = Profile::open(&profile.profile)?;
    let mut state = profile.load_state()?;
    let me = account.user_id()?.clone();
    let mut team = match team {
        Some(typed) => current(&state, typed)?.clone(),
        None => Team {
            team_id: TeamId::random(&mut rand_core::OsRng),
            name: String::new(),
            members: vec![me.clone()],
            removed: false,
        },
    };
    let before = team.members.clone();
    match change {
        Change::Create { name, members } => {
            team.name = name;
            let named = crate::people::resolve_all(&account, &mut state, &members, &profile).await?;
            team.members.extend(named.into_iter().map(|n| n.user));
        }
        Change::Add(typed) => {
            let named = crate::people::resolve_all(&account, &mut state, &[typed], &profile).await?;
            team.members.extend(named.into_iter().map(|n| n.user));
        }
        Change::Remove(typed) => {
            let user = member_of(&state, &team, &typed)?;
            if user == me {
                bail!("to leave a team, ask a member to remove you");
            }
            team.members.retain(|m| *m != user);
        }
    }
    team.members.sort();
    team.members.dedup();
    let mut recipients: Vec<UserId> = before
        .iter()
        .chain(&team.members)
        .filter(|u| **u != me)
        .cloned()
        .collect();
    recipients.sort();
    recipients.dedup();
    let update = Content::TeamUpdate {
        team_id: team.team_id.clone(),
        name: team.name.clone(),
        members: team.members.clone(),
    };
    let mut client = connect(&profile, &mut state, account).await?;
    let sent = client
        .send(
            &recipients,
            MessageKind::Control,
            &random_message_id()?,
            &update.to_bytes(),
        )
        .await;
    let account = client.close().await;
    profile.save(&account)?;
    sent?;
    state.teams.insert(team.team_id.clone(), team.clone());
    profile.save_state(&state)?;
    // Members by name, this user as "you" (their own name is not in the book).
    let names = team
        .members
        .iter()
        .map(|m| if *m == me { "you".to_owned() } else { state.name(m) })
        .collect::<Vec<_>>()
        .join(", ");
    Ok((team, names))
}

/// A membership change, as typed.
enum Change {
    Create { name: String, members: Vec<String> },
    Add(String),
    Remove(String),
}

/// Sends to a team's current members: encrypted once, the envelope pairwise.
pub(crate) async fn team_send(
    profile: &Profile,
    state: &mut LocalState,
    client: &mut Client,
    id: &TeamId,
    content: Content,
) -> anyhow::Result<curbside_protocol::ids::MessageId> {
    team_send_with(profile, state, client, id, content, Priority::Routine).await
}

/// [`team_send`] as urgent or stat: every other member is alerted until
/// one of them acknowledges it (no escalation in a team: a backup outside
/// it could not open it).
pub(crate) async fn team_send_with(
    profile: &Profile,
    state: &mut LocalState,
    client: &mut Client,
    id: &TeamId,
    content: Content,
    priority: Priority,
) -> anyhow::Result<curbside_protocol::ids::MessageId> {
    let t = state.teams.get(id).cloned().context("no such team")?;
    let me = client.address()?.user_id;
    let message_id = random_message_id()?;
    let envelope = team::seal(id, &message_id, &content, &mut rand_core::OsRng)?;
    let recipients: Vec<UserId> = t.members.iter().filter(|u| **u != me).cloned().collect();
    let urgency = Urgency {
        priority,
        ..Urgency::routine()
    };
    let sent = client
        .send_with(
            &recipients,
            MessageKind::Message,
            &message_id,
            &envelope.to_bytes(),
            &urgency,
        )
        .await;
    let at_ms = now_ms();
    if sent.is_ok() && priority != Priority::Routine {
        state.record_urgent(UrgentRecord {
            sender: me.clone(),
            message_id: message_id.clone(),
            priority,
            to: recipients,
            escalated: false,
            escalation: None,
            acknowledged: None,
            at_ms,
        });
    }
    state.record_team_message(
        id,
        StoredMessage {
            message_id: message_id.clone(),
            from: me,
            device: None,
            at_ms,
            content,
            status: if sent.is_ok() {
                Status::Sent
            } else {
                Status::Failed
            },
        },
    );
    profile.save_state(state)?;
    sent?;
    Ok(message_id)
}

/// Sends `content` to a team's current members: encrypted once under a
/// fresh key, the envelope through each member device's session. Takes in
/// waiting messages first (a membership change above all), so a member
/// removed elsewhere receives nothing new.
async fn send_to_team(
    profile: &Profile,
    team: &str,
    (content, priority): (Content, Priority),
    account: curbside_client::Account,
) -> anyhow::Result<(Team, curbside_protocol::ids::MessageId)> {
    let mut state = profile.load_state()?;
    current(&state, team)?;
    let mut client = connect(profile, &mut state, account).await?;
    let waiting = receive(profile, &mut state, &mut client, CATCH_UP, false, true).await;
    let t = match waiting.map(|lines| (lines, current(&state, team).cloned())) {
        Ok((lines, Ok(t))) => {
            for line in lines {
                crate::audit::note(&line);
            }
            t
        }
        Ok((_, Err(e))) | Err(e) => {
            client.close().await;
            return Err(e);
        }
    };
    let sent = team_send_with(profile, &mut state, &mut client, &t.team_id, content, priority).await;
    let account = client.close().await;
    profile.save(&account)?;
    let id = sent?;
    Ok((t, id))
}

pub(crate) async fn run(cmd: TeamCommand) -> anyhow::Result<()> {
    match cmd {
        TeamCommand::Create {
            profile,
            name,
            members,
        } => {
            let (team, names) = publish(&profile, None, Change::Create { name, members }).await?;
            out(&format!(
                "Created team {} ({}): {names}\nWrite to it with `curbside team send --profile {} \"{}\" TEXT`",
                team.team_id,
                team.name,
                profile.profile.display(),
                team.name
            ))
        }
        TeamCommand::Add { profile, team, user } => {
            let (t, names) = publish(&profile, Some(&team), Change::Add(user)).await?;
            out(&format!("Team {}: {names}", t.name))
        }
        TeamCommand::Remove { profile, team, user } => {
            let (t, names) = publish(&profile, Some(&team), Change::Remove(user)).await?;
            out(&format!("Team {}: {names}", t.name))
        }
        TeamCommand::List { profile } => {
            let (profile, _) = Profile::open(&profile.profile)?;
            let state = profile.load_state()?;
            let rows: Vec<String> = state
                .teams
                .values()
                .map(|t| {
                    format!(
                        "{}  {}{}  members: {}",
                        t.team_id,
                        t.name,
                        if t.removed { " (you were removed)" } else { "" },
                        state.names(&t.members)
                    )
                })
                .collect();
            if rows.is_empty() {
                return out("No teams.");
            }
            out(&rows.join("\n"))
        }
        TeamCommand::Attach { profile, team, file } => {
            let (profile, account) = Profile::open(&profile.profile)?;
            current(&profile.load_state()?, &team)?;
            let (file, blob) = upload_file(&account, &file).await?;
            let (name, size) = (file.name.clone(), file.size);
            let content = Content::attachment(Vec::new(), file);
            let (t, id) = send_to_team(&profile, &team, (content, Priority::Routine), account).await?;
            out(&format!(
                "Sent {name} ({size} bytes, encrypted once: {blob} bytes) to team {} as {id}",
                t.name
            ))
        }
        TeamCommand::Send {
            profile,
            team,
            text,
            priority,
        } => {
            let (profile, account) = Profile::open(&profile.profile)?;
            let content = Content::text(Vec::new(), text);
            let (t, id) = send_to_team(&profile, &team, (content, priority), account).await?;
            if priority == Priority::Routine {
                return out(&format!(
                    "Sent to team {} ({} members): {id}",
                    t.name,
                    t.members.len()
                ));
            }
            out(&format!(
                "{} sent to team {}: its {} other member(s) are alerted until one of them acknowledges it \
                 (`curbside urgent --profile {}` shows where it stands): {id}",
                priority.as_str().to_uppercase(),
                t.name,
                t.members.len().saturating_sub(1),
                profile.dir().display()
            ))
        }
        TeamCommand::History { profile, team, json } => {
            let (profile, account) = Profile::open(&profile.profile)?;
            let me = account.user_id()?.clone();
            let state = profile.load_state()?;
            let t = find(&state, &team)?;
            let lines: Vec<String> = state
                .team_conversations
                .get(&t.team_id)
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|m| {
                    if json {
                        serde_json::json!({"message_id": m.message_id, "from": m.from, "at_ms": m.at_ms,
                            "status": m.status.as_str(), "content": content_json(&m.content)})
                        .to_string()
                    } else {
                        let who = if m.from == me {
                            "me".to_owned()
                        } else {
                            state.name(&m.from)
                        };
                        format!("{}  {:<28} {}", format_time_ms(m.at_ms), who, m.content.summary())
                    }
                })
                .collect();
            if lines.is_empty() && !json {
                return out(&format!("No messages in team {}.", t.name));
            }
            out(&lines.join("\n"))
        }
    }
}
