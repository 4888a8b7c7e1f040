//! Command execution: carries out the [`Action`]s the interface asks for,
//! with the same functions as the scriptable commands (send, attach, team
//! send, referral transitions, directory search, safety numbers, unlock),
//! and sends read receipts for what the screen shows.

use curbside_client::content::Content;
use curbside_client::local::LocalState;
use curbside_client::Client;
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

/// Carries out an action; what the user should read goes to the notice line.
pub(crate) async fn execute(
    action: Action,
    app: &mut App,
    profile: &Profile,
    state: &mut LocalState,
    client: &mut Client,
) -> anyhow::Result<()> {
    match action {
        Action::Quit => {}
        Action::Send(Conversation::Referrals, _) | Action::Attach(Conversation::Referrals, _) => {
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
                app.notice("Unlocked.");
            } else {
                app.notice("Wrong passphrase.");
            }
        }
        Action::Open(user) => {
            state.contacts.entry(user.clone()).or_default();
            profile.save_state(state)?;
            app.select(state, &Conversation::With(user));
        }
        Action::Send(Conversation::With(user), text) => {
            // What waits in the outbox goes first, so messages keep their order.
            resend_queued(app, profile, state, client).await;
            let to = vec![user];
            let content = Content::Text { to: to.clone(), text };
            if let Sent::Queued(reason) =
                send_content(profile, state, client, &to, &random_message_id()?, content).await?
            {
                app.notice(format!(
                    "Queued (the server cannot take it now: {reason}); it is resent with your next message or on reconnect"
                ));
            }
        }
        Action::Send(Conversation::Team(id), text) => {
            team_send(
                profile,
                state,
                client,
                &id,
                Content::Text { to: Vec::new(), text },
            )
            .await?;
        }
        Action::Attach(Conversation::With(user), path) => {
            let (file, _) = upload_file(&client.account, std::path::Path::new(&path)).await?;
            let name = file.name.clone();
            let to = vec![user];
            let content = Content::Attachment { to: to.clone(), file };
            let id = random_message_id()?;
            let sent = send_content(profile, state, client, &to, &id, content).await?;
            app.notice(sent.describe(&format!("Sent {name}"), &id));
        }
        Action::Attach(Conversation::Team(_), _) => {
            app.notice("team attachments: use `curbside attach` per member for now")
        }
        Action::Find(specialty) => {
            let (api, token) = crate::commands::login(&client.account).await?;
            let found = api.directory(&token, None, Some(&specialty)).await?;
            let names: Vec<String> = found
                .iter()
                .map(|e| format!("{} ({})", e.display_name, e.user_id))
                .collect();
            app.notice(if names.is_empty() {
                format!("No verified clinician in {specialty}")
            } else {
                format!("{specialty}: {} — /to USER to write", names.join(", "))
            });
        }
        Action::Verify(user) => match crate::trust::safety_number(&client.account, &user)? {
            None => app.notice("no keys for this colleague yet: exchange a message first"),
            Some(number) => app.notice(format!(
                "Safety number with {user}: {} — compare, then `curbside verify --confirm`",
                number.digits()
            )),
        },
    }
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
