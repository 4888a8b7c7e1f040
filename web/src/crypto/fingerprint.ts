/**
 * Safety numbers (SECURITY.md, "Safety numbers"): a human-comparable digest
 * of two users' identity keys. For each user, with stable id `uid` (its
 * UTF-8 bytes) and device keys `K_j = IKs_pub ‖ IKa_pub` (64 bytes, sorted
 * bytewise, duplicates removed):
 *
 * ```text
 * h_0 = SHA-256("Curbside v1 safety number" ‖ u32(len(uid)) ‖ uid ‖ u32(count) ‖ K_1 ‖ … ‖ K_n)
 * h_i = SHA-256(h_{i-1} ‖ K_1 ‖ … ‖ K_n),  i = 1 … 5200
 * ```
 *
 * The first 30 bytes of `h_5200` make six 5-byte big-endian groups, each
 * mod 100 000 written as 5 digits (leading zeros kept). The two 30-digit
 * halves are put in ascending order, so both users see the same 60 digits.
 */

import { compareBytes, concat, constantTimeEqual, equalBytes, u32, utf8 } from './bytes.js';
import type { IdentityKey } from './identity.js';
import { FINGERPRINT, FINGERPRINT_ITERATIONS } from './labels.js';
import { sha256 } from './primitives.js';

/** Number of decimal digits in a safety number. */
export const SAFETY_NUMBER_DIGITS = 60;

function half(userId: string, keys: readonly IdentityKey[]): string {
  const sorted = keys.map((k) => k.keyBytes()).sort(compareBytes);
  const unique = sorted.filter((k, i) => i === 0 || !equalBytes(k, sorted[i - 1] as Uint8Array));
  const blob = concat(...unique);
  const id = utf8(userId);
  let hash = sha256(concat(FINGERPRINT, u32(id.length), id, u32(unique.length), blob));
  for (let i = 0; i < FINGERPRINT_ITERATIONS; i++) hash = sha256(concat(hash, blob));
  let digits = '';
  for (let g = 0; g < 6; g++) {
    let value = 0;
    for (let b = 0; b < 5; b++) value = value * 256 + (hash[g * 5 + b] as number); // < 2^40: exact in a double
    digits += String(value % 100_000).padStart(5, '0');
  }
  return digits;
}

/** Sixty decimal digits both users compare. */
export class SafetyNumber {
  private constructor(readonly digits: string) {}

  /** The number between two users, each given by their stable id and all their devices' identities. Symmetric. */
  static compute(
    userA: string,
    keysA: readonly IdentityKey[],
    userB: string,
    keysB: readonly IdentityKey[],
  ): SafetyNumber {
    const a = half(userA, keysA);
    const b = half(userB, keysB);
    return new SafetyNumber(a <= b ? a + b : b + a);
  }

  /** Twelve groups of five digits. */
  groups(): string[] {
    return this.digits.match(/.{5}/g) ?? [];
  }

  /** Twelve groups of five, in three lines of four. */
  toString(): string {
    const g = this.groups();
    return [g.slice(0, 4), g.slice(4, 8), g.slice(8, 12)].map((line) => line.join(' ')).join('\n');
  }

  /** Compares in constant time with what the other user read out or typed (separators ignored). */
  matches(typed: string): boolean {
    const digits = typed.replace(/[^0-9]/g, '');
    return digits.length === SAFETY_NUMBER_DIGITS && constantTimeEqual(utf8(digits), utf8(this.digits));
  }
}
