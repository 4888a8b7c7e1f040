/**
 * The wire formats of version 1 (SECURITY.md, "Message formats"):
 *
 * ```text
 * Header         = 0x01 ‖ 0x01 ‖ DHs_pub(32) ‖ u32(pn) ‖ u32(n)                         (42 bytes)
 * RatchetMessage = Header ‖ ciphertext ‖ tag                        (16 ≤ ciphertext+tag ≤ 1 MiB)
 * PreKeyMessage  = 0x01 ‖ 0x02 ‖ IdentityKey_A(128) ‖ EK_A_pub(32) ‖ u32(signed prekey id)
 *                  ‖ flag(1) [‖ u32(one-time prekey id)] ‖ RatchetMessage
 * ```
 *
 * The first byte is the version (`unsupported_version` otherwise), the
 * second the type (`decode`/`invalid_tag` otherwise). The AEAD's associated
 * data is the session AD followed by the header, so every header field is
 * authenticated; the prekey fields are authenticated implicitly (changing
 * one changes SK or AD). Parsers reject truncation and trailing bytes.
 */

import { concat, flag, Reader, u32, u8 } from './bytes.js';
import { decodeError } from './errors.js';
import { IdentityKey } from './identity.js';
import { MAX_CIPHERTEXT_LEN } from './labels.js';
import { KEY_LEN, TAG_LEN } from './primitives.js';

/** The message format version this implementation writes and reads. */
export const MESSAGE_VERSION = 1;
const TYPE_RATCHET = 0x01;
const TYPE_PREKEY = 0x02;
/** Length of an encoded header. */
export const HEADER_LEN = 2 + KEY_LEN + 4 + 4;

/** The cleartext, authenticated ratchet header. */
export interface Header {
  /** The sender's current ratchet public key. */
  readonly ratchetKey: Uint8Array;
  /** `pn`: how many messages the sender's previous sending chain held. */
  readonly previousChainLen: number;
  /** `n`: this message's index in the current sending chain. */
  readonly index: number;
}

/** A normal Double Ratchet message. */
export interface RatchetMessage {
  readonly kind: 'ratchet';
  readonly header: Header;
  /** Ciphertext ‖ Poly1305 tag. */
  readonly ciphertext: Uint8Array;
}

/** The X3DH fields an initiator repeats until it hears back. */
export interface PreKeyFields {
  /** The initiator's identity (signature verified when parsed). */
  readonly identity: IdentityKey;
  /** The initiator's ephemeral (base) key EK_A. */
  readonly baseKey: Uint8Array;
  readonly signedPreKeyId: number;
  readonly oneTimePreKeyId: number | undefined;
}

/** A message that can start a session. */
export interface PreKeyMessage {
  readonly kind: 'prekey';
  readonly prekey: PreKeyFields;
  readonly message: RatchetMessage;
}

/** Either kind, as sent on the wire. */
export type Message = RatchetMessage | PreKeyMessage;

/** The encoded header (the bytes the AEAD authenticates after the session AD). */
export function encodeHeader(header: Header): Uint8Array {
  return concat(u8(MESSAGE_VERSION), u8(TYPE_RATCHET), header.ratchetKey, u32(header.previousChainLen), u32(header.index));
}

function encodeRatchet(m: RatchetMessage): Uint8Array {
  return concat(encodeHeader(m.header), m.ciphertext);
}

function encodePreKey(m: PreKeyMessage): Uint8Array {
  const p = m.prekey;
  return concat(
    u8(MESSAGE_VERSION),
    u8(TYPE_PREKEY),
    p.identity.toBytes(),
    p.baseKey,
    u32(p.signedPreKeyId),
    flag(p.oneTimePreKeyId !== undefined),
    ...(p.oneTimePreKeyId === undefined ? [] : [u32(p.oneTimePreKeyId)]),
    encodeRatchet(m.message),
  );
}

/** Encodes either kind of message. */
export function encodeMessage(m: Message): Uint8Array {
  return m.kind === 'ratchet' ? encodeRatchet(m) : encodePreKey(m);
}

function readType(r: Reader): number {
  r.version(MESSAGE_VERSION);
  return r.u8();
}

function readRatchetBody(r: Reader): RatchetMessage {
  const ratchetKey = r.take(KEY_LEN);
  const previousChainLen = r.u32();
  const index = r.u32();
  const ciphertext = r.rest();
  if (ciphertext.length < TAG_LEN) throw decodeError('unexpected_end');
  if (ciphertext.length > MAX_CIPHERTEXT_LEN) throw decodeError('too_long');
  return { kind: 'ratchet', header: { ratchetKey, previousChainLen, index }, ciphertext };
}

function readPreKeyBody(r: Reader): PreKeyMessage {
  const identity = IdentityKey.read(r);
  const baseKey = r.take(KEY_LEN);
  const signedPreKeyId = r.u32();
  const oneTimePreKeyId = r.flag() ? r.u32() : undefined;
  const message = decodeRatchetMessage(r.rest());
  return { kind: 'prekey', prekey: { identity, baseKey, signedPreKeyId, oneTimePreKeyId }, message };
}

/** Parses a ratchet message only (a prekey message is `invalid_tag`). */
export function decodeRatchetMessage(bytes: Uint8Array): RatchetMessage {
  const r = new Reader(bytes);
  if (readType(r) !== TYPE_RATCHET) throw decodeError('invalid_tag');
  return readRatchetBody(r);
}

/** Parses a prekey message only (verifying the initiator identity's signature). */
export function decodePreKeyMessage(bytes: Uint8Array): PreKeyMessage {
  const r = new Reader(bytes);
  if (readType(r) !== TYPE_PREKEY) throw decodeError('invalid_tag');
  return readPreKeyBody(r);
}

/** Parses either kind of message. */
export function decodeMessage(bytes: Uint8Array): Message {
  const r = new Reader(bytes);
  const type = readType(r);
  if (type === TYPE_RATCHET) return readRatchetBody(r);
  if (type === TYPE_PREKEY) return readPreKeyBody(r);
  throw decodeError('invalid_tag');
}

/** The ratchet message inside either kind. */
export function ratchetPart(m: Message): RatchetMessage {
  return m.kind === 'ratchet' ? m : m.message;
}
