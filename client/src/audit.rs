//! The compliance officer's side of the audit log: keeping the server
//! honest (a pinned log key and the last tree head seen, checked for
//! consistency on every run) and verifying an export offline.

use std::io::BufRead;
use std::path::Path;

use curbside_protocol::audit::{AuditRecord, SignedTreeHead, TreeHeadResponse};
use curbside_protocol::bytes::Base64;
use curbside_protocol::merkle::{self, CompactRange, Hash, ProofError};
use serde::{Deserialize, Serialize};

use crate::api::Api;
use crate::error::ClientError;

/// Why the log cannot be trusted, or could not be checked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The server signs with a different key than the one pinned.
    #[error(
        "the server's audit log key changed (pinned {pinned}, now {got}): the log may have been replaced"
    )]
    KeyChanged {
        /// The pinned key, base64.
        pinned: String,
        /// The key the server presents, base64.
        got: String,
    },
    /// A tree head's signature does not verify.
    #[error("a tree head is not signed by the log key")]
    BadSignature,
    /// The log is shorter than a head seen before.
    #[error(
        "the audit log shrank: {saved} entries were seen before, the server now reports {current}: entries were deleted"
    )]
    Truncated {
        /// The size seen before.
        saved: u64,
        /// The size now.
        current: u64,
    },
    /// The log is not an extension of the head seen before.
    #[error(
        "the audit log was rewritten: the server's tree of {current} entries does not extend the tree of {saved} entries seen before ({reason})"
    )]
    Rewritten {
        /// The size seen before.
        saved: u64,
        /// The size now.
        current: u64,
        /// What did not match.
        reason: String,
    },
    /// Talking to the server failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The local state file could not be read or written.
    #[error("audit state file: {0}")]
    State(String),
}

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
        let tmp = path.with_extension("tmp");
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| AuditError::State(e.to_string()))?;
        std::fs::write(&tmp, bytes)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| AuditError::State(format!("{}: {e}", path.display())))
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

/// What an offline verification established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// Entries checked.
    pub entries: u64,
    /// The root they produce (equal to the tree head's).
    pub root: Hash,
    /// Whether the export also matched the saved (older) head at its size.
    pub matched_saved_head: Option<u64>,
}

/// Why an export does not verify. Each names what failed first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyFailure {
    /// The tree head is not signed by the log key.
    #[error("the tree head's signature does not verify with the log key")]
    BadSignature,
    /// A line is not a valid record.
    #[error("line {line} is not a valid audit record: {error}")]
    Malformed {
        /// 1-based line number.
        line: u64,
        /// The parse error.
        error: String,
    },
    /// Entries are missing or out of order.
    #[error(
        "line {line} holds entry {found}, expected entry {expected}: entries are missing or out of order"
    )]
    OutOfSequence {
        /// 1-based line number.
        line: u64,
        /// The sequence number expected.
        expected: u64,
        /// The one found.
        found: u64,
    },
    /// An entry's content no longer matches the hash recorded when it was logged.
    #[error("entry {seq} was altered: its content does not match the leaf hash recorded when it was logged")]
    Altered {
        /// The entry.
        seq: u64,
    },
    /// The export has a different number of entries than the tree head.
    #[error("the export holds {entries} entries, the tree head {head_size}")]
    SizeMismatch {
        /// Entries in the export.
        entries: u64,
        /// Size in the tree head.
        head_size: u64,
    },
    /// The first entries do not reproduce a head seen earlier.
    #[error("the first {size} entries do not reproduce the tree head saved earlier: history was rewritten")]
    SavedHeadMismatch {
        /// The saved head's size.
        size: u64,
    },
    /// Every entry matches its recorded hash but the tree does not match the head.
    #[error(
        "the entries do not reproduce the signed root: recorded hashes were rewritten along with entries"
    )]
    RootMismatch,
    /// Reading the export failed.
    #[error("reading the export: {0}")]
    Io(String),
}

/// Verifies a JSONL export offline: every line is a record, in sequence
/// from 1; each entry's canonical bytes hash to the leaf hash recorded when
/// it was logged; the tree over all of them has the signed head's size and
/// root; and, if an older head was saved, the tree over its first entries
/// has that head's root. `progress` is called with the entries done so far.
pub fn verify_export(
    export: impl BufRead,
    head: &SignedTreeHead,
    log_key: &[u8],
    saved: Option<&SignedTreeHead>,
    mut progress: impl FnMut(u64),
) -> Result<Verified, VerifyFailure> {
    head.verify(log_key).map_err(|_| VerifyFailure::BadSignature)?;
    let saved = match saved {
        Some(s) if s.size <= head.size && s.size > 0 => {
            s.verify(log_key).map_err(|_| VerifyFailure::BadSignature)?;
            Some(s)
        }
        _ => None,
    };
    let mut tree = CompactRange::new();
    let mut matched_saved = None;
    for (n, line) in export.lines().enumerate() {
        let line_no = n as u64 + 1;
        let line = line.map_err(|e| VerifyFailure::Io(e.to_string()))?;
        let record: AuditRecord = serde_json::from_str(&line).map_err(|e| VerifyFailure::Malformed {
            line: line_no,
            error: e.to_string(),
        })?;
        let expected = tree.size() + 1;
        if record.entry.seq != expected {
            return Err(VerifyFailure::OutOfSequence {
                line: line_no,
                expected,
                found: record.entry.seq,
            });
        }
        let leaf = record.entry.leaf_hash();
        if leaf != record.leaf_hash.0 {
            return Err(VerifyFailure::Altered {
                seq: record.entry.seq,
            });
        }
        tree.append(leaf);
        if let Some(s) = saved {
            if tree.size() == s.size {
                if tree.root() != s.root.0 {
                    return Err(VerifyFailure::SavedHeadMismatch { size: s.size });
                }
                matched_saved = Some(s.size);
            }
        }
        if tree.size() % 1024 == 0 {
            progress(tree.size());
        }
    }
    progress(tree.size());
    if tree.size() != head.size {
        return Err(VerifyFailure::SizeMismatch {
            entries: tree.size(),
            head_size: head.size,
        });
    }
    if tree.root() != head.root.0 {
        return Err(VerifyFailure::RootMismatch);
    }
    Ok(Verified {
        entries: tree.size(),
        root: tree.root(),
        matched_saved_head: matched_saved,
    })
}

/// Checks one record's inclusion in a signed tree head.
pub fn verify_inclusion(
    record: &AuditRecord,
    proof: &[Hash],
    head: &SignedTreeHead,
    log_key: &[u8],
) -> Result<(), VerifyFailure> {
    head.verify(log_key).map_err(|_| VerifyFailure::BadSignature)?;
    let leaf = record.entry.leaf_hash();
    if leaf != record.leaf_hash.0 {
        return Err(VerifyFailure::Altered {
            seq: record.entry.seq,
        });
    }
    let index = record
        .entry
        .seq
        .checked_sub(1)
        .ok_or(VerifyFailure::RootMismatch)?;
    merkle::verify_inclusion(index, head.size, &leaf, proof, &head.root.0).map_err(|e| match e {
        ProofError::RootMismatch => VerifyFailure::RootMismatch,
        other => VerifyFailure::Malformed {
            line: 0,
            error: other.to_string(),
        },
    })
}

/// The file, next to an export, holding the tree head it matches.
#[must_use]
pub fn head_file_for(export: &Path) -> std::path::PathBuf {
    let mut name = export.as_os_str().to_owned();
    name.push(".tree-head.json");
    std::path::PathBuf::from(name)
}
