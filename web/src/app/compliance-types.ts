/**
 * The compliance console's shapes (what the views read) and its pure
 * helpers: the query form to the API's filters, and the words of failures
 * (integrity failures loud, the CLI's texts; others with what to do next).
 */

import { AuditError, VerifyFailure } from '../audit/index.js';
import type { AuditFilters, DeviceAuditSource } from '../client/audit-source.js';
import type { PersonChoice } from './audit-people.js';

/** What the console needs from the session. */
export interface ComplianceHost {
  readonly source: DeviceAuditSource;
  /** The officer's user id and name. */
  readonly me: string;
  readonly myName: string;
  /** The saved witness (JSON, in the CLI's audit-witness.json form), or undefined on first use. */
  loadWitness(): unknown;
  /** Saves the witness in the sealed state. */
  saveWitness(json: unknown): Promise<void>;
  /** A user's name from the directory, or undefined (asked for in the background). */
  nameOf(user: string): string | undefined;
  /** The directory has not answered for this user yet. */
  pending(user: string): boolean;
  /** Verified clinicians whose name contains the text (the directory). */
  search(text: string): Promise<readonly { key: string; name: string; specialty: string }[]>;
  changed(): void;
}

export interface VerifyState {
  readonly running: boolean;
  readonly done: number;
  readonly total: number;
  /** The CLI's `OK: …` line, or the failure. */
  readonly ok?: boolean;
  readonly text?: string;
}

/** The query form's fields besides the people (chosen with {@link ComplianceConsole.findPeople}). */
export interface QueryForm {
  action: string;
  outcome: string;
  messageId: string;
  referralId: string;
  /** `YYYY-MM-DD` (UTC), inclusive. */
  sinceDay: string;
  untilDay: string;
}

export type PersonField = 'actor' | 'counterpart';

export interface PickerState {
  readonly busy: boolean;
  /** What the search found, or what to do. */
  readonly status: string;
  readonly results: readonly PersonChoice[];
  readonly chosen?: PersonChoice;
}

export interface EntryRow {
  readonly seq: number;
  readonly time: string;
  readonly actor: string;
  readonly action: string;
  readonly counterpart: string;
  readonly outcome: string;
  /** The inclusion proof of this entry failed. */
  readonly unproven: boolean;
}

/** An entry's inclusion proof, checked against the current signed tree head. */
export interface ProofState {
  readonly seq: number;
  readonly running: boolean;
  readonly ok?: boolean;
  readonly text?: string;
  /** What was proven (when it verified). */
  readonly facts?: readonly (readonly [string, string])[];
}

export interface ExportState {
  readonly running: boolean;
  readonly done: number;
  readonly total: number;
  readonly ok?: boolean;
  readonly text?: string;
  /** The signed head beside a verified full JSONL export (`FILE.tree-head.json`, as `curbside audit export` writes it). */
  readonly headFile?: { readonly name: string; readonly json: string };
}

/** Words for a failure reaching the server, with what to do next. */
export function explainCompliance(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'forbidden') return 'The server refused: this needs the compliance officer role. Ask your administrator.';
  if (code === 'auth_failed' || code === 'device_revoked') return 'The server did not accept this device: ask your administrator for a device invite.';
  if (e instanceof Error && e.name === 'NotAllowedError') return 'The browser did not allow writing the file: choose another place, or allow downloads for this site.';
  return 'The server could not be reached: check your connection and try again.';
}

/** An integrity failure's words: the CLI's text, loud. */
export function failureText(e: unknown): string | undefined {
  if (e instanceof AuditError || (e instanceof VerifyFailure && e.integrityFailure)) return `AUDIT LOG INTEGRITY FAILURE: ${e.message}. Do not rely on this server's audit log; keep the saved tree head and any exports, and escalate.`;
  return undefined;
}

function dayMs(day: string, end: boolean): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return undefined;
  const t = Date.parse(`${day}T00:00:00.000Z`);
  if (Number.isNaN(t)) return undefined;
  return end ? t + 86_400_000 : t;
}

export function filtersOf(f: QueryForm, people: { actor?: string | undefined; counterpart?: string | undefined } = {}): AuditFilters {
  const out: AuditFilters = {};
  const t = (s: string) => s.trim();
  if (people.actor) out.actor = people.actor;
  if (people.counterpart) out.counterpart = people.counterpart;
  if (t(f.action)) out.action = t(f.action);
  if (f.outcome === 'success' || f.outcome === 'failure') out.outcome = f.outcome;
  if (t(f.messageId)) out.message_id = t(f.messageId);
  if (t(f.referralId)) out.referral_id = t(f.referralId);
  const since = dayMs(f.sinceDay, false);
  const until = dayMs(f.untilDay, true);
  if (since !== undefined) out.since_ms = since;
  if (until !== undefined) out.until_ms = until;
  return out;
}

