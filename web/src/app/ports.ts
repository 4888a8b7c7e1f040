/**
 * What the application model is given by its host (`main.ts`): the sealed
 * store, and the browser facilities it must not reach for itself (the
 * model has no DOM).
 */

/** An unlocked sealed store. */
export interface Vault {
  read(name: string): Promise<unknown>;
  /** Every record in one transaction; resolves once committed. */
  write(records: Readonly<Record<string, unknown>>): Promise<void>;
  /** Wipes the key. */
  close(): void;
}

/** Creates or unlocks the sealed store. */
export interface VaultOpener {
  exists(): Promise<boolean>;
  create(passphrase: string, onProgress: (fraction: number) => void): Promise<Vault>;
  unlock(passphrase: string, onProgress: (fraction: number) => void): Promise<Vault | 'wrong_passphrase' | 'empty'>;
  /** Erases every sealed record (this device was revoked: its keys are useless, its messages must go). */
  wipe(): Promise<void>;
}

/** Where the server is: the page's own origin (the API is same-origin). */
export interface Host {
  /** `https://host:port` (`location.origin`). */
  readonly origin: string;
  /** The page's host name, the server's name if the server does not say (`location.hostname`). */
  readonly hostname: string;
  /**
   * Claims this browser's account for this tab alone (two tabs would both
   * advance the same ratchets and overwrite each other's sealed state);
   * false if another tab holds it.
   */
  claimTab(): Promise<boolean>;
}
