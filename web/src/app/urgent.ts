/**
 * Urgent messages, recall and the retention policy in the application
 * state (PROTOCOL.md, "Priority, acknowledgement and escalation",
 * "`recall` → `recalled`", "Retention policy"): pure functions over
 * {@link AppState}, no I/O. `./urgent-session.ts` drives them from the
 * connection.
 *
 * - An urgent or stat message is *open* until it is acknowledged: by this
 *   user (here or on another of our devices), or, for the sender, by a
 *   colleague (their `acknowledge` content). Open received messages keep
 *   alerting ({@link alerting}, {@link ALERT_INTERVAL_MS}).
 * - A recall replaces the copy by a placeholder: the content and any
 *   attachment reference are deleted; the id is remembered so that a copy
 *   arriving after its recall is dropped.
 * - Retention deletes every message older than the policy's lifespan.
 */

import type { PolicyJson } from '../protocol/frames.js';
import { durationWords, type AppState, type PolicyState, type StoredMessage, type Urgency } from './state.js';

/** How often an open urgent or stat message alerts again (ms). */
export const ALERT_INTERVAL_MS = 60_000;
/** The recall window the server answers with unless it says otherwise (PROTOCOL.md's default). */
export const DEFAULT_RECALL_WINDOW_SECS = 3600;
/** Recalled ids remembered. */
const RECALLED_KEPT = 2000;

export function policyFromJSON(p: PolicyJson): PolicyState {
  return { retentionSecs: p.retention_secs, recallWindowSecs: p.recall_window_secs, changedAt: p.changed_at };
}

/** The policy in words, for the conversation header and the settings. */
export function policyWords(policy: PolicyState | undefined): string {
  if (policy === undefined) return '';
  return policy.retentionSecs === null
    ? 'Your organisation keeps no limit on how long messages are kept.'
    : `Messages are deleted after ${durationWords(policy.retentionSecs)} (your organisation's policy).`;
}

/** Why a conversation timer is refused (longer than the retention), in words; `undefined` if allowed. */
export function timerRefusal(policy: PolicyState | undefined, seconds: number | null): string | undefined {
  const limit = policy?.retentionSecs ?? null;
  if (limit === null || seconds === null || seconds <= limit) return undefined;
  return `Messages cannot be kept for ${durationWords(seconds)}: your organisation deletes messages after ${durationWords(limit)}. Choose a shorter timer (or none: the organisation's limit applies).`;
}

function* everyMessage(state: AppState): Generator<[string, StoredMessage]> {
  for (const c of Object.values(state.conversations)) for (const m of c.messages) yield [c.peer, m];
}

/** Whether an urgent or stat message still asks to be acknowledged. */
export function isOpen(m: StoredMessage): boolean {
  return m.priority !== undefined && m.ack === undefined && m.body.type !== 'recalled' && m.status !== 'failed';
}

/**
 * Whether an `acknowledge` content from `from` concerns `m` (its sender
 * `m.from`): from our own other device, a colleague's message we
 * acknowledged there; from a colleague, our message they acknowledged, or
 * a colleague's message we hold too (we are another of its recipients, or
 * its backup once it escalated): they took it, so we stop alerting. A
 * sender does not acknowledge their own message.
 */
export function acknowledgedBy(me: string, from: string, m: { readonly from: string }): boolean {
  if (from === me) return m.from !== me;
  return m.from !== from;
}

/**
 * Records an acknowledgement by `by` at `at` on an urgent or stat message:
 * the first known is kept (our own one waiting for the connection gives
 * way to one the server or a colleague already made). Whether it changed.
 */
export function noteAck(m: { priority?: unknown; ack?: StoredMessage['ack'] }, by: string, at: number): boolean {
  if (m.priority === undefined) return false;
  if (m.ack !== undefined && m.ack.pending !== true && m.ack.at <= at) return false;
  m.ack = { by, at };
  return true;
}

/**
 * An `acknowledge` content from `from` ({@link acknowledgedBy}): ours they
 * acknowledged, theirs we acknowledged on another device, or a
 * colleague's that someone else took. Whether anything changed.
 */
export function applyAcknowledge(state: AppState, from: string, ids: readonly string[], at: number): boolean {
  const me = state.me.userId;
  const wanted = new Set(ids);
  let changed = false;
  for (const [, m] of everyMessage(state)) {
    if (!wanted.has(m.id) || m.body.type === 'recalled' || !acknowledgedBy(me, from, m)) continue;
    changed = noteAck(m, from, at) || changed;
  }
  return changed;
}

/** Whether `sender`'s message `id` was recalled (a late copy is dropped). */
export function wasRecalled(state: AppState, sender: string, id: string): boolean {
  return (state.recalled ?? []).includes(`${sender}:${id}`);
}

/**
 * A recall by `sender` (a colleague, or us from another device, or this
 * one): each copy's content and attachment reference are deleted and a
 * placeholder kept. The message keys (`from:id`) whose copy was deleted.
 */
export function applyRecall(state: AppState, sender: string, ids: readonly string[]): string[] {
  const wanted = new Set(ids);
  const deleted: string[] = [];
  const me = state.me.userId;
  for (const c of Object.values(state.conversations)) {
    for (const m of c.messages) {
      if (m.from !== sender || !wanted.has(m.id) || m.body.type === 'recalled') continue;
      m.body = { type: 'recalled' };
      delete m.ack;
      deleted.push(`${m.from}:${m.id}`);
    }
    c.unread = c.messages.filter((m) => m.from !== me && m.status === 'received' && m.readSent !== true && m.body.type !== 'timer' && m.body.type !== 'recalled').length;
  }
  const kept = (state.recalled ??= []);
  for (const id of ids) if (!kept.includes(`${sender}:${id}`)) kept.push(`${sender}:${id}`);
  if (kept.length > RECALLED_KEPT) kept.splice(0, kept.length - RECALLED_KEPT);
  return deleted;
}

/** Deletes every message older than the retention (and so its attachment reference); the deleted keys (`from:id`). */
export function purgeRetention(state: AppState, now: number): string[] {
  const limit = state.policy?.retentionSecs ?? null;
  if (limit === null) return [];
  const cutoff = now - limit * 1000;
  const deleted: string[] = [];
  for (const c of Object.values(state.conversations)) {
    const kept = c.messages.filter((m) => m.at > cutoff);
    if (kept.length === c.messages.length) continue;
    for (const m of c.messages) if (m.at <= cutoff) deleted.push(`${m.from}:${m.id}`);
    c.messages = kept;
    c.unread = Math.min(c.unread, kept.filter((m) => m.from !== state.me.userId).length);
  }
  return deleted;
}

/** Received urgent and stat messages not yet acknowledged (the most urgent first, then the oldest). */
export function alerting(state: AppState): { peer: string; message: StoredMessage }[] {
  const me = state.me.userId;
  const out: { peer: string; message: StoredMessage }[] = [];
  for (const [peer, m] of everyMessage(state)) if (m.from !== me && isOpen(m)) out.push({ peer, message: m });
  return out.sort((a, b) => (a.message.priority === b.message.priority ? a.message.at - b.message.at : a.message.priority === 'stat' ? -1 : 1));
}

/** A received urgent or stat message waiting for this user's acknowledgement, wherever it is (a colleague's conversation or a care team's). */
export interface OpenAlert {
  /** The conversation's key (a colleague's user id, or a team's `team:…`). */
  readonly peer: string;
  readonly from: string;
  readonly priority: Urgency;
  readonly at: number;
  /** A team's name, for "in Ward 4 consults". */
  readonly where?: string;
}

/** Every open alert: the colleagues' conversations' and `more` (the teams'), the most urgent first, then the oldest. */
export function openAlerts(state: AppState, more: readonly OpenAlert[] = []): OpenAlert[] {
  const own = alerting(state).map(({ peer, message: m }): OpenAlert => ({ peer, from: m.from, priority: m.priority as Urgency, at: m.at }));
  return [...own, ...more].sort((a, b) => (a.priority === b.priority ? a.at - b.at : a.priority === 'stat' ? -1 : 1));
}

/** Our acknowledgements not yet told to the server. */
export function pendingAcks(state: AppState): { peer: string; message: StoredMessage }[] {
  const out: { peer: string; message: StoredMessage }[] = [];
  for (const [peer, m] of everyMessage(state)) if (m.ack?.pending === true && m.body.type !== 'recalled') out.push({ peer, message: m });
  return out;
}

/** Whether our message may still be recalled, as far as this device knows (the server's answer is the truth). */
export function recallable(m: StoredMessage, me: string, policy: PolicyState | undefined, now: number): boolean {
  if (m.from !== me || m.status === 'queued' || m.status === 'failed') return false;
  if (m.body.type !== 'text' && m.body.type !== 'attachment') return false;
  const allowed = (policy?.recallWindowSecs ?? DEFAULT_RECALL_WINDOW_SECS) * 1000;
  return now - (m.acceptedAt ?? m.at) < allowed;
}
