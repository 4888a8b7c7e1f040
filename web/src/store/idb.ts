/**
 * The bytes of the sealed records in IndexedDB: one object store, keyed by
 * the record's fixed name (`account`, `client`, `state`: names that say
 * nothing about the user), each value a sealed blob. Several records are
 * written in one transaction, so the account, the client's outbox and the
 * conversations never disagree after a crash.
 */

const DB_NAME = 'curbside';
const DB_VERSION = 1;
const STORE = 'sealed';

/** Raw storage of named byte blobs. */
export interface RecordBytes {
  get(name: string): Promise<Uint8Array | undefined>;
  /** Writes every record in one transaction; resolves once it committed. */
  putAll(records: ReadonlyMap<string, Uint8Array>): Promise<void>;
  /** Deletes every record. */
  clear(): Promise<void>;
}

function promised<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB request failed'));
  });
}

function committed(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
  });
}

/** {@link RecordBytes} in the browser's IndexedDB. */
export class IdbRecords implements RecordBytes {
  private constructor(private readonly db: IDBDatabase) {}

  static async open(factory: IDBFactory = indexedDB): Promise<IdbRecords> {
    const request = factory.open(DB_NAME, DB_VERSION);
    request.onupgradeneeded = () => {
      if (!request.result.objectStoreNames.contains(STORE)) request.result.createObjectStore(STORE);
    };
    return new IdbRecords(await promised(request));
  }

  async get(name: string): Promise<Uint8Array | undefined> {
    const tx = this.db.transaction(STORE, 'readonly');
    const value: unknown = await promised(tx.objectStore(STORE).get(name));
    if (value instanceof Uint8Array) return value;
    if (value instanceof ArrayBuffer) return new Uint8Array(value);
    return undefined;
  }

  async putAll(records: ReadonlyMap<string, Uint8Array>): Promise<void> {
    const tx = this.db.transaction(STORE, 'readwrite', { durability: 'strict' });
    const done = committed(tx);
    const store = tx.objectStore(STORE);
    for (const [name, bytes] of records) store.put(bytes, name);
    await done;
  }

  async clear(): Promise<void> {
    const tx = this.db.transaction(STORE, 'readwrite');
    const done = committed(tx);
    tx.objectStore(STORE).clear();
    await done;
  }
}
