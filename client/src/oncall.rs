//! Telling a clinician when an on-call role comes to them or leaves them
//! (a hand-off, a shift starting or ending), from what the server says
//! now (`GET /v1/oncall` at each connection, or a pushed `oncall_changed`)
//! compared with the roles this profile last knew it held. Pure: no I/O.

use std::collections::BTreeMap;

use curbside_protocol::ids::UserId;
use curbside_protocol::oncall::OnCallRole;

/// A change in the roles one holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoleChange {
    /// `name` is now one's own: messages to it come here.
    Taken {
        /// The role.
        name: String,
        /// The end of one's shift covering now, if a shift says.
        until_ms: Option<i64>,
    },
    /// `name` is no longer one's own.
    Left {
        /// The role.
        name: String,
        /// Who holds it now (names; none: uncovered).
        holders: Vec<String>,
    },
}

/// The roles held (role id → name): kept in the sealed local state.
pub type HeldRoles = BTreeMap<String, String>;

/// Compares `roles` with `held` for `me`, updating `held`. With `complete`
/// (`roles` is the whole list), a role held before and absent now was
/// left; otherwise (a pushed change) only the roles given are compared.
pub fn role_changes(
    me: &UserId,
    held: &mut HeldRoles,
    roles: &[OnCallRole],
    complete: bool,
    now: i64,
) -> Vec<RoleChange> {
    let mut changes = Vec::new();
    for role in roles {
        let id = role.role_id.to_string();
        let holds = role.holders.iter().any(|h| h.user_id == *me);
        match (holds, held.contains_key(&id)) {
            (true, false) => {
                let until_ms = role
                    .shifts
                    .iter()
                    .filter(|s| s.user_id == *me && s.starts_at <= now && s.ends_at > now)
                    .map(|s| s.ends_at)
                    .max();
                changes.push(RoleChange::Taken {
                    name: role.name.clone(),
                    until_ms,
                });
                held.insert(id, role.name.clone());
            }
            (false, true) => {
                changes.push(RoleChange::Left {
                    name: role.name.clone(),
                    holders: role.holders.iter().map(|h| h.display_name.clone()).collect(),
                });
                held.remove(&id);
            }
            _ => {}
        }
    }
    if complete {
        let listed: Vec<String> = roles.iter().map(|r| r.role_id.to_string()).collect();
        let gone: Vec<String> = held.keys().filter(|k| !listed.contains(k)).cloned().collect();
        for id in gone {
            if let Some(name) = held.remove(&id) {
                changes.push(RoleChange::Left {
                    name,
                    holders: Vec::new(),
                });
            }
        }
    }
    changes
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use curbside_protocol::frames::DirectoryEntry;
    use curbside_protocol::ids::OnCallRoleId;
    use curbside_protocol::oncall::Shift;

    fn entry(user: &UserId, name: &str) -> DirectoryEntry {
        DirectoryEntry {
            user_id: user.clone(),
            display_name: name.into(),
            specialty: "Dermatology".into(),
            npi: "1234567893".into(),
        }
    }

    fn role(holders: &[(&UserId, &str)], until: i64) -> OnCallRole {
        OnCallRole {
            role_id: OnCallRoleId::new("o1").unwrap(),
            name: "On-call dermatology".into(),
            specialty: Some("Dermatology".into()),
            holders: holders.iter().map(|(u, n)| entry(u, n)).collect(),
            shifts: holders
                .iter()
                .map(|(u, n)| Shift {
                    shift_id: 1,
                    user_id: (*u).clone(),
                    display_name: (*n).into(),
                    starts_at: 0,
                    ends_at: until,
                })
                .collect(),
        }
    }

    #[test]
    fn a_role_coming_and_going_is_told_once_each_way() {
        let (bob, carol) = (UserId::new("ub").unwrap(), UserId::new("uc").unwrap());
        let mut held = HeldRoles::new();
        let now = 1_000;
        let bobs = [role(&[(&bob, "Dr. Bob")], 5_000)];
        assert_eq!(
            role_changes(&bob, &mut held, &bobs, true, now),
            vec![RoleChange::Taken {
                name: "On-call dermatology".into(),
                until_ms: Some(5_000)
            }]
        );
        // Told once: the same list again says nothing.
        assert!(role_changes(&bob, &mut held, &bobs, true, now).is_empty());
        let carols = [role(&[(&carol, "Dr. Carol")], 9_000)];
        assert_eq!(
            role_changes(&bob, &mut held, &carols, false, now),
            vec![RoleChange::Left {
                name: "On-call dermatology".into(),
                holders: vec!["Dr. Carol".into()]
            }]
        );
        assert!(held.is_empty());
        // A pushed change about one role says nothing of the others.
        held.insert("o2".into(), "On-call cardiology".into());
        assert!(role_changes(&bob, &mut held, &carols, false, now).is_empty());
        // The whole list without it: left.
        assert_eq!(
            role_changes(&bob, &mut held, &carols, true, now),
            vec![RoleChange::Left {
                name: "On-call cardiology".into(),
                holders: vec![]
            }]
        );
    }
}
