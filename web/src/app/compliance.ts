/**
 * The compliance officer's console (no DOM): verifying the whole audit log
 * as `curbside audit verify` does (the witness — the log key pinned on first
 * use and the last verified tree head — kept in the officer's sealed state),
 * with the charts of the verified entries; proven audit queries filtered by
 * people chosen by name, shown a page at a time with names; an inclusion
 * proof for any entry shown; and JSONL/CSV exports streamed into a file.
 * Nothing here logs: the entries are metadata, but sensitive.
 */

import {
  ACTIONS,
  checkHead,
  decodeWitness,
  formatTimeMs,
  treeHeadJson,
  verifiedSummary,
  verifyRecordInclusion,
  VerifyFailure,
  witnessJson,
  type AuditRecord,
  type CheckedHead,
  type Witness,
} from '../audit/index.js';
import { toHex } from '../crypto/bytes.js';
import { DeviceAuditSource, type AuditFilters } from '../client/audit-source.js';
import { ActivityCounter, type Activity } from './audit-charts.js';
import { exportVerifier, streamInto, type ExportSink } from './audit-export.js';
import { AuditPeople, type PersonChoice } from './audit-people.js';
import { explainCompliance, failureText, filtersOf, type ComplianceHost, type EntryRow, type ExportState, type PersonField, type PickerState, type ProofState, type QueryForm, type VerifyState } from './compliance-types.js';
import type { Session } from './session.js';

export const AUDIT_ACTIONS: readonly string[] = ACTIONS;
export const PAGE_SIZE = 25;
export * from './compliance-types.js';

const fmt = (n: number): string => n.toLocaleString('en-US');
const IDLE_PICKER: PickerState = { busy: false, status: '', results: [] };

export class ComplianceConsole {
  private verifyValue: VerifyState = { running: false, done: 0, total: 0 };
  private records: AuditRecord[] = [];
  private unproven = new Set<number>();
  private pageValue = 0;
  private queriedValue = false;
  private errorValue: string | undefined;
  private busyValue = false;
  private activityValue: Activity | undefined;
  private proofValue: ProofState | undefined;
  private exportValue: ExportState = { running: false, done: 0, total: 0 };
  private readonly pickers: Record<PersonField, PickerState> = { actor: IDLE_PICKER, counterpart: IDLE_PICKER };
  /** Every user the log names, by role (enrollments and grants read once per session). */
  private readonly people: AuditPeople;
  private peopleRead = false;

  constructor(private readonly host: ComplianceHost) {
    this.people = new AuditPeople({ me: host.me, myName: host.myName, nameOf: (u) => host.nameOf(u), pending: (u) => host.pending(u) });
  }

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
  /** The charts' numbers, from the last verification that succeeded. */
  get activity(): Activity | undefined {
    return this.activityValue;
  }
  get proof(): ProofState | undefined {
    return this.proofValue;
  }
  get exporting(): ExportState {
    return this.exportValue;
  }
  picker(field: PersonField): PickerState {
    return this.pickers[field];
  }

  private witness(): Witness | null {
    const j = this.host.loadWitness();
    if (j === undefined || j === null) return null;
    return decodeWitness(j);
  }

  /** The server's head checked against the witness, which is then saved. */
  private async checked(): Promise<CheckedHead> {
    const checked = await checkHead(this.witness(), this.host.source);
    await this.host.saveWitness(witnessJson(checked.witness));
    return checked;
  }

  /** `changed()` at most every 100 ms, or at each 5 % of `done` of `total`, and when forced (the end). */
  private throttled(): (force?: boolean, done?: number, total?: number) => void {
    let last = 0;
    let step = -1;
    return (force = false, done = 0, total = 0) => {
      const now = total > 0 ? Math.floor((done / total) * 20) : step;
      if (force || now !== step || Date.now() - last > 100) {
        last = Date.now();
        step = now;
        this.host.changed();
      }
    };
  }

  /** The whole log, verified as `curbside audit verify` does; the witness saved only on success, the charts counted from it. */
  async verify(): Promise<void> {
    if (this.verifyValue.running) return;
    this.verifyValue = { running: true, done: 0, total: 0 };
    this.host.changed();
    const tick = this.throttled();
    const counter = new ActivityCounter();
    const people = this.people;
    try {
      const saved = this.witness();
      const r = await this.host.source.verifyLog(
        saved,
        (done, total) => {
          this.verifyValue = { running: true, done, total };
          tick(done === total, done, total);
        },
        (record) => {
          counter.add(record.entry);
          people.learn(record.entry);
        },
      );
      await this.host.saveWitness(witnessJson(r.checked.witness));
      this.peopleRead = true;
      this.activityValue = counter.activity();
      this.verifyValue = { running: false, done: r.verified.entries, total: r.verified.entries, ok: true, text: r.summary };
    } catch (e) {
      this.activityValue = undefined;
      const loud = failureText(e);
      this.verifyValue = { ...this.verifyValue, running: false, ok: false, text: loud ?? `The log could not be verified. ${explainCompliance(e)}` };
    }
    this.host.changed();
  }

  /** Who the log names, read once: every enrollment and role grant (proven), for the role of those the directory does not list. */
  private async readPeople(checked: CheckedHead): Promise<void> {
    if (this.peopleRead) return;
    for (const action of ['user.enrolled', 'role.granted']) {
      const page = await this.host.source.entriesAll(checked.head, checked.logKey, { action, outcome: 'success' });
      for (const r of page.records) if (!page.failures.has(r.entry.seq)) this.people.learn(r.entry);
    }
    this.peopleRead = true;
  }

  /** Finds people by name for a filter: verified clinicians from the directory, and those the log names whom it does not list (administrators, officers, you). */
  async findPeople(field: PersonField, text: string): Promise<void> {
    const q = text.trim();
    if (q === '') {
      this.pickers[field] = { ...this.pickers[field], busy: false, results: [], status: 'Type part of a name (or “administrator”), then Find.' };
      this.host.changed();
      return;
    }
    this.pickers[field] = { ...this.pickers[field], busy: true, results: [], status: 'Searching…' };
    this.host.changed();
    try {
      const [found] = await Promise.all([this.host.search(q), this.checked().then((c) => this.readPeople(c))]);
      const listed: PersonChoice[] = found.map((c) => ({ key: c.key, name: c.name, detail: c.specialty }));
      const seen = new Set(listed.map((c) => c.key));
      const results = [...listed, ...this.people.unlisted(q).filter((c) => !seen.has(c.key))];
      this.pickers[field] = { ...this.pickers[field], busy: false, results, status: results.length === 0 ? `No one named “${q}” in the directory or the log: check the spelling.` : `${results.length} found: choose one.` };
    } catch (e) {
      this.pickers[field] = { ...this.pickers[field], busy: false, results: [], status: failureText(e) ?? `The search failed. ${explainCompliance(e)}` };
    }
    this.host.changed();
  }

  /** Filters by one of the people found. */
  choose(field: PersonField, key: string): void {
    const c = this.pickers[field].results.find((r) => r.key === key);
    if (c === undefined) return;
    this.pickers[field] = { busy: false, results: [], status: '', chosen: c };
    this.host.changed();
  }

  /** Drops a person filter. */
  clearPerson(field: PersonField): void {
    this.pickers[field] = IDLE_PICKER;
    this.host.changed();
  }

  private filters(form: QueryForm): AuditFilters {
    return filtersOf(form, { actor: this.pickers.actor.chosen?.key, counterpart: this.pickers.counterpart.chosen?.key });
  }

  /** A proven query: the head checked against the witness first, then every matching entry proven included. */
  async query(form: QueryForm): Promise<void> {
    this.busyValue = true;
    this.errorValue = undefined;
    this.host.changed();
    try {
      const checked = await this.checked();
      await this.readPeople(checked);
      const page = await this.host.source.entriesAll(checked.head, checked.logKey, this.filters(form));
      this.records = page.records;
      for (const r of page.records) if (!page.failures.has(r.entry.seq)) this.people.learn(r.entry);
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

  /** The rows of the current page. */
  get rows(): EntryRow[] {
    return this.records.slice(this.pageValue * PAGE_SIZE, (this.pageValue + 1) * PAGE_SIZE).map((r) => {
      const e = r.entry;
      return {
        seq: e.seq,
        time: formatTimeMs(e.time_ms),
        actor: this.people.actor(e),
        action: e.action,
        counterpart: this.people.counterpart(e),
        outcome: e.outcome === 'success' ? 'Success' : `Failure${e.reason ? ` (${e.reason})` : ''}`,
        unproven: this.unproven.has(e.seq),
      };
    });
  }

  /** Entry `seq`'s inclusion proof, fetched for the current head (checked against the witness first) and verified here (RFC 6962). */
  async prove(seq: number): Promise<void> {
    this.proofValue = { seq, running: true };
    this.host.changed();
    try {
      const checked = await this.checked();
      const { record, proof } = await this.host.source.inclusionProof(seq, checked.head.size);
      if (record.entry.seq !== seq) throw new VerifyFailure({ kind: 'not_included', seq, size: checked.head.size });
      verifyRecordInclusion(record, proof, checked.head, checked.logKey);
      const head = checked.head;
      this.proofValue = {
        seq,
        running: false,
        ok: true,
        text: `Entry ${seq} is included — verified: its content matches its recorded hash, and its audit path leads to the root the server signed.`,
        facts: [
          ['Leaf index', fmt(seq - 1)],
          ['Tree size', `${fmt(head.size)} entries`],
          ['Tree head signed', formatTimeMs(head.timestamp_ms)],
          ['Audit path', `${proof.length} hash${proof.length === 1 ? '' : 'es'}`],
          ['Signed root', toHex(head.root)],
          ['Entry', `${record.entry.action} by ${this.people.actor(record.entry)}, ${formatTimeMs(record.entry.time_ms)}`],
        ],
      };
    } catch (e) {
      const code = (e as { code?: unknown } | null)?.code;
      this.proofValue = {
        seq,
        running: false,
        ok: false,
        text: failureText(e) ?? (code === 'not_found' ? `The server has no entry ${seq}: search the log again.` : `The proof could not be checked. ${explainCompliance(e)}`),
      };
    }
    this.host.changed();
  }

  /**
   * An export of the entries matching the form (all of them when no filter
   * is set) through the current head, streamed into `sink`. A full JSONL
   * export is verified as it streams and kept only if it reproduces the
   * signed head; its head is then offered as `FILE.tree-head.json`.
   */
  async exportTo(format: 'jsonl' | 'csv', sink: ExportSink, form: QueryForm): Promise<void> {
    if (this.exportValue.running) {
      await sink.abort();
      return;
    }
    this.exportValue = { running: true, done: 0, total: 0 };
    this.host.changed();
    const tick = this.throttled();
    try {
      const saved = this.witness();
      const checked = await this.checked();
      const head = checked.head;
      const filters = this.filters(form);
      const full = format === 'jsonl' && Object.keys(filters).length === 0;
      this.exportValue = { running: true, done: 0, total: head.size };
      const verifier = full ? exportVerifier(head, checked.logKey, saved?.last_head ?? null) : undefined;
      const chunks = this.host.source.exportText(head.size, filters, format);
      const done = await streamInto(chunks, sink, format, (p) => {
        this.exportValue = { running: true, done: p.seq, total: head.size };
        tick(false, p.seq, head.size);
      }, verifier);
      const what = `${fmt(done.rows)} ${done.rows === 1 ? 'entry' : 'entries'}`;
      if (done.verified !== undefined) {
        const summary = verifiedSummary(done.verified, head);
        this.exportValue = {
          running: false, done: head.size, total: head.size, ok: true,
          text: `Saved ${sink.name}: ${what}, verified as it was written. ${summary} Keep the signed tree head beside it to verify it later.`,
          headFile: { name: `${sink.name}.tree-head.json`, json: `${JSON.stringify({ tree_head: treeHeadJson(head), log_key: witnessJson(checked.witness).log_key }, null, 2)}\n` },
        };
      } else {
        this.exportValue = {
          running: false, done: head.size, total: head.size, ok: true,
          text: `Saved ${sink.name}: ${what} through the signed tree head of ${fmt(head.size)} entries. ${format === 'csv' ? 'A CSV export' : 'A filtered export'} is not checked here against that head: verify an unfiltered JSONL export, or export with curbside audit export, which checks it.`,
        };
      }
    } catch (e) {
      const loud = failureText(e);
      this.exportValue = { ...this.exportValue, running: false, ok: false, text: loud ? `The export was not saved. ${loud}` : `The export failed and was not saved. ${explainCompliance(e)}` };
    }
    tick(true);
  }
}

/** The console over an unlocked session: the witness in its sealed state, names from its directory. */
export function sessionCompliance(s: Session, changed: () => void): ComplianceConsole {
  return new ComplianceConsole({
    source: DeviceAuditSource.forAccount(s.account),
    me: s.me,
    myName: s.state.me.name,
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
    pending: (user) => user !== s.me && s.state.people[user] === undefined,
    search: (text) => s.search(text),
    changed,
  });
}
