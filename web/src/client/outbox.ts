/**
 * The outbox: messages not yet `accepted`, resent under the same message
 * ids after a reconnection (the server stores a message id once and answers
 * `duplicate: true`). It holds plaintext: it is part of the state that is
 * only ever stored sealed.
 */

import { fromBase64, toBase64 } from '../protocol/base64.js';
import type { MessageKind, MessagePriority } from '../protocol/frames.js';

export interface Outgoing {
  readonly messageId: string;
  /** The recipients (user ids); our own other devices are added at send time. */
  readonly to: readonly string[];
  readonly kind: MessageKind;
  readonly plaintext: Uint8Array;
  /** When it was queued (ms since the epoch). */
  readonly queuedAt: number;
  /** Absent: routine. */
  readonly priority?: MessagePriority;
  /** Urgent or stat: the backup who gets the same plaintext (encrypted to their devices at send time) if nobody acknowledges in time. */
  readonly escalation?: { readonly afterSecs: number; readonly backup: string };
  /** An on-call role's id: `to` are its holders as last read (`holders_changed` if they are not). */
  readonly role?: string;
  /** A curbside consult's id (its question or an answer). */
  readonly consult?: string;
}

export interface StoredOutgoing {
  message_id: string;
  to: string[];
  kind: MessageKind;
  plaintext: string;
  queued_at: number;
  priority?: MessagePriority;
  escalation?: { after_secs: number; backup: string };
  role?: string;
  consult?: string;
}

export function outgoingToJSON(o: Outgoing): StoredOutgoing {
  return {
    message_id: o.messageId,
    to: [...o.to],
    kind: o.kind,
    plaintext: toBase64(o.plaintext),
    queued_at: o.queuedAt,
    ...(o.priority !== undefined && o.priority !== 'routine' ? { priority: o.priority } : {}),
    ...(o.escalation !== undefined ? { escalation: { after_secs: o.escalation.afterSecs, backup: o.escalation.backup } } : {}),
    ...(o.role !== undefined ? { role: o.role } : {}),
    ...(o.consult !== undefined ? { consult: o.consult } : {}),
  };
}

export function outgoingFromJSON(s: StoredOutgoing): Outgoing {
  return {
    messageId: s.message_id,
    to: s.to,
    kind: s.kind,
    plaintext: fromBase64(s.plaintext),
    queuedAt: s.queued_at,
    ...(s.priority !== undefined ? { priority: s.priority } : {}),
    ...(s.escalation !== undefined ? { escalation: { afterSecs: s.escalation.after_secs, backup: s.escalation.backup } } : {}),
    ...(s.role !== undefined ? { role: s.role } : {}),
    ...(s.consult !== undefined ? { consult: s.consult } : {}),
  };
}

/** A fresh message id: 16 random bytes as 32 hex digits (as the Rust client). */
export function newMessageId(random: (n: number) => Uint8Array): string {
  let out = '';
  for (const b of random(16)) out += b.toString(16).padStart(2, '0');
  return out;
}
