/**
 * What the views show, derived from the state: names (never ids), times,
 * statuses, unread counts. Plain objects; the views hold no model state.
 */

import type { AttachmentRef } from '../client/content.js';
import { durationWords, type AppState, type Body, type Conversation, type Person, type Status } from './state.js';
import type { Trust } from './trust.js';
import { canRecall, urgentView, type UrgentView } from './urgent-views.js';

export type { Status } from './state.js';
export type { Trust } from './trust.js';
export type { UrgentView } from './urgent-views.js';

/** The connection, as the indicator shows it. */
export type LinkState = 'connecting' | 'online' | 'reconnecting' | 'offline';

/** Someone, as users see them. */
export interface PersonView {
  /** The conversation's key (not shown). */
  readonly key: string;
  readonly name: string;
  readonly specialty: string;
  readonly npi: string;
  readonly listed: boolean;
}

export interface ConversationSummary {
  readonly person: PersonView;
  readonly unread: number;
  readonly lastAt: number | undefined;
  readonly preview: string;
  readonly trust: Trust;
  readonly timer: number | null;
}

export type MessageBody =
  | { readonly type: 'text'; readonly text: string }
  | { readonly type: 'file'; readonly name: string; readonly size: number; readonly image: boolean }
  | { readonly type: 'notice'; readonly text: string }
  /** A recalled message's placeholder ("Message recalled", "You recalled this message"). */
  | { readonly type: 'recalled'; readonly text: string };

export interface MessageView {
  /** Stable within the conversation (not shown). */
  readonly key: string;
  readonly mine: boolean;
  readonly sender: string;
  readonly at: number;
  readonly status: Status;
  readonly body: MessageBody;
  readonly error: string | undefined;
  /** Urgent or stat: its acknowledgement (`./urgent-views.ts`). */
  readonly urgent?: UrgentView | undefined;
  /** Ours, still within the recall window as far as this device knows. */
  readonly canRecall?: boolean;
  /** Theirs, written to an on-call role this user held: the role's name ("On-call dermatology"). */
  readonly toRole?: string | undefined;
}

/** A directory search result. */
export interface Clinician {
  readonly key: string;
  readonly name: string;
  readonly specialty: string;
  readonly npi: string;
}

export interface SafetyView {
  readonly name: string;
  /** 60 digits. */
  readonly digits: string;
  /** Twelve groups of five. */
  readonly groups: readonly string[];
  /** QR modules (dark: true). */
  readonly qr: readonly (readonly boolean[])[];
  readonly trust: Trust;
  readonly devices: number;
}

const IMAGE = /\.(png|jpe?g|gif|webp|avif|bmp)$/i;

/** The MIME type of a received file from its name: images only (shown as previews); anything else is bytes. */
export function mimeOf(name: string): string {
  const ext = /\.([a-z0-9]+)$/i.exec(name)?.[1]?.toLowerCase() ?? '';
  const types: Record<string, string> = {
    png: 'image/png',
    jpg: 'image/jpeg',
    jpeg: 'image/jpeg',
    gif: 'image/gif',
    webp: 'image/webp',
    avif: 'image/avif',
    bmp: 'image/bmp',
  };
  return types[ext] ?? 'application/octet-stream';
}

export function isImage(file: AttachmentRef): boolean {
  return IMAGE.test(file.name);
}

export function personView(state: AppState, key: string): PersonView {
  if (key === state.me.userId) return { key, name: state.me.name, specialty: state.me.specialty, npi: state.me.npi, listed: true };
  const p: Person | undefined = state.people[key];
  if (p === undefined || !p.listed) {
    return { key, name: p === undefined ? 'Looking up name…' : 'Unknown sender (not in the directory)', specialty: '', npi: '', listed: false };
  }
  return { key, name: p.name, specialty: p.specialty, npi: p.npi, listed: true };
}

export function timerWords(seconds: number | null): string {
  return seconds === null ? 'Disappearing messages off' : `Messages disappear ${durationWords(seconds)} after they are sent`;
}

function bodyView(body: Body, mine: boolean): MessageBody {
  switch (body.type) {
    case 'recalled':
      return { type: 'recalled', text: mine ? 'You recalled this message' : 'Message recalled' };
    case 'text':
      return { type: 'text', text: body.text };
    case 'attachment':
      return { type: 'file', name: body.file.name, size: body.file.size, image: isImage(body.file) };
    case 'timer':
      return { type: 'notice', text: timerWords(body.seconds) };
    case 'undecryptable':
      return { type: 'notice', text: 'A message could not be decrypted (ask your colleague to send it again).' };
  }
}

export function messageViews(state: AppState, c: Conversation, now = Date.now()): MessageView[] {
  const me = state.me.userId;
  const nameOf = (u: string): string => personView(state, u).name;
  return c.messages.map((m) => ({
    key: `${m.from}:${m.id}`,
    mine: m.from === me,
    sender: m.from === me ? 'You' : nameOf(m.from),
    at: m.at,
    status: m.status,
    body: bodyView(m.body, m.from === me),
    error: m.error,
    urgent: urgentView(state, m, nameOf, now),
    canRecall: canRecall(state, m, now),
    ...(m.toRole !== undefined && m.from !== me ? { toRole: m.toRole.name } : {}),
  }));
}

export function previewOf(body: MessageBody | undefined): string {
  if (body === undefined) return 'No messages yet';
  switch (body.type) {
    case 'text':
      return body.text;
    case 'file':
      return `File: ${body.name}`;
    case 'notice':
    case 'recalled':
      return body.text;
  }
}
