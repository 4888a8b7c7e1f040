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
import { durationWords, type AppState, type PolicyState, type StoredMessage } from './state.js';

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
 * An `acknowledge` content from `from`: our messages they acknowledged,
 * or (from our own other device) theirs we acknowledged there. The first
 * acknowledgement is kept. Whether anything changed.
 */
export function applyAcknowledge(state: AppState, from: string, ids: readonly string[], at: number): boolean {
  const me = state.me.userId;
  const wanted = new Set(ids);
  let changed = false;
  for (const [, m] of everyMessage(state)) {
    if (!wanted.has(m.id) || m.priority === undefined) continue;
    const ours = m.from === me;
    if (from === me ? ours : !ours) continue; // our device acknowledges theirs; a colleague acknowledges ours
    if (m.ack !== undefined && m.ack.pending !== true && m.ack.at <= at) continue;
    m.ack = { by: from, at };
    changed = true;
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
