//! RFC 6962 (§2.1) Merkle trees, as RFC 9162 §2.1 restates them: leaf hash
//! `SHA-256(0x00 || data)`, interior node `SHA-256(0x01 || left || right)`,
//! empty tree `SHA-256("")`.
//!
//! Pure functions, no I/O:
//! - [`CompactRange`]: the tree kept incrementally (one hash per set bit of
//!   the size), so an append costs O(log n) and never recomputes the tree;
//! - [`inclusion_proof_nodes`] / [`consistency_proof_nodes`]: which stored
//!   nodes a proof is made of (the server fetches them, [`fold_range`] joins
//!   them into proof elements);
//! - [`verify_inclusion`] / [`verify_consistency`]: the checks a verifier
//!   runs, with the semantics of the transparency-dev/merkle reference
//!   (whose test vectors `protocol/tests/rfc6962.rs` runs).

use ring::digest::{Context, SHA256};

/// A SHA-256 tree hash.
pub type Hash = [u8; 32];

/// Why a proof (or tree state) was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The sizes cannot be compared (the first is larger, or zero).
    #[error("no consistency proof exists from size {first} to size {second}")]
    BadSizes {
        /// First size.
        first: u64,
        /// Second size.
        second: u64,
    },
    /// The proof has the wrong number of hashes.
    #[error("the proof has {got} hashes, {want} expected")]
    WrongLength {
        /// How many it has.
        got: usize,
        /// How many it should have.
        want: usize,
    },
    /// The recomputed root does not match.
    #[error("the proof does not lead to the expected root")]
    RootMismatch,
    /// A hash is not 32 bytes.
    #[error("a hash is not 32 bytes")]
    BadHash,
}

fn sha256(parts: &[&[u8]]) -> Hash {
    let mut ctx = Context::new(&SHA256);
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// The hash of a leaf: `SHA-256(0x00 || data)`.
#[must_use]
pub fn leaf_hash(data: &[u8]) -> Hash {
    sha256(&[&[0x00], data])
}

/// The hash of an interior node: `SHA-256(0x01 || left || right)`.
#[must_use]
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    sha256(&[&[0x01], left, right])
}

/// The root of the empty tree: `SHA-256("")`.
#[must_use]
pub fn empty_root() -> Hash {
    sha256(&[])
}

/// The root of a tree over these leaf hashes, computed from the RFC's
/// recursive definition (the reference the incremental code is tested against).
#[must_use]
pub fn root_of(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        [one] => *one,
        _ => {
            // Half of a slice's length, rounded to a power of two, fits in usize.
            let k = usize::try_from(split(leaves.len() as u64)).unwrap_or(usize::MAX);
            let (l, r) = leaves.split_at(k.min(leaves.len()));
            node_hash(&root_of(l), &root_of(r))
        }
    }
}

/// The largest power of two strictly smaller than `n` (n ≥ 2).
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// A perfect subtree: `2^level` leaves starting at leaf `index << level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// Height (0 = a leaf).
    pub level: u8,
    /// Position among the nodes of that height.
    pub index: u64,
}

/// The tree kept incrementally: the roots of the perfect subtrees that make
/// up a tree of `size` leaves, largest first (one per set bit of `size`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompactRange {
    size: u64,
    peaks: Vec<Hash>,
}

impl CompactRange {
    /// The empty tree.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds the state from its parts; the number of peaks must equal the
    /// number of set bits of `size`.
    pub fn from_parts(size: u64, peaks: Vec<Hash>) -> Result<Self, ProofError> {
        if peaks.len() != size.count_ones() as usize {
            return Err(ProofError::WrongLength {
                got: peaks.len(),
                want: size.count_ones() as usize,
            });
        }
        Ok(Self { size, peaks })
    }

    /// Rebuilds the state from `size` and the concatenated peaks.
    pub fn from_bytes(size: u64, bytes: &[u8]) -> Result<Self, ProofError> {
        if !bytes.len().is_multiple_of(32) {
            return Err(ProofError::BadHash);
        }
        let peaks = bytes
            .chunks_exact(32)
            .map(|c| {
                let mut h = [0u8; 32];
                h.copy_from_slice(c);
                h
            })
            .collect();
        Self::from_parts(size, peaks)
    }

    /// The peaks, concatenated (largest subtree first).
    #[must_use]
    pub fn peaks_bytes(&self) -> Vec<u8> {
        self.peaks.concat()
    }

    /// Number of leaves.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash. Returns every perfect subtree this append
    /// completed (the leaf itself first, then its new ancestors).
    pub fn append(&mut self, leaf: Hash) -> Vec<(NodeId, Hash)> {
        let index = self.size;
        let mut created = vec![(NodeId { level: 0, index }, leaf)];
        let mut carry = leaf;
        let mut level = 0u8;
        while (index >> level) & 1 == 1 {
            let Some(left) = self.peaks.pop() else { break };
            carry = node_hash(&left, &carry);
            level += 1;
            created.push((
                NodeId {
                    level,
                    index: index >> level,
                },
                carry,
            ));
        }
        self.peaks.push(carry);
        self.size += 1;
        created
    }

    /// The tree root.
    #[must_use]
    pub fn root(&self) -> Hash {
        let mut iter = self.peaks.iter().rev();
        let Some(last) = iter.next() else {
            return empty_root();
        };
        iter.fold(*last, |acc, peak| node_hash(peak, &acc))
    }
}

/// The perfect subtrees that make up leaves `[lo, hi)` of a tree, left to
/// right (each as large as alignment allows). For the ranges proofs use, the
/// range's hash is these nodes folded from the right ([`fold_range`]).
#[must_use]
pub fn range_nodes(lo: u64, hi: u64) -> Vec<NodeId> {
    let mut out = Vec::new();
    let mut at = lo;
    while at < hi {
        let mut level: u8 = if at == 0 {
            63
        } else {
            at.trailing_zeros().min(63) as u8
        };
        while level > 0 && at.checked_add(1u64 << level).is_none_or(|end| end > hi) {
            level -= 1;
        }
        out.push(NodeId {
            level,
            index: at >> level,
        });
        at += 1u64 << level;
    }
    out
}

/// Joins the hashes of [`range_nodes`] into the hash of the range.
#[must_use]
pub fn fold_range(hashes: &[Hash]) -> Hash {
    let mut iter = hashes.iter().rev();
    let Some(last) = iter.next() else {
        return empty_root();
    };
    iter.fold(*last, |acc, h| node_hash(h, &acc))
}

/// The ranges `[lo, hi)` whose hashes form the inclusion proof of leaf
/// `index` in a tree of `size` leaves (RFC 6962 §2.1.1, PATH), in proof order.
pub fn inclusion_proof_ranges(index: u64, size: u64) -> Result<Vec<(u64, u64)>, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut out = Vec::new();
    path(index, 0, size, &mut out);
    Ok(out)
}

fn path(m: u64, lo: u64, hi: u64, out: &mut Vec<(u64, u64)>) {
    let n = hi - lo;
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path(m, lo, lo + k, out);
        out.push((lo + k, hi));
    } else {
        path(m - k, lo + k, hi, out);
        out.push((lo, lo + k));
    }
}

/// The ranges whose hashes form the consistency proof from a tree of `first`
/// leaves to one of `second` leaves (RFC 6962 §2.1.2, PROOF), in proof order.
pub fn consistency_proof_ranges(first: u64, second: u64) -> Result<Vec<(u64, u64)>, ProofError> {
    if first == 0 || first > second {
        return Err(ProofError::BadSizes { first, second });
    }
    let mut out = Vec::new();
    if first < second {
        subproof(first, 0, second, true, &mut out);
    }
    Ok(out)
}

fn subproof(m: u64, lo: u64, hi: u64, complete: bool, out: &mut Vec<(u64, u64)>) {
    let n = hi - lo;
    if m == n {
        if !complete {
            out.push((lo, hi));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, lo, lo + k, complete, out);
        out.push((lo + k, hi));
    } else {
        subproof(m - k, lo + k, hi, false, out);
        out.push((lo, lo + k));
    }
}

/// The nodes an inclusion proof needs, grouped per proof element.
pub fn inclusion_proof_nodes(index: u64, size: u64) -> Result<Vec<Vec<NodeId>>, ProofError> {
    Ok(inclusion_proof_ranges(index, size)?
        .into_iter()
        .map(|(lo, hi)| range_nodes(lo, hi))
        .collect())
}

/// The nodes a consistency proof needs, grouped per proof element.
pub fn consistency_proof_nodes(first: u64, second: u64) -> Result<Vec<Vec<NodeId>>, ProofError> {
    Ok(consistency_proof_ranges(first, second)?
        .into_iter()
        .map(|(lo, hi)| range_nodes(lo, hi))
        .collect())
}

/// `(inner, border)`: how many proof hashes lie inside the subtree shared by
/// the leaf and the last leaf, and how many along the right border.
fn decompose(index: u64, size: u64) -> (usize, usize) {
    let inner = (64 - (index ^ (size - 1)).leading_zeros()) as usize;
    let border = (index >> inner).count_ones() as usize;
    (inner, border)
}

fn chain_inner(seed: Hash, proof: &[Hash], index: u64) -> Hash {
    proof.iter().enumerate().fold(seed, |acc, (i, h)| {
        if (index >> i) & 1 == 0 {
            node_hash(&acc, h)
        } else {
            node_hash(h, &acc)
        }
    })
}

fn chain_inner_right(seed: Hash, proof: &[Hash], index: u64) -> Hash {
    proof.iter().enumerate().fold(seed, |acc, (i, h)| {
        if (index >> i) & 1 == 1 {
            node_hash(h, &acc)
        } else {
            acc
        }
    })
}

fn chain_border_right(seed: Hash, proof: &[Hash]) -> Hash {
    proof.iter().fold(seed, |acc, h| node_hash(h, &acc))
}

fn matches(a: &[u8], b: &[u8]) -> bool {
    // Roots and hashes are public: no need for a constant-time comparison.
    a == b
}

/// The root an inclusion proof leads to.
pub fn root_from_inclusion_proof(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (inner, border) = decompose(index, size);
    if proof.len() != inner + border {
        return Err(ProofError::WrongLength {
            got: proof.len(),
            want: inner + border,
        });
    }
    let (inner_part, border_part) = proof.split_at(inner);
    Ok(chain_border_right(
        chain_inner(*leaf, inner_part, index),
        border_part,
    ))
}

/// Checks that `leaf` is leaf number `index` (0-based) of the tree of `size`
/// leaves whose root is `root`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let got = root_from_inclusion_proof(index, size, leaf, proof)?;
    if matches(&got, root) {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// Checks that the tree of `second` leaves with root `root2` extends the tree
/// of `first` leaves with root `root1`. A proof from the empty tree is
/// refused: it carries no information (every tree extends the empty tree).
pub fn verify_consistency(
    first: u64,
    second: u64,
    proof: &[Hash],
    root1: &[u8],
    root2: &[u8],
) -> Result<(), ProofError> {
    if first > second || first == 0 {
        return Err(ProofError::BadSizes { first, second });
    }
    if first == second {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength {
                got: proof.len(),
                want: 0,
            });
        }
        return if matches(root1, root2) {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    let Some((&first_hash, rest)) = proof.split_first() else {
        return Err(ProofError::WrongLength { got: 0, want: 1 });
    };
    let (mut inner, border) = decompose(first - 1, second);
    let shift = first.trailing_zeros() as usize;
    inner = inner.saturating_sub(shift);
    // When `first` is a power of two its root is itself a node of the second
    // tree and the proof omits it.
    let (seed, path) = if first == 1u64 << shift {
        let seed: Hash = root1.try_into().map_err(|_| ProofError::BadHash)?;
        (seed, proof)
    } else {
        (first_hash, rest)
    };
    if path.len() != inner + border {
        return Err(ProofError::WrongLength {
            got: path.len(),
            want: inner + border,
        });
    }
    let (inner_part, border_part) = path.split_at(inner);
    let mask = (first - 1) >> shift;
    let hash1 = chain_border_right(chain_inner_right(seed, inner_part, mask), border_part);
    if !matches(&hash1, root1) {
        return Err(ProofError::RootMismatch);
    }
    let hash2 = chain_border_right(chain_inner(seed, inner_part, mask), border_part);
    if !matches(&hash2, root2) {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

#[cfg(test)]
#[allow(
    clippy::cast_possible_truncation,
    clippy::unwrap_used,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    fn build(ls: &[Hash]) -> (CompactRange, std::collections::HashMap<NodeId, Hash>) {
        let mut tree = CompactRange::new();
        let mut nodes = std::collections::HashMap::new();
        for l in ls {
            nodes.extend(tree.append(*l));
        }
        (tree, nodes)
    }

    fn prove(groups: &[Vec<NodeId>], nodes: &std::collections::HashMap<NodeId, Hash>) -> Vec<Hash> {
        groups
            .iter()
            .map(|g| fold_range(&g.iter().map(|n| nodes[n]).collect::<Vec<_>>()))
            .collect()
    }

    #[test]
    fn incremental_root_matches_the_recursive_definition() {
        let ls = leaves(70);
        let mut tree = CompactRange::new();
        assert_eq!(tree.root(), empty_root());
        for (i, l) in ls.iter().enumerate() {
            tree.append(*l);
            assert_eq!(tree.root(), root_of(&ls[..=i]), "size {}", i + 1);
            let again = CompactRange::from_bytes(tree.size(), &tree.peaks_bytes()).unwrap();
            assert_eq!(again, tree);
        }
    }

    #[test]
    fn every_generated_proof_verifies_and_a_wrong_one_does_not() {
        let ls = leaves(37);
        let (_, nodes) = build(&ls);
        for size in 1..=37u64 {
            let root = root_of(&ls[..size as usize]);
            for index in 0..size {
                let proof = prove(&inclusion_proof_nodes(index, size).unwrap(), &nodes);
                verify_inclusion(index, size, &ls[index as usize], &proof, &root).unwrap();
                let other = ls[((index + 1) % 37) as usize];
                assert!(verify_inclusion(index, size, &other, &proof, &root).is_err());
            }
            for first in 1..=size {
                let root1 = root_of(&ls[..first as usize]);
                let proof = prove(&consistency_proof_nodes(first, size).unwrap(), &nodes);
                verify_consistency(first, size, &proof, &root1, &root).unwrap();
                let wrong = leaf_hash(b"rewritten");
                assert!(verify_consistency(first, size, &proof, &wrong, &root).is_err());
            }
        }
    }

    #[test]
    fn range_nodes_cover_the_range_in_order() {
        assert_eq!(
            range_nodes(0, 7),
            vec![
                NodeId { level: 2, index: 0 },
                NodeId { level: 1, index: 2 },
                NodeId { level: 0, index: 6 }
            ]
        );
        assert_eq!(range_nodes(4, 5), vec![NodeId { level: 0, index: 4 }]);
        assert!(range_nodes(3, 3).is_empty());
    }
}
