//! People on the command line: `--to`, `--member` and the chat's `/to`
//! take a name (or part of one), an NPI or a user id, resolved against the
//! directory (`curbside_client::people`); the names learned are kept in the
//! sealed local state so that every view shows names. And trust at send
//! time: a colleague whose keys changed since they were verified, or whom no
//! administrator verified, is sent to only after the user says so (a
//! question on a terminal, `--allow-unverified` in a script).

use std::io::IsTerminal as _;

use anyhow::bail;
use curbside_client::api::Api;
use curbside_client::local::LocalState;
use curbside_client::people::{self, Found};
use curbside_client::Client;
use curbside_protocol::ids::UserId;

use crate::profile::Profile;

/// A colleague named on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Named {
    /// Who.
    pub user: UserId,
    /// Whether an administrator verified them (they are in the directory).
    pub listed: bool,
}

/// Resolves one typed name, NPI or id; a name that fits several clinicians
/// or nobody is an error that lists the choices or says how to search.
pub(crate) async fn resolve_one(
    api: &Api,
    token: &str,
    state: &mut LocalState,
    typed: &str,
    profile: &Profile,
) -> anyhow::Result<Named> {
    match people::resolve(api, token, typed).await? {
        Found::One(entry) => {
            let user = entry.user_id.clone();
            state.remember(entry);
            Ok(Named { user, listed: true })
        }
        Found::Unlisted(user) => Ok(Named { user, listed: false }),
        Found::Several(entries) => {
            let choices: Vec<String> = entries
                .iter()
                .map(|e| format!("  {}  (give {} or {})", people::describe(e), e.npi, e.user_id))
                .collect();
            bail!(
                "\"{typed}\" matches {} clinicians; name one by NPI or id:\n{}",
                entries.len(),
                choices.join("\n")
            )
        }
        Found::Nobody => bail!(
            "no verified clinician matches \"{typed}\": search with `curbside directory --profile {} \
             --name PART` (a name, a 10-digit NPI or a user id)",
            profile.dir().display()
        ),
    }
}

/// Resolves every typed recipient with one HTTPS session. When the server
/// cannot be reached, user ids, and names and NPIs this profile already
/// knows, still resolve (so a message can be queued offline).
pub(crate) async fn resolve_all(
    account: &curbside_client::Account,
    state: &mut LocalState,
    typed: &[String],
    profile: &Profile,
) -> anyhow::Result<Vec<Named>> {
    match crate::commands::login(account).await {
        Ok((api, token)) => {
            let mut out = Vec::new();
            for t in typed {
                out.push(resolve_one(&api, &token, state, t, profile).await?);
            }
            Ok(out)
        }
        Err(offline) => {
            let mut out = Vec::new();
            for t in typed {
                match resolve_offline(state, t) {
                    Some(named) => out.push(named),
                    None => {
                        return Err(offline.context(format!(
                            "cannot look up \"{t}\" while the server is unreachable (a user id can be \
                             queued offline)"
                        )))
                    }
                }
            }
            Ok(out)
        }
    }
}

/// The recipients typed on the command line, resolved; those no
/// administrator verified are sent to only with `allow` or after a yes on a
/// terminal.
pub(crate) async fn recipients(
    account: &curbside_client::Account,
    state: &mut LocalState,
    typed: &[String],
    allow: bool,
    profile: &Profile,
) -> anyhow::Result<Vec<UserId>> {
    let named = resolve_all(account, state, typed, profile).await?;
    let unlisted: Vec<UserId> = named
        .iter()
        .filter(|n| !n.listed)
        .map(|n| n.user.clone())
        .collect();
    if let Some(warning) = unlisted_warning(state, &unlisted) {
        if !allow {
            confirm_anyway(&warning, false, profile)?;
        }
    }
    Ok(named.into_iter().map(|n| n.user).collect())
}

fn resolve_offline(state: &LocalState, typed: &str) -> Option<Named> {
    let known = state.people.values().find(|p| {
        p.npi == typed || p.user_id.as_str() == typed || p.display_name.eq_ignore_ascii_case(typed)
    });
    match known {
        Some(p) => Some(Named {
            user: p.user_id.clone(),
            listed: true,
        }),
        None if people::looks_like_user_id(typed) => {
            UserId::new(typed).ok().map(|user| Named { user, listed: false })
        }
        None => None,
    }
}

/// Looks up the names of everyone this profile deals with whose name it does
/// not know yet (a colleague who wrote first, a team member added by
/// someone else). Best effort: an id stays shown until its name is known.
pub(crate) async fn learn_names(api: &Api, token: &str, state: &mut LocalState) -> usize {
    let mut learned = 0;
    for user in state.unnamed().into_iter().take(50) {
        if let Ok(found) = api.directory_where(token, &[("user_id", user.as_str())]).await {
            if let Some(entry) = found.into_iter().next() {
                state.remember(entry);
                learned += 1;
            }
        }
    }
    learned
}

/// A colleague this profile already deals with, named by name (or part of
/// one), NPI or id, without asking the server (for `--with`).
pub(crate) fn known(state: &LocalState, typed: &str, profile: &Profile) -> anyhow::Result<UserId> {
    let typed = typed.trim();
    if let Ok(user) = UserId::new(typed) {
        if state.contacts.contains_key(&user)
            || state.people.contains_key(&user)
            || people::looks_like_user_id(typed)
        {
            return Ok(user);
        }
    }
    let lower = typed.to_lowercase();
    let found: Vec<&curbside_protocol::frames::DirectoryEntry> = state
        .people
        .values()
        .filter(|p| p.npi == typed || p.display_name.to_lowercase().contains(&lower))
        .collect();
    let exact: Vec<&curbside_protocol::frames::DirectoryEntry> = found
        .iter()
        .copied()
        .filter(|p| p.display_name.eq_ignore_ascii_case(typed))
        .collect();
    match (found.as_slice(), exact.as_slice()) {
        (_, [one]) | ([one], _) => Ok(one.user_id.clone()),
        ([], _) => bail!(
            "no colleague called \"{typed}\" in this profile: give their user id, or find it with \
             `curbside directory --profile {} --name PART`",
            profile.dir().display()
        ),
        (several, _) => bail!(
            "\"{typed}\" fits {} colleagues: {}; give the NPI or the id",
            several.len(),
            several
                .iter()
                .map(|p| format!("{} ({})", people::describe(p), p.user_id))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A line that names users by id, with their names where known.
pub(crate) fn with_names(state: &LocalState, line: &str) -> String {
    state.people.values().fold(line.to_owned(), |line, p| {
        line.replace(p.user_id.as_str(), &p.display_name)
    })
}

/// Looks up the names of the unnamed users that `lines` mention (one HTTPS
/// session, only when there is one to learn), then names them in the lines.
pub(crate) async fn name_lines(
    account: &curbside_client::Account,
    state: &mut LocalState,
    lines: &[String],
) -> Vec<String> {
    let unknown = state
        .unnamed()
        .iter()
        .any(|u| lines.iter().any(|l| l.contains(u.as_str())));
    if unknown {
        if let Ok((api, token)) = crate::commands::login(account).await {
            learn_names(&api, &token, state).await;
        }
    }
    lines.iter().map(|l| with_names(state, l)).collect()
}

/// Tells the client which keys the user verified for each colleague, so a
/// send to one whose keys changed is refused before anything is encrypted.
pub(crate) fn pin_verified(state: &LocalState, client: &mut Client) {
    client.verified_keys = state
        .contacts
        .iter()
        .filter_map(|(user, c)| c.verified_keys.clone().map(|k| (user.clone(), k)))
        .collect();
}

/// What to say about colleagues no administrator verified.
pub(crate) fn unlisted_warning(state: &LocalState, users: &[UserId]) -> Option<String> {
    (!users.is_empty()).then(|| {
        format!(
            "{} {} not in the directory of verified clinicians (a mistyped id, or a user no \
             administrator verified)",
            state.names(users),
            if users.len() == 1 { "is" } else { "are" }
        )
    })
}

/// What to say about colleagues whose keys changed.
pub(crate) fn changed_warning(state: &LocalState, users: &[UserId]) -> String {
    format!(
        "{}'s identity keys changed since you verified them (a new device or a reinstall, or someone \
         in the middle)",
        state.names(users)
    )
}

/// Asks on a terminal whether to send despite `warning`; in a script
/// (stdin not a terminal) refuses, saying how to proceed. `keys`: the
/// warning is about changed keys (else about the directory).
pub(crate) fn confirm_anyway(warning: &str, keys: bool, profile: &Profile) -> anyhow::Result<()> {
    let check = if keys {
        format!(
            "compare safety numbers first (`curbside verify --profile {} --with ID`)",
            profile.dir().display()
        )
    } else {
        format!(
            "check the name or id (`curbside directory --profile {}` finds colleagues)",
            profile.dir().display()
        )
    };
    let hint = format!("{check}, or pass --allow-unverified to send anyway");
    if !std::io::stdin().is_terminal() {
        bail!("not sent: {warning}; {hint}");
    }
    {
        use std::io::Write as _;
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "Warning: {warning}.\nSend anyway? [y/N] ");
        let _ = err.flush();
    }
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        bail!("not sent; {hint}")
    }
}
