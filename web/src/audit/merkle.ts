// RFC 6962 (§2.1) Merkle trees as RFC 9162 §2.1 restates them, the same
// functions as protocol/src/merkle.rs: leaf hash SHA-256(0x00 ‖ data),
// interior node SHA-256(0x01 ‖ left ‖ right), empty tree SHA-256("").
//
// - CompactRange: the tree kept incrementally (one hash per set bit of the
//   size, O(log n) memory), so entries can arrive page by page;
// - verifyInclusion / verifyConsistency: RFC 9162 §2.1.3.2 / §2.1.4.2, with
//   the semantics of the transparency-dev/merkle reference (whose vectors
//   test/audit-rfc6962.test.ts runs). A consistency proof from the empty
//   tree is refused: it carries no information.
//
// Sizes and indices are numbers (safe integers); the bit arithmetic is done
// on bigints, because JavaScript's bit operators are 32-bit.

import { concat } from '../crypto/bytes.js';
import { sha256 } from '../crypto/primitives.js';

/** A SHA-256 tree hash (32 bytes). */
export type Hash = Uint8Array;

export const HASH_LEN = 32;

/** Why a proof was rejected (the messages of protocol/src/merkle.rs's ProofError). */
export class ProofError extends Error {
  constructor(
    readonly code: 'index_out_of_range' | 'bad_sizes' | 'wrong_length' | 'root_mismatch' | 'bad_hash',
    message: string,
  ) {
    super(message);
    this.name = 'ProofError';
  }
}

const LEAF = Uint8Array.of(0);
const NODE = Uint8Array.of(1);

/** SHA-256(0x00 ‖ data). */
export function leafHash(data: Uint8Array): Hash {
  return sha256(concat(LEAF, data));
}

/** SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Hash, right: Hash): Hash {
  return sha256(concat(NODE, left, right));
}

/** The root of the empty tree, SHA-256(""). */
export function emptyRoot(): Hash {
  return sha256(new Uint8Array(0));
}

/** Byte equality (roots and hashes are public: no constant time needed). */
export function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The largest power of two strictly smaller than n (n ≥ 2). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** The root of a tree over these leaf hashes, from the RFC's recursive definition (MTH). */
export function rootOf(leaves: readonly Hash[]): Hash {
  if (leaves.length === 0) return emptyRoot();
  if (leaves.length === 1) return leaves[0] as Hash;
  const k = split(leaves.length);
  return nodeHash(rootOf(leaves.slice(0, k)), rootOf(leaves.slice(k)));
}

/**
 * The tree kept incrementally: the roots of the perfect subtrees that make
 * up a tree of `size` leaves, largest first (one per set bit of the size).
 */
export class CompactRange {
  private count = 0;
  private readonly peaks: Hash[] = [];

  /** Number of leaves. */
  get size(): number {
    return this.count;
  }

  /** Appends a leaf hash: O(log n). */
  append(leaf: Hash): void {
    if (leaf.length !== HASH_LEN) throw new ProofError('bad_hash', 'a hash is not 32 bytes');
    let carry = leaf;
    // Each trailing 1 bit of the old size is a peak the new leaf completes.
    for (let n = this.count; n % 2 === 1; n = Math.floor(n / 2)) {
      const left = this.peaks.pop();
      if (left === undefined) break;
      carry = nodeHash(left, carry);
    }
    this.peaks.push(carry);
    this.count += 1;
  }

  /** The tree root (the peaks folded from the right). */
  root(): Hash {
    let acc = this.peaks[this.peaks.length - 1];
    if (acc === undefined) return emptyRoot();
    for (let i = this.peaks.length - 2; i >= 0; i--) acc = nodeHash(this.peaks[i] as Hash, acc);
    return acc;
  }
}

function big(n: number, what: string): bigint {
  if (!Number.isSafeInteger(n) || n < 0) throw new ProofError('bad_sizes', `${what} ${n} is not a tree size or index`);
  return BigInt(n);
}

function bitLength(x: bigint): number {
  return x === 0n ? 0 : x.toString(2).length;
}

function onesCount(x: bigint): number {
  let c = 0;
  for (const ch of x.toString(2)) if (ch === '1') c++;
  return c;
}

function trailingZeros(x: bigint): number {
  if (x === 0n) return 64;
  let n = 0;
  while (((x >> BigInt(n)) & 1n) === 0n) n++;
  return n;
}

/** (inner, border): proof hashes inside the subtree shared by the leaf and the last leaf, and along the right border. */
function decompose(index: bigint, size: bigint): [number, number] {
  const inner = bitLength(index ^ (size - 1n));
  const border = onesCount(index >> BigInt(inner));
  return [inner, border];
}

function checkHashes(proof: readonly Uint8Array[]): void {
  for (const h of proof) if (h.length !== HASH_LEN) throw new ProofError('bad_hash', 'a hash is not 32 bytes');
}

function chainInner(seed: Hash, proof: readonly Hash[], index: bigint): Hash {
  let acc = seed;
  proof.forEach((h, i) => {
    acc = ((index >> BigInt(i)) & 1n) === 0n ? nodeHash(acc, h) : nodeHash(h, acc);
  });
  return acc;
}

function chainInnerRight(seed: Hash, proof: readonly Hash[], index: bigint): Hash {
  let acc = seed;
  proof.forEach((h, i) => {
    if (((index >> BigInt(i)) & 1n) === 1n) acc = nodeHash(h, acc);
  });
  return acc;
}

function chainBorderRight(seed: Hash, proof: readonly Hash[]): Hash {
  let acc = seed;
  for (const h of proof) acc = nodeHash(h, acc);
  return acc;
}

/** The root an inclusion proof of leaf `index` (0-based) in a tree of `size` leaves leads to. */
export function rootFromInclusionProof(index: number, size: number, leaf: Hash, proof: readonly Hash[]): Hash {
  const i = big(index, 'index');
  const n = big(size, 'size');
  if (i >= n) throw new ProofError('index_out_of_range', `leaf index ${index} is outside a tree of size ${size}`);
  checkHashes([leaf, ...proof]);
  const [inner, border] = decompose(i, n);
  if (proof.length !== inner + border) {
    throw new ProofError('wrong_length', `the proof has ${proof.length} hashes, ${inner + border} expected`);
  }
  return chainBorderRight(chainInner(leaf, proof.slice(0, inner), i), proof.slice(inner));
}

/** Checks that `leaf` is leaf `index` (0-based) of the tree of `size` leaves whose root is `root`; throws a ProofError if not. */
export function verifyInclusion(index: number, size: number, leaf: Hash, proof: readonly Hash[], root: Hash): void {
  const got = rootFromInclusionProof(index, size, leaf, proof);
  if (!sameHash(got, root)) throw new ProofError('root_mismatch', 'the proof does not lead to the expected root');
}

/**
 * Checks that the tree of `second` leaves with root `root2` extends the tree
 * of `first` leaves with root `root1` (RFC 9162 §2.1.4.2); throws a
 * ProofError if not. `first` must be at least 1.
 */
export function verifyConsistency(first: number, second: number, proof: readonly Hash[], root1: Hash, root2: Hash): void {
  const m = big(first, 'first size');
  const n = big(second, 'second size');
  if (m > n || m === 0n) throw new ProofError('bad_sizes', `no consistency proof exists from size ${first} to size ${second}`);
  checkHashes(proof);
  const mismatch = (): ProofError => new ProofError('root_mismatch', 'the proof does not lead to the expected root');
  if (m === n) {
    if (proof.length !== 0) throw new ProofError('wrong_length', `the proof has ${proof.length} hashes, 0 expected`);
    if (!sameHash(root1, root2)) throw mismatch();
    return;
  }
  const firstHash = proof[0];
  if (firstHash === undefined) throw new ProofError('wrong_length', 'the proof has 0 hashes, 1 expected');
  let [inner, border] = decompose(m - 1n, n);
  const shift = trailingZeros(m);
  inner = Math.max(0, inner - shift);
  // When `first` is a power of two its root is itself a node of the second tree and the proof omits it.
  const powerOfTwo = m === 1n << BigInt(shift);
  if (powerOfTwo && root1.length !== HASH_LEN) throw new ProofError('bad_hash', 'a hash is not 32 bytes');
  const seed = powerOfTwo ? root1 : firstHash;
  const path = powerOfTwo ? proof : proof.slice(1);
  if (path.length !== inner + border) {
    throw new ProofError('wrong_length', `the proof has ${path.length} hashes, ${inner + border} expected`);
  }
  const innerPart = path.slice(0, inner);
  const borderPart = path.slice(inner);
  const mask = (m - 1n) >> BigInt(shift);
  if (!sameHash(chainBorderRight(chainInnerRight(seed, innerPart, mask), borderPart), root1)) throw mismatch();
  if (!sameHash(chainBorderRight(chainInner(seed, innerPart, mask), borderPart), root2)) throw mismatch();
}
