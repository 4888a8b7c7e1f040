// An audit entry and its canonical bytes (the Merkle leaf data), the
// signed tree head and its signature: protocol/src/audit.rs in TypeScript.
//
// Canonical bytes (SECURITY.md, "Tamper evidence"): the compact JSON of the
// entry with keys in a fixed order, every top-level key present (null when
// absent), `details` keys in the order of `Details`, absent ones omitted,
// integers only, strings escaped as serde_json does. A record is decoded as
// the Rust side deserialises it (unknown or repeated fields refused, ids and
// enums checked, integers range-checked; a missing optional field is null)
// and encoded again from the decoded values: its content, not its text, is
// what the leaf hash covers.

import { concat, fromHex, toHex, u64, utf8 } from '../crypto/bytes.js';
import { ed25519Verify } from '../crypto/primitives.js';
import { fromBase64, toBase64 } from '../protocol/base64.js';
import { JsonError, JsonNumber, parseJson, quote, type Json, type JsonObject } from './json.js';
import { leafHash, type Hash } from './merkle.js';

export const ACTIONS = [
  'user.enrolled', 'user.verified', 'role.granted', 'invite.created', 'users.listed', 'user.deactivated',
  'device.added', 'device.revoked', 'identity_key.published', 'identity_key.changed', 'auth.succeeded',
  'auth.failed', 'session.expired', 'prekey_bundle.fetched', 'message.accepted', 'message.delivered',
  'message.expired', 'attachment.stored', 'attachment.fetched', 'referral.created', 'referral.status_changed',
  'audit.queried', 'audit.exported', 'audit.tree_head_requested', 'audit.proof_requested',
  'message.acknowledged', 'escalation.released', 'escalation.withdrawn', 'message.recalled', 'retention.changed',
  'oncall.role_created', 'oncall.shift_scheduled', 'oncall.handed_off', 'oncall.resolved',
  'consult.posted', 'consult.answered', 'consult.closed',
] as const;
export type Action = (typeof ACTIONS)[number];
export const ROLES = ['clinician', 'compliance_officer', 'admin'] as const;
export type Role = (typeof ROLES)[number];
export type Outcome = 'success' | 'failure';

/** One recipient device's ciphertext in a `message.accepted` entry. */
export interface DeviceCiphertext {
  readonly device: number;
  readonly size: number;
  readonly sha256: string;
}

/** The typed details (absent keys are absent). Integers as numbers, for display. */
export interface Details {
  readonly [key: string]: string | number | readonly number[] | readonly DeviceCiphertext[] | undefined;
}

/** One audit entry, as decoded (integers as numbers, for display; the canonical bytes keep them exact). */
export interface AuditEntry {
  readonly seq: number;
  readonly time_ms: number;
  readonly actor_user: string | null;
  readonly actor_device: number | null;
  readonly actor_role: Role | null;
  readonly action: Action;
  readonly counterpart_user: string | null;
  readonly counterpart_device: number | null;
  readonly message_id: string | null;
  readonly referral_id: string | null;
  readonly attachment_id: string | null;
  readonly source: string | null;
  readonly outcome: Outcome;
  readonly reason: string | null;
  readonly details: Details;
}

/** A record as the API returns and exports it, decoded: the entry, its canonical bytes, and the leaf hash recorded when it was logged. */
export interface AuditRecord {
  readonly entry: AuditEntry;
  /** The entry's canonical JSON (the leaf data is its UTF-8). */
  readonly canonical: string;
  /** The leaf hash the server recorded at append time. */
  readonly recordedLeafHash: Hash;
}

// ---- typed decoding -------------------------------------------------------

const U64_MAX = 0xffffffffffffffffn;
const I64_MIN = -0x8000000000000000n;
const I64_MAX = 0x7fffffffffffffffn;
const U32_MAX = 0xffffffffn;

type Kind = 'u64' | 'i64' | 'u32';

/** An integer field: its exact text (canonical: JSON integers have one form) and its value as a number. */
function int(v: Json | undefined, kind: Kind, field: string): { text: string; value: number } {
  if (!(v instanceof JsonNumber)) throw new JsonError(`\`${field}\`: expected an integer`);
  if (!v.integer || v.text === '-0') throw new JsonError(`\`${field}\`: expected an integer, found ${v.text}`);
  const b = BigInt(v.text);
  const [lo, hi] = kind === 'i64' ? [I64_MIN, I64_MAX] : [0n, kind === 'u32' ? U32_MAX : U64_MAX];
  if (b < lo || b > hi) throw new JsonError(`\`${field}\`: ${v.text} is out of range for ${kind}`);
  return { text: v.text, value: Number(b) };
}

function str(v: Json | undefined, field: string): string {
  if (typeof v !== 'string') throw new JsonError(`\`${field}\`: expected a string`);
  return v;
}

const ID = /^[A-Za-z0-9_-]{1,64}$/;

function id(v: Json | undefined, field: string): string {
  const s = str(v, field);
  if (!ID.test(s)) throw new JsonError(`\`${field}\`: invalid id: 1 to 64 characters of A-Z a-z 0-9 - _ expected`);
  return s;
}

function oneOf<T extends string>(v: Json | undefined, names: readonly T[], field: string): T {
  const s = str(v, field);
  if (!(names as readonly string[]).includes(s)) throw new JsonError(`\`${field}\`: unknown variant \`${s}\``);
  return s as T;
}

function object(v: Json | undefined, field: string, keys: readonly string[]): JsonObject {
  if (!(v instanceof Map)) throw new JsonError(`\`${field}\`: expected an object`);
  for (const k of v.keys()) if (!keys.includes(k)) throw new JsonError(`\`${field}\`: unknown field \`${k}\``);
  return v;
}

function array(v: Json | undefined, field: string): Json[] {
  if (!Array.isArray(v)) throw new JsonError(`\`${field}\`: expected an array`);
  return v;
}

// The fields of `Details`, in declaration order (the canonical order), with their types.
const DETAILS: readonly (readonly [string, 'str' | 'role' | Kind | 'ciphertexts' | 'devices'])[] = [
  ['transport', 'str'], ['endpoint', 'str'], ['role', 'role'], ['key_fingerprint', 'str'], ['kind', 'str'],
  ['ciphertexts', 'ciphertexts'], ['devices', 'devices'], ['size', 'u64'], ['filters', 'str'], ['tree_size', 'u64'],
  ['first', 'u64'], ['format', 'str'], ['timeout', 'str'], ['from_status', 'str'], ['to_status', 'str'],
  ['specialty', 'str'], ['priority', 'str'], ['attempts', 'u64'], ['first_at_ms', 'i64'], ['last_at_ms', 'i64'],
  ['escalation_after_secs', 'u64'], ['deleted', 'u64'], ['retention_secs', 'u64'],
  ['oncall_role', 'str'], ['until_ms', 'i64'], ['consult', 'str'], ['fan_out', 'u64'],
];
const DETAIL_KEYS = DETAILS.map(([k]) => k);

function details(v: Json | undefined): { value: Details; json: string } {
  const o = object(v, 'details', DETAIL_KEYS);
  const value: Record<string, Details[string]> = {};
  const parts: string[] = [];
  for (const [key, type] of DETAILS) {
    const x = o.get(key);
    if (x === undefined || x === null) continue; // Option with default: absent or null is None, omitted
    const f = `details.${key}`;
    let json: string;
    if (type === 'str') {
      value[key] = str(x, f);
      json = quote(value[key] as string);
    } else if (type === 'role') {
      value[key] = oneOf(x, ROLES, f);
      json = quote(value[key] as string);
    } else if (type === 'devices') {
      const ds = array(x, f).map((d) => int(d, 'u32', f));
      value[key] = ds.map((d) => d.value);
      json = `[${ds.map((d) => d.text).join(',')}]`;
    } else if (type === 'ciphertexts') {
      const cs = array(x, f).map((c) => {
        const co = object(c, f, ['device', 'size', 'sha256']);
        const device = int(co.get('device'), 'u32', `${f}.device`);
        const size = int(co.get('size'), 'u64', `${f}.size`);
        const sha = str(co.get('sha256'), `${f}.sha256`);
        return { value: { device: device.value, size: size.value, sha256: sha }, json: `{"device":${device.text},"size":${size.text},"sha256":${quote(sha)}}` };
      });
      value[key] = cs.map((c) => c.value);
      json = `[${cs.map((c) => c.json).join(',')}]`;
    } else {
      const n = int(x, type, f);
      value[key] = n.value;
      json = n.text;
    }
    parts.push(`${quote(key)}:${json}`);
  }
  return { value, json: `{${parts.join(',')}}` };
}

const ENTRY_KEYS = [
  'seq', 'time_ms', 'actor_user', 'actor_device', 'actor_role', 'action', 'counterpart_user', 'counterpart_device',
  'message_id', 'referral_id', 'attachment_id', 'source', 'outcome', 'reason', 'details',
] as const;

/** Decodes an entry as serde does, and encodes its canonical JSON. */
export function decodeEntry(v: Json): { entry: AuditEntry; canonical: string } {
  const o = object(v, 'entry', ENTRY_KEYS);
  const required = (k: string): Json => {
    const x = o.get(k);
    if (x === undefined) throw new JsonError(`missing field \`${k}\``);
    return x;
  };
  const opt = <T>(k: string, f: (x: Json, field: string) => T): T | null => {
    const x = o.get(k);
    return x === undefined || x === null ? null : f(x, k);
  };
  const seq = int(required('seq'), 'u64', 'seq');
  const time = int(required('time_ms'), 'i64', 'time_ms');
  const actorDevice = opt('actor_device', (x, f) => int(x, 'u32', f));
  const counterpartDevice = opt('counterpart_device', (x, f) => int(x, 'u32', f));
  const d = details(required('details'));
  const entry: AuditEntry = {
    seq: seq.value,
    time_ms: time.value,
    actor_user: opt('actor_user', id),
    actor_device: actorDevice?.value ?? null,
    actor_role: opt('actor_role', (x, f) => oneOf(x, ROLES, f)),
    action: oneOf(required('action'), ACTIONS, 'action'),
    counterpart_user: opt('counterpart_user', id),
    counterpart_device: counterpartDevice?.value ?? null,
    message_id: opt('message_id', id),
    referral_id: opt('referral_id', str),
    attachment_id: opt('attachment_id', str),
    source: opt('source', str),
    outcome: oneOf(required('outcome'), ['success', 'failure'] as const, 'outcome'),
    reason: opt('reason', str),
    details: d.value,
  };
  const s = (x: string | null): string => (x === null ? 'null' : quote(x));
  const canonical =
    `{"seq":${seq.text},"time_ms":${time.text},"actor_user":${s(entry.actor_user)},` +
    `"actor_device":${actorDevice?.text ?? 'null'},"actor_role":${s(entry.actor_role)},"action":${quote(entry.action)},` +
    `"counterpart_user":${s(entry.counterpart_user)},"counterpart_device":${counterpartDevice?.text ?? 'null'},` +
    `"message_id":${s(entry.message_id)},"referral_id":${s(entry.referral_id)},"attachment_id":${s(entry.attachment_id)},` +
    `"source":${s(entry.source)},"outcome":${quote(entry.outcome)},"reason":${s(entry.reason)},"details":${d.json}}`;
  return { entry, canonical };
}

/** 64 hex digits (either case, as the Rust side accepts). */
export function hexHash(v: Json | undefined, field: string): Hash {
  const s = str(v, field);
  if (!/^[0-9a-fA-F]{64}$/.test(s)) throw new JsonError(`\`${field}\`: a hash must be 64 hexadecimal digits`);
  return fromHex(s);
}

/** Decodes a record `{"entry": {…}, "leaf_hash": "<hex>"}` (text or an already parsed value). */
export function decodeRecord(v: Json | string): AuditRecord {
  const o = object(typeof v === 'string' ? parseJson(v) : v, 'record', ['entry', 'leaf_hash']);
  const entry = o.get('entry');
  if (entry === undefined) throw new JsonError('missing field `entry`');
  const leaf = o.get('leaf_hash');
  if (leaf === undefined) throw new JsonError('missing field `leaf_hash`');
  return { ...decodeEntry(entry), recordedLeafHash: hexHash(leaf, 'leaf_hash') };
}

/** The entry's leaf hash, SHA-256(0x00 ‖ canonical bytes). */
export function entryLeafHash(record: Pick<AuditRecord, 'canonical'>): Hash {
  return leafHash(utf8(record.canonical));
}

// ---- signed tree heads ----------------------------------------------------

/** A tree head signed by the server's log key. */
export interface SignedTreeHead {
  readonly size: number;
  readonly timestamp_ms: number;
  readonly root: Hash;
  readonly signature: Uint8Array;
}

/** `GET /v1/audit/tree-head`'s answer, and the file `curbside audit export` writes next to an export (`<FILE>.tree-head.json`). */
export interface TreeHeadResponse {
  readonly tree_head: SignedTreeHead;
  readonly log_key: Uint8Array;
}

const HEAD_LABEL = utf8('curbside-audit-tree-head-v1\u0000');

/** The bytes a tree head's signature covers: "curbside-audit-tree-head-v1" ‖ 0x00 ‖ size (u64 BE) ‖ timestamp_ms (i64 BE) ‖ root. */
export function treeHeadMessage(size: number, timestampMs: number, root: Hash): Uint8Array {
  return concat(HEAD_LABEL, u64(BigInt(size)), u64(BigInt.asUintN(64, BigInt(timestampMs))), root);
}

/** Whether the head is signed by `logKey` (Ed25519, strict as the crypto core verifies). */
export function treeHeadSignedBy(head: SignedTreeHead, logKey: Uint8Array): boolean {
  try {
    ed25519Verify(logKey, treeHeadMessage(head.size, head.timestamp_ms, head.root), head.signature);
    return true;
  } catch {
    return false;
  }
}

function safe(v: Json | undefined, kind: Kind, field: string): number {
  const n = int(v, kind, field);
  if (!Number.isSafeInteger(n.value)) throw new JsonError(`\`${field}\`: ${n.text} is too large to check here`);
  return n.value;
}

function bytes64(v: Json | undefined, field: string): Uint8Array {
  try {
    return fromBase64(str(v, field), field);
  } catch (e) {
    throw new JsonError(`\`${field}\`: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Decodes a signed tree head `{"size","timestamp_ms","root","signature"}`. */
export function decodeTreeHead(v: Json | undefined): SignedTreeHead {
  const o = object(v, 'tree_head', ['size', 'timestamp_ms', 'root', 'signature']);
  return {
    size: safe(o.get('size'), 'u64', 'size'),
    timestamp_ms: safe(o.get('timestamp_ms'), 'i64', 'timestamp_ms'),
    root: hexHash(o.get('root'), 'root'),
    signature: bytes64(o.get('signature'), 'signature'),
  };
}

/** Decodes `{"tree_head": {…}, "log_key": "<base64>"}` (text or a parsed value). */
export function decodeTreeHeadResponse(v: Json | string): TreeHeadResponse {
  const j = typeof v === 'string' ? parseJson(v) : v;
  if (!(j instanceof Map)) throw new JsonError('a signed tree head: expected an object');
  return { tree_head: decodeTreeHead(j.get('tree_head')), log_key: bytes64(j.get('log_key'), 'log_key') };
}

/** A tree head as JSON (the server's form: root hex, signature base64). */
export function treeHeadJson(h: SignedTreeHead): { size: number; timestamp_ms: number; root: string; signature: string } {
  return { size: h.size, timestamp_ms: h.timestamp_ms, root: toHex(h.root), signature: toBase64(h.signature) };
}

/** Decodes a list of hex proof hashes. */
export function decodeProof(v: Json | undefined, field = 'proof'): Hash[] {
  return array(v, field).map((h) => hexHash(h, field));
}
