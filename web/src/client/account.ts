/**
 * A device's account: identity, prekeys and ratchet sessions
 * (`client/src/account.rs`), with a JSON form of the same fields as the
 * Rust profile's, secrets included: it must only ever be stored sealed
 * (SECURITY.md, "Local store sealing"). Never logged: `toString` shows ids.
 */

import { IdentityKeyPair } from '../crypto/identity.js';
import { OneTimePreKeyPair, SignedPreKeyPair } from '../crypto/prekeys.js';
import type { RandomSource } from '../crypto/primitives.js';
import { Session } from '../crypto/ratchet/session.js';
import { fromBase64, toBase64 } from '../protocol/base64.js';
import { ProtocolError } from '../protocol/errors.js';
import type { Address, OneTimePrekeyJson } from '../protocol/frames.js';

/** One-time prekeys generated at enrollment and at each replenishment (as the Rust client). */
export const PREKEY_BATCH = 100;

/** Where the account lives. */
export interface ServerInfo {
  /** `https://host:port`. */
  readonly url: string;
  /** The server's configured name (`localhost` by default): checked and signed. */
  readonly serverName: string;
}

/** The JSON form (version 1). */
export interface StoredAccount {
  version: 1;
  server: { url: string; server_name: string };
  address: Address | null;
  identity: string;
  signed_prekey: string;
  previous_signed_prekey: string | null;
  one_time_prekeys: string[];
  next_prekey_id: number;
  sessions: [Address, string][];
}

/** The map key of a device. */
export function addressKey(a: Address): string {
  return `${a.user_id}/${a.device_id}`;
}

/** A device's keys and sessions. */
export class Account {
  /** Sessions by {@link addressKey}. */
  readonly sessions = new Map<string, { address: Address; session: Session }>();
  readonly oneTimePrekeys = new Map<number, OneTimePreKeyPair>();

  private constructor(
    readonly server: ServerInfo,
    public address: Address | undefined,
    readonly identity: IdentityKeyPair,
    public signedPrekey: SignedPreKeyPair,
    public previousSignedPrekey: SignedPreKeyPair | undefined,
    public nextPrekeyId: number,
  ) {}

  /** A new device: identity, signed prekey 1 and a batch of one-time prekeys. */
  static generate(server: ServerInfo, rng: RandomSource): Account {
    const identity = IdentityKeyPair.generate(rng);
    const spk = SignedPreKeyPair.generate(identity, 1, BigInt(Math.floor(Date.now() / 1000)), rng);
    const account = new Account(server, undefined, identity, spk, undefined, 1);
    account.newOneTimePrekeys(PREKEY_BATCH, rng);
    return account;
  }

  /** Generates `count` more one-time prekeys; their public halves, for upload. */
  newOneTimePrekeys(count: number, rng: RandomSource): OneTimePrekeyJson[] {
    const batch = OneTimePreKeyPair.generateBatch(this.nextPrekeyId, count, rng);
    this.nextPrekeyId = (this.nextPrekeyId + count) >>> 0;
    return batch.map((k) => {
      this.oneTimePrekeys.set(k.id, k);
      const p = k.publicKey;
      return { id: p.id, public_key: toBase64(p.publicKey) };
    });
  }

  /** Our address; an error before enrollment. */
  get me(): Address {
    if (this.address === undefined) throw new ProtocolError('this account is not enrolled yet');
    return this.address;
  }

  /** The devices of `user` we have sessions with. */
  knownDevices(user: string): number[] {
    const out: number[] = [];
    for (const { address } of this.sessions.values()) if (address.user_id === user) out.push(address.device_id);
    return out;
  }

  session(a: Address): Session | undefined {
    return this.sessions.get(addressKey(a))?.session;
  }

  setSession(a: Address, session: Session): void {
    this.sessions.set(addressKey(a), { address: { user_id: a.user_id, device_id: a.device_id }, session });
  }

  dropSession(a: Address): void {
    this.sessions.delete(addressKey(a));
  }

  /** The JSON form, secrets included: seal it before it goes anywhere. */
  toJSON(): StoredAccount {
    return {
      version: 1,
      server: { url: this.server.url, server_name: this.server.serverName },
      address: this.address ?? null,
      identity: toBase64(this.identity.toBytes()),
      signed_prekey: toBase64(this.signedPrekey.toBytes()),
      previous_signed_prekey: this.previousSignedPrekey ? toBase64(this.previousSignedPrekey.toBytes()) : null,
      one_time_prekeys: [...this.oneTimePrekeys.values()].map((k) => toBase64(k.toBytes())),
      next_prekey_id: this.nextPrekeyId,
      sessions: [...this.sessions.values()].map(({ address, session }) => [address, toBase64(session.toBytes())]),
    };
  }

  /** Parses {@link Account.toJSON} output. */
  static fromJSON(json: unknown): Account {
    const s = json as Partial<StoredAccount> | null;
    if (s === null || typeof s !== 'object' || s.version !== 1) throw new ProtocolError('unsupported account version');
    if (typeof s.identity !== 'string' || typeof s.signed_prekey !== 'string' || s.server === undefined) {
      throw new ProtocolError('corrupt account');
    }
    const identity = IdentityKeyPair.fromBytes(fromBase64(s.identity));
    const account = new Account(
      { url: s.server.url, serverName: s.server.server_name },
      s.address ?? undefined,
      identity,
      SignedPreKeyPair.fromBytes(identity, fromBase64(s.signed_prekey)),
      typeof s.previous_signed_prekey === 'string'
        ? SignedPreKeyPair.fromBytes(identity, fromBase64(s.previous_signed_prekey))
        : undefined,
      typeof s.next_prekey_id === 'number' ? s.next_prekey_id : 1,
    );
    for (const k of s.one_time_prekeys ?? []) {
      const pair = OneTimePreKeyPair.fromBytes(fromBase64(k));
      account.oneTimePrekeys.set(pair.id, pair);
    }
    for (const [address, state] of s.sessions ?? []) account.setSession(address, Session.fromBytes(fromBase64(state)));
    return account;
  }

  /** Ids only. */
  toString(): string {
    const who = this.address ? addressKey(this.address) : 'not enrolled';
    return `Account(${who}, ${this.sessions.size} sessions, ${this.oneTimePrekeys.size} one-time prekeys)`;
  }
}
