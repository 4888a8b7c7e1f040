//! The compliance officer's side of the audit log: keeping the server
//! honest (a pinned log key and the last tree head seen, checked for
//! consistency on every run), checking the entries a query shows (each
//! against its recorded hash and an inclusion proof in the checked head),
//! checking an export before it is kept, and verifying one offline.

use std::io::BufRead;
use std::path::Path;

use curbside_protocol::audit::{
    csv_fields, format_time_ms, AuditPage, AuditRecord, SignedTreeHead, TreeHeadResponse, CSV_HEADER,
};
use curbside_protocol::bytes::Base64;
use curbside_protocol::merkle::{self, CompactRange, Hash};
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

/// Rebuilds the tree over records given in sequence order and checks it
/// against a signed head, and its first entries against a head saved
/// earlier. A saved head larger than the signed one is a truncation when
/// the signed one is newer (the log signed a shorter tree after a longer
/// one), and marks an older export otherwise.
struct TreeCheck<'a> {
    head: &'a SignedTreeHead,
    saved: Option<&'a SignedTreeHead>,
    saved_head_newer: Option<SavedHead>,
    tree: CompactRange,
    matched_saved: Option<u64>,
}

impl<'a> TreeCheck<'a> {
    fn new(
        head: &'a SignedTreeHead,
        log_key: &[u8],
        saved: Option<&'a SignedTreeHead>,
    ) -> Result<Self, VerifyFailure> {
        head.verify(log_key).map_err(|_| VerifyFailure::BadSignature)?;
        let mut check = Self {
            head,
            saved: None,
            saved_head_newer: None,
            tree: CompactRange::new(),
            matched_saved: None,
        };
        if let Some(s) = saved.filter(|s| s.size > 0) {
            s.verify(log_key)
                .map_err(|_| VerifyFailure::SavedHeadBadSignature)?;
            if s.size <= head.size {
                check.saved = Some(s);
            } else if head.timestamp_ms > s.timestamp_ms {
                return Err(VerifyFailure::Shrank {
                    saved: s.size,
                    saved_at_ms: s.timestamp_ms,
                    size: head.size,
                    signed_at_ms: head.timestamp_ms,
                });
            } else {
                check.saved_head_newer = Some(SavedHead {
                    size: s.size,
                    timestamp_ms: s.timestamp_ms,
                });
            }
        }
        Ok(check)
    }

    fn size(&self) -> u64 {
        self.tree.size()
    }

    /// Adds the record on `line`, which must be the next entry.
    fn push(&mut self, line: u64, record: &AuditRecord) -> Result<(), VerifyFailure> {
        let expected = self.tree.size() + 1;
        if record.entry.seq != expected {
            return Err(VerifyFailure::OutOfSequence {
                line,
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
        self.tree.append(leaf);
        if let Some(s) = self.saved {
            if self.tree.size() == s.size {
                if self.tree.root() != s.root.0 {
                    return Err(VerifyFailure::SavedHeadMismatch { size: s.size });
                }
                self.matched_saved = Some(s.size);
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<Verified, VerifyFailure> {
        if self.tree.size() != self.head.size {
            return Err(VerifyFailure::SizeMismatch {
                entries: self.tree.size(),
                head_size: self.head.size,
            });
        }
        if self.tree.root() != self.head.root.0 {
            return Err(VerifyFailure::RootMismatch);
        }
        Ok(Verified {
            entries: self.tree.size(),
            root: self.tree.root(),
            matched_saved_head: self.matched_saved,
            saved_head_newer: self.saved_head_newer,
        })
    }
}

fn parse_record(line_no: u64, line: &str) -> Result<AuditRecord, VerifyFailure> {
    serde_json::from_str(line).map_err(|e| VerifyFailure::Malformed {
        line: line_no,
        error: e.to_string(),
    })
}

/// Verifies a JSONL export offline: every line is a record, in sequence
/// from 1; each entry's canonical bytes hash to the leaf hash recorded when
/// it was logged; the tree over all of them has the signed head's size and
/// root. If a head was saved earlier: when it is no larger, the tree over
/// its first entries must have its root (the export extends it); when it is
/// larger and older than the export's head, the log shrank
/// ([`VerifyFailure::Shrank`]); when it is larger and newer, the export is
/// an older one ([`Verified::saved_head_newer`]). A CSV export is refused as
/// such ([`VerifyFailure::Csv`]). `progress` is called with the entries done
/// so far.
pub fn verify_export(
    export: impl BufRead,
    head: &SignedTreeHead,
    log_key: &[u8],
    saved: Option<&SignedTreeHead>,
    mut progress: impl FnMut(u64),
) -> Result<Verified, VerifyFailure> {
    let mut check = TreeCheck::new(head, log_key, saved)?;
    for (n, line) in export.lines().enumerate() {
        let line_no = n as u64 + 1;
        let line = line.map_err(|e| VerifyFailure::Io(e.to_string()))?;
        if line_no == 1 && is_csv_header(&line) {
            return Err(VerifyFailure::Csv);
        }
        check.push(line_no, &parse_record(line_no, &line)?)?;
        if check.size() % 1024 == 0 {
            progress(check.size());
        }
    }
    progress(check.size());
    check.finish()
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

/// One row of a filtered or CSV export.
struct Row {
    /// 1-based line (JSONL) or row, header included (CSV).
    number: u64,
    seq: u64,
    content: RowContent,
}

enum RowContent {
    Record(Box<AuditRecord>),
    Fields(Vec<String>),
}

impl Row {
    fn is(&self, record: &AuditRecord) -> bool {
        match &self.content {
            RowContent::Record(r) => **r == *record,
            RowContent::Fields(f) => *f == csv_fields(record),
        }
    }
}

fn rows<'a>(
    selection: impl BufRead + 'a,
    format: ExportFormat,
) -> Box<dyn Iterator<Item = Result<Row, VerifyFailure>> + 'a> {
    match format {
        ExportFormat::Jsonl => Box::new(selection.lines().enumerate().map(|(n, line)| {
            let number = n as u64 + 1;
            let line = line.map_err(|e| VerifyFailure::Io(e.to_string()))?;
            let record = parse_record(number, &line)?;
            Ok(Row {
                number,
                seq: record.entry.seq,
                content: RowContent::Record(Box::new(record)),
            })
        })),
        ExportFormat::Csv => {
            let reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(selection);
            Box::new(reader.into_records().enumerate().filter_map(|(n, row)| {
                let number = n as u64 + 1;
                let malformed = |error: String| VerifyFailure::Malformed { line: number, error };
                let fields: Vec<String> = match row {
                    Ok(r) => r.iter().map(str::to_owned).collect(),
                    Err(e) => return Some(Err(malformed(e.to_string()))),
                };
                if number == 1 {
                    return (fields != CSV_HEADER)
                        .then(|| Err(malformed("not the header of a Curbside CSV export".into())));
                }
                let seq = match fields.first().map(|s| s.parse::<u64>()) {
                    Some(Ok(seq)) => seq,
                    _ => return Some(Err(malformed("no sequence number in the first column".into()))),
                };
                Some(Ok(Row {
                    number,
                    seq,
                    content: RowContent::Fields(fields),
                }))
            }))
        }
    }
}

/// Checks a filtered or CSV export against a full JSONL export of the same
/// log through the same signed head: the full export must reproduce the
/// head (every entry its recorded hash, the tree its size and root, as in
/// [`verify_export`]), and every row of `selection`, in order, must be
/// exactly the entry with its sequence number there. `progress` is called
/// with the entries of the full export done so far.
pub fn verify_selection(
    selection: impl BufRead,
    format: ExportFormat,
    full: impl BufRead,
    head: &SignedTreeHead,
    log_key: &[u8],
    mut progress: impl FnMut(u64),
) -> Result<Verified, VerifyFailure> {
    let mut check = TreeCheck::new(head, log_key, None)?;
    let mut rows = rows(selection, format);
    let mut next = rows.next().transpose()?;
    for (n, line) in full.lines().enumerate() {
        let line_no = n as u64 + 1;
        let line = line.map_err(|e| VerifyFailure::Io(e.to_string()))?;
        let record = parse_record(line_no, &line)?;
        check.push(line_no, &record)?;
        // At most one row per entry: a repeated row is out of order at the next.
        if let Some(row) = &next {
            if row.seq < record.entry.seq {
                return Err(VerifyFailure::UnexpectedRow {
                    row: row.number,
                    seq: row.seq,
                });
            }
            if row.seq == record.entry.seq {
                if !row.is(&record) {
                    return Err(VerifyFailure::RowMismatch {
                        row: row.number,
                        seq: row.seq,
                    });
                }
                next = rows.next().transpose()?;
            }
        }
        if check.size() % 1024 == 0 {
            progress(check.size());
        }
    }
    progress(check.size());
    let verified = check.finish()?;
    match next {
        Some(row) => Err(VerifyFailure::UnexpectedRow {
            row: row.number,
            seq: row.seq,
        }),
        None => Ok(verified),
    }
}

/// Checks one record's inclusion in a signed tree head.
pub fn verify_inclusion(
    record: &AuditRecord,
    proof: &[Hash],
    head: &SignedTreeHead,
    log_key: &[u8],
) -> Result<(), VerifyFailure> {
    head.verify(log_key).map_err(|_| VerifyFailure::BadSignature)?;
    included(record, proof, head)
}

/// `record` matches its recorded hash, and `proof` leads from that hash to
/// `head`'s root (whose signature the caller checked).
fn included(record: &AuditRecord, proof: &[Hash], head: &SignedTreeHead) -> Result<(), VerifyFailure> {
    let seq = record.entry.seq;
    let leaf = record.entry.leaf_hash();
    if leaf != record.leaf_hash.0 {
        return Err(VerifyFailure::Altered { seq });
    }
    let not_included = VerifyFailure::NotIncluded { seq, size: head.size };
    let index = seq.checked_sub(1).ok_or_else(|| not_included.clone())?;
    merkle::verify_inclusion(index, head.size, &leaf, proof, &head.root.0).map_err(|_| not_included)
}

/// Checks every record of a page of `GET /v1/audit/entries?tree_size=N`
/// against its recorded leaf hash and its inclusion proof in `head` (of N
/// entries). Returns the records that do not check, by sequence number with
/// what failed (empty when all do); an error when the head's signature does
/// not verify or proofs are missing.
pub fn check_page(
    page: &AuditPage,
    head: &SignedTreeHead,
    log_key: &[u8],
) -> Result<Vec<(u64, VerifyFailure)>, VerifyFailure> {
    head.verify(log_key).map_err(|_| VerifyFailure::BadSignature)?;
    let proofs = page.proofs.as_deref().unwrap_or_default();
    if proofs.len() != page.records.len() {
        return Err(VerifyFailure::MissingProofs {
            records: page.records.len(),
            proofs: proofs.len(),
        });
    }
    Ok(page
        .records
        .iter()
        .zip(proofs)
        .filter_map(|(record, proof)| {
            let hashes: Vec<Hash> = proof.iter().map(|h| h.0).collect();
            included(record, &hashes, head)
                .err()
                .map(|e| (record.entry.seq, e))
        })
        .collect())
}

/// The file, next to an export, holding the tree head it matches.
#[must_use]
pub fn head_file_for(export: &Path) -> std::path::PathBuf {
    let mut name = export.as_os_str().to_owned();
    name.push(".tree-head.json");
    std::path::PathBuf::from(name)
}
