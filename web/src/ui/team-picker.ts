/**
 * Choosing clinicians from the directory by name (the New team dialog and
 * the members panel's "Add members"): a search field, the clinicians found
 * (each added to the list with one press, or, for someone who may not be
 * added such as a member removed from the team, why not), and the chosen
 * ones, each with a button to take them off the list again.
 */

import type { AppModel, Clinician } from '../app/index.js';
import { h, replace, srOnly, uid } from './dom.js';

export class MemberPicker {
  readonly el: HTMLDivElement;
  readonly input: HTMLInputElement;
  private readonly status = h('p', { class: 'search-status', 'aria-live': 'polite' });
  private readonly results: HTMLUListElement;
  private readonly chosenList: HTMLUListElement;
  private readonly chosenHead: HTMLParagraphElement;
  private readonly errorLine: HTMLParagraphElement;
  private found: Clinician[] = [];
  chosen: Clinician[] = [];

  constructor(
    private readonly model: AppModel,
    label: string,
    /** Who may not be chosen (the team's members already). */
    private readonly exclude: () => ReadonlySet<string> = () => new Set(),
    private readonly onChange: () => void = () => undefined,
    /** Why a clinician found may not be chosen (shown in place of the Add button), or `undefined`. */
    private readonly refusal: (c: Clinician) => string | undefined = () => undefined,
  ) {
    const id = uid('picker');
    const errorId = `${id}-error`;
    this.input = h('input', { id, type: 'search', autocomplete: 'off', placeholder: 'Part of a name', 'aria-describedby': `${id}-hint ${errorId}` });
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        void this.search();
      }
    });
    this.results = h('ul', { class: 'results', 'aria-label': 'Clinicians found' });
    this.chosenHead = h('p', { class: 'chosen-head', id: `${id}-chosen` });
    this.chosenList = h('ul', { class: 'chosen', 'aria-labelledby': `${id}-chosen` });
    this.errorLine = h('p', { class: 'field-error', id: errorId, 'aria-live': 'polite' });
    this.el = h(
      'div',
      { class: 'picker field' },
      h('label', { for: id }, label),
      h('p', { class: 'hint', id: `${id}-hint` }, 'Verified clinicians of the directory: search by name, then add each one.'),
      h('div', { class: 'search-row' }, this.input, h('button', { type: 'button', onclick: () => void this.search() }, 'Search')),
      this.errorLine,
      this.status,
      this.results,
      this.chosenHead,
      this.chosenList,
    );
    this.draw();
  }

  setError(text: string | undefined): void {
    this.errorLine.textContent = text ?? '';
    if (text) this.input.setAttribute('aria-invalid', 'true');
    else this.input.removeAttribute('aria-invalid');
  }

  clear(): void {
    this.chosen = [];
    this.found = [];
    this.input.value = '';
    this.status.textContent = '';
    this.draw();
  }

  private async search(): Promise<void> {
    const q = this.input.value.trim();
    this.found = [];
    this.draw();
    if (q === '') {
      this.status.textContent = 'Type part of a name.';
      return;
    }
    this.status.textContent = 'Searching…';
    try {
      this.found = await this.model.search(q);
    } catch (e) {
      this.status.textContent = e instanceof Error ? e.message : 'The directory could not be searched: try again.';
      return;
    }
    const open = this.available().filter((c) => this.refusal(c) === undefined);
    const refused = this.available().length - open.length;
    this.status.textContent =
      this.found.length === 0
        ? `No verified clinician matches “${q}”: try another part of the name.`
        : open.length === 0
          ? refused > 0
            ? `No one matching “${q}” can be added: see why below.`
            : `Everyone matching “${q}” is already ${this.exclude().size > 0 ? 'a member or ' : ''}on the list.`
          : `${open.length} found: add the ones you want.`;
    this.draw();
  }

  private available(): Clinician[] {
    const taken = this.exclude();
    return this.found.filter((c) => !taken.has(c.key) && !this.chosen.some((x) => x.key === c.key));
  }

  private add(c: Clinician): void {
    this.chosen = [...this.chosen, c];
    this.status.textContent = `${c.name} is on the list.`;
    this.setError(undefined);
    this.draw();
    (this.results.querySelector<HTMLButtonElement>('button') ?? this.input).focus();
    this.onChange();
  }

  private drop(c: Clinician): void {
    this.chosen = this.chosen.filter((x) => x.key !== c.key);
    this.status.textContent = `${c.name} is off the list.`;
    this.draw();
    this.input.focus();
    this.onChange();
  }

  private draw(): void {
    replace(
      this.results,
      ...this.available().map((c) => {
        const refused = this.refusal(c);
        if (refused !== undefined) {
          return h('li', {}, h('p', { class: 'result refused' }, h('span', { class: 'name' }, c.name), h('span', { class: 'refused-why' }, refused)));
        }
        return h(
          'li',
          {},
          h(
            'button',
            { type: 'button', class: 'result', onclick: () => this.add(c) },
            h('span', { class: 'name' }, srOnly('Add '), c.name),
            h('span', { class: 'specialty' }, c.specialty),
          ),
        );
      }),
    );
    this.chosenHead.textContent = this.chosen.length === 0 ? 'No one chosen yet.' : `Chosen (${this.chosen.length}):`;
    replace(
      this.chosenList,
      ...this.chosen.map((c) =>
        h(
          'li',
          { class: 'chosen-item' },
          h('span', {}, h('span', { class: 'name' }, c.name), ' ', h('span', { class: 'specialty' }, c.specialty)),
          h('button', { type: 'button', class: 'small', onclick: () => this.drop(c) }, 'Take off', srOnly(` ${c.name}`)),
        ),
      ),
    );
  }
}
