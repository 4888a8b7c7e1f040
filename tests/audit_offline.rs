//! The compliance officer's checks without a server: logs built here and
//! signed with a test log key (real Ed25519, real RFC 6962 trees), for the
//! branches a live server only reaches after tampering or over time: a
//! saved head larger than the export (a truncation when the export's head
//! is newer, an older export otherwise), a saved head the export does not
//! extend, a CSV given to verify, a filtered or CSV export whose rows are
//! not the verified entries, and a page of a query whose proofs are missing
//! or do not lead to the signed root. `tests/audit_cli.rs` runs the same
//! checks end to end against the real binary and server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use curbside_client::audit::{
    check_page, verify_export, verify_selection, ExportFormat, SavedHead, VerifyFailure,
};
use curbside_protocol::audit::{
    csv_fields, tree_head_message, Action, AuditEntry, AuditPage, AuditRecord, Details, HexHash, Outcome,
    SignedTreeHead, CSV_HEADER,
};
use curbside_protocol::bytes::Base64;
use curbside_protocol::merkle::{self, Hash};
use ring::signature::{Ed25519KeyPair, KeyPair as _};

struct LogKey(Ed25519KeyPair);

impl LogKey {
    fn new() -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
        Self(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap())
    }

    fn public(&self) -> Vec<u8> {
        self.0.public_key().as_ref().to_vec()
    }

    /// The signed head of the first `size` records, signed at `timestamp_ms`.
    fn head(&self, records: &[AuditRecord], size: usize, timestamp_ms: i64) -> SignedTreeHead {
        let root = merkle::root_of(&leaves(&records[..size]));
        let size = size as u64;
        let signature = self.0.sign(&tree_head_message(size, timestamp_ms, &root));
        SignedTreeHead {
            size,
            timestamp_ms,
            root: HexHash(root),
            signature: Base64(signature.as_ref().to_vec()),
        }
    }
}

fn record(seq: u64, source: &str) -> AuditRecord {
    let entry = AuditEntry {
        seq,
        time_ms: 1_790_000_000_000 + i64::try_from(seq).unwrap(),
        actor_user: None,
        actor_device: None,
        actor_role: None,
        action: Action::AuthSucceeded,
        counterpart_user: None,
        counterpart_device: None,
        message_id: None,
        referral_id: None,
        attachment_id: None,
        source: Some(source.into()),
        outcome: Outcome::Success,
        reason: None,
        details: Details::default(),
    };
    let leaf_hash = HexHash(entry.leaf_hash());
    AuditRecord { entry, leaf_hash }
}

fn log(n: u64) -> Vec<AuditRecord> {
    (1..=n).map(|seq| record(seq, "192.0.2.1")).collect()
}

fn leaves(records: &[AuditRecord]) -> Vec<Hash> {
    records.iter().map(|r| r.leaf_hash.0).collect()
}

fn jsonl(records: &[AuditRecord]) -> String {
    records
        .iter()
        .map(|r| serde_json::to_string(r).unwrap() + "\n")
        .collect()
}

/// A CSV export as the server writes it (no field here needs quoting).
fn csv(records: &[AuditRecord]) -> String {
    let mut out = CSV_HEADER.join(",") + "\r\n";
    for r in records {
        out += &(csv_fields(r).join(",") + "\r\n");
    }
    out
}

/// RFC 6962 §2.1.1 PATH(m, D[n]), from the definition.
fn path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    if leaves.len() <= 1 {
        return Vec::new();
    }
    // The largest power of two strictly smaller than n.
    let mut k = 1;
    while k * 2 < leaves.len() {
        k *= 2;
    }
    let (l, r) = leaves.split_at(k);
    if m < k {
        let mut p = path(m, l);
        p.push(merkle::root_of(r));
        p
    } else {
        let mut p = path(m - k, r);
        p.push(merkle::root_of(l));
        p
    }
}

fn verify(
    export: &str,
    head: &SignedTreeHead,
    key: &LogKey,
    saved: Option<&SignedTreeHead>,
) -> Result<curbside_client::audit::Verified, VerifyFailure> {
    verify_export(std::io::Cursor::new(export), head, &key.public(), saved, |_| {})
}

#[test]
fn a_saved_head_larger_than_the_export_is_a_truncation_when_the_export_is_newer() {
    let key = LogKey::new();
    let records = log(20);
    let saved = key.head(&records, 20, 1_000);
    // Entries 11..=20 deleted, and the shorter log signed afterwards.
    let truncated = key.head(&records, 10, 2_000);
    let err = verify(&jsonl(&records[..10]), &truncated, &key, Some(&saved)).unwrap_err();
    assert_eq!(
        err,
        VerifyFailure::Shrank {
            saved: 20,
            saved_at_ms: 1_000,
            size: 10,
            signed_at_ms: 2_000
        }
    );
    assert!(err.is_integrity_failure());
    let text = err.to_string();
    assert!(
        text.contains("shrank") && text.contains("entries 11..=20"),
        "{text}"
    );

    // The same ten entries under a head signed before the saved one: an
    // older export. It verifies, and says the saved head is newer.
    let older = key.head(&records, 10, 500);
    let v = verify(&jsonl(&records[..10]), &older, &key, Some(&saved)).unwrap();
    assert_eq!(v.entries, 10);
    assert_eq!(v.matched_saved_head, None);
    assert_eq!(
        v.saved_head_newer,
        Some(SavedHead {
            size: 20,
            timestamp_ms: 1_000
        })
    );
}

#[test]
fn the_export_must_extend_the_saved_head() {
    let key = LogKey::new();
    let records = log(12);
    let saved = key.head(&records, 5, 1_000);
    let head = key.head(&records, 12, 2_000);
    let v = verify(&jsonl(&records), &head, &key, Some(&saved)).unwrap();
    assert_eq!(v.matched_saved_head, Some(5));
    assert_eq!(v.saved_head_newer, None);

    // A history that differs in entry 3, consistent with itself and signed.
    let mut other = records.clone();
    other[2] = record(3, "203.0.113.66");
    let rewritten = key.head(&other, 12, 3_000);
    let err = verify(&jsonl(&other), &rewritten, &key, Some(&saved)).unwrap_err();
    assert_eq!(err, VerifyFailure::SavedHeadMismatch { size: 5 });
    // Same size as the saved head, different root.
    let saved = key.head(&records, 12, 2_000);
    let err = verify(&jsonl(&other), &rewritten, &key, Some(&saved)).unwrap_err();
    assert_eq!(err, VerifyFailure::SavedHeadMismatch { size: 12 });

    // A saved head not signed by the log key is refused, not ignored.
    let mut forged = key.head(&records, 5, 1_000);
    forged.root = HexHash([7; 32]);
    let err = verify(&jsonl(&records), &head, &key, Some(&forged)).unwrap_err();
    assert_eq!(err, VerifyFailure::SavedHeadBadSignature);
}

#[test]
fn a_csv_given_to_verify_is_refused_as_a_csv() {
    let key = LogKey::new();
    let records = log(3);
    let head = key.head(&records, 3, 1_000);
    let err = verify(&csv(&records), &head, &key, None).unwrap_err();
    assert_eq!(err, VerifyFailure::Csv);
    assert!(!err.is_integrity_failure());
    assert!(err
        .to_string()
        .contains("CSV exports cannot be verified; use JSONL"));
}

#[test]
fn a_selection_must_hold_exactly_the_verified_entries() {
    let key = LogKey::new();
    let records = log(10);
    let head = key.head(&records, 10, 1_000);
    let full = jsonl(&records);
    let check = |selection: &str, format| {
        verify_selection(
            std::io::Cursor::new(selection),
            format,
            std::io::Cursor::new(&full),
            &head,
            &key.public(),
            |_| {},
        )
    };
    let picked = [records[1].clone(), records[4].clone(), records[8].clone()];
    assert_eq!(check(&jsonl(&picked), ExportFormat::Jsonl).unwrap().entries, 10);
    assert_eq!(check(&csv(&records), ExportFormat::Csv).unwrap().entries, 10);
    assert_eq!(check(&csv(&[]), ExportFormat::Csv).unwrap().entries, 10);
    assert_eq!(check("", ExportFormat::Jsonl).unwrap().entries, 10);

    // A row whose content differs from the verified entry (its recorded
    // hash left as it was), in either format.
    let mut changed = picked.clone();
    changed[1].entry.source = Some("203.0.113.66".into());
    assert_eq!(
        check(&jsonl(&changed), ExportFormat::Jsonl).unwrap_err(),
        VerifyFailure::RowMismatch { row: 2, seq: 5 }
    );
    let mut changed = records.clone();
    changed[3].entry.source = Some("203.0.113.66".into());
    assert_eq!(
        check(&csv(&changed), ExportFormat::Csv).unwrap_err(),
        VerifyFailure::RowMismatch { row: 5, seq: 4 }
    );
    // Repeated, out of order, or beyond the log.
    let repeated = [records[1].clone(), records[1].clone()];
    assert_eq!(
        check(&jsonl(&repeated), ExportFormat::Jsonl).unwrap_err(),
        VerifyFailure::UnexpectedRow { row: 2, seq: 2 }
    );
    let reordered = [records[4].clone(), records[1].clone()];
    assert_eq!(
        check(&jsonl(&reordered), ExportFormat::Jsonl).unwrap_err(),
        VerifyFailure::UnexpectedRow { row: 2, seq: 2 }
    );
    let beyond = [records[9].clone(), record(11, "192.0.2.1")];
    assert_eq!(
        check(&jsonl(&beyond), ExportFormat::Jsonl).unwrap_err(),
        VerifyFailure::UnexpectedRow { row: 2, seq: 11 }
    );
    // Not a Curbside CSV.
    assert!(matches!(
        check("a,b,c\r\n", ExportFormat::Csv).unwrap_err(),
        VerifyFailure::Malformed { line: 1, .. }
    ));
    // The full log itself must reproduce the head, whatever the selection.
    let mut altered = records.clone();
    altered[6].entry.source = Some("203.0.113.66".into());
    let err = verify_selection(
        std::io::Cursor::new(jsonl(&picked)),
        ExportFormat::Jsonl,
        std::io::Cursor::new(jsonl(&altered)),
        &head,
        &key.public(),
        |_| {},
    )
    .unwrap_err();
    assert_eq!(err, VerifyFailure::Altered { seq: 7 });
}

#[test]
fn every_entry_of_a_page_is_proven_in_the_signed_head() {
    let key = LogKey::new();
    let records = log(11);
    let head = key.head(&records, 11, 1_000);
    let all = leaves(&records);
    let proof = |seq: usize| path(seq - 1, &all).into_iter().map(HexHash).collect::<Vec<_>>();
    for seq in 1..=11 {
        let p: Vec<Hash> = proof(seq).iter().map(|h| h.0).collect();
        assert!(merkle::verify_inclusion(seq as u64 - 1, 11, &all[seq - 1], &p, &head.root.0).is_ok());
    }
    let page = |records: Vec<AuditRecord>, proofs: Option<Vec<Vec<HexHash>>>| AuditPage {
        records,
        next_cursor: None,
        proofs,
    };
    let good = page(
        vec![records[2].clone(), records[3].clone(), records[10].clone()],
        Some(vec![proof(3), proof(4), proof(11)]),
    );
    assert_eq!(check_page(&good, &head, &key.public()).unwrap(), vec![]);

    // Entry 4's content edited: altered. Entry 11 edited with its hash
    // recomputed: its proof no longer leads to the root.
    let mut bad = good.clone();
    bad.records[1].entry.source = Some("203.0.113.66".into());
    bad.records[2].entry.source = Some("203.0.113.66".into());
    bad.records[2].leaf_hash = HexHash(bad.records[2].entry.leaf_hash());
    assert_eq!(
        check_page(&bad, &head, &key.public()).unwrap(),
        vec![
            (4, VerifyFailure::Altered { seq: 4 }),
            (11, VerifyFailure::NotIncluded { seq: 11, size: 11 })
        ]
    );
    // A proof for another entry, and a record past the head.
    let swapped = page(vec![records[2].clone()], Some(vec![proof(4)]));
    assert_eq!(
        check_page(&swapped, &head, &key.public()).unwrap(),
        vec![(3, VerifyFailure::NotIncluded { seq: 3, size: 11 })]
    );
    let past = page(vec![record(12, "192.0.2.1")], Some(vec![proof(11)]));
    assert_eq!(
        check_page(&past, &head, &key.public()).unwrap(),
        vec![(12, VerifyFailure::NotIncluded { seq: 12, size: 11 })]
    );
    // No proofs, or too few: nothing can be checked.
    let none = page(good.records.clone(), None);
    assert_eq!(
        check_page(&none, &head, &key.public()).unwrap_err(),
        VerifyFailure::MissingProofs {
            records: 3,
            proofs: 0
        }
    );
    let short = page(good.records.clone(), Some(vec![proof(3)]));
    assert_eq!(
        check_page(&short, &head, &key.public()).unwrap_err(),
        VerifyFailure::MissingProofs {
            records: 3,
            proofs: 1
        }
    );
    // A head from another key.
    assert_eq!(
        check_page(&good, &head, &LogKey::new().public()).unwrap_err(),
        VerifyFailure::BadSignature
    );
}

/// A log long enough to be parsed in batches on every core (more than one
/// batch of 16 384 lines): it verifies with the signed root, progress rises
/// to the end; with several problems, the first in line order is the one
/// named, wherever the batches and the cores split the lines.
#[test]
fn a_long_export_is_verified_in_parallel_and_its_first_problem_named() {
    let key = LogKey::new();
    let records = log(40_000);
    let head = key.head(&records, records.len(), 1_790_000_100_000);
    let export = jsonl(&records);
    let mut seen = Vec::new();
    let verified = verify_export(std::io::Cursor::new(&export), &head, &key.public(), None, |n| {
        seen.push(n);
    })
    .unwrap();
    assert_eq!(verified.entries, 40_000);
    assert_eq!(verified.root, head.root.0);
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "progress only rises");
    assert_eq!(seen.last(), Some(&40_000));

    let mut lines: Vec<String> = export.lines().map(str::to_owned).collect();
    // An altered entry in the second batch, a malformed line after it in
    // the same batch, another altered entry in the third batch.
    let alter = |line: &str| line.replacen("192.0.2.1", "192.0.2.66", 1);
    lines[20_000] = alter(&lines[20_000]);
    lines[20_500] = "{not json".into();
    lines[35_000] = alter(&lines[35_000]);
    let tampered = lines.join("\n") + "\n";
    assert_eq!(
        verify(&tampered, &head, &key, None).unwrap_err(),
        VerifyFailure::Altered { seq: 20_001 }
    );
    // The malformed line first: it is named by its line.
    lines[20_000] = serde_json::to_string(&records[20_000]).unwrap();
    lines[19_999] = "{not json".into();
    let tampered = lines.join("\n") + "\n";
    assert!(matches!(
        verify(&tampered, &head, &key, None).unwrap_err(),
        VerifyFailure::Malformed { line: 20_000, .. }
    ));
    // An entry missing at a batch boundary: out of sequence at that line.
    let mut gap: Vec<String> = export.lines().map(str::to_owned).collect();
    gap.remove(16_384);
    let gapped = gap.join("\n") + "\n";
    assert_eq!(
        verify(&gapped, &head, &key, None).unwrap_err(),
        VerifyFailure::OutOfSequence {
            line: 16_385,
            expected: 16_385,
            found: 16_386
        }
    );
}
