//! The compliance officer's view: an enrolled officer and every audit entry
//! matching a query, read through the compliance API as an officer would.

use curbside_client::api::Api;
use curbside_client::{enroll, Account, UserDetails};
use curbside_protocol::audit::{Action, AuditQuery, AuditRecord};
use curbside_protocol::http::{InviteTarget, Role};

use super::World;

/// Enrolls a compliance officer and returns their session token.
pub async fn officer(world: &World) -> (Account, String) {
    let invite = world
        .invite(InviteTarget::NewUser {
            role: Role::ComplianceOfficer,
        })
        .await;
    let profile = UserDetails {
        display_name: "Carol Compliance".into(),
        ..UserDetails::default()
    };
    let account = enroll(world.info.clone(), &invite, &profile).await.unwrap();
    let token = world.login(&account).await;
    (account, token)
}

/// Every entry matching `query`, following the cursor to the end.
pub async fn all(api: &Api, token: &str, mut query: AuditQuery) -> Vec<AuditRecord> {
    let mut out = Vec::new();
    query.limit = Some(query.limit.unwrap_or(200));
    loop {
        let page = api.audit_entries(token, &query).await.unwrap();
        out.extend(page.records);
        match page.next_cursor {
            Some(c) => query.cursor = Some(c),
            None => return out,
        }
    }
}

/// The query for every entry of `action`.
pub fn by_action(action: Action) -> AuditQuery {
    AuditQuery {
        action: Some(action.as_str().into()),
        ..AuditQuery::default()
    }
}
