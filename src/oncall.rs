//! `curbside oncall`: on-call roles. Everyone lists them with who holds
//! each now; an administrator creates roles and schedules shifts; the
//! holder (or an administrator) hands a role off at once. `curbside send
//! --role NAME` writes to whoever holds it (see `messages::send`).

use anyhow::{bail, Context as _};
use clap::Subcommand;
use curbside_client::api::Api;
use curbside_client::local::LocalState;
use curbside_client::oncall::{role_changes, RoleChange};
use curbside_protocol::audit::format_time_ms;
use curbside_protocol::ids::UserId;
use curbside_protocol::oncall::{CreateRole, HandOff, OnCallRole, ScheduleShift};
use curbside_protocol::time::now_ms;

use crate::commands::{out, ProfileArg};
use crate::profile::Profile;

#[derive(Subcommand)]
pub(crate) enum OnCallCommand {
    /// The on-call roles, who holds each now, and the shifts to come.
    List {
        #[command(flatten)]
        profile: ProfileArg,
    },
    /// (Administrators) Create a role, such as "On-call dermatology".
    Create {
        #[command(flatten)]
        profile: ProfileArg,
        /// Its name, unique.
        #[arg(long)]
        name: String,
        /// The specialty it covers.
        #[arg(long)]
        specialty: Option<String>,
    },
    /// (Administrators) Schedule a clinician to hold a role for a shift.
    Schedule {
        #[command(flatten)]
        profile: ProfileArg,
        /// The role (its name, or part of it).
        role: String,
        /// The clinician: a name (or part of one), an NPI or a user id.
        #[arg(long)]
        clinician: String,
        /// From: RFC 3339 (2026-12-03T19:00:00Z), "now", or from now (+2h, +30m).
        #[arg(long, default_value = "now")]
        from: String,
        /// Until: RFC 3339, or from the start (+12h).
        #[arg(long, default_value = "+12h")]
        until: String,
    },
    /// Hand a role off at once (its holder, or an administrator): the
    /// colleague holds it from now on until the end of the current shift.
    Handoff {
        #[command(flatten)]
        profile: ProfileArg,
        /// The role (its name, or part of it).
        role: String,
        /// The clinician taking over: a name (or part of one), an NPI or a user id.
        #[arg(long)]
        to: String,
    },
}

/// "now", "+2h", "+30m" (from `base`), or RFC 3339.
fn parse_when(s: &str, base: i64) -> anyhow::Result<i64> {
    if s == "now" {
        return Ok(base);
    }
    if let Some(rest) = s.strip_prefix('+') {
        let secs = crate::messages::parse_delay(rest).map_err(anyhow::Error::msg)?;
        return Ok(base.saturating_add(i64::try_from(secs.saturating_mul(1000))?));
    }
    use time::format_description::well_known::Rfc3339;
    let t = time::OffsetDateTime::parse(s, &Rfc3339).with_context(|| {
        format!("{s:?}: give \"now\", +2h, +30m or an RFC 3339 time (2026-12-03T19:00:00Z)")
    })?;
    Ok(i64::try_from(t.unix_timestamp_nanos() / 1_000_000)?)
}

/// The role a user means: an exact name (any case), else the only one
/// whose name contains the words typed.
pub(crate) fn find_role<'a>(roles: &'a [OnCallRole], typed: &str) -> anyhow::Result<&'a OnCallRole> {
    let typed_lower = typed.to_lowercase();
    if let Some(r) = roles
        .iter()
        .find(|r| r.name.to_lowercase() == typed_lower || r.role_id.as_str() == typed)
    {
        return Ok(r);
    }
    let matching: Vec<&OnCallRole> = roles
        .iter()
        .filter(|r| r.name.to_lowercase().contains(&typed_lower))
        .collect();
    match matching.as_slice() {
        [one] => Ok(one),
        [] => bail!(
            "no on-call role is called {typed:?}: `curbside oncall list` shows them ({})",
            roles
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        many => bail!(
            "{typed:?} fits several on-call roles: {}; give the whole name",
            many.iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// "On-call dermatology: Dr. Carol Chen (until 19:00)".
pub(crate) fn describe(role: &OnCallRole, now: i64) -> String {
    let holders = if role.holders.is_empty() {
        "nobody holds it now".to_owned()
    } else {
        role.holders
            .iter()
            .map(|h| {
                let until = role
                    .shifts
                    .iter()
                    .filter(|s| s.user_id == h.user_id && s.starts_at <= now && s.ends_at > now)
                    .map(|s| s.ends_at)
                    .max();
                match until {
                    Some(end) => format!("{} (until {})", h.display_name, short_time(end)),
                    None => h.display_name.clone(),
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let next: Vec<String> = role
        .shifts
        .iter()
        .filter(|s| s.starts_at > now)
        .take(3)
        .map(|s| format!("{} from {}", s.display_name, short_time(s.starts_at)))
        .collect();
    let specialty = role
        .specialty
        .as_deref()
        .map(|s| format!(" [{s}]"))
        .unwrap_or_default();
    let next = if next.is_empty() {
        String::new()
    } else {
        format!("; next: {}", next.join(", "))
    };
    format!("{}{specialty}: {holders}{next}", role.name)
}

/// "You now hold On-call dermatology (until 2026-12-04 08:00): messages to it
/// come to you." / "You no longer hold On-call dermatology: Dr. Carol Chen
/// holds it now."
pub(crate) fn change_words(change: &RoleChange) -> String {
    match change {
        RoleChange::Taken { name, until_ms } => {
            let until = until_ms
                .map(|t| format!(" (until {})", short_time(t)))
                .unwrap_or_default();
            format!("You now hold {name}{until}: messages to it come to you.")
        }
        RoleChange::Left { name, holders } if holders.is_empty() => {
            format!("You no longer hold {name}: nobody holds it now.")
        }
        RoleChange::Left { name, holders } => format!(
            "You no longer hold {name}: {} {} it now.",
            holders.join(" and "),
            if holders.len() == 1 { "holds" } else { "hold" }
        ),
    }
}

/// What changed in the roles this user holds since the profile last knew
/// (read from the server now), in words; remembered in `state`.
pub(crate) async fn role_news(api: &Api, token: &str, state: &mut LocalState, me: &UserId) -> Vec<String> {
    let Ok(roles) = api.oncall_roles(token).await else {
        return Vec::new();
    };
    role_changes(me, &mut state.held_roles, &roles, true, now_ms())
        .iter()
        .map(change_words)
        .collect()
}

fn short_time(ms: i64) -> String {
    let t = format_time_ms(ms);
    t.get(..16).unwrap_or(&t).replace('T', " ")
}

async fn session(profile: &ProfileArg) -> anyhow::Result<(Profile, curbside_client::Account, Api, String)> {
    let (profile, account) = Profile::open(&profile.profile)?;
    let (api, token) = crate::commands::login(&account).await?;
    Ok((profile, account, api, token))
}

pub(crate) async fn run(cmd: OnCallCommand) -> anyhow::Result<()> {
    let now = now_ms();
    match cmd {
        OnCallCommand::List { profile } => {
            let (_, _, api, token) = session(&profile).await?;
            let roles = api.oncall_roles(&token).await?;
            if roles.is_empty() {
                return out(
                    "No on-call roles yet: an administrator creates them with `curbside oncall create`.",
                );
            }
            out(&roles
                .iter()
                .map(|r| describe(r, now))
                .collect::<Vec<_>>()
                .join("\n"))
        }
        OnCallCommand::Create {
            profile,
            name,
            specialty,
        } => {
            let (_, _, api, token) = session(&profile).await?;
            let role = api
                .create_oncall_role(&token, &CreateRole { name, specialty })
                .await?;
            out(&format!(
                "Created the on-call role {}. Schedule who holds it: curbside oncall schedule --profile {} {:?} --clinician NAME --from now --until +12h",
                role.name,
                profile.profile.display(),
                role.name
            ))
        }
        OnCallCommand::Schedule {
            profile,
            role,
            clinician,
            from,
            until,
        } => {
            let (profile_dir, account, api, token) = session(&profile).await?;
            let roles = api.oncall_roles(&token).await?;
            let found = find_role(&roles, &role)?;
            let mut state = profile_dir.load_state()?;
            let user = crate::people::recipients(&account, &mut state, &[clinician], true, &profile_dir)
                .await?
                .into_iter()
                .next()
                .context("no clinician given")?;
            let starts_at = parse_when(&from, now)?;
            let ends_at = parse_when(&until, starts_at)?;
            let req = ScheduleShift {
                user_id: user.clone(),
                starts_at,
                ends_at,
            };
            api.schedule_shift(&token, &found.role_id, &req).await?;
            profile_dir.save_state(&state)?;
            out(&format!(
                "{} holds {} from {} until {} (recorded in the audit log).",
                state.name(&user),
                found.name,
                short_time(starts_at),
                short_time(ends_at)
            ))
        }
        OnCallCommand::Handoff { profile, role, to } => {
            let (profile_dir, account, api, token) = session(&profile).await?;
            let roles = api.oncall_roles(&token).await?;
            let found = find_role(&roles, &role)?;
            let mut state = profile_dir.load_state()?;
            let user = crate::people::recipients(&account, &mut state, &[to], true, &profile_dir)
                .await?
                .into_iter()
                .next()
                .context("no clinician given")?;
            let now_role = api
                .hand_off(
                    &token,
                    &found.role_id,
                    &HandOff {
                        to: user,
                        until: None,
                    },
                )
                .await?;
            profile_dir.save_state(&state)?;
            out(&format!(
                "Handed off. {}. Messages to the role go to them from now on.",
                describe(&now_role, now_ms())
            ))
        }
    }
}
