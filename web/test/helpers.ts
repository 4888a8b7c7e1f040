// Shared by the tests: where the vectors are, hex, and deterministic random sources.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chacha20 } from '@noble/ciphers/chacha.js';

import { CryptoError, type CryptoErrorCode } from '../src/crypto/errors.js';
import type { RandomSource } from '../src/crypto/primitives.js';

/** web/ (the tests run from web/dist/test/). */
export const WEB_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The repository root. */
export const REPO_DIR = join(WEB_DIR, '..');
/** The Rust crate's published Curbside vectors. */
export const CURBSIDE_VECTORS = join(REPO_DIR, 'crypto', 'tests', 'vectors', 'curbside');
/** The project's copy of the Wycheproof files the Rust suite uses. */
export const WYCHEPROOF = join(REPO_DIR, 'crypto', 'tests', 'vectors', 'wycheproof');
/** Vectors only the web tests use. */
export const WEB_VECTORS = join(WEB_DIR, 'test', 'vectors');

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}

export function readJson(path: string): unknown {
  return JSON.parse(readText(path));
}

export function hex(s: string): Uint8Array {
  assert.match(s, /^([0-9a-f]{2})*$/, 'lowercase hex');
  return Uint8Array.from(Buffer.from(s, 'hex'));
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

export function text(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/**
 * Answers random-number requests from a published list, in order, and
 * refuses any request of another length or past the end: an implementation
 * that draws in another order or another number of times fails.
 */
export class ReplayRandom {
  private next = 0;
  constructor(private readonly draws: readonly Uint8Array[]) {}

  readonly source: RandomSource = (length) => {
    const draw = this.draws[this.next];
    assert.ok(draw !== undefined, `random draw ${this.next} requested, only ${this.draws.length} published`);
    assert.equal(length, draw.length, `random draw ${this.next}: ${length} bytes asked, ${draw.length} published`);
    this.next += 1;
    return Uint8Array.from(draw);
  };

  /** How many draws were used. */
  get used(): number {
    return this.next;
  }
}

/** A seeded generator (the ChaCha20 keystream of a key made from `seed`) for property tests. */
export class SeededRandom {
  private counter = 0;
  private readonly key: Uint8Array;

  constructor(seed: number) {
    this.key = new Uint8Array(32);
    new DataView(this.key.buffer).setUint32(0, seed >>> 0, false);
  }

  readonly source: RandomSource = (length) => this.bytes(length);

  bytes(length: number): Uint8Array {
    const nonce = new Uint8Array(12);
    new DataView(nonce.buffer).setUint32(8, this.counter++, false);
    return chacha20(this.key, nonce, new Uint8Array(length));
  }

  /** An integer in 0..n-1. */
  below(n: number): number {
    const v = new DataView(this.bytes(4).buffer).getUint32(0, false);
    return v % n;
  }

  /** A random permutation of `items`. */
  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.below(i + 1);
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  }
}

/** Runs `f` and asserts that it throws a CryptoError with this code. */
export function assertCryptoError(f: () => unknown, code: CryptoErrorCode, note?: string): CryptoError {
  let thrown: unknown;
  try {
    f();
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown instanceof CryptoError, `${note ?? ''}: expected CryptoError ${code}, got ${String(thrown)}`);
  assert.equal(thrown.code, code, `${note ?? ''}: ${thrown.message}`);
  return thrown;
}
