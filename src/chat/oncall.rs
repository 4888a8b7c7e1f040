//! On-call roles in the chat: `/oncall` lists them with who holds each now;
//! `/oncall ROLE: TEXT` writes to whoever holds the role now (the server
//! resolves it and audits who held it; the answer comes back in the
//! conversation with that colleague); `/handoff ROLE: NAME` hands a role one
//! holds to a colleague at once.

use curbside_client::local::LocalState;
use curbside_client::{Client, Urgency};
use curbside_protocol::oncall::HandOff;

use super::app::{App, Conversation};
use crate::messages::{random_message_id, Sent};
use crate::profile::Profile;

/// Shows the roles and who holds each now.
pub(super) async fn list(app: &mut App, client: &Client) -> anyhow::Result<()> {
    let (api, token) = crate::commands::login(&client.account).await?;
    let roles = api.oncall_roles(&token).await?;
    let now = curbside_protocol::time::now_ms();
    let lines = if roles.is_empty() {
        vec!["No on-call roles yet: an administrator creates them (`curbside oncall create`).".to_owned()]
    } else {
        roles.iter().map(|r| crate::oncall::describe(r, now)).collect()
    };
    app.show(
        "On-call roles: /oncall ROLE: TEXT writes to whoever holds one",
        lines,
    );
    Ok(())
}

/// Writes `text` to whoever holds the role `typed` now, and opens the
/// conversation with them (where their answer comes).
pub(super) async fn send(
    app: &mut App,
    profile: &Profile,
    state: &mut LocalState,
    client: &mut Client,
    (typed, text): (String, String),
) -> anyhow::Result<()> {
    crate::people::pin_verified(state, client);
    let role = match crate::messages::resolve_role(&client.account, state, &typed).await {
        Ok(role) => role,
        Err(e) => {
            app.error(&format!("{e:#}"));
            return Ok(());
        }
    };
    if crate::messages::holders_now(&role, &app.me).is_err() {
        app.notice(format!(
            "You hold {} now yourself: messages to it come to you (/handoff {}: NAME hands it on)",
            role.name, role.name
        ));
        return Ok(());
    }
    let id = random_message_id()?;
    let how = (&Urgency::routine(), None);
    let (role, sent) = crate::messages::send_to_role(profile, state, client, role, (&id, &text), how).await?;
    profile.save_state(state)?;
    if let Some(first) = role.holders.iter().find(|h| h.user_id != app.me) {
        state.contacts.entry(first.user_id.clone()).or_default();
        app.select(state, &Conversation::With(first.user_id.clone()));
    }
    app.notice(match sent {
        Sent::Queued(reason) => format!("Queued ({reason}); sent when the connection is back"),
        _ => format!(
            "{} Their answer comes in this conversation.",
            crate::messages::holders_words(&role).replacen("To ", "Sent to ", 1)
        ),
    });
    Ok(())
}

/// Hands the role `typed` to the colleague `to` from now on.
pub(super) async fn hand_off(
    app: &mut App,
    profile: &Profile,
    state: &mut LocalState,
    client: &Client,
    (typed, to): (String, String),
) -> anyhow::Result<()> {
    let (api, token) = crate::commands::login(&client.account).await?;
    let roles = api.oncall_roles(&token).await?;
    let role = match crate::oncall::find_role(&roles, &typed) {
        Ok(role) => role,
        Err(e) => {
            app.error(&format!("{e:#}"));
            return Ok(());
        }
    };
    let named = match crate::people::resolve_one(&api, &token, state, &to, profile).await {
        Ok(named) if named.listed => named.user,
        Ok(_) => {
            app.notice(format!(
                "{to} is not a verified clinician: only they can hold an on-call role"
            ));
            return Ok(());
        }
        Err(e) => {
            app.error(&format!("{e:#}"));
            return Ok(());
        }
    };
    let now_role = api
        .hand_off(
            &token,
            &role.role_id,
            &HandOff {
                to: named,
                until: None,
            },
        )
        .await?;
    profile.save_state(state)?;
    app.notice(format!(
        "Handed off: {}. Messages to the role go to them from now on.",
        crate::oncall::describe(&now_role, curbside_protocol::time::now_ms())
    ));
    Ok(())
}
