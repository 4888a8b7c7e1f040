/**
 * The "New referral" form: the patient (name, birth date, administrative
 * sex, MRN with its system), reason, note, priority, target specialty, the
 * receiving clinician from the directory (by name, kept to the specialty)
 * or an on-call role (the referral goes to whoever holds it when sent)
 * and attachments. Validated field by field with the library's messages
 * next to each field (aria-invalid, aria-describedby); focus goes to the
 * first invalid field.
 */

import type { AppModel, Clinician, FieldError, RoleView } from '../app/index.js';
import { h, replace, uid } from './dom.js';

type Control = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;

interface Row {
  readonly row: HTMLDivElement;
  readonly control: Control;
  set(text: string | undefined): void;
}

function row(label: string, control: Control, hint?: string): Row {
  const id = uid('rf');
  control.id = id;
  const errorId = `${id}-error`;
  const hintId = `${id}-hint`;
  control.setAttribute('aria-describedby', hint ? `${hintId} ${errorId}` : errorId);
  const error = h('p', { class: 'field-error', id: errorId, 'aria-live': 'polite' });
  return {
    row: h('div', { class: 'field' }, h('label', { for: id }, label), hint ? h('p', { class: 'hint', id: hintId }, hint) : null, control, error),
    control,
    set(text) {
      error.textContent = text ?? '';
      if (text) control.setAttribute('aria-invalid', 'true');
      else control.removeAttribute('aria-invalid');
    },
  };
}

const select = (options: [string, string][]): HTMLSelectElement => h('select', {}, ...options.map(([v, l]) => h('option', { value: v }, l)));

export class ReferralForm {
  readonly el: HTMLElement;
  private readonly rows: Record<string, Row>;
  private readonly order: string[];
  private readonly problem = h('p', { class: 'form-error', role: 'alert' });
  private readonly results = h('ul', { class: 'results', 'aria-label': 'Clinicians found' });
  private readonly searchStatus = h('p', { class: 'search-status', 'aria-live': 'polite' });
  private readonly chosen = h('p', { class: 'ref-chosen', 'aria-live': 'polite' });
  private readonly submit = h('button', { type: 'submit', class: 'primary' }, 'Send referral');
  private to: Clinician | undefined;
  /** Or an on-call role: resolved to its holder when the referral is sent. */
  private toRole: RoleView | undefined;

  constructor(
    private readonly model: AppModel,
    private readonly done: (id: string | undefined) => void,
  ) {
    const input = (props: Record<string, string> = {}): HTMLInputElement => h('input', { type: 'text', autocomplete: 'off', ...props });
    this.rows = {
      'patient.family': row('Family name', input()),
      'patient.given': row('Given names', input()),
      'patient.birthDate': row('Birth date', input({ inputmode: 'numeric' }), 'YYYY-MM-DD, e.g. 1961-04-02'),
      'patient.sex': row('Administrative sex', select([['', 'Not given'], ['female', 'Female'], ['male', 'Male'], ['other', 'Other'], ['unknown', 'Unknown']])),
      'patient.identifiers[0].value': row('MRN', input()),
      'patient.identifiers[0].system': row('MRN system', input({ inputmode: 'url' }), "Your hospital's MRN URI, e.g. urn:oid:2.16.840.1.113883.19.5"),
      reason: row('Reason for referral', input()),
      note: row('Note (history, findings)', h('textarea', { rows: 4 })),
      priority: row('Priority', select([['routine', 'Routine'], ['urgent', 'Urgent'], ['stat', 'STAT']])),
      specialty: row('Target specialty', input(), 'As the directory spells it, e.g. Dermatology'),
      to: row('Receiving clinician', h('input', { type: 'search', autocomplete: 'off' }), 'Search by name (only clinicians of the target specialty are listed), or an on-call role'),
      attachments: row('Attachments', h('input', { type: 'file', multiple: true })),
    };
    this.order = Object.keys(this.rows);
    const r = (k: string): HTMLDivElement => (this.rows[k] as Row).row;
    const toRow = this.rows['to'] as Row;
    const find = h('button', { type: 'button', onclick: () => void this.search() }, 'Find clinician');
    toRow.control.addEventListener('keydown', (e) => {
      if ((e as KeyboardEvent).key === 'Enter') {
        e.preventDefault();
        void this.search();
      }
    });
    toRow.row.insertBefore(find, toRow.row.lastChild);
    this.el = h(
      'form',
      { class: 'ref-form', novalidate: true, 'aria-labelledby': 'ref-form-title', onsubmit: (e: Event) => void this.onSubmit(e) },
      h('div', { class: 'ref-detail-header' }, h('button', { type: 'button', class: 'back', onclick: () => this.done(undefined) }, 'Back to referrals'), h('h2', { id: 'ref-form-title' }, 'New referral')),
      h('fieldset', {}, h('legend', {}, 'Patient'), r('patient.family'), r('patient.given'), r('patient.birthDate'), r('patient.sex'), r('patient.identifiers[0].value'), r('patient.identifiers[0].system')),
      h('fieldset', {}, h('legend', {}, 'Referral'), r('reason'), r('note'), r('priority'), r('specialty'), r('to'), this.searchStatus, this.results, this.chosen, r('attachments')),
      this.problem,
      this.submit,
    );
  }

  focus(): void {
    (this.rows['patient.family'] as Row).control.focus();
  }

  private value(k: string): string {
    return (this.rows[k] as Row).control.value;
  }

  private async search(): Promise<void> {
    const q = this.value('to');
    const refs = this.model.referrals;
    if (refs === undefined || q.trim() === '') {
      this.searchStatus.textContent = 'Type part of the clinician’s name, then Find clinician.';
      return;
    }
    this.searchStatus.textContent = 'Searching…';
    try {
      const found = await refs.clinicians(q, this.value('specialty'));
      const s = this.value('specialty').trim();
      const oncall = this.model.oncall;
      if (oncall !== undefined) await oncall.refresh();
      const roles = (oncall?.matching(q) ?? []).filter((r) => s === '' || r.specialty === '' || r.specialty.toLowerCase() === s.toLowerCase());
      const n = found.length + roles.length;
      this.searchStatus.textContent = n === 0 ? `No clinician found${s ? ` in ${s}` : ''}: check the name and the specialty.` : `${n} found: choose one.`;
      replace(
        this.results,
        ...roles.map((r) =>
          h('li', {}, h('button', { type: 'button', class: 'result role-result', onclick: () => this.chooseRole(r) }, h('span', { class: 'name' }, `${r.name} — ${r.holdersWords}`), h('span', { class: 'specialty' }, 'On-call role'))),
        ),
        ...found.map((c) =>
          h('li', {}, h('button', { type: 'button', class: 'result', onclick: () => this.choose(c) }, h('span', { class: 'name' }, c.name), h('span', { class: 'specialty' }, c.specialty))),
        ),
      );
    } catch {
      this.searchStatus.textContent = 'The directory could not be searched: check your connection and try again.';
    }
  }

  private chooseRole(r: RoleView): void {
    this.to = undefined;
    this.toRole = r;
    replace(this.results);
    this.searchStatus.textContent = '';
    this.chosen.textContent = `Referring to ${r.name}: whoever holds it when you send (${r.holdersWords})`;
    (this.rows['to'] as Row).set(undefined);
  }

  private choose(c: Clinician): void {
    this.toRole = undefined;
    this.to = c;
    replace(this.results);
    this.searchStatus.textContent = '';
    this.chosen.textContent = `Referring to ${c.name} (${c.specialty})`;
    (this.rows['to'] as Row).set(undefined);
  }

  private async onSubmit(e: Event): Promise<void> {
    e.preventDefault();
    const refs = this.model.referrals;
    if (refs === undefined) return;
    for (const r of Object.values(this.rows)) r.set(undefined);
    this.problem.textContent = '';
    const fileInput = (this.rows['attachments'] as Row).control as HTMLInputElement;
    const files = [...(fileInput.files ?? [])].map((f) => ({ blob: f as Blob, name: f.name }));
    this.submit.disabled = true;
    this.submit.textContent = 'Sending…';
    try {
      if (this.toRole !== undefined) {
        const holder = await this.model.oncall?.holderNow(this.toRole.roleId);
        if (typeof holder !== 'object') return void (this.rows['to'] as Row).set(holder ?? 'Choose the receiving clinician by name.');
        this.to = holder;
        this.chosen.textContent = `Referring to ${this.toRole.name}: ${holder.name} holds it now`;
      }
      const result = await refs.create({
        family: this.value('patient.family'),
        given: this.value('patient.given'),
        birthDate: this.value('patient.birthDate'),
        sex: this.value('patient.sex') as '' | 'male' | 'female' | 'other' | 'unknown',
        mrnSystem: this.value('patient.identifiers[0].system'),
        mrnValue: this.value('patient.identifiers[0].value'),
        reason: this.value('reason'),
        note: this.value('note'),
        priority: this.value('priority'),
        specialty: this.value('specialty'),
        to: this.to,
        files,
      });
      if (result.ok) this.done(result.id);
      else if ('errors' in result) this.showErrors(result.errors);
      else this.problem.textContent = result.problem;
    } finally {
      this.submit.disabled = false;
      this.submit.textContent = 'Send referral';
    }
  }

  private rowOf(field: string): string {
    if (field === 'patient.name') return 'patient.family';
    if (field.startsWith('attachments')) return 'attachments';
    if (this.rows[field] !== undefined) return field;
    if (field.startsWith('patient.identifiers')) return field.endsWith('system') ? 'patient.identifiers[0].system' : 'patient.identifiers[0].value';
    return 'reason';
  }

  private showErrors(errors: readonly FieldError[]): void {
    const by = new Map<string, string>();
    for (const e of errors) {
      const k = this.rowOf(e.field);
      by.set(k, by.has(k) ? `${by.get(k) as string} ${e.message}.` : `${e.message}.`);
    }
    for (const [k, m] of by) (this.rows[k] as Row).set(m);
    const first = this.order.find((k) => by.has(k));
    if (first !== undefined) (this.rows[first] as Row).control.focus();
  }
}
