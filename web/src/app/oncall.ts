/**
 * On-call roles in the application (PROTOCOL.md, "On-call roles"): pure
 * functions, no I/O; `./oncall-session.ts` reads the roles and sends.
 *
 * A message to a role goes to whoever holds it at send time, and is kept
 * in each holder's conversation tagged with the role (`StoredMessage.oncall`).
 * The role's own thread (key `oncall:<role id>`) is derived: our messages to
 * the role and, in each holder's conversation, the holder's messages after
 * one of ours to the role (until we write to them directly again), each
 * named by its sender: who answered. A hand-off changes who the next
 * message goes to; the thread keeps both.
 */

import type { OnCallRoleJson } from '../client/oncall.js';
import type { AppState, StoredMessage } from './state.js';
import { messageViews, personView, type MessageView } from './views.js';

const PREFIX = 'oncall:';

export function roleKey(roleId: string): string {
  return `${PREFIX}${roleId}`;
}

/** Whether a conversation key is an on-call role's thread. */
export function isRoleKey(key: string | undefined): key is string {
  return key !== undefined && key.startsWith(PREFIX);
}

export function roleIdOf(key: string): string {
  return key.slice(PREFIX.length);
}

/** A shift as the views show it. */
export interface ShiftView {
  readonly name: string;
  readonly startsAt: number;
  readonly endsAt: number;
  readonly now: boolean;
}

/** A role as the views show it (names, never ids). */
export interface RoleView {
  /** The role's thread key (`oncall:…`). */
  readonly key: string;
  readonly roleId: string;
  readonly name: string;
  readonly specialty: string;
  /** The holders now, by name. */
  readonly holders: readonly { readonly key: string; readonly name: string }[];
  /** "now: Dr. Carol Chen (until 19:00)", or "nobody holds it now". */
  readonly holdersWords: string;
  /** The current and coming shifts, earliest first. */
  readonly shifts: readonly ShiftView[];
  /** Whether this user holds it now (and so may hand it off). */
  readonly mine: boolean;
}

/** "19:00", or "Tue 3 Dec 19:00" if not today. */
export function shortTime(ms: number, now: number): string {
  const d = new Date(ms);
  const time = d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  return new Date(now).toDateString() === d.toDateString() ? time : `${d.toLocaleDateString(undefined, { weekday: 'short', day: 'numeric', month: 'short' })} ${time}`;
}

export function roleView(role: OnCallRoleJson, me: string, now: number): RoleView {
  const holders = role.holders.map((h) => ({ key: h.user_id, name: h.display_name }));
  const words =
    holders.length === 0
      ? 'nobody holds it now'
      : `now: ${holders
          .map((h) => {
            const until = Math.max(...role.shifts.filter((s) => s.user_id === h.key && s.starts_at <= now && s.ends_at > now).map((s) => s.ends_at), -Infinity);
            return Number.isFinite(until) ? `${h.name} (until ${shortTime(until, now)})` : h.name;
          })
          .join(', ')}`;
  return {
    key: roleKey(role.role_id),
    roleId: role.role_id,
    name: role.name,
    specialty: role.specialty ?? '',
    holders,
    holdersWords: words,
    shifts: [...role.shifts]
      .sort((a, b) => a.starts_at - b.starts_at)
      .map((s) => ({ name: s.display_name, startsAt: s.starts_at, endsAt: s.ends_at, now: s.starts_at <= now && s.ends_at > now })),
    mine: holders.some((h) => h.key === me),
  };
}

/** The roles whose name or specialty contains the words typed (any case). */
export function matchingRoles<R extends { name: string; specialty: string | null }>(roles: readonly R[], query: string): R[] {
  const q = query.trim().toLowerCase();
  if (q === '') return [];
  return roles.filter((r) => r.name.toLowerCase().includes(q) || (r.specialty ?? '').toLowerCase().includes(q));
}

/** A message of a role's thread: to whom ours went, or that a holder answered. */
export interface RoleMessageView extends MessageView {
  /** "To Dr. Carol Chen (on call)", or "Answered as On-call dermatology". */
  readonly note: string;
}

/** The messages of a role's thread, in time order. */
export function roleThread(state: AppState, roleId: string, now = Date.now()): RoleMessageView[] {
  const me = state.me.userId;
  const out = new Map<string, RoleMessageView>();
  const nameOf = (u: string): string => personView(state, u).name;
  for (const c of Object.values(state.conversations)) {
    const picked: StoredMessage[] = [];
    let inRole = false;
    for (const m of c.messages) {
      if (m.from === me) inRole = m.oncall?.role === roleId;
      if (inRole) picked.push(m);
    }
    if (picked.length === 0) continue;
    const views = messageViews(state, { ...c, messages: picked }, now);
    picked.forEach((m, i) => {
      const v = views[i] as MessageView;
      if (out.has(v.key)) return; // ours, kept in each holder's conversation
      const note = m.from === me ? `To ${(m.oncall?.to ?? [c.peer]).map(nameOf).join(' and ')}, on call` : `${v.sender} answered`;
      out.set(v.key, { ...v, note });
    });
  }
  return [...out.values()].sort((a, b) => a.at - b.at);
}

/** The roles this user wrote to (ids and names, from the tagged messages), for the conversation list. */
export function roleThreads(state: AppState): { roleId: string; name: string; lastAt: number; preview: string; unread: number }[] {
  const found = new Map<string, { roleId: string; name: string; lastAt: number; preview: string; unread: number }>();
  for (const c of Object.values(state.conversations)) {
    for (const m of c.messages) {
      if (m.oncall === undefined || m.from !== state.me.userId) continue;
      if (!found.has(m.oncall.role)) found.set(m.oncall.role, { roleId: m.oncall.role, name: m.oncall.name, lastAt: m.at, preview: '', unread: 0 });
    }
  }
  for (const t of found.values()) {
    const thread = roleThread(state, t.roleId);
    const last = thread[thread.length - 1];
    if (last !== undefined) {
      t.lastAt = last.at;
      t.preview = last.body.type === 'text' ? `${last.mine ? 'You' : last.sender}: ${last.body.text}` : last.body.type === 'file' ? `File: ${last.body.name}` : last.body.text;
    }
    t.unread = thread.filter((m) => !m.mine && m.status === 'received' && !readIn(state, m.key)).length;
  }
  return [...found.values()];
}

function readIn(state: AppState, key: string): boolean {
  for (const c of Object.values(state.conversations)) {
    const m = c.messages.find((x) => `${x.from}:${x.id}` === key);
    if (m !== undefined) return m.readSent === true;
  }
  return false;
}

/**
 * Stores our message to a role: one copy in each holder's conversation
 * (the same id), tagged with the role; copies already stored under this id
 * (an earlier attempt, to holders who no longer hold it) are moved.
 */
export function storeRoleMessage(state: AppState, m: StoredMessage, role: { role: string; name: string }, holders: readonly string[]): StoredMessage[] {
  const me = state.me.userId;
  for (const c of Object.values(state.conversations)) c.messages = c.messages.filter((x) => !(x.from === me && x.id === m.id));
  const copies: StoredMessage[] = [];
  for (const h of holders) {
    const c = (state.conversations[h] ??= { peer: h, messages: [], unread: 0, timer: null, timerSince: null, verifiedKeys: null });
    const copy: StoredMessage = { ...m, oncall: { role: role.role, name: role.name, to: [...holders] } };
    let i = c.messages.length;
    while (i > 0 && (c.messages[i - 1] as StoredMessage).at > copy.at) i--;
    c.messages.splice(i, 0, copy);
    copies.push(copy);
  }
  return copies;
}

/** Our copies of a message to a role (in each holder's conversation). */
export function roleCopies(state: AppState, id: string): StoredMessage[] {
  const me = state.me.userId;
  const out: StoredMessage[] = [];
  for (const c of Object.values(state.conversations)) for (const m of c.messages) if (m.from === me && m.id === id && m.oncall !== undefined) out.push(m);
  return out;
}
