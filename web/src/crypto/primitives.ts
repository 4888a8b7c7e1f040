/**
 * Checked wrappers over the audited noble libraries, mirroring
 * crypto/src/primitives/: everything above this module uses only these, and
 * the Wycheproof tests run through them, so the checks that matter sit in
 * one place:
 *
 * - X25519 refuses every low-order public key (the all-zero output):
 *   `non_contributory`.
 * - Ed25519 verifies strictly (RFC 8032, not ZIP-215): non-canonical `S`,
 *   and encodings of `A` and `R` that are not canonical, are refused, as
 *   ring does.
 * - HKDF output is 1..8160 bytes.
 * - AEAD failures are `decryption_failed`, never a partial plaintext.
 *
 * | primitive | library |
 * | --- | --- |
 * | X25519, Ed25519 | @noble/curves |
 * | ChaCha20-Poly1305, XChaCha20-Poly1305 | @noble/ciphers |
 * | SHA-256, HMAC-SHA256, HKDF-SHA256, Argon2id | @noble/hashes |
 */

import { chacha20poly1305, xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { randomBytes as nobleRandomBytes } from '@noble/hashes/utils.js';

import { CryptoError } from './errors.js';

/**
 * Where every random byte comes from. Production uses the platform's CSPRNG
 * ({@link systemRandom}); tests replay a published list of draws. The core
 * draws 32 bytes at a time for keys (24 for a local-store nonce, 16 for a
 * salt), in the order SECURITY.md gives.
 */
export type RandomSource = (length: number) => Uint8Array;

/** `crypto.getRandomValues`, through noble. */
export const systemRandom: RandomSource = (length) => nobleRandomBytes(length);

/** Draws `length` bytes from `rng` (a copy), refusing a source that returns any other length. */
export function drawRandom(rng: RandomSource, length: number): Uint8Array {
  const bytes = rng(length);
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
    throw new RangeError(`random source returned ${String(bytes?.length)} bytes, not ${length}`);
  }
  return Uint8Array.from(bytes);
}

/** Length of X25519 keys, Ed25519 keys and seeds, SHA-256 digests. */
export const KEY_LEN = 32;
/** Ed25519 signature length. */
export const SIGNATURE_LEN = 64;
/** ChaCha20-Poly1305 nonce length. */
export const NONCE_LEN = 12;
/** XChaCha20-Poly1305 nonce length. */
export const XNONCE_LEN = 24;
/** Poly1305 tag length. */
export const TAG_LEN = 16;
/** Largest HKDF-SHA256 output. */
export const HKDF_MAX_OUTPUT = 255 * 32;

function requireLength(bytes: Uint8Array, length: number, code: 'invalid_key' | 'bad_signature'): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) throw new CryptoError(code);
}

// ---- X25519 ---------------------------------------------------------------

/** The X25519 public key of a 32-byte private key (clamped inside the scalar multiplication). */
export function x25519PublicKey(secret: Uint8Array): Uint8Array {
  requireLength(secret, KEY_LEN, 'invalid_key');
  return x25519.getPublicKey(secret);
}

/**
 * X25519(secret, public). Any 32-byte public key is accepted as RFC 7748
 * says (the top bit masked, non-canonical values reduced), except the
 * low-order ones, whose output would be all zeros: `non_contributory`.
 */
export function x25519Agree(secret: Uint8Array, publicKey: Uint8Array): Uint8Array {
  requireLength(secret, KEY_LEN, 'invalid_key');
  requireLength(publicKey, KEY_LEN, 'invalid_key');
  let shared: Uint8Array;
  try {
    shared = x25519.getSharedSecret(secret, publicKey);
  } catch {
    // noble refuses the low-order inputs before the ladder runs.
    throw new CryptoError('non_contributory');
  }
  if (shared.every((b) => b === 0)) throw new CryptoError('non_contributory');
  return shared;
}

// ---- Ed25519 --------------------------------------------------------------

/** The Ed25519 public key of a 32-byte seed. */
export function ed25519PublicKey(seed: Uint8Array): Uint8Array {
  requireLength(seed, KEY_LEN, 'invalid_key');
  return ed25519.getPublicKey(seed);
}

/** An Ed25519 signature (deterministic, RFC 8032) by the key with this seed. */
export function ed25519Sign(seed: Uint8Array, message: Uint8Array): Uint8Array {
  requireLength(seed, KEY_LEN, 'invalid_key');
  return ed25519.sign(message, seed);
}

/**
 * Verifies an Ed25519 signature strictly (RFC 8032 §5.1.7 with canonical
 * encodings, `zip215: false`): `bad_signature` for any failure, including a
 * signature that is not 64 bytes or a key that does not decode.
 */
export function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): void {
  requireLength(signature, SIGNATURE_LEN, 'bad_signature');
  requireLength(publicKey, KEY_LEN, 'bad_signature');
  let ok = false;
  try {
    ok = ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    ok = false;
  }
  if (!ok) throw new CryptoError('bad_signature');
}

// ---- Hashes, MAC, KDF -----------------------------------------------------

/** SHA-256 of `data`. */
export function sha256(data: Uint8Array): Uint8Array {
  return nobleSha256(data);
}

/** Incremental SHA-256 (for attachment digests). */
export interface Sha256Hasher {
  update(data: Uint8Array): Sha256Hasher;
  digest(): Uint8Array;
  clone(): Sha256Hasher;
}

/** A fresh incremental SHA-256. */
export function sha256Hasher(): Sha256Hasher {
  const wrap = (h: ReturnType<typeof nobleSha256.create>): Sha256Hasher => ({
    update(data) {
      h.update(data);
      return this;
    },
    digest: () => h.digest(),
    clone: () => wrap(h.clone()),
  });
  return wrap(nobleSha256.create());
}

/** HMAC-SHA256(key, data). */
export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  return hmac(nobleSha256, key, data);
}

/**
 * HKDF-SHA256 (RFC 5869): extract with `salt` (empty = 32 zero bytes), expand
 * `info` to `length` bytes, 1..8160, else `invalid_length`.
 */
export function hkdfSha256(salt: Uint8Array, ikm: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 1 || length > HKDF_MAX_OUTPUT) {
    throw new CryptoError('invalid_length');
  }
  return hkdf(nobleSha256, ikm, salt, info, length);
}

// ---- AEADs ----------------------------------------------------------------

/** ChaCha20-Poly1305 (RFC 8439) encryption: ciphertext ‖ tag. */
export function aeadSeal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
  requireLength(key, KEY_LEN, 'invalid_key');
  if (nonce.length !== NONCE_LEN) throw new CryptoError('invalid_length');
  return chacha20poly1305(key, nonce, aad).encrypt(plaintext);
}

/** ChaCha20-Poly1305 decryption of ciphertext ‖ tag; `decryption_failed` unless the tag verifies. */
export function aeadOpen(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array {
  requireLength(key, KEY_LEN, 'invalid_key');
  if (nonce.length !== NONCE_LEN || sealed.length < TAG_LEN) throw new CryptoError('decryption_failed');
  try {
    return chacha20poly1305(key, nonce, aad).decrypt(sealed);
  } catch {
    throw new CryptoError('decryption_failed');
  }
}

/** XChaCha20-Poly1305 encryption (24-byte nonce, safe to draw at random). */
export function xaeadSeal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
  requireLength(key, KEY_LEN, 'invalid_key');
  if (nonce.length !== XNONCE_LEN) throw new CryptoError('invalid_length');
  return xchacha20poly1305(key, nonce, aad).encrypt(plaintext);
}

/** XChaCha20-Poly1305 decryption; `decryption_failed` unless the tag verifies. */
export function xaeadOpen(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array {
  requireLength(key, KEY_LEN, 'invalid_key');
  if (nonce.length !== XNONCE_LEN || sealed.length < TAG_LEN) throw new CryptoError('decryption_failed');
  try {
    return xchacha20poly1305(key, nonce, aad).decrypt(sealed);
  } catch {
    throw new CryptoError('decryption_failed');
  }
}
