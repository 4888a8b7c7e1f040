//! People: the names behind user ids. What a clinician types to name a
//! colleague (a name or part of one, an NPI, or a user id) is resolved
//! against the server's directory of verified clinicians; the names seen
//! are kept in the sealed local state ([`crate::local::LocalState::people`])
//! so that every view shows "Dr. Bob Brennan (Dermatology)", not an id.

use curbside_protocol::frames::DirectoryEntry;
use curbside_protocol::ids::UserId;

use crate::api::Api;
use crate::error::Result;

/// What a name, an NPI or an id stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    /// Exactly one verified clinician.
    One(DirectoryEntry),
    /// Several clinicians match a name: the user must choose.
    Several(Vec<DirectoryEntry>),
    /// A well-formed user id that is not in the directory: not a clinician
    /// an administrator verified (or not a user of this server at all).
    Unlisted(UserId),
    /// Nobody.
    Nobody,
}

/// True for ten digits (the form of an NPI).
#[must_use]
pub fn looks_like_npi(s: &str) -> bool {
    s.len() == 10 && s.bytes().all(|b| b.is_ascii_digit())
}

/// True for the form of a server-issued user id: `u` and 24 hex digits.
#[must_use]
pub fn looks_like_user_id(s: &str) -> bool {
    s.len() == 25 && s.starts_with('u') && s[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// Resolves what the user typed: an NPI, a user id, or (a part of) a name.
/// A name that equals one clinician's name exactly (ignoring case) is that
/// clinician even when it is also part of others' names.
pub async fn resolve(api: &Api, token: &str, typed: &str) -> Result<Found> {
    let typed = typed.trim();
    if typed.is_empty() {
        return Ok(Found::Nobody);
    }
    if looks_like_npi(typed) {
        let found = api.directory_where(token, &[("npi", typed)]).await?;
        return Ok(found.into_iter().next().map_or(Found::Nobody, Found::One));
    }
    if looks_like_user_id(typed) {
        let found = api.directory_where(token, &[("user_id", typed)]).await?;
        return Ok(match found.into_iter().next() {
            Some(entry) => Found::One(entry),
            None => UserId::new(typed).map_or(Found::Nobody, Found::Unlisted),
        });
    }
    let found = api.directory_where(token, &[("name", typed)]).await?;
    Ok(choose(typed, found))
}

/// One of several entries found by name: the only one, or the only exact match.
#[must_use]
pub fn choose(typed: &str, mut found: Vec<DirectoryEntry>) -> Found {
    let exact: Vec<&DirectoryEntry> = found
        .iter()
        .filter(|e| e.display_name.eq_ignore_ascii_case(typed))
        .collect();
    if let [only] = exact.as_slice() {
        return Found::One((*only).clone());
    }
    match found.len() {
        0 => Found::Nobody,
        1 => found.pop().map_or(Found::Nobody, Found::One),
        _ => Found::Several(found),
    }
}

/// "Dr. Bob Brennan (Dermatology, NPI 1245319599)": how a choice is offered.
#[must_use]
pub fn describe(entry: &DirectoryEntry) -> String {
    match (entry.specialty.is_empty(), entry.npi.is_empty()) {
        (false, false) => format!("{} ({}, NPI {})", entry.display_name, entry.specialty, entry.npi),
        (false, true) => format!("{} ({})", entry.display_name, entry.specialty),
        (true, false) => format!("{} (NPI {})", entry.display_name, entry.npi),
        (true, true) => entry.display_name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str) -> DirectoryEntry {
        DirectoryEntry {
            user_id: UserId::new(format!("u{:024x}", name.len())).unwrap_or_else(|_| unreachable!()),
            display_name: name.into(),
            specialty: "Dermatology".into(),
            npi: "1245319599".into(),
        }
    }

    #[test]
    fn an_exact_name_wins_over_names_that_contain_it() {
        let found = vec![entry("Dr. Bob"), entry("Dr. Bobby Tables")];
        assert_eq!(choose("dr. bob", found.clone()), Found::One(entry("Dr. Bob")));
        assert_eq!(choose("Bob", found.clone()), Found::Several(found));
        assert_eq!(choose("Bob", vec![]), Found::Nobody);
    }

    #[test]
    fn npis_and_ids_are_told_apart_from_names() {
        assert!(looks_like_npi("1245319599"));
        assert!(!looks_like_npi("12453"));
        assert!(looks_like_user_id("u0123456789abcdef01234567"));
        assert!(!looks_like_user_id("Dr. Bob"));
        assert_eq!(
            describe(&entry("Dr. Bob")),
            "Dr. Bob (Dermatology, NPI 1245319599)"
        );
    }
}
