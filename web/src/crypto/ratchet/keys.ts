/**
 * The ratchet's key derivations (SECURITY.md, "Double Ratchet"):
 *
 * ```text
 * KDF_RK(rk, dh) = HKDF(salt = rk, ikm = dh, info = "Curbside v1 ratchet root", L = 64)
 *                  → new rk = bytes[0..32], chain key = bytes[32..64]
 * KDF_CK(ck)     = next ck = HMAC(ck, 0x02), message-key seed = HMAC(ck, 0x01)
 * keys(seed)     = HKDF(salt = 0x00 × 32, ikm = seed, info = "Curbside v1 message keys", L = 44)
 *                  → ChaCha20-Poly1305 key = bytes[0..32], nonce = bytes[32..44]
 * ciphertext     = ChaCha20-Poly1305(key, nonce, plaintext, aad = session AD ‖ encoded header)
 * ```
 *
 * Everything here is a pure function of immutable values: no array is
 * written after it is created, so a session can share them between its old
 * and its new state, which is what makes decryption transactional.
 */

import { concat } from '../bytes.js';
import { CryptoError } from '../errors.js';
import { CHAIN_MESSAGE_SEED, CHAIN_NEXT, MAX_SKIP, MESSAGE_KEY_INFO, MESSAGE_KEY_SALT, ROOT_KDF_INFO } from '../labels.js';
import { encodeHeader, type Header } from '../message.js';
import { aeadOpen, aeadSeal, hkdfSha256, hmacSha256, KEY_LEN, NONCE_LEN } from '../primitives.js';

/** A chain key and the index of the next message key it yields. */
export interface ChainKey {
  readonly key: Uint8Array;
  readonly index: number;
}

/** The seed of one message key and its index in its chain. */
export interface MessageKey {
  readonly seed: Uint8Array;
  readonly index: number;
}

/** KDF_RK: mixes a DH output into the root key: the next root key and a fresh chain (index 0). */
export function advanceRoot(rootKey: Uint8Array, dh: Uint8Array): { rootKey: Uint8Array; chain: ChainKey } {
  const out = hkdfSha256(rootKey, dh, ROOT_KDF_INFO, 64);
  return { rootKey: out.slice(0, 32), chain: { key: out.slice(32, 64), index: 0 } };
}

/** The message key at the chain's current index. */
export function messageKey(chain: ChainKey): MessageKey {
  return { seed: hmacSha256(chain.key, Uint8Array.of(CHAIN_MESSAGE_SEED)), index: chain.index };
}

/** The chain one step on; `counter_exhausted` past index 2^32 − 1. */
export function nextChain(chain: ChainKey): ChainKey {
  if (chain.index >= 0xffffffff) throw new CryptoError('counter_exhausted');
  return { key: hmacSha256(chain.key, Uint8Array.of(CHAIN_NEXT)), index: chain.index + 1 };
}

/**
 * Every message key from the chain's index up to `until` (exclusive) and the
 * chain positioned at `until`; a gap above `MAX_SKIP` is `too_many_skipped`.
 * `until` at or below the index gives no keys and the chain as it is.
 */
export function skipTo(chain: ChainKey, until: number): { skipped: MessageKey[]; chain: ChainKey } {
  const gap = Math.max(0, until - chain.index);
  if (gap > MAX_SKIP) throw new CryptoError('too_many_skipped', undefined, `${gap} keys, limit ${MAX_SKIP}`);
  const skipped: MessageKey[] = [];
  let current = chain;
  while (current.index < until) {
    skipped.push(messageKey(current));
    current = nextChain(current);
  }
  return { skipped, chain: current };
}

function expand(key: MessageKey): { aeadKey: Uint8Array; nonce: Uint8Array } {
  const okm = hkdfSha256(MESSAGE_KEY_SALT, key.seed, MESSAGE_KEY_INFO, KEY_LEN + NONCE_LEN);
  return { aeadKey: okm.slice(0, KEY_LEN), nonce: okm.slice(KEY_LEN) };
}

/** Encrypts one message under its message key. */
export function sealMessage(key: MessageKey, sessionAd: Uint8Array, header: Header, plaintext: Uint8Array): Uint8Array {
  const { aeadKey, nonce } = expand(key);
  return aeadSeal(aeadKey, nonce, concat(sessionAd, encodeHeader(header)), plaintext);
}

/** Decrypts one message under its message key (`decryption_failed` unless authentic). */
export function openMessage(key: MessageKey, sessionAd: Uint8Array, header: Header, ciphertext: Uint8Array): Uint8Array {
  const { aeadKey, nonce } = expand(key);
  return aeadOpen(aeadKey, nonce, concat(sessionAd, encodeHeader(header)), ciphertext);
}
