/**
 * The application's own state, kept in the sealed `state` record beside the
 * account and the client's outbox: the user's details, the people met (the
 * directory's names), the conversations by colleague user id with their
 * messages, statuses, unread counts, disappearing-message timers (as the
 * CLI's `LocalState`: from the timer message's time on, counted from each
 * message's server time) and pinned identity keys, and the settings.
 * Pure data and functions: no I/O.
 */

import type { AttachmentRef } from '../client/content.js';
import type { ReferralInboxJSON } from '../client/referrals/index.js';
import type { ConsultsState } from './consults.js';
import type { HeldRole } from './oncall-notices.js';
import type { TeamStateJSON } from './teams.js';

/** A message's status: ours go queued → sent → delivered → read; theirs are received. */
export type Status = 'queued' | 'sent' | 'delivered' | 'read' | 'failed' | 'received';

const RANK: Record<Status, number> = { failed: -1, queued: 0, sent: 1, delivered: 2, read: 3, received: 0 };

export type Body =
  | { type: 'text'; text: string }
  | { type: 'attachment'; file: AttachmentRef }
  | { type: 'timer'; seconds: number | null }
  | { type: 'undecryptable' }
  /** Recalled by its sender: the content and any attachment reference are gone (`./urgent.ts`). */
  | { type: 'recalled' };

/** Urgent or stat (routine messages have no `priority`). */
export type Urgency = 'urgent' | 'stat';

export interface StoredMessage {
  id: string;
  /** The sender's user id. */
  from: string;
  /** The server's acceptance time (ms); for ours, when it was sent from here. */
  at: number;
  body: Body;
  status: Status;
  /** Theirs: a read receipt was sent. */
  readSent?: boolean;
  /** Ours, refused: why, in words. */
  error?: string;
  /** Urgent or stat (`./urgent.ts`): asks to be acknowledged, alerting until it is. */
  priority?: Urgency;
  /** Theirs: an escalation copy (this user is the sender's backup), and how long after it was sent it came (s). */
  escalated?: { afterSecs: number };
  /** Ours: the backup who gets it if nobody acknowledges within `afterSecs` of `acceptedAt`. */
  escalation?: { afterSecs: number; backup: string };
  /** Ours: when the server accepted it (the recall window and the escalation deadline count from it). */
  acceptedAt?: number;
  /** Acknowledged: by whom (a user id) and when; `pending` while our acknowledgement waits for the connection. */
  ack?: { by: string; at: number; pending?: boolean };
  /** Ours, sent to an on-call role (`./oncall.ts`): the role, its name, and the holders it went to. */
  oncall?: { role: string; name: string; to: string[] };
  /** Theirs, written to an on-call role this user held (the content's role tag): the role and its name as the sender wrote it. */
  toRole?: { role: string; name: string };
}

/** The organisation's policy (`GET /v1/policy`), as last read. */
export interface PolicyState {
  retentionSecs: number | null;
  recallWindowSecs: number;
  changedAt: number | null;
}

export interface Conversation {
  peer: string;
  messages: StoredMessage[];
  unread: number;
  /** Disappearing messages: seconds, and since when (ms). */
  timer: number | null;
  timerSince: number | null;
  /** The fingerprint of the colleague's identity keys when their safety number was confirmed. */
  verifiedKeys: string | null;
}

export interface Person {
  name: string;
  specialty: string;
  npi: string;
  /** Whether the directory knows them (an administrator or an unverified account is not listed). */
  listed: boolean;
}

export interface AppState {
  version: 1;
  me: { userId: string; name: string; npi: string; specialty: string; roles?: string[] | undefined };
  people: Record<string, Person>;
  conversations: Record<string, Conversation>;
  settings: { idleLockMinutes: number };
  /** The referral inbox (`src/app/referrals.ts`). */
  referrals?: ReferralInboxJSON | undefined;
  /** Care teams (`src/app/teams.ts`): the library's teams and conversations, and the application's records. */
  teams?: TeamStateJSON | undefined;
  /** The compliance officer's audit witness (`./compliance.ts`): the pinned log key and the last verified tree head, in the CLI's audit-witness.json form. */
  auditWitness?: unknown;
  /** The policy in effect, as last read from the server. */
  policy?: PolicyState | undefined;
  /** Recalled messages (`sender:id`, the latest kept): one that arrives after its recall is dropped. */
  recalled?: string[] | undefined;
  /** Curbside consults asked or received, and this user's opt-in (`./consults.ts`). */
  consults?: ConsultsState | undefined;
  /** The on-call roles this user held at the last connection (`./oncall-notices.ts`: a hand-off since is told at the next). */
  oncallHeld?: HeldRole[] | undefined;
}

export const DEFAULT_IDLE_LOCK_MINUTES = 5;

export function newState(me: AppState['me']): AppState {
  return { version: 1, me, people: {}, conversations: {}, settings: { idleLockMinutes: DEFAULT_IDLE_LOCK_MINUTES } };
}

/** Reads the sealed record's JSON (checked loosely: it was sealed by this application). */
export function stateFromJSON(json: unknown): AppState {
  const s = json as Partial<AppState> | null;
  if (s === null || typeof s !== 'object' || s.version !== 1 || s.me === undefined) throw new Error('the local state is not readable');
  return {
    version: 1,
    me: s.me,
    people: s.people ?? {},
    conversations: s.conversations ?? {},
    settings: { idleLockMinutes: s.settings?.idleLockMinutes ?? DEFAULT_IDLE_LOCK_MINUTES },
    ...(s.referrals !== undefined ? { referrals: s.referrals } : {}),
    ...(s.teams !== undefined ? { teams: s.teams } : {}),
    ...(s.auditWitness !== undefined ? { auditWitness: s.auditWitness } : {}),
    ...(s.policy !== undefined ? { policy: s.policy } : {}),
    ...(s.recalled !== undefined ? { recalled: s.recalled } : {}),
    ...(s.consults !== undefined ? { consults: s.consults } : {}),
    ...(Array.isArray(s.oncallHeld) ? { oncallHeld: s.oncallHeld } : {}),
  };
}

/** The conversation with `peer`, created empty if new. */
export function conversation(state: AppState, peer: string): Conversation {
  let c = state.conversations[peer];
  if (c === undefined) {
    c = { peer, messages: [], unread: 0, timer: null, timerSince: null, verifiedKeys: null };
    state.conversations[peer] = c;
  }
  return c;
}

/** Adds a message unless one with its id and sender is there (a re-delivery); whether it was added. */
export function addMessage(c: Conversation, m: StoredMessage): boolean {
  if (c.messages.some((x) => x.id === m.id && x.from === m.from)) return false;
  // Kept in time order (messages from several devices may arrive out of order).
  let i = c.messages.length;
  while (i > 0 && (c.messages[i - 1] as StoredMessage).at > m.at) i--;
  c.messages.splice(i, 0, m);
  return true;
}

/** Raises (never lowers) the status of our messages with these ids in the conversation; whether any changed. */
export function raiseStatus(c: Conversation, me: string, ids: readonly string[], status: Status): boolean {
  const wanted = new Set(ids);
  let changed = false;
  for (const m of c.messages) {
    if (m.from !== me || !wanted.has(m.id) || m.status === 'failed') continue;
    if (RANK[status] > RANK[m.status]) {
      m.status = status;
      changed = true;
    }
  }
  return changed;
}

/** Sets (from `since` on) or clears the conversation's timer. */
export function setTimer(c: Conversation, seconds: number | null, since: number): void {
  c.timer = seconds;
  c.timerSince = seconds === null ? null : since;
}

/** Deletes the messages sent since the timer was set and older than it; how many. */
export function purgeExpired(state: AppState, now: number): number {
  let purged = 0;
  for (const c of Object.values(state.conversations)) {
    if (c.timer === null) continue;
    const limit = c.timer * 1000;
    const since = c.timerSince ?? Number.MIN_SAFE_INTEGER;
    const before = c.messages.length;
    c.messages = c.messages.filter((m) => m.at < since || now - m.at < limit);
    purged += before - c.messages.length;
  }
  return purged;
}

/** Words for a timer, as the CLI says them (`duration_words`). */
export function durationWords(seconds: number): string {
  const [n, unit] =
    seconds >= 86_400 && seconds % 86_400 === 0
      ? [seconds / 86_400, 'day']
      : seconds >= 3_600 && seconds % 3_600 === 0
        ? [seconds / 3_600, 'hour']
        : seconds >= 60 && seconds % 60 === 0
          ? [seconds / 60, 'minute']
          : [seconds, 'second'];
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}
