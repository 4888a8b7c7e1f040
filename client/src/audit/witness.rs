//! The saved head: the log key pinned on first use and the last tree head
//! seen ([`Witness`], the compliance officer's `audit-witness.json`), and
//! [`check_head`], which checks the server's current head against it (its
//! signature, and a consistency proof that it extends the saved one) before
//! saving it.

use std::path::Path;

use curbside_protocol::audit::{SignedTreeHead, TreeHeadResponse};
use curbside_protocol::bytes::Base64;
use curbside_protocol::merkle::{self, Hash};
use serde::{Deserialize, Serialize};

use super::AuditError;
use crate::api::Api;
use crate::error::ClientError;

/// What the compliance officer keeps locally between runs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Witness {
    /// The log key pinned on first use (base64, 32 bytes).
    pub log_key: Base64,
    /// The last tree head seen and checked.
    pub last_head: SignedTreeHead,
}

impl Witness {
    /// Reads the witness file, if there is one.
    pub fn load(path: &Path) -> Result<Option<Self>, AuditError> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| AuditError::State(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(AuditError::State(format!("{}: {e}", path.display()))),
        }
    }

    /// Writes the witness file atomically.
    pub fn save(&self, path: &Path) -> Result<(), AuditError> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| AuditError::State(e.to_string()))?;
        crate::files::replace(path, &bytes).map_err(|e| AuditError::State(format!("{}: {e}", path.display())))
    }
}

/// The outcome of a successful head check.
#[derive(Clone, Debug)]
pub struct CheckedHead {
    /// The server's current signed head (now saved as the last seen).
    pub head: SignedTreeHead,
    /// The log key.
    pub log_key: Vec<u8>,
    /// The size seen before, if any (`None` on first use).
    pub previous: Option<u64>,
}

/// Fetches the server's current head, checks its signature with the pinned
/// key (pinning it on first use), proves it consistent with the last head
/// seen, and only then saves it as the last seen. Any failure leaves the
/// saved head untouched, so the alarm repeats on every later run.
pub async fn check_head(api: &Api, token: &str, witness_path: &Path) -> Result<CheckedHead, AuditError> {
    let saved = Witness::load(witness_path)?;
    let TreeHeadResponse { tree_head, log_key } = api.audit_tree_head(token).await?;
    let key = match &saved {
        Some(w) if w.log_key != log_key => {
            return Err(AuditError::KeyChanged {
                pinned: w.log_key.encode(),
                got: log_key.encode(),
            })
        }
        Some(w) => w.log_key.clone(),
        None => log_key,
    };
    tree_head
        .verify(key.as_slice())
        .map_err(|_| AuditError::BadSignature)?;
    let previous = match &saved {
        None => None,
        Some(w) => {
            let old = &w.last_head;
            old.verify(key.as_slice()).map_err(|_| AuditError::BadSignature)?;
            check_extends(api, token, old, &tree_head).await?;
            Some(old.size)
        }
    };
    Witness {
        log_key: key.clone(),
        last_head: tree_head.clone(),
    }
    .save(witness_path)?;
    Ok(CheckedHead {
        head: tree_head,
        log_key: key.0,
        previous,
    })
}

async fn check_extends(
    api: &Api,
    token: &str,
    old: &SignedTreeHead,
    new: &SignedTreeHead,
) -> Result<(), AuditError> {
    let rewritten = |reason: String| AuditError::Rewritten {
        saved: old.size,
        current: new.size,
        reason,
    };
    if new.size < old.size {
        return Err(AuditError::Truncated {
            saved: old.size,
            current: new.size,
        });
    }
    if old.size == 0 {
        return Ok(());
    }
    if new.size == old.size {
        return if new.root == old.root {
            Ok(())
        } else {
            Err(rewritten("same size, different root".into()))
        };
    }
    let proof = match api.audit_consistency(token, old.size, new.size).await {
        Ok(p) => p,
        // A server that cannot prove consistency is as bad as a wrong proof.
        Err(ClientError::Server { code, message, .. }) => {
            return Err(rewritten(format!("no consistency proof: {code}: {message}")))
        }
        Err(e) => return Err(e.into()),
    };
    let hashes: Vec<Hash> = proof.proof.iter().map(|h| h.0).collect();
    merkle::verify_consistency(old.size, new.size, &hashes, &old.root.0, &new.root.0)
        .map_err(|e| rewritten(e.to_string()))
}
