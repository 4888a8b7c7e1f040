//! Checks of single entries, as a query shows them: one record's inclusion
//! in a signed tree head ([`verify_inclusion`]), and every record of a page
//! of a proven query ([`check_page`]), each against its recorded hash and
//! its inclusion proof.

use curbside_protocol::audit::{AuditPage, AuditRecord, SignedTreeHead};
use curbside_protocol::merkle::{self, Hash};

use super::VerifyFailure;

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
