//! Command execution: carries out the [`Action`]s the interface asks for,
//! with the same functions as the scriptable commands (send, attach, team
//! send, referral transitions, directory search, safety numbers, download,
//! unlock), and sends read receipts for what the screen shows. Trust at
//! send time: a colleague no administrator verified, or whose keys changed
//! since they were verified, is sent to only after the user confirms.

use curbside_client::content::Content;
use curbside_client::local::{key_set_fingerprint, LocalState};
use curbside_client::people::{self, Found};
use curbside_client::{Client, ClientError};
use curbside_protocol::frames::MessageKind;

use super::app::{Action, App, Conversation};
use crate::messages::{random_message_id, send_content, upload_file, Sent};
use crate::profile::Profile;
use crate::teams::team_send;

/// Sends read receipts for what the selected conversation shows unread.
pub(crate) async fn mark_shown_read(
    app: &App,
    profile: &Profile,
    state: &mut LocalState,
    client: &mut Client,
) -> anyhow::Result<()> {
    let Some(Conversation::With(user)) = app.current(state) else {
        return Ok(());
    };
    let unread = state.contacts.get(&user).map_or(0, |c| c.unread) as usize;
    if unread == 0 {
        return Ok(());
    }
    let ids: Vec<_> = state
        .conversations
        .get(&user)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|m| m.from == user)
        .rev()
        .take(unread)
        .map(|m| m.message_id.clone())
        .collect();
    state.mark_read(&user);
    profile.save_state(state)?;
    let receipt = Content::Read { message_ids: ids };
    client
        .send(
            std::slice::from_ref(&user),
            MessageKind::Receipt,
            &random_message_id()?,
            &receipt.to_bytes(),
        )
        .await?;
    Ok(())
}

/// Carries out an action; what the user should read goes to the notice
/// line or the panel.
pub(crate) async fn execute(
    action: Action,
    app: &mut App,
    profile: &Profile,
    state: &mut LocalState,
    client: &mut Client,
) -> anyhow::Result<()> {
    match action {
        Action::Quit => {}
        Action::Send(Conversation::Referrals, ..) | Action::Attach(Conversation::Referrals, _) => {
            app.notice("the referral inbox takes /refer commands; open a conversation to write");
        }
        Action::Refer(transition, id, reason) => {
            let (api, token) = crate::commands::login(&client.account).await?;
            let reason_id = match (transition.needs_reason(), reason) {
                (false, _) => None,
                (true, None) => {
                    app.notice(format!("/refer {} needs a reason", transition.as_str()));
                    return Ok(());
                }
                (true, Some(reason)) => {
                    let current = api.referral(&token, &id).await?;
                    Some(crate::refer::send_reason(client, &current, &reason).await?)
                }
            };
            let r = api
                .transition_referral(&token, &id, transition, reason_id)
                .await?;
            app.notice(format!("Referral {}: {}", r.referral_id, r.status.as_str()));
            state.referral_envelopes.insert(r.referral_id.to_string(), r);
            profile.save_state(state)?;
        }
        Action::Unlock(passphrase) => {
            if profile.passphrase_matches(&passphrase.0) {
                app.locked = false;
                app.unlock_error = None;
                app.notice("Unlocked.");
            } else {
                app.unlock_error = Some("Wrong passphrase: type it again and press Enter".into());
            }
        }
        Action::Open(typed) => open(app, profile, state, client, &typed).await?,
        Action::Urgent(Conversation::With(user), text, priority) => {
            resend_queued(app, profile, state, client).await;
            super::urgent::send(app, profile, state, client, (user, text, priority)).await?;
        }
        Action::Urgent(Conversation::Team(id), text, priority) => {
            super::urgent::send_team(app, profile, state, client, (id, text, priority)).await?;
        }
        Action::Urgent(Conversation::Referrals, ..) => {}
        Action::Acknowledge => super::urgent::acknowledge_all(app, profile, state, client).await?,
        Action::Recall(user) => super::urgent::recall_last(app, profile, state, client, user).await?,
        Action::OnCall(None) => super::oncall::list(app, client).await?,
        Action::OnCall(Some(pair)) => {
            resend_queued(app, profile, state, client).await;
            super::oncall::send(app, profile, state, client, pair).await?;
        }
        Action::HandOff(role, to) => super::oncall::hand_off(app, profile, state, client, (role, to)).await?,
        Action::Consult(None) => super::consults::list(app, profile, state, client).await?,
        Action::Consult(Some(pair)) => super::consults::ask(app, profile, state, client, pair).await?,
        Action::Answer(n, text) => super::consults::answer(app, profile, state, client, (n, text)).await?,
        Action::CloseConsult(n) => super::consults::close(app, profile, state, client, n).await?,
        Action::ConsultImages(n, dir) => super::consults::images(app, state, client, (n, dir)).await?,
        Action::Send(Conversation::With(user), text, confirmed) => {
            if !confirmed && !state.people.contains_key(&user) {
                let warning = crate::people::unlisted_warning(state, std::slice::from_ref(&user));
                app.confirm = warning.map(|w| (Action::Send(Conversation::With(user), text, true), w));
                return Ok(());
            }
            // What waits in the outbox goes first, so messages keep their order.
            resend_queued(app, profile, state, client).await;
            crate::people::pin_verified(state, client);
            if confirmed {
                client.allow_changed.insert(user.clone());
            }
            let to = vec![user.clone()];
            let content = Content::text(to.clone(), text.clone());
            match send_content(profile, state, client, &to, &random_message_id()?, content).await {
                Ok(Sent::Queued(reason)) => app.notice(format!(
                    "Queued (the server cannot take it now: {reason}); it is sent when the connection is back"
                )),
                Ok(_) => app.notice(""),
                Err(e) => match e.downcast_ref::<ClientError>() {
                    Some(ClientError::KeysChanged(changed)) => {
                        let warning = crate::people::changed_warning(state, changed);
                        app.confirm = Some((Action::Send(Conversation::With(user), text, true), warning));
                    }
                    _ => return Err(e),
                },
            }
        }
        Action::Send(Conversation::Team(id), text, _) => {
            team_send(profile, state, client, &id, Content::text(Vec::new(), text)).await?;
        }
        Action::Attach(Conversation::With(user), path) => {
            crate::people::pin_verified(state, client);
            let (file, _) = upload_file(&client.account, std::path::Path::new(&path)).await?;
            let name = file.name.clone();
            let to = vec![user];
            let content = Content::attachment(to.clone(), file);
            let id = random_message_id()?;
            let sent = send_content(profile, state, client, &to, &id, content).await?;
            app.notice(sent.describe(&format!("Sent {name}"), &id));
        }
        Action::Attach(Conversation::Team(id), path) => {
            let (file, _) = upload_file(&client.account, std::path::Path::new(&path)).await?;
            let name = file.name.clone();
            let content = Content::attachment(Vec::new(), file);
            let message = team_send(profile, state, client, &id, content).await?;
            app.notice(format!("Sent {name} to the team as {message}"));
        }
        Action::Download(which, dir) => download(app, state, client, which, dir).await?,
        Action::Find(specialty) => {
            let (api, token) = crate::commands::login(&client.account).await?;
            let mut found = api.directory(&token, None, Some(&specialty)).await?;
            found.retain(|e| e.user_id != app.me);
            let lines: Vec<String> = if found.is_empty() {
                vec![format!("No verified clinician in {specialty}.")]
            } else {
                found.iter().map(people::describe).collect()
            };
            for entry in found {
                state.remember(entry);
            }
            profile.save_state(state)?;
            app.show(
                format!("{specialty}: /to NAME writes to one (Tab completes)"),
                lines,
            );
        }
        Action::Verify(user) => match crate::trust::safety_number(&client.account, &user)? {
            None => app.notice("no keys for this colleague yet: exchange a message first"),
            Some(number) => {
                let trust = match super::draw::trust_of(state, &client.account, &user) {
                    curbside_client::local::Trust::Verified => {
                        "verified: the keys are the ones you confirmed"
                    }
                    curbside_client::local::Trust::Unverified => "not verified yet",
                    curbside_client::local::Trust::Changed => "KEYS CHANGED since you verified them",
                };
                let mut lines: Vec<String> = crate::trust::grouped(number.digits())
                    .lines()
                    .map(str::to_owned)
                    .collect();
                lines.push(String::new());
                lines.push(format!("Status: {trust}."));
                lines.push(format!(
                    "Compare it with {}'s, in person or on a call; if it is the same, type /confirm and the digits they read.",
                    state.name(&user)
                ));
                app.show(format!("Safety number with {}", state.label(&user)), lines);
            }
        },
        Action::Confirm(user, typed) => {
            let Some(number) = crate::trust::safety_number(&client.account, &user)? else {
                app.notice("no keys for this colleague yet: exchange a message first");
                return Ok(());
            };
            let digits = typed.bytes().filter(u8::is_ascii_digit).count();
            if digits != number.digits().len() {
                app.notice(format!(
                    "/confirm takes the {} digits your colleague reads out; {digits} were typed: check them",
                    number.digits().len()
                ));
            } else if number.matches(&typed) {
                let fingerprint = key_set_fingerprint(&client.account.identity_keys_of(&user));
                state.contacts.entry(user.clone()).or_default().verified_keys = Some(fingerprint);
                profile.save_state(state)?;
                app.panel = None;
                app.notice(format!(
                    "Verified {}: their current keys match.",
                    state.name(&user)
                ));
            } else {
                app.show(
                    "Safety numbers differ",
                    vec![
                        "The digits you typed are not the safety number this device computes.".into(),
                        "Do not trust this conversation until you know why (a new device, a reinstall, or someone in the middle).".into(),
                        "/verify shows the number again.".into(),
                    ],
                );
            }
        }
    }
    Ok(())
}

/// Opens a conversation with a colleague named by name, NPI or id: one
/// match opens it, several are listed to choose from.
async fn open(
    app: &mut App,
    profile: &Profile,
    state: &mut LocalState,
    client: &Client,
    typed: &str,
) -> anyhow::Result<()> {
    // A colleague this profile already talks to opens without the server
    // (so /to works offline, and what is typed next goes where it should).
    let local = crate::people::known(state, typed, profile)
        .ok()
        .filter(|u| state.contacts.contains_key(u) || state.people.contains_key(u));
    if let Some(user) = local.filter(|u| *u != app.me) {
        state.contacts.entry(user.clone()).or_default();
        profile.save_state(state)?;
        app.panel = None;
        app.notice(format!("Writing to {}", state.label(&user)));
        app.select(state, &Conversation::With(user));
        return Ok(());
    }
    let (api, token) = match crate::commands::login(&client.account).await {
        Ok(session) => session,
        Err(e) => {
            app.notice(format!(
                "Could not look up \"{typed}\" ({e:#}); colleagues you already write to open offline"
            ));
            return Ok(());
        }
    };
    let user = match people::resolve(&api, &token, typed).await? {
        Found::One(entry) => {
            let user = entry.user_id.clone();
            state.remember(entry);
            user
        }
        Found::Unlisted(user) => {
            app.notice(format!(
                "{user} is not in the directory of verified clinicians: messages to them ask for confirmation"
            ));
            user
        }
        Found::Several(entries) => {
            let lines = entries
                .iter()
                .map(|e| format!("{}  →  /to {}", people::describe(e), e.npi))
                .collect();
            app.show(format!("Several clinicians match \"{typed}\": choose one"), lines);
            return Ok(());
        }
        Found::Nobody => {
            app.notice(format!(
                "No verified clinician matches \"{typed}\": /find SPECIALTY lists a specialty's clinicians"
            ));
            return Ok(());
        }
    };
    if user == app.me {
        app.notice("That is you: /to NAME opens a conversation with a colleague");
        return Ok(());
    }
    state.contacts.entry(user.clone()).or_default();
    profile.save_state(state)?;
    app.panel = None;
    if state.people.contains_key(&user) {
        app.notice(format!("Writing to {}", state.label(&user)));
    }
    app.select(state, &Conversation::With(user));
    Ok(())
}

/// Lists the selected conversation's attachments, or saves number `which`
/// (checked and decrypted) into `dir`, never over an existing file.
async fn download(
    app: &mut App,
    state: &LocalState,
    client: &Client,
    which: Option<usize>,
    dir: Option<String>,
) -> anyhow::Result<()> {
    let messages = match app.current(state) {
        Some(Conversation::With(user)) => state.conversations.get(&user),
        Some(Conversation::Team(id)) => state.team_conversations.get(&id),
        _ => None,
    };
    let mut ordered: Vec<_> = messages.map(|m| m.iter().collect()).unwrap_or_default();
    ordered.sort_by_key(|m: &&curbside_client::local::StoredMessage| m.at_ms);
    let files: Vec<_> = ordered
        .iter()
        .filter_map(|m| match &m.content {
            Content::Attachment { file, .. } => Some((m, file)),
            _ => None,
        })
        .collect();
    let Some(n) = which else {
        let lines = if files.is_empty() {
            vec!["No attachment in this conversation.".to_owned()]
        } else {
            files
                .iter()
                .enumerate()
                .map(|(i, (m, f))| {
                    format!(
                        "{}. {} ({} bytes) from {}",
                        i + 1,
                        f.name,
                        f.size,
                        if m.from == app.me {
                            "me".to_owned()
                        } else {
                            state.name(&m.from)
                        }
                    )
                })
                .collect()
        };
        app.show("Attachments: /download N [DIR] saves one", lines);
        return Ok(());
    };
    let Some((_, file)) = files.get(n - 1) else {
        app.notice(format!("There is no attachment {n} here: /download lists them"));
        return Ok(());
    };
    let dir = std::path::PathBuf::from(dir.unwrap_or_else(|| ".".into()));
    let path = crate::messages::free_path(&dir, &file.name);
    let size = crate::messages::fetch(&client.account, file, &path).await?;
    app.notice(format!(
        "Saved {} ({size} bytes) to {}",
        file.name,
        path.display()
    ));
    Ok(())
}

/// Sends what waits in the sealed outbox (after a reconnect, or before a new
/// message); what still cannot go stays queued, in order.
pub(super) async fn resend_queued(
    app: &mut App,
    profile: &Profile,
    state: &mut LocalState,
    client: &mut Client,
) {
    if state.outbox.is_empty() {
        return;
    }
    match crate::messages::flush_outbox(profile, state, client).await {
        Ok(0) => {}
        Ok(n) => app.notice(format!("Sent {n} queued message(s)")),
        Err(e) => app.notice(format!("queued messages not sent yet: {e}")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::messages::free_path;

    #[test]
    fn an_attachment_is_saved_under_its_file_name_only_and_never_over_a_file() {
        let dir = tempfile::tempdir().unwrap();
        // A sender chooses the name, not where it goes.
        let hostile = free_path(dir.path(), "../../etc/passwd");
        assert_eq!(hostile, dir.path().join("passwd"));
        assert_eq!(free_path(dir.path(), ".."), dir.path().join("attachment"));
        std::fs::write(dir.path().join("rash.jpg"), b"x").unwrap();
        assert_eq!(free_path(dir.path(), "rash.jpg"), dir.path().join("rash.jpg (2)"));
    }
}
