/**
 * What a message carries inside the encryption: the JSON of
 * `client/src/content.rs` (PROTOCOL.md, "Message content"). Plaintext that is
 * not such an object is text, as the Rust client reads it.
 */

import { utf8 } from '../crypto/bytes.js';
import { decodeUtf8 } from '../protocol/platform.js';

/** A reference to an encrypted attachment (key and digest base64, 32 bytes each). */
export interface AttachmentRef {
  attachment_id: string;
  key: string;
  digest: string;
  name: string;
  size: number;
}

/**
 * The on-call role a message was written to (`"role":{"role_id","name"}`
 * in a text or attachment sent to a role; absent otherwise): the holder
 * sees "to On-call dermatology". Checked where it arrives: a tag of any
 * other shape is ignored, never the message.
 */
export interface RoleTag {
  role_id: string;
  name: string;
}

/** The longest role name a tag may carry (the server's limit on a role's name). */
export const ROLE_NAME_MAX = 80;
/** Role ids as the server makes them (PROTOCOL.md's ids: 1 to 64 of A-Z a-z 0-9 - _). */
const ROLE_ID = /^[A-Za-z0-9_-]{1,64}$/;

export type Content =
  | { type: 'text'; to: string[]; text: string; role?: RoleTag }
  | { type: 'attachment'; to: string[]; file: AttachmentRef; role?: RoleTag }
  | { type: 'read'; message_ids: string[] }
  /** Kind `receipt`: these urgent or stat messages were acknowledged (to the sender's devices and our own others). */
  | { type: 'acknowledge'; message_ids: string[] }
  /** Kind `control`: the sender recalled these messages; delete the copies (and their attachments). */
  | { type: 'recall'; message_ids: string[] }
  | { type: 'timer'; to: string[]; seconds: number | null }
  | { type: 'team_update'; team_id: string; name: string; members: string[] }
  | { type: 'team_message'; team_id: string; key: string; sealed: string }
  | { type: 'referral'; referral_id: string; bundle: string; attachments: AttachmentRef[] }
  | { type: 'referral_reason'; referral_id: string; reason: string }
  /**
   * A curbside consult's question, to the clinicians the server chose (PROTOCOL.md, "Curbside consults"),
   * with its images (at most {@link CONSULT_MAX_ATTACHMENTS} sent; `attachments` left out of the JSON when none; absent reads as none).
   */
  | { type: 'consult'; consult_id: string; specialty: string; text: string; attachments: AttachmentRef[] }
  /** An answer, to the asker (and to every recipient when the asker shares answers). */
  | { type: 'consult_answer'; consult_id: string; text: string }
  /** Kind `control`: the asker closed the consult; stop showing it as open. */
  | { type: 'consult_closed'; consult_id: string };

/** The most files a client attaches to a consult question. */
export const CONSULT_MAX_ATTACHMENTS = 4;

/** The bytes to encrypt (a consult without files carries no `attachments`, as older clients wrote it). */
export function encodeContent(c: Content): Uint8Array {
  if (c.type === 'consult' && c.attachments.length === 0) {
    const { attachments: _none, ...rest } = c;
    return utf8(JSON.stringify(rest));
  }
  return utf8(JSON.stringify(c));
}

const isStr = (v: unknown): v is string => typeof v === 'string';
const isStrs = (v: unknown): v is string[] => Array.isArray(v) && v.every(isStr);
function isRef(v: unknown): v is AttachmentRef {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return isStr(r['attachment_id']) && isStr(r['key']) && isStr(r['digest']) && isStr(r['name']) && Number.isSafeInteger(r['size']);
}

/**
 * A role tag as sent, or `undefined` for anything else: an object of exactly
 * `role_id` (an id) and `name` (1 to {@link ROLE_NAME_MAX} characters, no
 * control characters, not blank).
 */
export function roleTagOf(v: unknown): RoleTag | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length !== 2 || !keys.includes('role_id') || !keys.includes('name')) return undefined;
  const id = o['role_id'];
  const name = o['name'];
  if (typeof id !== 'string' || !ROLE_ID.test(id) || typeof name !== 'string') return undefined;
  if ([...name].length > ROLE_NAME_MAX || name.trim() === '' || /[\p{Cc}\p{Cf}\u2028\u2029]/u.test(name)) return undefined;
  return { role_id: id, name };
}

/** Reads decrypted bytes; anything that is not Curbside content is text (invalid UTF-8 replaced). */
export function decodeContent(bytes: Uint8Array): Content {
  let text: string;
  try {
    text = decodeUtf8(bytes);
  } catch {
    return { type: 'text', to: [], text: lossy(bytes) };
  }
  const asText: Content = { type: 'text', to: [], text };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return asText;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return asText;
  const o = v as Record<string, unknown>;
  switch (o['type']) {
    case 'text': {
      const role = roleTagOf(o['role']);
      return isStrs(o['to']) && isStr(o['text']) ? { type: 'text', to: o['to'], text: o['text'], ...(role ? { role } : {}) } : asText;
    }
    case 'attachment': {
      const role = roleTagOf(o['role']);
      return isStrs(o['to']) && isRef(o['file']) ? { type: 'attachment', to: o['to'], file: o['file'], ...(role ? { role } : {}) } : asText;
    }
    case 'read':
      return isStrs(o['message_ids']) ? { type: 'read', message_ids: o['message_ids'] } : asText;
    case 'acknowledge':
    case 'recall':
      return isStrs(o['message_ids']) ? { type: o['type'], message_ids: o['message_ids'] } : asText;
    case 'timer': {
      const s = o['seconds'];
      return isStrs(o['to']) && (s === null || Number.isSafeInteger(s)) ? { type: 'timer', to: o['to'], seconds: s as number | null } : asText;
    }
    case 'team_update':
      return isStr(o['team_id']) && isStr(o['name']) && isStrs(o['members'])
        ? { type: 'team_update', team_id: o['team_id'], name: o['name'], members: o['members'] }
        : asText;
    case 'team_message':
      return isStr(o['team_id']) && isStr(o['key']) && isStr(o['sealed'])
        ? { type: 'team_message', team_id: o['team_id'], key: o['key'], sealed: o['sealed'] }
        : asText;
    case 'referral': {
      const a = o['attachments'];
      return isStr(o['referral_id']) && isStr(o['bundle']) && Array.isArray(a) && a.every(isRef)
        ? { type: 'referral', referral_id: o['referral_id'], bundle: o['bundle'], attachments: a }
        : asText;
    }
    case 'referral_reason':
      return isStr(o['referral_id']) && isStr(o['reason'])
        ? { type: 'referral_reason', referral_id: o['referral_id'], reason: o['reason'] }
        : asText;
    case 'consult': {
      const a = o['attachments'] === undefined ? [] : o['attachments']; // absent: none (older clients); null or anything else: not consult content
      return isStr(o['consult_id']) && isStr(o['specialty']) && isStr(o['text']) && Array.isArray(a) && a.every(isRef)
        ? { type: 'consult', consult_id: o['consult_id'], specialty: o['specialty'], text: o['text'], attachments: a.slice(0, CONSULT_MAX_ATTACHMENTS) } // a hostile sender's hundreds: the first few only
        : asText;
    }
    case 'consult_answer':
      return isStr(o['consult_id']) && isStr(o['text']) ? { type: 'consult_answer', consult_id: o['consult_id'], text: o['text'] } : asText;
    case 'consult_closed':
      return isStr(o['consult_id']) ? { type: 'consult_closed', consult_id: o['consult_id'] } : asText;
    default:
      return asText;
  }
}

function lossy(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b < 0x80 ? String.fromCharCode(b) : '\ufffd';
  return out;
}
