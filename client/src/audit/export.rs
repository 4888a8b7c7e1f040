//! Offline verification of an export: the tree rebuilt over a JSONL
//! export and checked against a signed head and a head saved earlier
//! ([`verify_export`]), and a filtered or CSV export checked row by row
//! against a full export of the same log ([`verify_selection`]).

use std::io::BufRead;

use curbside_protocol::audit::{csv_fields, AuditRecord, SignedTreeHead, CSV_HEADER};
use curbside_protocol::merkle::{CompactRange, Hash};

use super::{is_csv_header, ExportFormat, SavedHead, Verified, VerifyFailure};

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
        self.push_hashed(line, &Hashed::of(record))
    }

    /// Adds an entry whose leaf hash was computed (see [`Hashed`]).
    fn push_hashed(&mut self, line: u64, entry: &Hashed) -> Result<(), VerifyFailure> {
        let expected = self.tree.size() + 1;
        if entry.seq != expected {
            return Err(VerifyFailure::OutOfSequence {
                line,
                expected,
                found: entry.seq,
            });
        }
        let leaf = entry.leaf;
        if leaf != entry.recorded {
            return Err(VerifyFailure::Altered { seq: entry.seq });
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

/// What the tree needs of one record: its sequence number, the leaf hash
/// of its canonical bytes and the leaf hash recorded with it.
struct Hashed {
    seq: u64,
    leaf: Hash,
    recorded: Hash,
}

impl Hashed {
    fn of(record: &AuditRecord) -> Self {
        Self {
            seq: record.entry.seq,
            leaf: record.entry.leaf_hash(),
            recorded: record.leaf_hash.0,
        }
    }
}

/// Lines read and parsed at a time by [`verify_export`]: split among the
/// cores, then folded into the tree in order.
const BATCH_LINES: usize = 16 * 1024;

/// Parses and hashes `lines` (the first is line `first`), on every core:
/// one result per line, in order (so that the first failure in line
/// order is the one reported).
fn parse_and_hash(first: u64, lines: &[String]) -> Vec<Result<Hashed, VerifyFailure>> {
    let one = |i: usize, line: &String| {
        let line_no = first + i as u64;
        parse_record(line_no, line).map(|r| Hashed::of(&r))
    };
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    if workers < 2 || lines.len() < 1024 {
        return lines.iter().enumerate().map(|(i, l)| one(i, l)).collect();
    }
    let per = lines.len().div_ceil(workers);
    std::thread::scope(|scope| {
        let parts: Vec<_> = lines
            .chunks(per)
            .enumerate()
            .map(|(c, chunk)| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .enumerate()
                        .map(|(i, l)| one(c * per + i, l))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut out = Vec::with_capacity(lines.len());
        for part in parts {
            // Parsing and hashing return errors, they do not panic; a bug
            // that did is the caller's panic, as it would be on one thread.
            out.extend(part.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        }
        out
    })
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
    let mut lines = export.lines();
    let mut first: u64 = 1;
    loop {
        // A batch of lines, parsed and hashed on every core, then folded
        // into the tree in order; a read error after the batch's lines.
        let mut batch = Vec::with_capacity(BATCH_LINES);
        let mut read_error = None;
        for line in lines.by_ref() {
            match line {
                Ok(line) => batch.push(line),
                Err(e) => {
                    read_error = Some(VerifyFailure::Io(e.to_string()));
                    break;
                }
            }
            if batch.len() == BATCH_LINES {
                break;
            }
        }
        if first == 1 && batch.first().is_some_and(|l| is_csv_header(l)) {
            return Err(VerifyFailure::Csv);
        }
        let done = batch.len() < BATCH_LINES;
        for (i, hashed) in parse_and_hash(first, &batch).into_iter().enumerate() {
            check.push_hashed(first + i as u64, &hashed?)?;
            if check.size() % 1024 == 0 {
                progress(check.size());
            }
        }
        if let Some(e) = read_error {
            return Err(e);
        }
        first += batch.len() as u64;
        if done {
            break;
        }
    }
    progress(check.size());
    check.finish()
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
