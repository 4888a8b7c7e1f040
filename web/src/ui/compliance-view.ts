/**
 * The Audit screen (the top bar's Audit button, for compliance officers
 * only): Verify the log (a progress bar, then the CLI's `OK: …` line or the
 * loud failure naming the first altered entry) and the charts of the
 * verified entries; a proven audit query filtered by people chosen by name,
 * shown a page at a time, each row with Prove (its inclusion proof checked
 * against the signed head); and JSONL/CSV exports streamed into a file
 * with a progress bar.
 */

import { ACTION_CHOICES, type Activity, type ComplianceConsole, type QueryForm } from '../app/index.js';
import { activityCharts } from './audit-charts-view.js';
import { PersonFilter } from './audit-person-filter.js';
import { downloadBlob, exportSink, type SinkKind } from './audit-save.js';
import { h, replace, uid } from './dom.js';

const COLUMNS = ['Seq', 'Time (UTC)', 'Actor', 'Action', 'Counterpart', 'Outcome', 'Proof'];

export class ComplianceView {
  readonly el: HTMLElement;
  private readonly progress = h('progress', { class: 'audit-progress', max: 1, value: 0, hidden: true, 'aria-label': 'Entries verified' });
  private readonly progressText = h('p', { class: 'hint', 'aria-live': 'polite' });
  private readonly result = h('div', { class: 'audit-result' });
  private readonly verifyButton = h('button', { type: 'button', class: 'primary' }, 'Verify the log');
  private readonly charts = h('div', { class: 'audit-charts' });
  private readonly chartsCard = h('section', { class: 'card admin-card', 'aria-labelledby': 'audit-charts-title', hidden: true }, h('h3', { id: 'audit-charts-title' }, 'Activity in the verified log'), this.charts);
  private readonly queryError = h('div', { class: 'audit-query-error' });
  private readonly body = h('tbody', {});
  private readonly pageText = h('p', { class: 'hint', 'aria-live': 'polite' });
  private readonly prev = h('button', { type: 'button' }, 'Previous page');
  private readonly next = h('button', { type: 'button' }, 'Next page');
  private readonly proofPanel = h('div', { class: 'audit-proof', 'aria-live': 'polite' });
  private readonly exportProgress = h('progress', { class: 'audit-progress audit-export-progress', max: 1, value: 0, hidden: true, 'aria-label': 'Export written' });
  private readonly exportStatus = h('div', { class: 'audit-export-status' });
  private readonly exportButtons: HTMLButtonElement[] = [];
  private readonly inputs: Record<keyof QueryForm, HTMLInputElement | HTMLSelectElement>;
  private readonly people: { actor: PersonFilter; counterpart: PersonFilter };
  private shownActivity: Activity | undefined;
  private rowsKey = '';
  private resultKey = '';
  private proofKey = '';
  private exportKey = '';
  private sinkKind: SinkKind = 'download';

  constructor(private readonly console: () => ComplianceConsole | undefined) {
    this.verifyButton.addEventListener('click', () => void this.console()?.verify());
    const field = (key: keyof QueryForm, label: string, input: HTMLInputElement | HTMLSelectElement): HTMLElement => {
      const id = uid(`audit-${key}`);
      input.id = id;
      return h('div', { class: 'field' }, h('label', { for: id }, label), input);
    };
    const text = () => h('input', { type: 'text', spellcheck: 'false', autocomplete: 'off' });
    const date = () => h('input', { type: 'date' });
    const action = h('select', {}, h('option', { value: '' }, 'Any action'), ...ACTION_CHOICES.map((a) => h('option', { value: a.value }, `${a.label} (${a.value})`)));
    const outcome = h('select', {}, h('option', { value: '' }, 'Any outcome'), h('option', { value: 'success' }, 'Success'), h('option', { value: 'failure' }, 'Failure'));
    this.inputs = { action, outcome, messageId: text(), referralId: text(), sinceDay: date(), untilDay: date() };
    this.people = { actor: new PersonFilter('actor', 'Actor', console), counterpart: new PersonFilter('counterpart', 'Counterpart', console) };
    const form = h(
      'form',
      { class: 'audit-form' },
      h('div', { class: 'audit-people' }, this.people.actor.el, this.people.counterpart.el),
      h(
        'div',
        { class: 'audit-filters' },
        field('action', 'Action', this.inputs.action),
        field('outcome', 'Outcome', this.inputs.outcome),
        field('messageId', 'Message id', this.inputs.messageId),
        field('referralId', 'Referral id', this.inputs.referralId),
        field('sinceDay', 'From (UTC day)', this.inputs.sinceDay),
        field('untilDay', 'To (UTC day)', this.inputs.untilDay),
        h('div', { class: 'audit-buttons' }, h('button', { type: 'submit', class: 'primary' }, 'Search the log')),
      ),
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.console()?.query(this.form());
    });
    this.prev.addEventListener('click', () => this.console()?.previous());
    this.next.addEventListener('click', () => this.console()?.next());
    const table = h(
      'table',
      { class: 'audit-entries' },
      h('caption', { class: 'sr-only' }, 'Audit entries matching the query'),
      h('thead', {}, h('tr', {}, ...COLUMNS.map((t) => h('th', { scope: 'col' }, t)))),
      this.body,
    );
    const dl = (format: 'jsonl' | 'csv', label: string) => {
      const b = h('button', { type: 'button', onclick: () => void this.download(format) }, label);
      this.exportButtons.push(b);
      return b;
    };
    this.el = h(
      'main',
      { class: 'compliance', id: 'compliance-main', 'aria-labelledby': 'compliance-title' },
      h('h2', { id: 'compliance-title' }, 'Audit log'),
      h(
        'section',
        { class: 'card admin-card', 'aria-labelledby': 'audit-verify-title' },
        h('h3', { id: 'audit-verify-title' }, 'Verify the log'),
        h('p', { class: 'hint' }, 'Checks every entry against the tree head the server signed, and that the log only grew since your last verification (the key and head are kept on this device). The charts below count the entries it verified.'),
        this.verifyButton,
        this.progress,
        this.progressText,
        this.result,
      ),
      this.chartsCard,
      h(
        'section',
        { class: 'card admin-card', 'aria-labelledby': 'audit-query-title' },
        h('h3', { id: 'audit-query-title' }, 'Search the log'),
        form,
        this.queryError,
        h('div', { class: 'admin-scroll', tabindex: 0, role: 'region', 'aria-labelledby': 'audit-query-title' }, table),
        h('div', { class: 'admin-row' }, this.prev, this.pageText, this.next),
        this.proofPanel,
      ),
      h(
        'section',
        { class: 'card admin-card', 'aria-labelledby': 'audit-export-title' },
        h('h3', { id: 'audit-export-title' }, 'Export'),
        h('p', { class: 'hint' }, 'The entries matching the search filters (all of them when no filter is set), written to the file as they arrive. An unfiltered JSONL export is verified as it is written; save its tree head beside it to verify the file later with curbside audit verify.'),
        h('div', { class: 'admin-row' }, dl('jsonl', 'Download JSONL'), dl('csv', 'Download CSV')),
        this.exportProgress,
        this.exportStatus,
      ),
    );
  }

  private form(): QueryForm {
    const v = (k: keyof QueryForm) => this.inputs[k].value;
    return { action: v('action'), outcome: v('outcome'), messageId: v('messageId'), referralId: v('referralId'), sinceDay: v('sinceDay'), untilDay: v('untilDay') };
  }

  private async download(format: 'jsonl' | 'csv'): Promise<void> {
    const c = this.console();
    if (c === undefined || c.exporting.running) return;
    // The picker first: it needs the click's activation.
    const opened = await exportSink(`curbside-audit.${format}`, format === 'csv' ? 'text/csv' : 'application/x-ndjson', `.${format}`).catch(() => undefined);
    if (opened === null) return; // cancelled
    if (opened === undefined) {
      replace(this.exportStatus, h('p', { class: 'form-error', role: 'alert' }, 'The file could not be opened for writing: choose another place, or allow downloads for this site.'));
      return;
    }
    this.sinkKind = opened.kind;
    await c.exportTo(format, opened.sink, this.form());
  }

  private updateCharts(a: Activity | undefined): void {
    if (a === this.shownActivity) return;
    this.shownActivity = a;
    this.chartsCard.hidden = a === undefined || a.days.length === 0;
    if (a === undefined) replace(this.charts);
    else replace(this.charts, ...activityCharts(a));
  }

  private updateRows(c: ComplianceConsole): void {
    const rows = c.rows;
    const key = JSON.stringify([c.queried, c.busy, rows]);
    if (key === this.rowsKey) return;
    this.rowsKey = key;
    const cols = COLUMNS.length;
    const message = (t: string) => [h('tr', {}, h('td', { colspan: cols }, t))];
    replace(
      this.body,
      ...(c.busy
        ? message('Searching…')
        : !c.queried
          ? message('Set filters (or none) and choose Search the log.')
          : rows.length === 0
            ? message('No entries match.')
            : rows.map((r) =>
              h(
                'tr',
                { 'data-seq': String(r.seq), class: r.unproven ? 'unproven' : '' },
                h('td', { 'data-label': 'Seq' }, String(r.seq)),
                h('td', { 'data-label': 'Time (UTC)' }, r.time),
                h('td', { class: 'audit-actor', 'data-label': 'Actor' }, r.actor),
                h('td', { class: 'audit-action', 'data-label': 'Action' }, r.action),
                h('td', { class: 'audit-counterpart', 'data-label': 'Counterpart' }, r.counterpart),
                h('td', { 'data-label': 'Outcome' }, r.unproven ? `${r.outcome} — NOT PROVEN` : r.outcome),
                h('td', { 'data-label': 'Proof' }, h('button', { type: 'button', class: 'small', 'aria-label': `Prove entry ${r.seq}`, onclick: () => void this.console()?.prove(r.seq) }, 'Prove')),
              ),
            )),
    );
  }

  private updateProof(c: ComplianceConsole): void {
    const p = c.proof;
    const key = JSON.stringify(p ?? null);
    if (key === this.proofKey) return;
    this.proofKey = key;
    if (p === undefined) {
      replace(this.proofPanel);
      return;
    }
    const title = h('h4', {}, `Inclusion proof of entry ${p.seq}`);
    if (p.running) replace(this.proofPanel, title, h('p', { class: 'hint' }, 'Fetching and checking the proof…'));
    else if (p.ok) {
      replace(
        this.proofPanel,
        title,
        h('p', { class: 'admin-ok audit-proof-ok', role: 'status' }, p.text ?? ''),
        h('dl', { class: 'ref-facts audit-proof-facts' }, ...(p.facts ?? []).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
      );
    } else replace(this.proofPanel, title, h('p', { class: 'form-error audit-alarm', role: 'alert' }, p.text ?? ''));
  }

  private updateExport(c: ComplianceConsole): void {
    const x = c.exporting;
    this.exportProgress.hidden = !x.running && x.total === 0;
    this.exportProgress.max = Math.max(1, x.total);
    this.exportProgress.value = x.done;
    for (const b of this.exportButtons) b.disabled = x.running;
    const key = JSON.stringify([x.running, x.ok, x.text, x.headFile?.name, x.running ? Math.floor((x.done / Math.max(1, x.total)) * 20) : 0]);
    if (key === this.exportKey) return;
    this.exportKey = key;
    if (x.running) {
      const how = this.sinkKind === 'file' ? 'into the file you chose' : 'into a download';
      replace(this.exportStatus, h('p', { class: 'hint' }, x.total === 0 ? 'Checking the tree head…' : `Writing ${how}: through entry ${x.done.toLocaleString('en-US')} of ${x.total.toLocaleString('en-US')}…`));
    } else if (x.text === undefined) replace(this.exportStatus);
    else if (!x.ok) replace(this.exportStatus, h('p', { class: 'form-error audit-alarm', role: 'alert' }, x.text));
    else {
      const head = x.headFile;
      replace(
        this.exportStatus,
        h('p', { class: 'admin-ok', role: 'status' }, x.text),
        head ? h('button', { type: 'button', onclick: () => downloadBlob(new Blob([head.json], { type: 'application/json' }), head.name) }, `Save the tree head (${head.name})`) : null,
      );
    }
  }

  update(): void {
    const c = this.console();
    if (c === undefined) return;
    const v = c.verification;
    this.verifyButton.disabled = v.running;
    this.progress.hidden = !v.running && v.total === 0;
    this.progress.max = Math.max(1, v.total);
    this.progress.value = v.done;
    this.progressText.textContent = v.running ? `${v.done.toLocaleString('en-US')} of ${v.total.toLocaleString('en-US')} entries verified…` : '';
    const resultKey = JSON.stringify([v.ok, v.text]);
    if (resultKey !== this.resultKey) {
      this.resultKey = resultKey;
      if (v.text === undefined) replace(this.result);
      else if (v.ok) replace(this.result, h('p', { class: 'admin-ok audit-ok', role: 'status' }, v.text));
      else replace(this.result, h('p', { class: 'form-error audit-alarm', role: 'alert' }, v.text));
    }
    this.updateCharts(c.activity);
    this.people.actor.update(c.picker('actor'));
    this.people.counterpart.update(c.picker('counterpart'));
    if (c.error === undefined) replace(this.queryError);
    else replace(this.queryError, h('p', { class: 'form-error', role: 'alert' }, c.error));
    this.updateRows(c);
    this.pageText.textContent = c.queried ? `Page ${c.page + 1} of ${c.pages} (${c.total} entries)` : '';
    this.prev.disabled = !c.queried || c.page === 0;
    this.next.disabled = !c.queried || c.page + 1 >= c.pages;
    this.updateProof(c);
    this.updateExport(c);
  }
}
