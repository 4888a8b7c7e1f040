/**
 * A person filter of the audit search (actor, counterpart): type part of a
 * name, Find, choose one of the people found (verified clinicians from the
 * directory; administrators, officers and others the log names by their
 * role); the choice is shown by name with a Clear button. Ids never show.
 */

import type { ComplianceConsole, PersonChoice, PersonField, PickerState } from '../app/index.js';
import { h, replace, uid } from './dom.js';

export class PersonFilter {
  readonly el: HTMLElement;
  private readonly input: HTMLInputElement;
  private readonly status = h('p', { class: 'search-status', 'aria-live': 'polite' });
  private readonly results: HTMLUListElement;
  private readonly chosen = h('p', { class: 'audit-chosen', 'aria-live': 'polite' });
  private readonly clear: HTMLButtonElement;
  private readonly find: HTMLButtonElement;
  private shown: readonly PersonChoice[] | undefined;
  private was: PersonChoice | undefined;

  constructor(
    private readonly field: PersonField,
    label: string,
    private readonly console: () => ComplianceConsole | undefined,
  ) {
    const id = uid(`audit-${field}`);
    const hintId = `${id}-hint`;
    this.input = h('input', { id, type: 'search', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': hintId });
    this.input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') {
        ev.preventDefault();
        this.search();
      }
    });
    this.find = h('button', { type: 'button', onclick: () => this.search() }, `Find ${label.toLowerCase()}`);
    this.clear = h('button', { type: 'button', class: 'small', hidden: true, onclick: () => this.console()?.clearPerson(this.field) }, `Clear ${label.toLowerCase()}`);
    this.results = h('ul', { class: 'results audit-people-found', 'aria-label': `People found for ${label.toLowerCase()}` });
    this.el = h(
      'div',
      { class: 'field audit-person' },
      h('label', { for: id }, label),
      h('p', { class: 'hint', id: hintId }, 'A name from the directory, or “administrator”, “compliance officer”'),
      h('div', { class: 'search-row' }, this.input, this.find),
      this.status,
      this.results,
      h('div', { class: 'audit-chosen-row' }, this.chosen, this.clear),
    );
  }

  private search(): void {
    void this.console()?.findPeople(this.field, this.input.value);
  }

  update(p: PickerState): void {
    this.find.disabled = p.busy;
    this.status.textContent = p.status;
    if (p.results !== this.shown) {
      this.shown = p.results;
      replace(
        this.results,
        ...p.results.map((r) =>
          h(
            'li',
            {},
            h('button', { type: 'button', class: 'result', onclick: () => this.console()?.choose(this.field, r.key) }, h('span', { class: 'name' }, r.name), h('span', { class: 'specialty' }, r.detail)),
          ),
        ),
      );
    }
    this.chosen.textContent = p.chosen === undefined ? '' : `Only entries with ${p.chosen.name} as ${this.field === 'actor' ? 'the actor' : 'the counterpart'}`;
    this.clear.hidden = p.chosen === undefined;
    if (p.chosen !== undefined && p.chosen !== this.was) this.input.value = '';
    this.was = p.chosen;
  }
}
