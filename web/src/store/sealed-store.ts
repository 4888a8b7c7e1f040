/**
 * The sealed local store (SECURITY.md, "Local store sealing"): every record
 * is JSON sealed with one {@link StoreKey}, derived once at unlock
 * (Argon2id, RECOMMENDED costs: 64 MiB, 3 passes, 4 lanes) from the
 * passphrase and the salt in the records' header; each record's context is
 * its name, so records cannot be swapped for one another. Nothing is kept
 * in clear: not a name, a message, a key or a colleague's id. Locking wipes
 * the key.
 */

import { utf8 } from '../crypto/bytes.js';
import { CryptoError } from '../crypto/errors.js';
import { parseHeader, RECOMMENDED, SALT_LEN, StoreKey, type KdfParams } from '../crypto/local-store.js';
import { systemRandom } from '../crypto/primitives.js';
import type { RecordBytes } from './idb.js';

/** The record every store has: its presence says an account exists on this device (nothing more). */
export const ACCOUNT_RECORD = 'account';

const decoder = new TextDecoder('utf-8', { fatal: true });

/** The passphrase as bytes (NFC, so the same words typed on another keyboard derive the same key). */
function passphraseBytes(passphrase: string): Uint8Array {
  return utf8(passphrase.normalize('NFC'));
}

/** An open store: records sealed and opened with the derived key. */
export class SealedStore {
  private key: StoreKey | undefined;

  private constructor(
    private readonly bytes: RecordBytes,
    key: StoreKey,
  ) {
    this.key = key;
  }

  /** Whether this device holds a store (an account was enrolled here). */
  static async exists(bytes: RecordBytes): Promise<boolean> {
    return (await bytes.get(ACCOUNT_RECORD)) !== undefined;
  }

  /** A new store: a fresh salt, the key derived from `passphrase` (slow by design; `onProgress` from 0 to 1). */
  static async create(
    bytes: RecordBytes,
    passphrase: string,
    onProgress?: (fraction: number) => void,
    params: KdfParams = RECOMMENDED,
  ): Promise<SealedStore> {
    const salt = systemRandom(SALT_LEN);
    const key = await StoreKey.deriveAsync(passphraseBytes(passphrase), salt, params, onProgress);
    return new SealedStore(bytes, key);
  }

  /**
   * Opens the store with `passphrase`: the key derived once with the salt
   * and costs of the account record's header, then checked by opening it.
   * `'wrong_passphrase'` if it does not open; `'empty'` if there is no store.
   */
  static async unlock(
    bytes: RecordBytes,
    passphrase: string,
    onProgress?: (fraction: number) => void,
  ): Promise<SealedStore | 'wrong_passphrase' | 'empty'> {
    const sealed = await bytes.get(ACCOUNT_RECORD);
    if (sealed === undefined) return 'empty';
    const { salt, params } = parseHeader(sealed);
    const key = await StoreKey.deriveAsync(passphraseBytes(passphrase), salt, params, onProgress);
    try {
      key.open(utf8(ACCOUNT_RECORD), sealed);
    } catch (e) {
      key.wipe();
      if (e instanceof CryptoError) return 'wrong_passphrase';
      throw e;
    }
    return new SealedStore(bytes, key);
  }

  private current(): StoreKey {
    if (this.key === undefined) throw new Error('the store is locked: unlock it with the passphrase');
    return this.key;
  }

  /** Reads and opens a record; `undefined` if there is none. */
  async read(name: string): Promise<unknown> {
    const sealed = await this.bytes.get(name);
    if (sealed === undefined) return undefined;
    return JSON.parse(decoder.decode(this.current().open(utf8(name), sealed)));
  }

  /** Seals each record (context: its name) and writes them all in one transaction. */
  async write(records: Readonly<Record<string, unknown>>): Promise<void> {
    const key = this.current();
    const out = new Map<string, Uint8Array>();
    for (const [name, value] of Object.entries(records)) {
      out.set(name, key.seal(utf8(name), utf8(JSON.stringify(value)), systemRandom));
    }
    await this.bytes.putAll(out);
  }

  /** Wipes the key: nothing can be read or written until unlocked again. */
  close(): void {
    this.key?.wipe();
    this.key = undefined;
  }
}
