/**
 * The On-call screen (the top bar's On-call button): every role with who
 * holds it now and its shifts, Message (the role's thread), Hand off (for
 * its holder or an administrator: a colleague chosen by name takes it now),
 * and, for administrators, a new role and a shift scheduled for a clinician
 * found by name. Each result in words, naming people.
 */

import type { AppModel, OnCallOutcome, RoleView } from '../app/index.js';
import { ClinicianPick } from './clinician-pick.js';
import { h, replace, uid } from './dom.js';

/** `datetime-local`'s value for a time (local). */
function localValue(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

function span(ms: number): string {
  const opts: Intl.DateTimeFormatOptions = { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' };
  return new Date(ms).toLocaleString(undefined, opts);
}

export class OnCallView {
  readonly el: HTMLElement;
  private readonly status = h('div', { class: 'admin-status', role: 'status', 'aria-live': 'polite' });
  private readonly list = h('div', { class: 'oncall-roles' });
  private readonly adminCards = h('div', { class: 'oncall-admin', hidden: true });
  private readonly roleSelect = h('select', { id: uid('shift-role') });
  private readonly shiftWho: ClinicianPick;
  private readonly shiftTimes: [HTMLInputElement, HTMLInputElement];
  private rendered = '';

  constructor(private readonly model: AppModel, private readonly leave: () => void) {
    this.shiftWho = new ClinicianPick('Clinician', (q) => this.model.search(q));
    const nameId = uid('role-name');
    const specId = uid('role-spec');
    const name = h('input', { id: nameId, type: 'text', autocomplete: 'off', placeholder: 'On-call dermatology' });
    const specialty = h('input', { id: specId, type: 'text', autocomplete: 'off', placeholder: 'Dermatology' });
    const create = h('button', { type: 'submit', class: 'primary' }, 'Create role');
    const createForm = h(
      'form',
      { class: 'card admin-card', 'aria-labelledby': 'oncall-new-title' },
      h('h3', { id: 'oncall-new-title' }, 'New on-call role'),
      h('div', { class: 'admin-row' }, h('div', { class: 'field' }, h('label', { for: nameId }, 'Name'), name), h('div', { class: 'field' }, h('label', { for: specId }, 'Specialty'), specialty)),
      create,
    );
    createForm.addEventListener('submit', (e) => {
      e.preventDefault();
      const o = this.model.oncall;
      if (o === undefined) return;
      create.disabled = true;
      void o.createRole(name.value, specialty.value).then((r) => {
        create.disabled = false;
        this.show(r);
        if (r.ok) (name.value = ''), (specialty.value = '');
      });
    });
    const fromId = uid('shift-start');
    const untilId = uid('shift-end');
    const from = h('input', { id: fromId, type: 'datetime-local' });
    const until = h('input', { id: untilId, type: 'datetime-local' });
    this.shiftTimes = [from, until];
    this.defaultTimes();
    const schedule = h('button', { type: 'submit', class: 'primary' }, 'Schedule shift');
    const shiftForm = h(
      'form',
      { class: 'card admin-card', 'aria-labelledby': 'oncall-shift-title' },
      h('h3', { id: 'oncall-shift-title' }, 'Schedule a shift'),
      h('div', { class: 'admin-row' }, h('div', { class: 'field' }, h('label', { for: this.roleSelect.id }, 'Role'), this.roleSelect), this.shiftWho.el),
      h('div', { class: 'admin-row' }, h('div', { class: 'field' }, h('label', { for: fromId }, 'Starts'), from), h('div', { class: 'field' }, h('label', { for: untilId }, 'Ends'), until)),
      schedule,
    );
    shiftForm.addEventListener('submit', (e) => {
      e.preventDefault();
      const o = this.model.oncall;
      if (o === undefined) return;
      const who = this.shiftWho.chosen();
      if (typeof who === 'string') return this.shiftWho.setError(who);
      if (this.roleSelect.value === '') return this.show({ ok: false, text: 'Create a role first (above).' });
      schedule.disabled = true;
      void o.schedule(this.roleSelect.value, who, new Date(from.value).getTime(), new Date(until.value).getTime()).then((r) => {
        schedule.disabled = false;
        this.show(r);
        if (r.ok) this.shiftWho.reset();
      });
    });
    this.adminCards.append(createForm, shiftForm);
    const reload = h('button', { type: 'button', onclick: () => void this.model.oncall?.refresh() }, 'Reload');
    this.el = h(
      'main',
      { class: 'admin oncall', id: 'oncall-main', 'aria-labelledby': 'oncall-title' },
      h('div', { class: 'admin-row' }, h('h2', { id: 'oncall-title' }, 'On-call roles'), reload),
      h('p', { class: 'hint' }, 'Message a role to reach whoever holds it now: the message is encrypted to their devices, and the server records who held the role for it.'),
      this.status,
      this.list,
      this.adminCards,
    );
  }

  /** A shift from now for 12 hours, unless the administrator chose other times. */
  private defaultTimes(): void {
    const [from, until] = this.shiftTimes;
    if (from.value !== '' && new Date(from.value).getTime() > Date.now() - 3_600_000) return;
    from.value = localValue(Date.now());
    until.value = localValue(Date.now() + 12 * 3_600_000);
  }

  /** The screen is shown: the roles are read again. */
  shown(): void {
    this.defaultTimes();
    this.rendered = '';
    void this.model.oncall?.refresh();
  }

  private show(o: OnCallOutcome): void {
    replace(this.status, h('p', { class: o.ok ? 'admin-ok' : 'form-error' }, o.text));
  }

  update(): void {
    const o = this.model.oncall;
    if (o === undefined) return;
    this.adminCards.hidden = !o.isAdmin;
    const roles = o.roles;
    const key = JSON.stringify([roles, o.error, o.isAdmin]);
    if (key === this.rendered) return;
    this.rendered = key;
    if (roles === undefined) {
      replace(this.list, h('p', { class: o.error ? 'form-error' : 'hint' }, o.error ?? 'Reading the on-call roles…'));
      return;
    }
    const chosen = this.roleSelect.value;
    replace(this.roleSelect, ...roles.map((r) => h('option', { value: r.roleId }, r.name)));
    if (roles.some((r) => r.roleId === chosen)) this.roleSelect.value = chosen;
    replace(
      this.list,
      o.error ? h('p', { class: 'form-error' }, o.error) : null,
      roles.length === 0
        ? h('p', { class: 'empty' }, o.isAdmin ? 'No on-call roles yet: create one below.' : 'No on-call roles yet: an administrator creates them.')
        : h('ul', { class: 'oncall-list' }, ...roles.map((r) => this.card(r, o.isAdmin))),
    );
  }

  private card(r: RoleView, admin: boolean): HTMLLIElement {
    const titleId = uid('role');
    const message = h('button', { type: 'button', class: 'primary', disabled: r.holders.length === 0 }, 'Message');
    message.addEventListener('click', () => {
      this.model.select(r.key);
      this.leave();
    });
    const handOff = r.mine || admin ? h('button', { type: 'button', onclick: () => void this.handOff(r) }, 'Hand off') : null;
    return h(
      'li',
      { class: 'card oncall-role', 'aria-labelledby': titleId },
      h('div', { class: 'row' }, h('h3', { id: titleId, class: 'name' }, r.name), r.specialty ? h('span', { class: 'chip' }, r.specialty) : null, r.mine ? h('span', { class: 'chip chip-this' }, 'You hold it') : null),
      h('p', { class: r.holders.length === 0 ? 'oncall-now nobody' : 'oncall-now' }, r.holdersWords.replace(/^now: /, 'Now: ').replace(/^nobody/, 'Nobody')),
      r.shifts.length === 0
        ? h('p', { class: 'hint' }, 'No shifts scheduled.')
        : h('ul', { class: 'oncall-shifts', 'aria-label': `Shifts of ${r.name}` }, ...r.shifts.map((s) => h('li', { class: s.now ? 'now' : '' }, h('span', { class: 'name' }, s.name), ` ${span(s.startsAt)} – ${span(s.endsAt)}`, s.now ? h('span', { class: 'chip' }, 'now') : null))),
      h('div', { class: 'ref-actions' }, message, handOff),
    );
  }

  /** The hand-off dialog: it stays open while something needs fixing. */
  private async handOff(r: RoleView): Promise<void> {
    const pick = new ClinicianPick('Hand off to', (q) => this.model.search(q));
    const error = h('p', { class: 'form-error', role: 'alert' });
    const titleId = uid('dialog-title');
    const submit = h('button', { type: 'submit', class: 'primary' }, 'Hand off now');
    const cancel = h('button', { type: 'button' }, 'Cancel');
    const form = h(
      'form',
      { novalidate: true },
      h('p', {}, `The colleague you choose holds ${r.name} from now until the end of the current shift; messages to the role go to them.`),
      pick.el,
      error,
      h('div', { class: 'dialog-actions' }, cancel, submit),
    );
    const el = h('dialog', { 'aria-labelledby': titleId, class: 'handoff-dialog' }, h('h2', { id: titleId }, `Hand off ${r.name}`), form);
    const close = (): void => {
      el.close();
      el.remove();
    };
    el.addEventListener('cancel', (e) => {
      e.preventDefault();
      close();
    });
    cancel.addEventListener('click', close);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const who = pick.chosen();
      if (typeof who === 'string') return void (error.textContent = who);
      error.textContent = '';
      submit.disabled = true;
      void this.model.oncall?.handOff(r.roleId, who).then((o) => {
        submit.disabled = false;
        if (!o.ok) return void (error.textContent = o.text);
        close();
        this.show(o);
      });
    });
    document.body.appendChild(el);
    el.showModal();
    pick.input.focus();
  }
}
