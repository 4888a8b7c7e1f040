// The audit verifier's Merkle tree (src/audit/merkle.ts) against the
// published RFC 6962 vectors (protocol/tests/vectors/rfc6962/, the copy the
// Rust suite runs, Apache-2.0: see its README): the leaf hashes and roots,
// every happy-path inclusion and consistency proof verifies and every
// mutated one is refused; then property tests over random trees: every
// proof (built from RFC 6962's PATH and PROOF definitions) verifies, and
// every altered proof byte, index, size or root is refused.

import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { CompactRange, leafHash, nodeHash, rootOf, verifyConsistency, verifyInclusion, type Hash } from '../src/audit/merkle.js';
import { hex, readJson, REPO_DIR, toHex } from './helpers.js';

const DIR = join(REPO_DIR, 'protocol', 'tests', 'vectors', 'rfc6962');

function b64(s: unknown): Uint8Array {
  return new Uint8Array(Buffer.from(typeof s === 'string' ? s : '', 'base64'));
}

function files(kind: string): string[] {
  const walk = (p: string): string[] =>
    readdirSync(p).flatMap((n) => {
      const q = join(p, n);
      return statSync(q).isDirectory() ? walk(q) : q.endsWith('.json') ? [q] : [];
    });
  return walk(join(DIR, 'testdata', kind)).sort();
}

/** Runs every case of a kind: accepted exactly when it does not want an error. */
function runCases(kind: string, accepts: (c: Record<string, unknown>) => void): { accepted: number; rejected: number } {
  let accepted = 0;
  let rejected = 0;
  for (const path of files(kind)) {
    const c = readJson(path) as Record<string, unknown>;
    let ok = true;
    try {
      accepts(c);
    } catch {
      ok = false;
    }
    assert.equal(ok, c['wantErr'] !== true, `${path}: ${String(c['desc'])}`);
    if (ok) accepted++;
    else rejected++;
  }
  console.error(`RFC 6962 ${kind} vectors: ${accepted} happy paths verified, ${rejected} mutated proofs rejected`);
  assert.ok(accepted >= 5 && rejected >= 60);
  return { accepted, rejected };
}

const proofOf = (v: unknown): Hash[] => (v === null || v === undefined ? [] : (v as unknown[]).map(b64));

test('RFC 6962 inclusion vectors: every happy path verifies, every mutated proof is refused', () => {
  runCases('inclusion', (c) => {
    verifyInclusion(c['leafIdx'] as number, c['treeSize'] as number, b64(c['leafHash']), proofOf(c['proof']), b64(c['root']));
  });
});

test('RFC 6962 consistency vectors: every happy path verifies, every mutated proof is refused', () => {
  runCases('consistency', (c) => {
    verifyConsistency(c['size1'] as number, c['size2'] as number, proofOf(c['proof']), b64(c['root1']), b64(c['root2']));
  });
});

// RFC 6962 §2.1.1 PATH and §2.1.2 PROOF, written from the definitions.
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
function path(m: number, d: Hash[]): Hash[] {
  if (d.length <= 1) return [];
  const k = split(d.length);
  return m < k ? [...path(m, d.slice(0, k)), rootOf(d.slice(k))] : [...path(m - k, d.slice(k)), rootOf(d.slice(0, k))];
}
function subproof(m: number, d: Hash[], complete: boolean): Hash[] {
  if (m === d.length) return complete ? [] : [rootOf(d)];
  const k = split(d.length);
  return m <= k
    ? [...subproof(m, d.slice(0, k), complete), rootOf(d.slice(k))]
    : [...subproof(m - k, d.slice(k), false), rootOf(d.slice(0, k))];
}
const consistencyProof = (m: number, d: Hash[]): Hash[] => (m === d.length ? [] : subproof(m, d, true));
/**
 * A proof's shape: on which side each hash joins (R: a right sibling, L: a
 * left one; S: the seed of a consistency proof), from PATH / PROOF. Two
 * sizes with the same shape make the verifier compute exactly the same.
 */
function shape(m: number, n: number): string {
  if (n <= 1) return '';
  const k = split(n);
  return m < k ? shape(m, k) + 'R' : shape(m - k, n - k) + 'L';
}
function cshape(m: number, n: number, complete = true): string {
  if (m === n) return complete ? '' : 'S';
  const k = split(n);
  return m <= k ? cshape(m, k, complete) + 'R' : cshape(m - k, n - k, false) + 'L';
}

test('RFC 6962 reference: the leaf hashes, the roots of sizes 0..8 (incremental and recursive) and the published proofs', () => {
  const v = readJson(join(DIR, 'merkle_vectors.json')) as {
    leaf_inputs_hex: string[];
    leaf_hashes_hex: string[];
    roots_by_tree_size_hex: string[];
    inclusion_proofs: { leaf_index: number; tree_size: number; proof_hex: string[] }[];
    consistency_proofs: { first_size: number; second_size: number; proof_hex: string[] }[];
  };
  const leaves = v.leaf_inputs_hex.map((h) => leafHash(hex(h)));
  assert.deepEqual(leaves.map(toHex), v.leaf_hashes_hex);
  const tree = new CompactRange();
  assert.equal(toHex(tree.root()), v.roots_by_tree_size_hex[0]);
  leaves.forEach((l, i) => {
    tree.append(l);
    assert.equal(toHex(tree.root()), v.roots_by_tree_size_hex[i + 1], `root of size ${i + 1}`);
    assert.equal(toHex(rootOf(leaves.slice(0, i + 1))), v.roots_by_tree_size_hex[i + 1]);
  });
  for (const p of v.inclusion_proofs) {
    const d = leaves.slice(0, p.tree_size);
    assert.deepEqual(path(p.leaf_index, d).map(toHex), p.proof_hex);
    verifyInclusion(p.leaf_index, p.tree_size, leaves[p.leaf_index] as Hash, p.proof_hex.map(hex), rootOf(d));
  }
  for (const p of v.consistency_proofs) {
    const d = leaves.slice(0, p.second_size);
    assert.deepEqual(consistencyProof(p.first_size, d).map(toHex), p.proof_hex);
    verifyConsistency(p.first_size, p.second_size, p.proof_hex.map(hex), rootOf(leaves.slice(0, p.first_size)), rootOf(d));
  }
  console.error(`RFC 6962 reference: 8 leaf hashes, 9 roots, ${v.inclusion_proofs.length + v.consistency_proofs.length} proofs reproduced and verified`);
});

/** A small deterministic PRNG (xorshift32), so a failure can be replayed from its seed. */
function rng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

function flip(h: Uint8Array, i: number, bit: number): void {
  h[i] = (h[i] as number) ^ bit;
}

const refused = (f: () => void): boolean => {
  try {
    f();
    return false;
  } catch {
    return true;
  }
};

test('property: random trees, every inclusion and consistency proof verifies; every altered byte, index, size or root is refused', () => {
  const seed = Number(process.env['AUDIT_PROPERTY_SEED'] ?? 20261202);
  const r = rng(seed);
  let proofs = 0;
  let mutations = 0;
  let sizeShapes = 0;
  for (let round = 0; round < 60; round++) {
    const size = 1 + r(130);
    const leaves = Array.from({ length: size }, (_, i) => leafHash(Uint8Array.of(i & 255, i >> 8, round)));
    const tree = new CompactRange();
    leaves.forEach((l) => tree.append(l));
    const root = tree.root();
    assert.deepEqual(root, rootOf(leaves), `seed ${seed} round ${round}: incremental root`);
    for (const index of [0, size - 1, r(size)]) {
      const proof = path(index, leaves);
      const leaf = leaves[index] as Hash;
      verifyInclusion(index, size, leaf, proof, root);
      proofs++;
      const ctx = `seed ${seed} round ${round} size ${size} index ${index}`;
      proof.forEach((_, i) => {
        const bad = proof.map((h) => h.slice());
        flip(bad[i] as Hash, r(32), 1 << r(8));
        assert.ok(refused(() => verifyInclusion(index, size, leaf, bad, root)), `${ctx}: flipped bit in hash ${i}`);
        mutations++;
      });
      // Another leaf index in the same tree: always refused.
      for (const i of [index + 1, index - 1, index + size, -1]) {
        if (i === index) continue;
        assert.ok(refused(() => verifyInclusion(i, size, leaf, proof, root)), `${ctx}: index ${i}`);
        mutations++;
      }
      // Another tree size: refused unless that size's proof has exactly this shape (the
      // same computation, hence the same root: the signed head binds the size to the root).
      for (const n of [size + 1, size - 1, size * 2, index]) {
        if (n === size) continue;
        const sameShape = n > index && shape(index, n) === shape(index, size);
        if (!sameShape) assert.ok(refused(() => verifyInclusion(index, n, leaf, proof, root)), `${ctx}: size ${n}`);
        else sizeShapes++;
        mutations++;
      }
      assert.ok(refused(() => verifyInclusion(index, size, leaf, [...proof, leaf], root)), `${ctx}: trailing hash`);
      if (proof.length > 0) assert.ok(refused(() => verifyInclusion(index, size, leaf, proof.slice(1), root)), `${ctx}: truncated`);
      const wrongRoot = root.slice();
      flip(wrongRoot, r(32), 1);
      assert.ok(refused(() => verifyInclusion(index, size, leaf, proof, wrongRoot)), `${ctx}: wrong root`);
      mutations += 3;
    }
    const first = 1 + r(size);
    const root1 = rootOf(leaves.slice(0, first));
    const proof = consistencyProof(first, leaves);
    verifyConsistency(first, size, proof, root1, root);
    proofs++;
    const ctx = `seed ${seed} round ${round} consistency ${first} → ${size}`;
    proof.forEach((_, i) => {
      const bad = proof.map((h) => h.slice());
      flip(bad[i] as Hash, r(32), 1 << r(8));
      assert.ok(refused(() => verifyConsistency(first, size, bad, root1, root)), `${ctx}: flipped bit in hash ${i}`);
      mutations++;
    });
    for (const [a, b] of [[first + 1, size], [first - 1, size], [first, size + 1], [first, size - 1], [size + 1, size]] as const) {
      const sameShape = a >= 1 && a <= b && a < b === first < size && cshape(a, b) === cshape(first, size);
      if (!sameShape) assert.ok(refused(() => verifyConsistency(a, b, proof, root1, root)), `${ctx}: sizes ${a} → ${b}`);
      else sizeShapes++;
      mutations++;
    }
    const bad1 = root1.slice();
    flip(bad1, 0, 0x80);
    assert.ok(refused(() => verifyConsistency(first, size, proof, bad1, root)), `${ctx}: wrong first root`);
    if (first < size) assert.ok(refused(() => verifyConsistency(first, size, [...proof, root], root1, root)), `${ctx}: trailing hash`);
    assert.ok(refused(() => verifyConsistency(0, size, [], rootOf([]), root)), 'a proof from the empty tree carries no information');
    mutations += 3;
  }
  console.error(`audit Merkle property test (seed ${seed}): ${proofs} proofs verified, ${mutations - sizeShapes} altered proofs refused (${sizeShapes} altered sizes with the very same proof shape not counted)`);
});

test('the incremental root is the recursive one for every size up to 300', () => {
  const leaves: Hash[] = [];
  const tree = new CompactRange();
  for (let i = 0; i < 300; i++) {
    const l = nodeHash(leafHash(Uint8Array.of(i & 255)), leafHash(Uint8Array.of(i >> 8)));
    leaves.push(l);
    tree.append(l);
    if (i < 40 || i % 37 === 0) assert.deepEqual(tree.root(), rootOf(leaves), `size ${i + 1}`);
  }
});
