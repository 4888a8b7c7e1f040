//! `curbside audit query`: the entries of the checked head, each proven
//! (recorded hash and inclusion proof) and marked when it fails, as a table
//! or JSON lines.

use anyhow::bail;
use curbside_client::audit::{check_page, VerifyFailure};
use curbside_protocol::audit::AuditQuery;

use super::output::{alarm, note, table};
use super::{checked_session, Filters};
use crate::commands::{out, ProfileArg};

/// `audit query`.
pub(super) async fn query(
    profile: &ProfileArg,
    filters: &Filters,
    limit: u32,
    newest_first: bool,
    cursor: Option<u64>,
    json: bool,
) -> anyhow::Result<()> {
    let (api, token, head) = checked_session(profile).await?;
    let size = head.tree_head.size;
    // Only entries of the checked head, each with its inclusion proof.
    let query = AuditQuery {
        limit: Some(limit),
        order: newest_first.then(|| "desc".to_owned()),
        cursor,
        tree_size: Some(size),
        ..filters.query()?
    };
    let page = api.audit_entries(&token, &query).await?;
    let failures = match check_page(&page, &head.tree_head, head.log_key.as_slice()) {
        Ok(f) => f,
        Err(e) => bail!(alarm(&format!("the entries cannot be checked: {e}"))),
    };
    if json {
        for r in &page.records {
            out(&serde_json::to_string(r)?)?;
        }
    } else {
        let marks = failures.iter().map(|(seq, e)| (*seq, mark(e))).collect();
        out(&table(&page.records, &marks))?;
    }
    if !failures.is_empty() {
        bail!(alarm(&failed_entries(&failures, page.records.len(), size, !json)));
    }
    note(&format!(
        "{} entries shown, each proven in the signed tree head of {size} entries{}",
        page.records.len(),
        page.next_cursor
            .map(|c| format!("; more with --cursor {c}"))
            .unwrap_or_default()
    ));
    Ok(())
}

/// What a row of `audit query` is marked with when it does not check.
fn mark(failure: &VerifyFailure) -> String {
    match failure {
        VerifyFailure::Altered { .. } => "ALTERED: content does not match its recorded hash".into(),
        VerifyFailure::NotIncluded { .. } => "NOT IN THE SIGNED TREE: its inclusion proof fails".into(),
        other => format!("NOT VERIFIED: {other}"),
    }
}

/// The alarm of `audit query` when some entries shown do not check.
fn failed_entries(failures: &[(u64, VerifyFailure)], shown: usize, size: u64, marked: bool) -> String {
    const LISTED: usize = 10;
    let mut what: Vec<String> = failures.iter().take(LISTED).map(|(_, e)| e.to_string()).collect();
    if failures.len() > LISTED {
        what.push(format!("and {} more", failures.len() - LISTED));
    }
    format!(
        "{} of the {shown} entries shown do not match the signed tree head of {size} entries{}; \
         do not rely on them:\n!!! {}",
        failures.len(),
        if marked { " (the rows marked !!!)" } else { "" },
        what.join("\n!!! ")
    )
}
