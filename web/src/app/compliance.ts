/**
 * The compliance officer's console (no DOM): verifying the whole audit log
 * as `curbside audit verify` does (the witness — the log key pinned on first
 * use and the last verified tree head — kept in the officer's sealed state),
 * proven audit queries shown a page at a time with names from the
 * directory, and JSONL/CSV exports. Nothing here logs: the entries are
 * metadata, but sensitive.
 */

import { ACTIONS, AuditError, checkHead, decodeWitness, formatTimeMs, VerifyFailure, witnessJson, type AuditRecord, type Witness } from '../audit/index.js';
import { DeviceAuditSource, type AuditFilters } from '../client/audit-source.js';
import type { Session } from './session.js';

export const AUDIT_ACTIONS: readonly string[] = ACTIONS;
export const PAGE_SIZE = 25;

/** What the console needs from the session. */
export interface ComplianceHost {
  readonly source: DeviceAuditSource;
  /** The saved witness (JSON, in the CLI's audit-witness.json form), or undefined on first use. */
  loadWitness(): unknown;
  /** Saves the witness in the sealed state. */
  saveWitness(json: unknown): Promise<void>;
  /** A user's name from the directory, or undefined (asked for in the background). */
  nameOf(user: string): string | undefined;
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

export interface QueryForm {
  actor: string;
  counterpart: string;
  action: string;
  messageId: string;
  referralId: string;
  /** `YYYY-MM-DD` (UTC), inclusive. */
  sinceDay: string;
  untilDay: string;
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

/** Words for a failure reaching the server, with what to do next. */
export function explainCompliance(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'forbidden') return 'The server refused: this needs the compliance officer role. Ask your administrator.';
  if (code === 'auth_failed' || code === 'device_revoked') return 'The server did not accept this device: ask your administrator for a device invite.';
  return 'The server could not be reached: check your connection and try again.';
}

/** An integrity failure's words: the CLI's text, loud. */
function failureText(e: unknown): string | undefined {
  if (e instanceof AuditError || e instanceof VerifyFailure) return `AUDIT LOG INTEGRITY FAILURE: ${e.message}. Do not rely on this server's audit log; keep the saved tree head and any exports, and escalate.`;
  return undefined;
}

function dayMs(day: string, end: boolean): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return undefined;
  const t = Date.parse(`${day}T00:00:00.000Z`);
  if (Number.isNaN(t)) return undefined;
  return end ? t + 86_400_000 - 1 : t;
}

export function filtersOf(f: QueryForm): AuditFilters {
  const out: AuditFilters = {};
  const t = (s: string) => s.trim();
  if (t(f.actor)) out.actor = t(f.actor);
  if (t(f.counterpart)) out.counterpart = t(f.counterpart);
  if (t(f.action)) out.action = t(f.action);
  if (t(f.messageId)) out.message_id = t(f.messageId);
  if (t(f.referralId)) out.referral_id = t(f.referralId);
  const since = dayMs(f.sinceDay, false);
  const until = dayMs(f.untilDay, true);
  if (since !== undefined) out.since_ms = since;
  if (until !== undefined) out.until_ms = until;
  return out;
}

export class ComplianceConsole {
  private verifyValue: VerifyState = { running: false, done: 0, total: 0 };
  private records: AuditRecord[] = [];
  private unproven = new Set<number>();
  private pageValue = 0;
  private queriedValue = false;
  private errorValue: string | undefined;
  private busyValue = false;

  constructor(private readonly host: ComplianceHost) {}

  get verification(): VerifyState {
    return this.verifyValue;
  }
  get error(): string | undefined {
    return this.errorValue;
  }
  get busy(): boolean {
    return this.busyValue;
  }
  get queried(): boolean {
    return this.queriedValue;
  }
  get total(): number {
    return this.records.length;
  }
  get page(): number {
    return this.pageValue;
  }
  get pages(): number {
    return Math.max(1, Math.ceil(this.records.length / PAGE_SIZE));
  }

  private witness(): Witness | null {
    const j = this.host.loadWitness();
    if (j === undefined || j === null) return null;
    return decodeWitness(j);
  }

  /** The whole log, verified as `curbside audit verify` does; the witness saved only on success. */
  async verify(): Promise<void> {
    if (this.verifyValue.running) return;
    this.verifyValue = { running: true, done: 0, total: 0 };
    this.host.changed();
    let last = 0;
    try {
      const saved = this.witness();
      const r = await this.host.source.verifyLog(saved, (done, total) => {
        this.verifyValue = { running: true, done, total };
        if (done === total || Date.now() - last > 100) {
          last = Date.now();
          this.host.changed();
        }
      });
      await this.host.saveWitness(witnessJson(r.checked.witness));
      this.verifyValue = { running: false, done: r.verified.entries, total: r.verified.entries, ok: true, text: r.summary };
    } catch (e) {
      const loud = failureText(e);
      this.verifyValue = { ...this.verifyValue, running: false, ok: false, text: loud ?? `The log could not be verified. ${explainCompliance(e)}` };
    }
    this.host.changed();
  }

  /** A proven query: the head checked against the witness first, then every matching entry proven included. */
  async query(form: QueryForm): Promise<void> {
    this.busyValue = true;
    this.errorValue = undefined;
    this.host.changed();
    try {
      const checked = await checkHead(this.witness(), this.host.source);
      await this.host.saveWitness(witnessJson(checked.witness));
      const page = await this.host.source.entriesAll(checked.head, checked.logKey, filtersOf(form));
      this.records = page.records;
      this.unproven = new Set(page.failures.keys());
      this.pageValue = 0;
      this.queriedValue = true;
      if (page.failures.size > 0) {
        const first = [...page.failures.values()][0] as VerifyFailure;
        this.errorValue = `AUDIT LOG INTEGRITY FAILURE: ${first.message}. Do not rely on these entries; escalate.`;
      }
    } catch (e) {
      this.errorValue = failureText(e) ?? `The query failed. ${explainCompliance(e)}`;
    }
    this.busyValue = false;
    this.host.changed();
  }

  next(): void {
    if (this.pageValue + 1 < this.pages) this.pageValue++;
    this.host.changed();
  }
  previous(): void {
    if (this.pageValue > 0) this.pageValue--;
    this.host.changed();
  }

  private who(user: string | null, device: number | null): string {
    if (user === null) return '—';
    const name = this.host.nameOf(user);
    const base = name === undefined || name === '' ? user : name;
    return device === null ? base : `${base} (device ${device})`;
  }

  /** The rows of the current page. */
  get rows(): EntryRow[] {
    return this.records.slice(this.pageValue * PAGE_SIZE, (this.pageValue + 1) * PAGE_SIZE).map((r) => {
      const e = r.entry;
      return {
        seq: e.seq,
        time: formatTimeMs(e.time_ms),
        actor: this.who(e.actor_user, e.actor_device),
        action: e.action,
        counterpart: this.who(e.counterpart_user, e.counterpart_device),
        outcome: e.outcome === 'success' ? 'Success' : `Failure${e.reason ? ` (${e.reason})` : ''}`,
        unproven: this.unproven.has(e.seq),
      };
    });
  }

  /** An export (the whole log through the current head), as text; filters from the query form. */
  async exportText(format: 'jsonl' | 'csv', form?: QueryForm): Promise<{ text?: string; error?: string }> {
    try {
      const checked = await checkHead(this.witness(), this.host.source);
      await this.host.saveWitness(witnessJson(checked.witness));
      let text = '';
      for await (const chunk of this.host.source.exportText(checked.head.size, form ? filtersOf(form) : {}, format)) text += chunk;
      return { text };
    } catch (e) {
      return { error: failureText(e) ?? `The export failed. ${explainCompliance(e)}` };
    }
  }
}

/** The console over an unlocked session: the witness in its sealed state, names from its directory. */
export function sessionCompliance(s: Session, changed: () => void): ComplianceConsole {
  return new ComplianceConsole({
    source: DeviceAuditSource.forAccount(s.account),
    loadWitness: () => s.state.auditWitness,
    saveWitness: async (json) => {
      s.state.auditWitness = json;
      await s.persist();
    },
    nameOf: (user) => {
      if (user === s.me) return s.state.me.name;
      const p = s.state.people[user];
      if (p === undefined) s.lookUp(user);
      return p?.name || undefined;
    },
    changed,
  });
}
