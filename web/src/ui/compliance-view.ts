/**
 * The Audit screen (the top bar's Audit button, for compliance officers
 * only): Verify the log (a progress bar, then the CLI's `OK: …` line or the
 * loud failure naming the first altered entry), a proven audit query shown
 * a page at a time, and JSONL/CSV downloads.
 */

import { AUDIT_ACTIONS, type ComplianceConsole, type QueryForm } from '../app/index.js';
import { h, replace, uid } from './dom.js';

export class ComplianceView {
  readonly el: HTMLElement;
  private readonly progress = h('progress', { class: 'audit-progress', max: 1, value: 0, hidden: true, 'aria-label': 'Entries verified' });
  private readonly progressText = h('p', { class: 'hint', 'aria-live': 'polite' });
  private readonly result = h('div', { class: 'audit-result' });
  private readonly verifyButton = h('button', { type: 'button', class: 'primary' }, 'Verify the log');
  private readonly queryError = h('div', { class: 'audit-query-error' });
  private readonly body = h('tbody', {});
  private readonly pageText = h('p', { class: 'hint', 'aria-live': 'polite' });
  private readonly prev = h('button', { type: 'button' }, 'Previous page');
  private readonly next = h('button', { type: 'button' }, 'Next page');
  private readonly exportStatus = h('p', { class: 'hint', role: 'status' });
  private readonly inputs: Record<keyof QueryForm, HTMLInputElement | HTMLSelectElement>;

  constructor(private readonly console: () => ComplianceConsole | undefined) {
    this.verifyButton.addEventListener('click', () => void this.console()?.verify());
    const field = (key: keyof QueryForm, label: string, input: HTMLInputElement | HTMLSelectElement, hint?: string): HTMLElement => {
      const id = uid(`audit-${key}`);
      input.id = id;
      return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('p', { class: 'hint' }, hint) : null);
    };
    const text = () => h('input', { type: 'text', spellcheck: 'false', autocomplete: 'off' });
    const date = () => h('input', { type: 'date' });
    const action = h('select', {}, h('option', { value: '' }, 'Any action'), ...AUDIT_ACTIONS.map((a) => h('option', { value: a }, a)));
    this.inputs = { actor: text(), counterpart: text(), action, messageId: text(), referralId: text(), sinceDay: date(), untilDay: date() };
    const form = h(
      'form',
      { class: 'audit-filters' },
      field('actor', 'Actor (user id)', this.inputs.actor),
      field('counterpart', 'Counterpart (user id)', this.inputs.counterpart),
      field('action', 'Action', this.inputs.action),
      field('messageId', 'Message id', this.inputs.messageId),
      field('referralId', 'Referral id', this.inputs.referralId),
      field('sinceDay', 'From (UTC day)', this.inputs.sinceDay),
      field('untilDay', 'To (UTC day)', this.inputs.untilDay),
      h('div', { class: 'audit-buttons' }, h('button', { type: 'submit', class: 'primary' }, 'Search the log')),
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
      h('thead', {}, h('tr', {}, ...['Seq', 'Time (UTC)', 'Actor', 'Action', 'Counterpart', 'Outcome'].map((t) => h('th', { scope: 'col' }, t)))),
      this.body,
    );
    const dl = (format: 'jsonl' | 'csv', label: string) => h('button', { type: 'button', onclick: () => void this.download(format) }, label);
    this.el = h(
      'main',
      { class: 'compliance', id: 'compliance-main', 'aria-labelledby': 'compliance-title' },
      h('h2', { id: 'compliance-title' }, 'Audit log'),
      h(
        'section',
        { class: 'card admin-card', 'aria-labelledby': 'audit-verify-title' },
        h('h3', { id: 'audit-verify-title' }, 'Verify the log'),
        h('p', { class: 'hint' }, 'Checks every entry against the tree head the server signed, and that the log only grew since your last verification (the key and head are kept on this device).'),
        this.verifyButton,
        this.progress,
        this.progressText,
        this.result,
      ),
      h('section', { class: 'card admin-card', 'aria-labelledby': 'audit-query-title' }, h('h3', { id: 'audit-query-title' }, 'Search the log'), form, this.queryError, h('div', { class: 'admin-scroll', tabindex: 0, role: 'region', 'aria-labelledby': 'audit-query-title' }, table), h('div', { class: 'admin-row' }, this.prev, this.pageText, this.next)),
      h('section', { class: 'card admin-card', 'aria-labelledby': 'audit-export-title' }, h('h3', { id: 'audit-export-title' }, 'Export'), h('p', { class: 'hint' }, 'The entries matching the search filters (all of them when no filter is set).'), h('div', { class: 'admin-row' }, dl('jsonl', 'Download JSONL'), dl('csv', 'Download CSV')), this.exportStatus),
    );
  }

  private form(): QueryForm {
    const v = (k: keyof QueryForm) => this.inputs[k].value;
    return { actor: v('actor'), counterpart: v('counterpart'), action: v('action'), messageId: v('messageId'), referralId: v('referralId'), sinceDay: v('sinceDay'), untilDay: v('untilDay') };
  }

  private async download(format: 'jsonl' | 'csv'): Promise<void> {
    const c = this.console();
    if (c === undefined) return;
    this.exportStatus.textContent = 'Exporting…';
    const r = await c.exportText(format, this.form());
    if (r.text === undefined) {
      this.exportStatus.textContent = r.error ?? 'The export failed: try again.';
      return;
    }
    const url = URL.createObjectURL(new Blob([r.text], { type: format === 'csv' ? 'text/csv' : 'application/x-ndjson' }));
    const a = h('a', { href: url, download: `curbside-audit.${format}` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    const lines = r.text.split('\n').filter((l) => l !== '').length;
    this.exportStatus.textContent = `Downloaded curbside-audit.${format} (${lines} lines).`;
  }

  update(): void {
    const c = this.console();
    if (c === undefined) return;
    const v = c.verification;
    this.verifyButton.disabled = v.running;
    this.progress.hidden = !v.running && v.total === 0;
    this.progress.max = Math.max(1, v.total);
    this.progress.value = v.done;
    this.progressText.textContent = v.running ? `${v.done} of ${v.total} entries verified…` : '';
    if (v.text === undefined) replace(this.result);
    else if (v.ok) replace(this.result, h('p', { class: 'admin-ok audit-ok', role: 'status' }, v.text));
    else replace(this.result, h('p', { class: 'form-error audit-alarm', role: 'alert' }, v.text));
    if (c.error === undefined) replace(this.queryError);
    else replace(this.queryError, h('p', { class: 'form-error', role: 'alert' }, c.error));
    const rows = c.rows;
    replace(
      this.body,
      ...(!c.queried
        ? [h('tr', {}, h('td', { colspan: 6 }, c.busy ? 'Searching…' : 'Set filters (or none) and choose Search the log.'))]
        : rows.length === 0
          ? [h('tr', {}, h('td', { colspan: 6 }, 'No entries match.'))]
          : rows.map((r) =>
              h(
                'tr',
                { 'data-seq': String(r.seq), class: r.unproven ? 'unproven' : '' },
                h('td', { 'data-label': 'Seq' }, String(r.seq)),
                h('td', { 'data-label': 'Time (UTC)' }, r.time),
                h('td', { 'data-label': 'Actor' }, r.actor),
                h('td', { class: 'audit-action', 'data-label': 'Action' }, r.action),
                h('td', { 'data-label': 'Counterpart' }, r.counterpart),
                h('td', { 'data-label': 'Outcome' }, r.unproven ? `${r.outcome} — NOT PROVEN` : r.outcome),
              ),
            )),
    );
    this.pageText.textContent = c.queried ? `Page ${c.page + 1} of ${c.pages} (${c.total} entries)` : '';
    this.prev.disabled = !c.queried || c.page === 0;
    this.next.disabled = !c.queried || c.page + 1 >= c.pages;
  }
}
