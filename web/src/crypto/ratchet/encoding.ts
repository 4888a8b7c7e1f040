/**
 * The persisted encoding of a session (crypto/src/ratchet/encoding.rs),
 * versioned, bounded and rejecting trailing bytes. It holds every secret of
 * the session, so it is stored only sealed (`local-store.ts`).
 *
 * ```text
 * version(1)=1 ‖ role(1: 0 initiator, 1 responder) ‖ local identity(128) ‖ remote identity(128) ‖ root key(32)
 * ‖ sending ratchet secret(32) ‖ sending chain key(32) ‖ sending index(u32) ‖ pn(u32)
 * ‖ flag ‖ [remote ratchet key(32)] ‖ flag ‖ [receiving chain key(32) ‖ index(u32)]
 * ‖ flag ‖ [base key(32) ‖ signed prekey id(u32) ‖ flag ‖ [one-time prekey id(u32)]]
 * ‖ previous count(u8, ≤ 8) ‖ count × ratchet key(32)
 * ‖ skipped count(u32, ≤ 2000) ‖ count × (ratchet key(32) ‖ index(u32) ‖ seed(32))
 * ```
 *
 * The associated data is not stored: it is recomputed from the identities
 * and the role.
 */

import { concat, flag, Reader, u32, u8 } from '../bytes.js';
import { decodeError } from '../errors.js';
import { IdentityKey } from '../identity.js';
import { MAX_PREVIOUS_CHAINS, MAX_SKIPPED_KEYS } from '../labels.js';
import type { PreKeyFields } from '../message.js';
import { KEY_LEN, x25519PublicKey } from '../primitives.js';
import { associatedData } from '../x3dh.js';
import type { ChainKey } from './keys.js';
import type { SkippedKey } from './skipped.js';
import type { Role, SessionState } from './state.js';

const FORMAT_VERSION = 1;

/** Encodes the whole state. */
export function encodeSession(s: SessionState): Uint8Array {
  const parts: Uint8Array[] = [
    u8(FORMAT_VERSION),
    u8(s.role === 'initiator' ? 0 : 1),
    s.localIdentity.toBytes(),
    s.remoteIdentity.toBytes(),
    s.rootKey,
    s.sending.ratchetSecret,
    s.sending.chain.key,
    u32(s.sending.chain.index),
    u32(s.sending.previousChainLen),
  ];
  const r = s.receiving;
  parts.push(flag(r.remoteRatchet !== undefined));
  if (r.remoteRatchet !== undefined) parts.push(r.remoteRatchet);
  parts.push(flag(r.chain !== undefined));
  if (r.chain !== undefined) parts.push(r.chain.key, u32(r.chain.index));
  const p = s.pendingPreKey;
  parts.push(flag(p !== undefined));
  if (p !== undefined) {
    parts.push(p.baseKey, u32(p.signedPreKeyId), flag(p.oneTimePreKeyId !== undefined));
    if (p.oneTimePreKeyId !== undefined) parts.push(u32(p.oneTimePreKeyId));
  }
  parts.push(u8(r.previousRemoteRatchets.length), ...r.previousRemoteRatchets);
  parts.push(u32(r.skipped.length));
  for (const k of r.skipped) parts.push(k.ratchetKey, u32(k.key.index), k.key.seed);
  return concat(...parts);
}

function readChain(r: Reader): ChainKey {
  const key = r.take(KEY_LEN);
  return { key, index: r.u32() };
}

/** Parses an encoded state: unknown versions, bad identity signatures, counts above the bounds and trailing bytes are errors. */
export function decodeSession(bytes: Uint8Array): SessionState {
  const r = new Reader(bytes);
  r.version(FORMAT_VERSION);
  const roleByte = r.u8();
  if (roleByte !== 0 && roleByte !== 1) throw decodeError('invalid_tag');
  const role: Role = roleByte === 0 ? 'initiator' : 'responder';
  const localIdentity = IdentityKey.read(r);
  const remoteIdentity = IdentityKey.read(r);
  const rootKey = r.take(KEY_LEN);
  const ratchetSecret = r.take(KEY_LEN);
  const sendingChain = readChain(r);
  const previousChainLen = r.u32();
  const remoteRatchet = r.flag() ? r.take(KEY_LEN) : undefined;
  const receivingChain = r.flag() ? readChain(r) : undefined;
  let pendingPreKey: PreKeyFields | undefined;
  if (r.flag()) {
    const baseKey = r.take(KEY_LEN);
    const signedPreKeyId = r.u32();
    const oneTimePreKeyId = r.flag() ? r.u32() : undefined;
    pendingPreKey = { identity: localIdentity, baseKey, signedPreKeyId, oneTimePreKeyId };
  }
  const previousCount = r.u8();
  if (previousCount > MAX_PREVIOUS_CHAINS) throw decodeError('too_long');
  const previousRemoteRatchets: Uint8Array[] = [];
  for (let i = 0; i < previousCount; i++) previousRemoteRatchets.push(r.take(KEY_LEN));
  const count = r.u32();
  if (count > MAX_SKIPPED_KEYS) throw decodeError('too_long');
  const skipped: SkippedKey[] = [];
  for (let i = 0; i < count; i++) {
    const ratchetKey = r.take(KEY_LEN);
    const index = r.u32();
    skipped.push({ ratchetKey, key: { seed: r.take(KEY_LEN), index } });
  }
  r.finish();
  return {
    role,
    localIdentity,
    remoteIdentity,
    ad: role === 'initiator' ? associatedData(localIdentity, remoteIdentity) : associatedData(remoteIdentity, localIdentity),
    rootKey,
    sending: { ratchetSecret, ratchetPublic: x25519PublicKey(ratchetSecret), chain: sendingChain, previousChainLen },
    receiving: { remoteRatchet, chain: receivingChain, previousRemoteRatchets, skipped },
    pendingPreKey,
  };
}
