/**
 * Curbside consults in the application state (PROTOCOL.md, "Curbside
 * consults"): pure functions, no I/O; `./consult-session.ts` asks, answers
 * and closes.
 *
 * The question, the answers and who closed it are end to end encrypted
 * content kept here (the server knows only the consult's metadata, which
 * {@link mergeServer} folds in: status, fan-out, recipients, whether
 * answers are shared). The asker sees how many clinicians were asked, not
 * who, until answers come back (each answer names its author). Once closed
 * (`consult_closed` from the asker, or the server's list) it is no longer
 * open anywhere. A question's images are kept as their references (key,
 * digest: decrypted on demand, `./consult-session.ts`); the organisation's
 * retention removes a consult whose question is older than it, with its
 * files (the server deletes the blobs then too), and answers older than it,
 * as every client does (the CLI and the chat too).
 */

import type { Received } from '../client/client.js';
import type { AttachmentRef } from '../client/content.js';
import type { ConsultJson } from '../client/oncall.js';
import type { AppState } from './state.js';
import { isImage } from './views.js';

export interface ConsultAnswer {
  readonly from: string;
  readonly text: string;
  readonly at: number;
}

export interface ConsultRecord {
  readonly id: string;
  readonly asker: string;
  readonly specialty: string;
  readonly text: string;
  readonly at: number;
  /** How many clinicians were asked (0 until known). */
  fanOut: number;
  shareAnswers: boolean;
  /** Who was asked (the asker's client must know, to encrypt to them; never shown as names). */
  recipients: string[];
  answers: ConsultAnswer[];
  closed: boolean;
  /** The question's files (absent in records kept before consults had images: none). */
  attachments?: AttachmentRef[];
}

export interface ConsultsState {
  /** The specialties this user answers consults for (as last set from here). */
  optedIn: string[];
  items: Record<string, ConsultRecord>;
}

/** Kept: the newest consults (older ones leave the state). */
const KEPT = 200;

export function consultsOf(state: AppState): ConsultsState {
  return (state.consults ??= { optedIn: [], items: {} });
}

/** A consult we asked (the server's answer to `POST /v1/consults`). */
export function recordAsked(state: AppState, c: ConsultJson, text: string, at: number, attachments: readonly AttachmentRef[] = []): ConsultRecord {
  const record: ConsultRecord = { id: c.consult_id, asker: c.asker, specialty: c.specialty, text, at, fanOut: c.fan_out, shareAnswers: c.share_answers, recipients: [...c.recipients], answers: [], closed: false, ...(attachments.length > 0 ? { attachments: [...attachments] } : {}) };
  consultsOf(state).items[c.consult_id] = record;
  trim(state);
  return record;
}

function trim(state: AppState): void {
  const items = consultsOf(state).items;
  const ids = Object.keys(items);
  if (ids.length <= KEPT) return;
  for (const id of ids.sort((a, b) => (items[a] as ConsultRecord).at - (items[b] as ConsultRecord).at).slice(0, ids.length - KEPT)) delete items[id];
}

/** What a received consult content changed: `'question'` (a new question for us), `'answer'`, `'closed'`, or nothing. */
export type ConsultEffect = 'question' | 'answer' | 'closed' | undefined;

/** Applies a received `consult`, `consult_answer` or `consult_closed` (others: nothing). */
export function applyConsult(state: AppState, r: Received): ConsultEffect {
  const c = r.content;
  if (c === undefined) return undefined;
  const me = state.me.userId;
  const from = r.sender.user_id;
  const items = consultsOf(state).items;
  switch (c.type) {
    case 'consult': {
      if (items[c.consult_id] !== undefined) return undefined;
      items[c.consult_id] = { id: c.consult_id, asker: from, specialty: c.specialty, text: c.text, at: r.sentAt, fanOut: 0, shareAnswers: false, recipients: [], answers: [], closed: false, ...(c.attachments.length > 0 ? { attachments: [...c.attachments] } : {}) };
      trim(state);
      return from === me ? undefined : 'question';
    }
    case 'consult_answer': {
      const record = items[c.consult_id];
      if (record === undefined) return undefined;
      if (record.answers.some((a) => a.from === from && a.text === c.text && Math.abs(a.at - r.sentAt) < 60_000)) return undefined;
      record.answers.push({ from, text: c.text, at: r.sentAt });
      record.answers.sort((a, b) => a.at - b.at);
      return from === me ? undefined : 'answer';
    }
    case 'consult_closed': {
      const record = items[c.consult_id];
      if (record === undefined || record.asker !== from || record.closed) return undefined;
      record.closed = true;
      return 'closed';
    }
    default:
      return undefined;
  }
}

/** Folds in the server's view (`GET /v1/consults`): closed ones, fan-out, recipients, sharing. */
export function mergeServer(state: AppState, list: readonly ConsultJson[]): boolean {
  const items = consultsOf(state).items;
  let changed = false;
  for (const s of list) {
    const r = items[s.consult_id];
    if (r === undefined) continue; // its question has not reached this device (or left it): nothing to show
    if (s.status === 'closed' && !r.closed) r.closed = changed = true;
    if (s.fan_out > r.fanOut) (r.fanOut = s.fan_out), (changed = true);
    if (s.share_answers !== r.shareAnswers) (r.shareAnswers = s.share_answers), (changed = true);
    if (s.recipients.length > 0 && s.recipients.join() !== r.recipients.join()) (r.recipients = [...s.recipients]), (changed = true);
  }
  return changed;
}

/** The organisation's retention: consults asked before it go with their files, answers older than it go; the keys of the files removed (`consult:index`), and whether anything went. */
export function purgeConsults(state: AppState, now: number): { files: string[]; changed: boolean } {
  const limit = state.policy?.retentionSecs ?? null;
  if (limit === null || state.consults === undefined) return { files: [], changed: false };
  const cutoff = now - limit * 1000;
  const files: string[] = [];
  let changed = false;
  const items = state.consults.items;
  for (const [id, r] of Object.entries(items)) {
    if (r.at > cutoff) {
      const kept = r.answers.filter((a) => a.at > cutoff);
      if (kept.length !== r.answers.length) (r.answers = kept), (changed = true);
      continue;
    }
    (r.attachments ?? []).forEach((_, i) => files.push(consultFileKey(r.id, i)));
    delete items[id];
    changed = true;
  }
  return { files, changed };
}

/** The key of a consult's file (the session's cache, the views' object URLs). */
export function consultFileKey(consultId: string, index: number): string {
  return `${consultId}:${index}`;
}

/** A consult's file as the views show it. */
export interface ConsultFileView {
  /** {@link consultFileKey}: what the session's `file` takes. */
  readonly key: string;
  readonly name: string;
  readonly size: number;
  /** Shown as a decrypted preview (else a file to download). */
  readonly image: boolean;
}

/** A consult as the views show it (names, never ids). */
export interface ConsultView {
  readonly id: string;
  readonly mine: boolean;
  /** "You" or the asker's name. */
  readonly asker: string;
  readonly specialty: string;
  readonly text: string;
  readonly at: number;
  readonly files: readonly ConsultFileView[];
  readonly open: boolean;
  /** "Sent to 3 Dermatology clinicians · 1 answer", or "Dr. Ann Adams asked Dermatology". */
  readonly summary: string;
  readonly answers: readonly { readonly name: string; readonly text: string; readonly at: number; readonly mine: boolean }[];
  /** A recipient, while open. */
  readonly canAnswer: boolean;
  /** The asker, while open. */
  readonly canClose: boolean;
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

export function consultViews(state: AppState, nameOf: (u: string) => string): ConsultView[] {
  const me = state.me.userId;
  return Object.values(consultsOf(state).items)
    .map((r): ConsultView => {
      const mine = r.asker === me;
      const answers = r.answers.map((a) => ({ name: a.from === me ? 'You' : nameOf(a.from), text: a.text, at: a.at, mine: a.from === me }));
      const summary = mine
        ? `Sent to ${r.fanOut > 0 ? plural(r.fanOut, `${r.specialty} clinician`) : `${r.specialty} clinicians`} · ${answers.length === 0 ? 'no answer yet' : plural(answers.length, 'answer')}${r.shareAnswers ? ' · answers shared with everyone asked' : ''}`
        : `${nameOf(r.asker)} asked ${r.specialty}${r.shareAnswers ? ' · answers are shared with everyone asked' : ' · your answer goes to them only'}`;
      const files = (r.attachments ?? []).map((f, i): ConsultFileView => ({ key: consultFileKey(r.id, i), name: f.name, size: f.size, image: isImage(f) }));
      return { id: r.id, mine, asker: mine ? 'You' : nameOf(r.asker), specialty: r.specialty, text: r.text, at: r.at, files, open: !r.closed, summary, answers, canAnswer: !mine && !r.closed, canClose: mine && !r.closed };
    })
    .sort((a, b) => (a.open === b.open ? b.at - a.at : a.open ? -1 : 1));
}

/** The people a consult names (to look up in the directory). */
export function consultPeople(state: AppState): string[] {
  const out = new Set<string>();
  for (const r of Object.values(consultsOf(state).items)) {
    out.add(r.asker);
    for (const a of r.answers) out.add(a.from);
  }
  out.delete(state.me.userId);
  return [...out];
}

/** Open consults this user asked (the server caps them: `too_many_consults`). */
export function openAsked(state: AppState): number {
  return Object.values(consultsOf(state).items).filter((r) => r.asker === state.me.userId && !r.closed).length;
}
