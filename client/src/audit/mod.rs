//! The compliance officer's side of the audit log: keeping the server
//! honest (a pinned log key and the last tree head seen, checked for
//! consistency on every run), checking the entries a query shows (each
//! against its recorded hash and an inclusion proof in the checked head),
//! checking an export before it is kept, and verifying one offline.
//!
//! Layout: this module holds the errors ([`AuditError`], [`VerifyFailure`])
//! and what a verification reports ([`Verified`], [`SavedHead`]), beside the
//! small helpers about export files; `witness` keeps the server honest (the
//! saved head and [`check_head`]), `export` verifies an export offline
//! ([`verify_export`], [`verify_selection`]), and `entries` checks single
//! entries and pages of a query ([`verify_inclusion`], [`check_page`]).

mod entries;
mod export;
mod witness;

use std::path::Path;

use curbside_protocol::audit::{format_time_ms, CSV_HEADER};
use curbside_protocol::merkle::Hash;

use crate::error::ClientError;

pub use entries::{check_page, verify_inclusion};
pub use export::{verify_export, verify_selection};
pub use witness::{check_head, CheckedHead, Witness};

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

/// What an offline verification established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// Entries checked.
    pub entries: u64,
    /// The root they produce (equal to the tree head's).
    pub root: Hash,
    /// Whether the export also matched the saved (older) head at its size.
    pub matched_saved_head: Option<u64>,
    /// The saved head, when it is larger than the export's head and was
    /// signed no later: the export is an older one. It verifies against its
    /// own head, but offline nothing shows that it is a prefix of the
    /// larger head seen since (an online run checks the current log).
    pub saved_head_newer: Option<SavedHead>,
}

/// A tree head saved earlier, as a verification reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SavedHead {
    /// Its size.
    pub size: u64,
    /// When it was signed, ms since the epoch.
    pub timestamp_ms: i64,
}

/// Why an export or an entry does not verify. Each names what failed first.
/// All but [`VerifyFailure::Csv`] and [`VerifyFailure::Io`] are evidence
/// against the log ([`VerifyFailure::is_integrity_failure`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyFailure {
    /// The tree head is not signed by the log key.
    #[error("the tree head's signature does not verify with the log key")]
    BadSignature,
    /// The tree head saved earlier is not signed by the log key.
    #[error(
        "the tree head saved earlier is not signed by the log key: the saved head was altered, or this export is from another log"
    )]
    SavedHeadBadSignature,
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
    /// An entry's inclusion proof does not lead to the signed root.
    #[error(
        "entry {seq} is not in the signed tree of {size} entries: its inclusion proof does not lead to the signed root (the entry and its recorded hash, or the stored tree, were rewritten)"
    )]
    NotIncluded {
        /// The entry.
        seq: u64,
        /// The signed head's size.
        size: u64,
    },
    /// The server answered a proven query without a proof for every entry.
    #[error(
        "the server sent {records} entries but {proofs} inclusion proofs: the entries cannot be checked"
    )]
    MissingProofs {
        /// Entries received.
        records: usize,
        /// Proofs received.
        proofs: usize,
    },
    /// The export has a different number of entries than the tree head.
    #[error("the export holds {entries} entries, the tree head {head_size}")]
    SizeMismatch {
        /// Entries in the export.
        entries: u64,
        /// Size in the tree head.
        head_size: u64,
    },
    /// The export's head is smaller than a head saved earlier, yet was signed after it.
    #[error(
        "the audit log shrank: you saw {saved} entries (the tree head saved on {}), but this export's tree head, signed later ({}), has only {size}: entries {}..={saved} were deleted from the log, or the server was restored from a backup older than your saved head",
        format_time_ms(*.saved_at_ms),
        format_time_ms(*.signed_at_ms),
        .size.saturating_add(1)
    )]
    Shrank {
        /// The saved head's size.
        saved: u64,
        /// When the saved head was signed.
        saved_at_ms: i64,
        /// The export's head's size.
        size: u64,
        /// When the export's head was signed.
        signed_at_ms: i64,
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
    /// A row of a filtered or CSV export differs from the entry with its
    /// sequence number in the verified log.
    #[error(
        "row {row} of the export (entry {seq}) is not entry {seq} of the signed log: the export was altered"
    )]
    RowMismatch {
        /// 1-based line (JSONL) or row, header included (CSV).
        row: u64,
        /// The entry.
        seq: u64,
    },
    /// A row of a filtered or CSV export is out of order, repeated, or not
    /// in the signed log.
    #[error("row {row} of the export holds entry {seq}, which is out of order, repeated, or not in the signed log")]
    UnexpectedRow {
        /// 1-based line (JSONL) or row, header included (CSV).
        row: u64,
        /// The sequence number it holds.
        seq: u64,
    },
    /// The file is a CSV export. Not an integrity failure.
    #[error(
        "CSV exports cannot be verified; use JSONL: export with `curbside audit export --out FILE.jsonl` (the default format) and verify that file"
    )]
    Csv,
    /// Reading the export failed. Not an integrity failure.
    #[error("reading the export: {0}")]
    Io(String),
}

impl VerifyFailure {
    /// Whether this is evidence against the log (an alarm), rather than a
    /// file that cannot be checked (a CSV export, an unreadable file).
    #[must_use]
    pub fn is_integrity_failure(&self) -> bool {
        !matches!(self, Self::Csv | Self::Io(_))
    }
}

/// Whether `line` (a file's first) is the header of a CSV export.
#[must_use]
pub fn is_csv_header(line: &str) -> bool {
    line.trim_end() == CSV_HEADER.join(",")
}

/// The format of an export file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExportFormat {
    /// One JSON record per line.
    Jsonl,
    /// The columns of [`CSV_HEADER`], header first.
    Csv,
}

/// The file, next to an export, holding the tree head it matches.
#[must_use]
pub fn head_file_for(export: &Path) -> std::path::PathBuf {
    let mut name = export.as_os_str().to_owned();
    name.push(".tree-head.json");
    std::path::PathBuf::from(name)
}
