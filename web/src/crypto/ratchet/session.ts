/**
 * A Double Ratchet session between two devices, started by X3DH (Signal's
 * Double Ratchet specification, revision 4, with Curbside's labels;
 * SECURITY.md, "Double Ratchet").
 *
 * Initialisation: the initiator A sets `DHr = SPK_B`, draws `DHs` and
 * computes `(RK, CKs) = KDF_RK(SK, X25519(DHs, DHr))`. The responder B starts
 * with `RK = SK` and `DHs = SPK_B`; on the first message it performs the
 * receiving step, decrypts, then draws a new `DHs` for its sending chain.
 *
 * Bounds: one message may make a chain skip at most `MAX_SKIP` keys; at
 * most `MAX_SKIPPED_KEYS` are stored (oldest evicted); the last
 * `MAX_PREVIOUS_CHAINS` remote ratchet keys are remembered so that a replay
 * on an old chain is `duplicate_message` without any DH.
 *
 * Decryption is transactional: the session adopts a new state only when the
 * message decrypted, so any error leaves it byte-for-byte as it was
 * (`toBytes()` is unchanged). A new ratchet key is drawn only after
 * decryption succeeded.
 */

import { CryptoError } from '../errors.js';
import type { IdentityKey, IdentityKeyPair } from '../identity.js';
import type { Message, PreKeyMessage, RatchetMessage } from '../message.js';
import type { OneTimePreKeyPair, PreKeyBundle, SignedPreKeyPair } from '../prekeys.js';
import { drawRandom, KEY_LEN, x25519PublicKey, type RandomSource } from '../primitives.js';
import { associatedData, x3dhInitiate, x3dhRespond } from '../x3dh.js';
import {
  decryptKnown,
  deriveNewChain,
  encryptNext,
  firstReceiving,
  leftoverKeys,
  startReceiving,
  startSending,
} from './chains.js';
import { decodeSession, encodeSession } from './encoding.js';
import type { Role, SessionState } from './state.js';

export type { Role } from './state.js';

/** One end of a Double Ratchet session. Persist it (sealed) with {@link Session.toBytes} after every success. */
export class Session {
  private constructor(private state: SessionState) {}

  /**
   * Starts a session as initiator from a verified bundle. Draws the
   * ephemeral key, then the first ratchet key, from `rng` (32 bytes each).
   * Every message is a prekey message until the peer answers.
   */
  static initiate(ours: IdentityKeyPair, bundle: PreKeyBundle, rng: RandomSource): Session {
    const ephemeral = drawRandom(rng, KEY_LEN);
    const sk = x3dhInitiate(ours, ephemeral, bundle);
    const theirRatchet = bundle.signedPreKey.publicKey;
    const { rootKey, sending } = startSending(sk, theirRatchet, 0, rng);
    const localIdentity = ours.publicKey;
    const remoteIdentity = bundle.identity;
    return new Session({
      role: 'initiator',
      localIdentity,
      remoteIdentity,
      ad: associatedData(localIdentity, remoteIdentity),
      rootKey,
      sending,
      receiving: { remoteRatchet: theirRatchet, chain: undefined, previousRemoteRatchets: [], skipped: [] },
      pendingPreKey: {
        identity: localIdentity,
        baseKey: x25519PublicKey(ephemeral),
        signedPreKeyId: bundle.signedPreKey.id,
        oneTimePreKeyId: bundle.oneTimePreKey?.id,
      },
    });
  }

  /**
   * Accepts a prekey message as responder: the new session and the first
   * plaintext. The caller finds the prekeys the message names
   * (`message.prekey`) and deletes the one-time prekey only on success.
   * Draws one ratchet key (32 bytes) from `rng`, after decryption succeeded.
   */
  static accept(
    ours: IdentityKeyPair,
    signedPreKey: SignedPreKeyPair,
    oneTimePreKey: OneTimePreKeyPair | undefined,
    message: PreKeyMessage,
    rng: RandomSource,
  ): { session: Session; plaintext: Uint8Array } {
    const fields = message.prekey;
    if (fields.signedPreKeyId !== signedPreKey.id) {
      throw new CryptoError('signed_prekey_mismatch', undefined, `id ${fields.signedPreKeyId}`);
    }
    const otkMatches =
      fields.oneTimePreKeyId === undefined
        ? oneTimePreKey === undefined
        : oneTimePreKey !== undefined && oneTimePreKey.id === fields.oneTimePreKeyId;
    if (!otkMatches) throw new CryptoError('one_time_prekey_mismatch');

    const sk = x3dhRespond(ours, signedPreKey, oneTimePreKey, fields.identity, fields.baseKey);
    const localIdentity = ours.publicKey;
    const remoteIdentity = fields.identity;
    const ad = associatedData(remoteIdentity, localIdentity);
    // The signed prekey is the responder's first ratchet key.
    const step = deriveNewChain(sk, signedPreKey.secretBytes(), ad, message.message);
    const theirRatchet = message.message.header.ratchetKey;
    const { rootKey, sending } = startSending(step.rootKey, theirRatchet, 0, rng);
    const session = new Session({
      role: 'responder',
      localIdentity,
      remoteIdentity,
      ad,
      rootKey,
      sending,
      receiving: firstReceiving(theirRatchet, step.skipped, step.chain),
      pendingPreKey: undefined,
    });
    return { session, plaintext: step.plaintext };
  }

  /** Parses {@link Session.toBytes} output (bounded, versioned, no trailing bytes). */
  static fromBytes(bytes: Uint8Array): Session {
    return new Session(decodeSession(bytes));
  }

  /** The versioned encoding of the whole state. Holds every secret: store it only sealed. */
  toBytes(): Uint8Array {
    return encodeSession(this.state);
  }

  /** Encrypts with the next sending key: a prekey message until the peer has answered. */
  encrypt(plaintext: Uint8Array): Message {
    const { message, sending } = encryptNext(this.state.sending, this.state.ad, plaintext);
    this.state = { ...this.state, sending };
    const prekey = this.state.pendingPreKey;
    return prekey === undefined ? message : { kind: 'prekey', prekey, message };
  }

  /**
   * Decrypts a message of this session. A prekey message is taken only from
   * this session's peer (the initiator repeats its X3DH fields until it hears
   * back); from another identity it is `decryption_failed`, and the caller
   * accepts it as a new session. On any error the session is unchanged.
   */
  decrypt(message: Message, rng: RandomSource): Uint8Array {
    if (message.kind === 'prekey' && !message.prekey.identity.equals(this.state.remoteIdentity)) {
      throw new CryptoError('decryption_failed');
    }
    return this.decryptRatchet(message.kind === 'prekey' ? message.message : message, rng);
  }

  /** Decrypts a ratchet message. On any error the session is unchanged. */
  decryptRatchet(message: RatchetMessage, rng: RandomSource): Uint8Array {
    const state = this.state;
    const known = decryptKnown(state.receiving, state.ad, message);
    if (known !== undefined) {
      this.state = { ...state, receiving: known.receiving, pendingPreKey: undefined };
      return known.plaintext;
    }
    // A new remote ratchet key: first the keys left in the current chain (up to pn),
    // then the receiving step, then (only once decrypted) our sending step.
    const theirs = message.header.ratchetKey;
    const leftover = leftoverKeys(state.receiving, message.header.previousChainLen);
    const step = deriveNewChain(state.rootKey, state.sending.ratchetSecret, state.ad, message);
    const { rootKey, sending } = startSending(step.rootKey, theirs, state.sending.chain.index, rng);
    this.state = {
      ...state,
      rootKey,
      sending,
      receiving: startReceiving(state.receiving, theirs, leftover, step.skipped, step.chain),
      pendingPreKey: undefined,
    };
    return step.plaintext;
  }

  get role(): Role {
    return this.state.role;
  }

  /** Our device identity. */
  get localIdentity(): IdentityKey {
    return this.state.localIdentity;
  }

  /** The peer device's identity, as authenticated by X3DH. */
  get remoteIdentity(): IdentityKey {
    return this.state.remoteIdentity;
  }

  /** The session associated data (public; binds both identities). */
  get associatedData(): Uint8Array {
    return Uint8Array.from(this.state.ad);
  }

  /** True while outgoing messages still carry the X3DH fields. */
  get awaitingFirstReply(): boolean {
    return this.state.pendingPreKey !== undefined;
  }

  /** Number of skipped message keys stored. */
  get skippedKeyCount(): number {
    return this.state.receiving.skipped.length;
  }
}
