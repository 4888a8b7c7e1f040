/**
 * The browser's local state, sealed: `idb.ts` keeps named byte blobs in
 * IndexedDB; `sealed-store.ts` seals and opens them under the key derived
 * from the passphrase. {@link openVaults} is what the application model is
 * given (its `VaultOpener`).
 */

import { IdbRecords, type RecordBytes } from './idb.js';
import { SealedStore } from './sealed-store.js';

export { ACCOUNT_RECORD, SealedStore } from './sealed-store.js';
export { IdbRecords, type RecordBytes } from './idb.js';

/** Creating, unlocking and probing the sealed store over `bytes` (IndexedDB by default). */
export async function openVaults(bytes?: RecordBytes): Promise<{
  exists(): Promise<boolean>;
  create(passphrase: string, onProgress: (fraction: number) => void): Promise<SealedStore>;
  unlock(passphrase: string, onProgress: (fraction: number) => void): Promise<SealedStore | 'wrong_passphrase' | 'empty'>;
  wipe(): Promise<void>;
}> {
  const records = bytes ?? (await IdbRecords.open());
  return {
    exists: () => SealedStore.exists(records),
    create: (passphrase, onProgress) => SealedStore.create(records, passphrase, onProgress),
    unlock: (passphrase, onProgress) => SealedStore.unlock(records, passphrase, onProgress),
    wipe: () => records.clear(),
  };
}
