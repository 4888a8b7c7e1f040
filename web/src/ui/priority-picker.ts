/**
 * The composer's priority: Routine, Urgent or STAT, and for urgent or stat
 * an optional escalation — a backup clinician picked by name from the
 * directory (or an on-call role: whoever holds it when picked) and a delay (5 minutes unless changed). The message asks its
 * recipient to acknowledge it; if nobody does within the delay, the server
 * releases a copy (encrypted to the backup's devices now) to the backup.
 * In a care team there is no escalation (a backup outside the team could
 * not open its message): every member is alerted until one acknowledges.
 */

import type { AppModel, Clinician, RoleView, UrgentOptions } from '../app/index.js';
import { h, replace, uid } from './dom.js';

const DELAYS: [number, string][] = [
  [60, '1 minute'],
  [120, '2 minutes'],
  [300, '5 minutes'],
  [600, '10 minutes'],
  [900, '15 minutes'],
  [1800, '30 minutes'],
  [3600, '1 hour'],
];

export class PriorityPicker {
  readonly el: HTMLElement;
  private readonly level: HTMLSelectElement;
  private readonly escalate: HTMLInputElement;
  private readonly escalation = h('div', { class: 'escalation', hidden: true });
  private readonly details = h('div', { class: 'escalation-details', hidden: true });
  private readonly query: HTMLInputElement;
  private readonly results = h('ul', { class: 'results escalation-results' });
  private readonly chosen = h('p', { class: 'escalation-chosen' });
  private readonly status = h('p', { class: 'search-status', 'aria-live': 'polite' });
  private readonly delay: HTMLSelectElement;
  private backup: Clinician | undefined;

  constructor(
    private readonly model: AppModel,
    private readonly peer: () => string | undefined,
    /** The choice changed (the composer's earlier hint no longer applies). */
    private readonly onChange: () => void = () => undefined,
    /** A care team's composer: urgent and stat without an escalation. */
    private readonly team = false,
  ) {
    const levelId = uid('priority');
    this.level = h(
      'select',
      { id: levelId, class: 'priority-select', onchange: () => this.sync() },
      h('option', { value: 'routine' }, 'Routine'),
      h('option', { value: 'urgent' }, 'Urgent'),
      h('option', { value: 'stat' }, 'STAT'),
    );
    const escId = uid('escalate');
    this.escalate = h('input', { id: escId, type: 'checkbox', onchange: () => this.sync() });
    const queryId = uid('backup');
    this.query = h('input', { id: queryId, type: 'search', autocomplete: 'off', placeholder: 'Name or specialty' });
    this.query.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        void this.find();
      }
    });
    const delayId = uid('delay');
    this.delay = h('select', { id: delayId }, ...DELAYS.map(([s, label]) => h('option', { value: String(s) }, label)));
    this.delay.value = '300';
    replace(
      this.details,
      h('div', { class: 'field' }, h('label', { for: queryId }, 'Backup clinician'), h('div', { class: 'search-row' }, this.query, h('button', { type: 'button', onclick: () => void this.find() }, 'Find'))),
      this.status,
      this.results,
      this.chosen,
      h('div', { class: 'field' }, h('label', { for: delayId }, 'Escalate after'), this.delay),
    );
    if (team) replace(this.escalation, h('p', { class: 'hint team-urgent-hint' }, 'Every member is alerted until one of them acknowledges it.'));
    else replace(this.escalation, h('div', { class: 'check' }, this.escalate, h('label', { for: escId }, 'Escalate to a backup if no one acknowledges')), this.details);
    this.el = h(
      'div',
      { class: 'composer-priority' },
      h('div', { class: 'priority-row' }, h('label', { for: levelId }, 'Priority'), this.level),
      this.escalation,
    );
  }

  private sync(): void {
    this.onChange();
    const urgent = this.level.value !== 'routine';
    this.el.classList.toggle('composer-urgent', urgent);
    this.escalation.hidden = !urgent;
    this.details.hidden = !urgent || !this.escalate.checked;
    this.showChosen();
  }

  private showChosen(): void {
    this.chosen.textContent = this.backup === undefined ? '' : `Backup: ${this.backup.name}${this.backup.specialty ? ` (${this.backup.specialty})` : ''}`;
  }

  private async find(): Promise<void> {
    const q = this.query.value.trim();
    if (q === '') {
      this.status.textContent = 'Type part of a name or a specialty, then Find.';
      return;
    }
    this.status.textContent = 'Searching…';
    try {
      const found = (await this.model.search(q)).filter((c) => c.key !== this.peer());
      const oncall = this.model.oncall;
      await oncall?.refresh();
      const roles = (oncall?.matching(q) ?? []).filter((r) => r.holders.length === 1 && r.holders[0]?.key !== this.peer());
      const n = found.length + roles.length;
      this.status.textContent = n === 0 ? 'No verified clinician found (your colleague in this conversation cannot be their own backup).' : `${n} found: choose the backup.`;
      replace(
        this.results,
        ...roles.map((r) => h('li', {}, h('button', { type: 'button', class: 'result role-result', onclick: () => this.chooseRole(r) }, h('span', { class: 'name' }, `${r.name} — ${r.holdersWords}`), h('span', { class: 'specialty' }, 'On-call role')))),
        ...found.map((c) =>
          h('li', {}, h('button', { type: 'button', class: 'result', onclick: () => this.choose(c) }, h('span', { class: 'name' }, c.name), h('span', { class: 'specialty' }, c.specialty))),
        ),
      );
    } catch (e) {
      this.status.textContent = e instanceof Error ? e.message : 'The directory could not be searched: try again.';
    }
  }

  /** An on-call role as the backup: the clinician holding it now (the escalation is encrypted to their devices at send time). */
  private chooseRole(r: RoleView): void {
    const holder = r.holders[0];
    if (holder !== undefined) this.choose({ key: holder.key, name: holder.name, specialty: `on call for ${r.name}`, npi: '' });
  }

  private choose(c: Clinician): void {
    this.backup = c;
    replace(this.results);
    this.status.textContent = '';
    this.query.value = '';
    this.showChosen();
    this.onChange();
  }

  /** The options to send with, or why not yet (the escalation lacks its backup), in words. */
  options(): UrgentOptions | string {
    const priority = this.level.value as UrgentOptions['priority'];
    if (priority === 'routine' || this.team || !this.escalate.checked) return { priority };
    if (this.backup === undefined || this.backup.key === this.peer()) return 'Choose the backup clinician (Find, then pick a name), or untick the escalation.';
    return { priority, escalation: { backup: this.backup.key, afterSecs: Number(this.delay.value) } };
  }

  /** After a send: back to Routine (each urgent message is chosen as such). */
  reset(): void {
    this.level.value = 'routine';
    this.escalate.checked = false;
    this.backup = undefined;
    replace(this.results);
    this.status.textContent = '';
    this.sync();
  }
}
