//! RFC 6962 Merkle tree hashing, inclusion and consistency proofs against
//! published vectors (`tests/vectors/rfc6962/`, Apache-2.0, see its README):
//! every happy-path file must verify, every mutated file (`wantErr: true`)
//! must be rejected. Counts are printed on stderr.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::cast_possible_truncation
)]

use std::path::{Path, PathBuf};

use base64::Engine as _;
use curbside_protocol::merkle::{
    consistency_proof_nodes, fold_range, inclusion_proof_nodes, leaf_hash, root_of, verify_consistency,
    verify_inclusion, CompactRange, Hash, NodeId,
};
use proptest::prelude::*;
use serde_json::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/rfc6962")
}

fn b64(v: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap_or(""))
        .unwrap()
}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

/// A proof element that is not 32 bytes cannot be represented: the proof is rejected.
fn hashes(v: &Value) -> Option<Vec<Hash>> {
    match v {
        Value::Null => Some(Vec::new()),
        Value::Array(items) => items.iter().map(|h| b64(h).try_into().ok()).collect(),
        _ => None,
    }
}

fn files(kind: &str) -> Vec<PathBuf> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(p).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|x| x == "json") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&dir().join("testdata").join(kind), &mut out);
    out.sort();
    out
}

/// Runs every case of one kind through `accepts` (true if the proof
/// verifies): a case must be accepted exactly when it does not want an error.
fn run_cases(kind: &str, accepts: impl Fn(&Value) -> Option<()>) {
    let (mut accepted, mut rejected) = (0, 0);
    for path in files(kind) {
        let case: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let want_err = case["wantErr"].as_bool().unwrap();
        let ok = accepts(&case).is_some();
        assert_eq!(ok, !want_err, "{}: {}", path.display(), case["desc"]);
        if ok {
            accepted += 1;
        } else {
            rejected += 1;
        }
    }
    eprintln!("RFC 6962 {kind} vectors: {accepted} happy paths verified, {rejected} mutated proofs rejected");
    assert!(accepted >= 5 && rejected >= 60);
}

#[test]
fn inclusion_vectors() {
    run_cases("inclusion", |case| {
        let index = case["leafIdx"].as_u64()?;
        let size = case["treeSize"].as_u64()?;
        let leaf: Hash = b64(&case["leafHash"]).try_into().ok()?;
        let root: Hash = b64(&case["root"]).try_into().ok()?;
        let proof = hashes(&case["proof"])?;
        verify_inclusion(index, size, &leaf, &proof, &root).ok()
    });
}

#[test]
fn consistency_vectors() {
    run_cases("consistency", |case| {
        let size1 = case["size1"].as_u64()?;
        let size2 = case["size2"].as_u64()?;
        let proof = hashes(&case["proof"])?;
        verify_consistency(size1, size2, &proof, &b64(&case["root1"]), &b64(&case["root2"])).ok()
    });
}

fn reference() -> Value {
    serde_json::from_slice(&std::fs::read(dir().join("merkle_vectors.json")).unwrap()).unwrap()
}

/// Our hashing, incremental tree and proof construction reproduce the
/// published leaf hashes, roots and proofs byte for byte.
#[test]
fn hashing_roots_and_generated_proofs_match_the_published_values() {
    let v = reference();
    let inputs: Vec<Vec<u8>> = v["leaf_inputs_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(unhex)
        .collect();
    let leaves: Vec<Hash> = inputs.iter().map(|d| leaf_hash(d)).collect();
    for (got, want) in leaves.iter().zip(v["leaf_hashes_hex"].as_array().unwrap()) {
        assert_eq!(got.to_vec(), unhex(want));
    }
    let mut tree = CompactRange::new();
    let mut nodes = std::collections::HashMap::<NodeId, Hash>::new();
    let roots = v["roots_by_tree_size_hex"].as_array().unwrap();
    assert_eq!(tree.root().to_vec(), unhex(&roots[0]));
    for (i, leaf) in leaves.iter().enumerate() {
        nodes.extend(tree.append(*leaf));
        assert_eq!(
            tree.root().to_vec(),
            unhex(&roots[i + 1]),
            "root of size {}",
            i + 1
        );
        assert_eq!(root_of(&leaves[..=i]), tree.root());
    }
    let build = |groups: Vec<Vec<NodeId>>| -> Vec<Vec<u8>> {
        groups
            .iter()
            .map(|g| fold_range(&g.iter().map(|n| nodes[n]).collect::<Vec<_>>()).to_vec())
            .collect()
    };
    let mut checked = 0;
    for p in v["inclusion_proofs"].as_array().unwrap() {
        let (index, size) = (
            p["leaf_index"].as_u64().unwrap(),
            p["tree_size"].as_u64().unwrap(),
        );
        let want: Vec<Vec<u8>> = p["proof_hex"].as_array().unwrap().iter().map(unhex).collect();
        assert_eq!(build(inclusion_proof_nodes(index, size).unwrap()), want);
        checked += 1;
    }
    for p in v["consistency_proofs"].as_array().unwrap() {
        let (a, b) = (
            p["first_size"].as_u64().unwrap(),
            p["second_size"].as_u64().unwrap(),
        );
        let want: Vec<Vec<u8>> = p["proof_hex"].as_array().unwrap().iter().map(unhex).collect();
        assert_eq!(build(consistency_proof_nodes(a, b).unwrap()), want);
        checked += 1;
    }
    eprintln!("RFC 6962 reference: 8 leaf hashes, 9 roots, {checked} generated proofs match");
}

proptest! {
    /// For random tree sizes, every proof our construction produces verifies,
    /// and a proof for a different leaf or against a different root does not.
    #[test]
    fn generated_proofs_verify(size in 1u64..300, pick in any::<u64>(), first_pick in any::<u64>()) {
        let leaves: Vec<Hash> = (0..size).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        let mut tree = CompactRange::new();
        let mut nodes = std::collections::HashMap::<NodeId, Hash>::new();
        for l in &leaves {
            nodes.extend(tree.append(*l));
        }
        let fetch = |groups: Vec<Vec<NodeId>>| -> Vec<Hash> {
            groups.iter().map(|g| fold_range(&g.iter().map(|n| nodes[n]).collect::<Vec<_>>())).collect()
        };
        let index = pick % size;
        let proof = fetch(inclusion_proof_nodes(index, size).unwrap());
        prop_assert!(verify_inclusion(index, size, &leaves[index as usize], &proof, &tree.root()).is_ok());
        let other = leaf_hash(b"not in the tree");
        prop_assert!(verify_inclusion(index, size, &other, &proof, &tree.root()).is_err());
        let first = 1 + first_pick % size;
        let root1 = root_of(&leaves[..first as usize]);
        let proof = fetch(consistency_proof_nodes(first, size).unwrap());
        prop_assert!(verify_consistency(first, size, &proof, &root1, &tree.root()).is_ok());
        prop_assert!(verify_consistency(first, size, &proof, &other, &tree.root()).is_err());
    }
}
