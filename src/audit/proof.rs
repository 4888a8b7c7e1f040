//! `curbside audit proof`: one entry fetched with its inclusion proof and
//! checked against the current signed tree head.

use std::collections::HashMap;

use anyhow::bail;
use curbside_client::audit::verify_inclusion;
use curbside_protocol::merkle::Hash;

use super::checked_session;
use super::output::{alarm, table};
use crate::commands::{out, ProfileArg};

/// `audit proof`.
pub(super) async fn proof(profile: &ProfileArg, seq: u64) -> anyhow::Result<()> {
    let (api, token, head) = checked_session(profile).await?;
    let size = head.tree_head.size;
    let proof = api.audit_inclusion(&token, seq, size).await?;
    let hashes: Vec<Hash> = proof.proof.iter().map(|h| h.0).collect();
    match verify_inclusion(&proof.record, &hashes, &head.tree_head, head.log_key.as_slice()) {
        Ok(()) => {
            out(&table(std::slice::from_ref(&proof.record), &HashMap::new()))?;
            out(&format!(
                "Entry {seq} is included in the signed tree of {size} entries (root {}): {} proof hashes checked.",
                head.tree_head.root,
                hashes.len()
            ))
        }
        Err(e) => bail!(alarm(&e.to_string())),
    }
}
