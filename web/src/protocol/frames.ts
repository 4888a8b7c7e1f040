/**
 * The WebSocket frames of PROTOCOL.md, "Connection and authentication" and
 * "Frames after authentication" (`protocol/src/frames.rs`): JSON text, one
 * object per message, binary fields base64. Server frames are checked on
 * the way in, so the client never acts on a field of the wrong type.
 */

import { ProtocolError } from './errors.js';

/** A device: `user_id` and `device_id`. */
export interface Address {
  readonly user_id: string;
  readonly device_id: number;
}

export type MessageKind = 'message' | 'referral' | 'receipt' | 'control';

/** A message's priority (PROTOCOL.md, "Priority, acknowledgement and escalation"): envelope metadata the server sees. */
export type MessagePriority = 'routine' | 'urgent' | 'stat';
export const PRIORITIES: readonly MessagePriority[] = ['routine', 'urgent', 'stat'];

/** An urgent or stat message's escalation: the backup's copies, held by the server until `after_secs` pass unacknowledged. */
export interface EscalationJson {
  readonly after_secs: number;
  readonly backup: string;
  readonly recipients: EnvelopeJson[];
}

/** `GET /v1/policy` and `policy_changed`: the organisation's policy. */
export interface PolicyJson {
  /** The maximum message lifespan (s); `null`: no limit. */
  readonly retention_secs: number | null;
  readonly recall_window_secs: number;
  readonly changed_at: number | null;
}

export interface OneTimePrekeyJson {
  readonly id: number;
  readonly public_key: string;
}

export interface EnvelopeJson {
  readonly user_id: string;
  readonly device_id: number;
  readonly ciphertext: string;
}

export interface DeviceBundleJson {
  readonly device_id: number;
  readonly identity_key: string;
  readonly signed_prekey: string;
  readonly one_time_prekey: OneTimePrekeyJson | null;
}

export interface DirectoryEntry {
  readonly user_id: string;
  readonly display_name: string;
  readonly specialty: string;
  readonly npi: string;
}

/** Frames a client sends. `id` is filled in by the connection for requests. */
export type ClientFrame =
  | { type: 'auth'; version: number; user_id: string; device_id: number; signature: string }
  | { type: 'publish_prekeys'; id: string; signed_prekey: string | null; one_time_prekeys: OneTimePrekeyJson[] }
  | { type: 'fetch_bundles'; id: string; user_id: string }
  | {
      type: 'send';
      id: string;
      message_id: string;
      kind: MessageKind;
      recipients: EnvelopeJson[];
      /** Omitted for routine. */
      priority?: MessagePriority;
      escalation?: EscalationJson;
      /** Sent to an on-call role: the recipients are its holders now (else `holders_changed`). */
      role?: string;
      /** A curbside consult's question or answer (the server checks who it goes to). */
      consult?: string;
    }
  | { type: 'acknowledge'; id: string; sender: string; message_id: string }
  | { type: 'recall'; id: string; message_id: string }
  | { type: 'ack'; delivery_ids: number[]; receipt_ids: number[] }
  | { type: 'directory_search'; id: string; name: string | null; specialty: string | null }
  | { type: 'ping'; id: string };

/** A request frame without its id. */
export type RequestFrame = DistributiveOmit<Extract<ClientFrame, { id: string }>, 'id'>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Frames a server sends. */
export type ServerFrame =
  | {
      type: 'hello';
      versions: number[];
      challenge: string;
      server_name: string;
      max_frame_bytes: number;
      auth_deadline_ms: number;
    }
  | { type: 'auth_ok'; version: number; user_id: string; device_id: number; one_time_prekeys: number }
  | { type: 'prekeys_published'; id: string; one_time_prekeys: number }
  | { type: 'bundles'; id: string; user_id: string; devices: DeviceBundleJson[] }
  | { type: 'accepted'; id: string; message_id: string; duplicate: boolean; accepted_at: number }
  | {
      type: 'deliver';
      delivery_id: number;
      message_id: string;
      kind: MessageKind;
      sender: Address;
      ciphertext: string;
      sent_at: number;
      /** `routine` when the server omitted it. */
      priority: MessagePriority;
      /** An escalation copy, released because nobody acknowledged the message in time. */
      escalated: boolean;
    }
  | { type: 'delivered'; receipt_id: number; message_id: string; recipient: Address; delivered_at: number }
  | { type: 'prekeys_low'; remaining: number }
  | { type: 'referral_updated'; referral: Record<string, unknown> }
  | { type: 'directory_results'; id: string; clinicians: DirectoryEntry[] }
  | {
      type: 'acknowledged';
      id: string;
      sender: string;
      message_id: string;
      acknowledged_at: number;
      first: boolean;
      /** The message's other recipients, and its backup once the escalation was released: they are told too, and stop alerting (`[]` when the server omitted it). */
      also: string[];
    }
  | { type: 'recalled'; id: string; message_id: string; undelivered: number }
  | { type: 'policy_changed'; policy: PolicyJson }
  /** A hand-off of an on-call role this device's user held or now holds: the role as `GET /v1/oncall` gives it (checked by `../client/oncall.ts`). */
  | { type: 'oncall_changed'; role: Record<string, unknown> }
  | { type: 'pong'; id: string }
  | { type: 'error'; id?: string; code: string; message: string; details?: unknown };

type Json = Record<string, unknown>;

function obj(v: unknown, what: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ProtocolError(`${what}: not an object`);
  return v as Json;
}
function str(o: Json, k: string): string {
  const v = o[k];
  if (typeof v !== 'string') throw new ProtocolError(`${String(o['type'] ?? '')}.${k}: not a string`);
  return v;
}
function int(o: Json, k: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new ProtocolError(`${String(o['type'] ?? '')}.${k}: not an integer`);
  return v;
}
function bool(o: Json, k: string): boolean {
  const v = o[k];
  if (typeof v !== 'boolean') throw new ProtocolError(`${String(o['type'] ?? '')}.${k}: not a boolean`);
  return v;
}
function arr(o: Json, k: string): unknown[] {
  const v = o[k];
  if (!Array.isArray(v)) throw new ProtocolError(`${String(o['type'] ?? '')}.${k}: not an array`);
  return v;
}
function address(v: unknown): Address {
  const o = obj(v, 'address');
  return { user_id: str(o, 'user_id'), device_id: int(o, 'device_id') };
}
const KINDS: readonly string[] = ['message', 'referral', 'receipt', 'control'];
function kind(o: Json): MessageKind {
  const k = str(o, 'kind');
  if (!KINDS.includes(k)) throw new ProtocolError(`unknown message kind ${JSON.stringify(k)}`);
  return k as MessageKind;
}

/** Parses and checks one server frame. An unknown `type` is a {@link ProtocolError}. */
export function parseServerFrame(text: string): ServerFrame {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ProtocolError('the server sent a frame that is not JSON');
  }
  const o = obj(raw, 'frame');
  const type = str(o, 'type');
  switch (type) {
    case 'hello':
      return {
        type,
        versions: arr(o, 'versions').map((v) => {
          if (typeof v !== 'number') throw new ProtocolError('hello.versions: not numbers');
          return v;
        }),
        challenge: str(o, 'challenge'),
        server_name: str(o, 'server_name'),
        max_frame_bytes: int(o, 'max_frame_bytes'),
        auth_deadline_ms: int(o, 'auth_deadline_ms'),
      };
    case 'auth_ok':
      return {
        type,
        version: int(o, 'version'),
        user_id: str(o, 'user_id'),
        device_id: int(o, 'device_id'),
        one_time_prekeys: int(o, 'one_time_prekeys'),
      };
    case 'prekeys_published':
      return { type, id: str(o, 'id'), one_time_prekeys: int(o, 'one_time_prekeys') };
    case 'bundles':
      return {
        type,
        id: str(o, 'id'),
        user_id: str(o, 'user_id'),
        devices: arr(o, 'devices').map((d) => {
          const b = obj(d, 'bundle');
          const otk = b['one_time_prekey'];
          let one_time_prekey: OneTimePrekeyJson | null = null;
          if (otk !== null && otk !== undefined) {
            const k = obj(otk, 'one_time_prekey');
            one_time_prekey = { id: int(k, 'id'), public_key: str(k, 'public_key') };
          }
          return {
            device_id: int(b, 'device_id'),
            identity_key: str(b, 'identity_key'),
            signed_prekey: str(b, 'signed_prekey'),
            one_time_prekey,
          };
        }),
      };
    case 'accepted':
      return {
        type,
        id: str(o, 'id'),
        message_id: str(o, 'message_id'),
        duplicate: bool(o, 'duplicate'),
        accepted_at: int(o, 'accepted_at'),
      };
    case 'deliver':
      return {
        type,
        delivery_id: int(o, 'delivery_id'),
        message_id: str(o, 'message_id'),
        kind: kind(o),
        sender: address(o['sender']),
        ciphertext: str(o, 'ciphertext'),
        sent_at: int(o, 'sent_at'),
        priority: priority(o),
        escalated: o['escalated'] === undefined || o['escalated'] === null ? false : bool(o, 'escalated'),
      };
    case 'delivered':
      return {
        type,
        receipt_id: int(o, 'receipt_id'),
        message_id: str(o, 'message_id'),
        recipient: address(o['recipient']),
        delivered_at: int(o, 'delivered_at'),
      };
    case 'prekeys_low':
      return { type, remaining: int(o, 'remaining') };
    case 'referral_updated':
      return { type, referral: obj(o['referral'], 'referral') };
    case 'directory_results':
      return { type, id: str(o, 'id'), clinicians: arr(o, 'clinicians').map(directoryEntry) };
    case 'acknowledged':
      return {
        type,
        id: str(o, 'id'),
        sender: str(o, 'sender'),
        message_id: str(o, 'message_id'),
        acknowledged_at: int(o, 'acknowledged_at'),
        first: bool(o, 'first'),
        also: o['also'] === undefined || o['also'] === null ? [] : arr(o, 'also').map((u) => str({ type, also: u }, 'also')),
      };
    case 'recalled':
      return { type, id: str(o, 'id'), message_id: str(o, 'message_id'), undelivered: int(o, 'undelivered') };
    case 'policy_changed':
      return { type, policy: parsePolicy(o['policy']) };
    case 'oncall_changed':
      return { type, role: obj(o['role'], 'oncall_changed.role') };
    case 'pong':
      return { type, id: str(o, 'id') };
    case 'error': {
      const id = o['id'];
      const frame: ServerFrame = { type, code: str(o, 'code'), message: str(o, 'message') };
      if (typeof id === 'string') frame.id = id;
      if (o['details'] !== undefined && o['details'] !== null) frame.details = o['details'];
      return frame;
    }
    default:
      throw new ProtocolError(`unknown server frame type ${JSON.stringify(type)}`);
  }
}

function priority(o: Json): MessagePriority {
  const p = o['priority'];
  if (p === undefined || p === null) return 'routine';
  if (typeof p !== 'string' || !(PRIORITIES as readonly string[]).includes(p)) throw new ProtocolError(`unknown priority ${JSON.stringify(p)}`);
  return p as MessagePriority;
}

/** Checks a policy (`GET /v1/policy`, `policy_changed`). */
export function parsePolicy(v: unknown): PolicyJson {
  const p = obj(v, 'policy');
  const optInt = (k: string): number | null => (p[k] === null || p[k] === undefined ? null : int(p, k));
  return { retention_secs: optInt('retention_secs'), recall_window_secs: int(p, 'recall_window_secs'), changed_at: optInt('changed_at') };
}

/** Checks one directory entry (WebSocket or HTTP). */
export function directoryEntry(v: unknown): DirectoryEntry {
  const e = obj(v, 'directory entry');
  return {
    user_id: str(e, 'user_id'),
    display_name: str(e, 'display_name'),
    specialty: str(e, 'specialty'),
    npi: str(e, 'npi'),
  };
}

/** The `details` of a `stale_devices` error: what to add and what to drop. */
export function staleDevices(details: unknown): { missing: Address[]; extra: Address[] } | undefined {
  if (typeof details !== 'object' || details === null) return undefined;
  const d = details as Json;
  if (d['kind'] !== 'stale_devices') return undefined;
  return { missing: arr(d, 'missing').map(address), extra: arr(d, 'extra').map(address) };
}

/** `details.retry_after_ms` of a `rate_limited` error, if any. */
export function retryAfterMs(details: unknown): number | undefined {
  if (typeof details !== 'object' || details === null) return undefined;
  const v = (details as Json)['retry_after_ms'];
  return typeof v === 'number' ? v : undefined;
}

/** Ids the server accepts: 1–64 of `A–Z a–z 0–9 - _`. */
export function isValidId(id: string): boolean {
  return /^[A-Za-z0-9_-]{1,64}$/.test(id);
}
