/**
 * The whole state of one end of a session, as plain immutable data. A
 * session never edits a state: each operation builds the next one, and the
 * session adopts it only when the operation succeeded.
 */

import type { IdentityKey } from '../identity.js';
import type { PreKeyFields } from '../message.js';
import type { ChainKey } from './keys.js';
import type { SkippedKeys } from './skipped.js';

/** Which side of X3DH the session was on. */
export type Role = 'initiator' | 'responder';

/** Our half: our current ratchet key pair, its chain, and `pn`. */
export interface SendingState {
  readonly ratchetSecret: Uint8Array;
  readonly ratchetPublic: Uint8Array;
  readonly chain: ChainKey;
  /** How many messages the previous sending chain sent (`pn` in every header). */
  readonly previousChainLen: number;
}

/** The remote half. */
export interface ReceivingState {
  /** The peer's current ratchet key (an initiator that has not heard back: the peer's signed prekey). */
  readonly remoteRatchet: Uint8Array | undefined;
  /** The chain of `remoteRatchet`, once a message arrived on it. */
  readonly chain: ChainKey | undefined;
  /** Ratchet keys of earlier receiving chains, newest last, at most `MAX_PREVIOUS_CHAINS`. */
  readonly previousRemoteRatchets: readonly Uint8Array[];
  readonly skipped: SkippedKeys;
}

/** Everything a session holds. */
export interface SessionState {
  readonly role: Role;
  readonly localIdentity: IdentityKey;
  readonly remoteIdentity: IdentityKey;
  /** Session associated data (initiator's identity first). */
  readonly ad: Uint8Array;
  readonly rootKey: Uint8Array;
  readonly sending: SendingState;
  readonly receiving: ReceivingState;
  /** Sent with every message until the peer answers. */
  readonly pendingPreKey: PreKeyFields | undefined;
}
