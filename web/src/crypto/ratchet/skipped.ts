/**
 * Message keys skipped by out-of-order delivery, indexed by the remote
 * ratchet key of their chain and their index, at most `MAX_SKIPPED_KEYS`
 * with the oldest evicted first. Persistent: every operation returns a new
 * list and leaves its input alone.
 */

import { equalBytes } from '../bytes.js';
import { MAX_SKIPPED_KEYS } from '../labels.js';
import type { MessageKey } from './keys.js';

/** One stored key. */
export interface SkippedKey {
  readonly ratchetKey: Uint8Array;
  readonly key: MessageKey;
}

/** Oldest first. */
export type SkippedKeys = readonly SkippedKey[];

/** Position of the key of message `index` in the chain of `ratchetKey`, or −1. */
export function findSkipped(keys: SkippedKeys, ratchetKey: Uint8Array, index: number): number {
  return keys.findIndex((k) => k.key.index === index && equalBytes(k.ratchetKey, ratchetKey));
}

/** The list without the key at `position` (used once, then deleted). */
export function removeSkipped(keys: SkippedKeys, position: number): SkippedKeys {
  return keys.filter((_, i) => i !== position);
}

/** The list with `added` (all of one chain) appended, the oldest evicted beyond the cap. */
export function extendSkipped(keys: SkippedKeys, ratchetKey: Uint8Array, added: readonly MessageKey[]): SkippedKeys {
  if (added.length === 0) return keys;
  const all = keys.concat(added.map((key) => ({ ratchetKey, key })));
  return all.length > MAX_SKIPPED_KEYS ? all.slice(all.length - MAX_SKIPPED_KEYS) : all;
}
