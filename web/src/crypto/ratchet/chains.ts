/**
 * The two halves of the ratchet as pure functions of the state
 * (crypto/src/ratchet/sending_chain.rs and receiving_chains.rs): the DH
 * ratchet step, decryption with known keys, and the bounds. None of them
 * changes its input; each returns what the session commits on success.
 */

import { equalBytes } from '../bytes.js';
import { CryptoError } from '../errors.js';
import { MAX_CIPHERTEXT_LEN, MAX_PREVIOUS_CHAINS } from '../labels.js';
import type { Header, RatchetMessage } from '../message.js';
import { drawRandom, KEY_LEN, TAG_LEN, x25519Agree, x25519PublicKey, type RandomSource } from '../primitives.js';
import { advanceRoot, messageKey, nextChain, openMessage, sealMessage, skipTo, type ChainKey, type MessageKey } from './keys.js';
import { extendSkipped, findSkipped, removeSkipped } from './skipped.js';
import type { ReceivingState, SendingState } from './state.js';

/**
 * A new sending chain against `theirs` with a fresh ratchet key (32 bytes
 * from `rng`): `(RK, CKs) = KDF_RK(RK, X25519(DHs, DHr))`.
 */
export function startSending(
  rootKey: Uint8Array,
  theirs: Uint8Array,
  previousChainLen: number,
  rng: RandomSource,
): { rootKey: Uint8Array; sending: SendingState } {
  const ratchetSecret = drawRandom(rng, KEY_LEN);
  const ratchetPublic = x25519PublicKey(ratchetSecret);
  const step = advanceRoot(rootKey, x25519Agree(ratchetSecret, theirs));
  return { rootKey: step.rootKey, sending: { ratchetSecret, ratchetPublic, chain: step.chain, previousChainLen } };
}

/** Encrypts with the next sending key: the message and the chain moved past it. */
export function encryptNext(
  sending: SendingState,
  ad: Uint8Array,
  plaintext: Uint8Array,
): { message: RatchetMessage; sending: SendingState } {
  if (plaintext.length + TAG_LEN > MAX_CIPHERTEXT_LEN) {
    throw new CryptoError('invalid_length', undefined, 'larger content travels as an attachment');
  }
  const key = messageKey(sending.chain);
  const next = nextChain(sending.chain);
  const header: Header = {
    ratchetKey: sending.ratchetPublic,
    previousChainLen: sending.previousChainLen,
    index: key.index,
  };
  const ciphertext = sealMessage(key, ad, header, plaintext);
  return { message: { kind: 'ratchet', header, ciphertext }, sending: { ...sending, chain: next } };
}

/** A receiving chain for a new remote ratchet key, derived and used for one message. */
export interface NewChain {
  readonly rootKey: Uint8Array;
  /** Keys skipped before the message in the new chain. */
  readonly skipped: MessageKey[];
  /** The new chain, positioned after the message. */
  readonly chain: ChainKey;
  readonly plaintext: Uint8Array;
}

/**
 * The receiving DH ratchet step: `(RK, CKr) = KDF_RK(RK, X25519(DHs, header.dh))`,
 * skipping to `header.n` (at most `MAX_SKIP`), and the message decrypted.
 */
export function deriveNewChain(
  rootKey: Uint8Array,
  ourRatchetSecret: Uint8Array,
  ad: Uint8Array,
  message: RatchetMessage,
): NewChain {
  const header = message.header;
  const step = advanceRoot(rootKey, x25519Agree(ourRatchetSecret, header.ratchetKey));
  const { skipped, chain } = skipTo(step.chain, header.index);
  const plaintext = openMessage(messageKey(chain), ad, header, message.ciphertext);
  return { rootKey: step.rootKey, skipped, chain: nextChain(chain), plaintext };
}

/** A responder's receiving state after the first message. */
export function firstReceiving(theirs: Uint8Array, skipped: MessageKey[], chain: ChainKey): ReceivingState {
  return { remoteRatchet: theirs, chain, previousRemoteRatchets: [], skipped: extendSkipped([], theirs, skipped) };
}

/**
 * Decrypts a message whose key is already known: a skipped key (used once,
 * then deleted) or one at or ahead of the current chain's index. `undefined`
 * for a message on a new remote ratchet key (the caller runs the DH step);
 * `duplicate_message` for a known chain whose key was used or evicted, with
 * no DH computed.
 */
export function decryptKnown(
  receiving: ReceivingState,
  ad: Uint8Array,
  message: RatchetMessage,
): { plaintext: Uint8Array; receiving: ReceivingState } | undefined {
  const header = message.header;
  const theirs = header.ratchetKey;
  const onCurrent = receiving.remoteRatchet !== undefined && equalBytes(receiving.remoteRatchet, theirs);
  const current = receiving.chain;
  const aheadInCurrent = onCurrent && current !== undefined && header.index >= current.index;

  if (!aheadInCurrent) {
    const position = findSkipped(receiving.skipped, theirs, header.index);
    const stored = receiving.skipped[position];
    if (stored !== undefined) {
      const plaintext = openMessage(stored.key, ad, header, message.ciphertext);
      return { plaintext, receiving: { ...receiving, skipped: removeSkipped(receiving.skipped, position) } };
    }
    if (onCurrent || receiving.previousRemoteRatchets.some((k) => equalBytes(k, theirs))) {
      throw new CryptoError('duplicate_message');
    }
  }

  if (onCurrent) {
    if (current === undefined) throw new CryptoError('decryption_failed');
    const { skipped, chain } = skipTo(current, header.index);
    const plaintext = openMessage(messageKey(chain), ad, header, message.ciphertext);
    return {
      plaintext,
      receiving: { ...receiving, chain: nextChain(chain), skipped: extendSkipped(receiving.skipped, theirs, skipped) },
    };
  }
  return undefined;
}

/** The keys left in the current receiving chain up to `pn` (at most `MAX_SKIP`). */
export function leftoverKeys(receiving: ReceivingState, previousChainLen: number): MessageKey[] {
  return receiving.chain === undefined ? [] : skipTo(receiving.chain, previousChainLen).skipped;
}

/**
 * A new receiving chain for `theirs`: the old chain's leftover keys kept as
 * skipped and its ratchet key remembered (the oldest forgotten beyond
 * `MAX_PREVIOUS_CHAINS`), then the new chain's skipped keys.
 */
export function startReceiving(
  receiving: ReceivingState,
  theirs: Uint8Array,
  leftover: MessageKey[],
  skipped: MessageKey[],
  chain: ChainKey,
): ReceivingState {
  let keys = receiving.skipped;
  let previous = receiving.previousRemoteRatchets;
  const old = receiving.remoteRatchet;
  if (old !== undefined) {
    keys = extendSkipped(keys, old, leftover);
    previous = previous.concat([old]);
    if (previous.length > MAX_PREVIOUS_CHAINS) previous = previous.slice(previous.length - MAX_PREVIOUS_CHAINS);
  }
  keys = extendSkipped(keys, theirs, skipped);
  return { remoteRatchet: theirs, chain, previousRemoteRatchets: previous, skipped: keys };
}
