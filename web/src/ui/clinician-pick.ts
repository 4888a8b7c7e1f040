/**
 * Choosing a clinician by name: a search field, its Search button and the
 * verified clinicians found as a choice (the directory's names, never ids).
 */

import type { Clinician } from '../app/index.js';
import { h, replace, uid } from './dom.js';

export class ClinicianPick {
  readonly el: HTMLDivElement;
  readonly input: HTMLInputElement;
  private readonly select: HTMLSelectElement;
  private readonly status = h('p', { class: 'field-error', 'aria-live': 'polite' });
  private found: Clinician[] = [];

  constructor(label: string, private readonly search: (q: string) => Promise<Clinician[]>) {
    const id = uid('pick');
    const selectId = uid('pick-choice');
    this.input = h('input', { id, type: 'search', autocomplete: 'off', placeholder: 'Part of a name' });
    this.select = h('select', { id: selectId, hidden: true, 'aria-label': `${label}: choose` });
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        void this.run();
      }
    });
    this.el = h(
      'div',
      { class: 'field clinician-pick' },
      h('label', { for: id }, label),
      h('div', { class: 'search-row' }, this.input, h('button', { type: 'button', onclick: () => void this.run() }, 'Find')),
      this.select,
      this.status,
    );
  }

  private async run(): Promise<void> {
    const q = this.input.value.trim();
    replace(this.select);
    this.select.hidden = true;
    this.found = [];
    if (q === '') {
      this.status.textContent = 'Type part of the clinician’s name, then Find.';
      return;
    }
    this.status.textContent = 'Searching…';
    try {
      this.found = await this.search(q);
    } catch (e) {
      this.status.textContent = e instanceof Error ? e.message : 'The directory could not be searched: try again.';
      return;
    }
    if (this.found.length === 0) {
      this.status.textContent = `No verified clinician matches “${q}”: try another part of the name.`;
      return;
    }
    replace(this.select, ...this.found.map((c, i) => h('option', { value: String(i) }, c.specialty ? `${c.name} (${c.specialty})` : c.name)));
    this.select.hidden = false;
    this.status.textContent = this.found.length === 1 ? '' : `${this.found.length} found: choose one.`;
  }

  /** The clinician chosen, or why none is, in words. */
  chosen(): Clinician | string {
    const c = this.found[Number(this.select.value)];
    return c ?? 'Find the clinician by name first (Find), then choose them.';
  }

  setError(text: string): void {
    this.status.textContent = text;
  }

  reset(): void {
    this.input.value = '';
    this.found = [];
    replace(this.select);
    this.select.hidden = true;
    this.status.textContent = '';
  }
}
