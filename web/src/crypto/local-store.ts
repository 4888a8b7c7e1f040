/**
 * Passphrase sealing of the client's local state (SECURITY.md, "Local store
 * sealing"; crypto/src/local_store.rs):
 *
 * ```text
 * key    = Argon2id(passphrase, salt(16), m KiB, t passes, p lanes, v = 0x13, L = 32)   (no secret, no associated data)
 * header = "CBLS" ‖ 0x01 ‖ u32(m) ‖ u32(t) ‖ u32(p) ‖ salt(16)                          (33 bytes)
 * sealed = header ‖ nonce(24) ‖ XChaCha20-Poly1305(key, nonce, plaintext, aad = header ‖ nonce ‖ context)
 * ```
 *
 * The AEAD's associated data is the 57 bytes before the ciphertext, then the
 * context (the file's name), so sealed files cannot be swapped. Parameters
 * read from a sealed blob are bounded (t 1..64, p 1..64, 8·p ≤ m ≤ 2 GiB) so
 * a corrupt one cannot demand unbounded work. The default is RFC 9106's
 * second recommended option: m = 64 MiB, t = 3, p = 4.
 */

import { argon2id, argon2idAsync } from '@noble/hashes/argon2.js';

import { concat, constantTimeEqual, equalBytes, Reader, u32, u8 } from './bytes.js';
import { CryptoError, decodeError } from './errors.js';
import { LOCAL_STORE_MAGIC } from './labels.js';
import { drawRandom, TAG_LEN, XNONCE_LEN, xaeadOpen, xaeadSeal, type RandomSource } from './primitives.js';

const VERSION = 1;
/** Salt length. */
export const SALT_LEN = 16;
/** Header length: magic, version, three parameters, salt. */
export const HEADER_LEN = 4 + 1 + 12 + SALT_LEN;
/** What precedes the ciphertext (and opens the associated data): the header and the nonce. */
export const PREFIX_LEN = HEADER_LEN + XNONCE_LEN;

/** Argon2id costs. */
export interface KdfParams {
  /** Memory in KiB. */
  readonly mCostKib: number;
  /** Passes. */
  readonly tCost: number;
  /** Lanes (parallelism). */
  readonly pCost: number;
}

/** RFC 9106 §4, second recommended option: 64 MiB, 3 passes, 4 lanes. */
export const RECOMMENDED: KdfParams = { mCostKib: 64 * 1024, tCost: 3, pCost: 4 };
/** Cheap parameters for tests only. */
export const INSECURE_FOR_TESTS: KdfParams = { mCostKib: 64, tCost: 1, pCost: 1 };

function checkParams(p: KdfParams): void {
  const isU32 = (n: number) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
  const ok =
    isU32(p.mCostKib) &&
    isU32(p.tCost) &&
    isU32(p.pCost) &&
    p.tCost >= 1 &&
    p.tCost <= 64 &&
    p.pCost >= 1 &&
    p.pCost <= 64 &&
    p.mCostKib >= 8 * p.pCost &&
    p.mCostKib <= 2 * 1024 * 1024;
  if (!ok) throw new CryptoError('invalid_kdf_params');
}

function argonOptions(p: KdfParams) {
  return { t: p.tCost, m: p.mCostKib, p: p.pCost, version: 0x13, dkLen: 32, maxmem: p.mCostKib * 1024 };
}

function sameParams(a: KdfParams, b: KdfParams): boolean {
  return a.mCostKib === b.mCostKib && a.tCost === b.tCost && a.pCost === b.pCost;
}

/** Reads and bounds a sealed blob's header: its salt and parameters. */
export function parseHeader(sealed: Uint8Array): { salt: Uint8Array; params: KdfParams } {
  const r = new Reader(sealed);
  const magic = r.take(4);
  if (!equalBytes(magic, LOCAL_STORE_MAGIC)) throw decodeError('invalid_tag');
  r.version(VERSION);
  const params: KdfParams = { mCostKib: r.u32(), tCost: r.u32(), pCost: r.u32() };
  checkParams(params);
  const salt = r.take(SALT_LEN);
  r.take(XNONCE_LEN);
  if (r.remaining() < TAG_LEN) throw decodeError('unexpected_end');
  return { salt, params };
}

/** The key that seals the local store, with the salt and parameters it was derived with. */
export class StoreKey {
  private constructor(
    private readonly key: Uint8Array,
    readonly salt: Uint8Array,
    readonly params: KdfParams,
  ) {}

  /** Derives a key for a new store, drawing a 16-byte salt from `rng` (slow by design). */
  static create(passphrase: Uint8Array, params: KdfParams, rng: RandomSource): StoreKey {
    return StoreKey.derive(passphrase, drawRandom(rng, SALT_LEN), params);
  }

  /** Derives the key from a passphrase, a salt and parameters (blocks for as long as Argon2id runs). */
  static derive(passphrase: Uint8Array, salt: Uint8Array, params: KdfParams): StoreKey {
    checkParams(params);
    if (salt.length !== SALT_LEN) throw new CryptoError('invalid_kdf_params');
    return new StoreKey(argon2id(passphrase, salt, argonOptions(params)), Uint8Array.from(salt), { ...params });
  }

  /** As {@link StoreKey.derive}, yielding to the event loop every `asyncTick` ms (for a UI that must stay responsive). */
  static async deriveAsync(
    passphrase: Uint8Array,
    salt: Uint8Array,
    params: KdfParams,
    onProgress?: (fraction: number) => void,
  ): Promise<StoreKey> {
    checkParams(params);
    if (salt.length !== SALT_LEN) throw new CryptoError('invalid_kdf_params');
    const options = onProgress === undefined ? argonOptions(params) : { ...argonOptions(params), onProgress };
    const key = await argon2idAsync(passphrase, salt, { ...options, asyncTick: 10 });
    return new StoreKey(key, Uint8Array.from(salt), { ...params });
  }

  /** Derives the key that opens `sealed`, from the salt and parameters in its header. */
  static deriveFor(passphrase: Uint8Array, sealed: Uint8Array): StoreKey {
    const { salt, params } = parseHeader(sealed);
    return StoreKey.derive(passphrase, salt, params);
  }

  private header(): Uint8Array {
    const p = this.params;
    return concat(LOCAL_STORE_MAGIC, u8(VERSION), u32(p.mCostKib), u32(p.tCost), u32(p.pCost), this.salt);
  }

  /** Seals `plaintext` for the file named `context`, with a 24-byte nonce drawn from `rng`. */
  seal(context: Uint8Array, plaintext: Uint8Array, rng: RandomSource): Uint8Array {
    const prefix = concat(this.header(), drawRandom(rng, XNONCE_LEN));
    const nonce = prefix.slice(HEADER_LEN);
    return concat(prefix, xaeadSeal(this.key, nonce, concat(prefix, context), plaintext));
  }

  /**
   * Opens a blob sealed with the same `context`. Another salt or other
   * parameters are `store_key_mismatch`; a wrong passphrase, a wrong context
   * or any modification `wrong_passphrase_or_corrupt`.
   */
  open(context: Uint8Array, sealed: Uint8Array): Uint8Array {
    const { salt, params } = parseHeader(sealed);
    if (!constantTimeEqual(salt, this.salt) || !sameParams(params, this.params)) {
      throw new CryptoError('store_key_mismatch');
    }
    const prefix = sealed.slice(0, PREFIX_LEN);
    try {
      return xaeadOpen(this.key, prefix.slice(HEADER_LEN), concat(prefix, context), sealed.slice(PREFIX_LEN));
    } catch {
      throw new CryptoError('wrong_passphrase_or_corrupt');
    }
  }

  /** Overwrites the key bytes (best effort; the lock screen calls it). */
  wipe(): void {
    this.key.fill(0);
  }
}
