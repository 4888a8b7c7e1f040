/** The unlock screen: the passphrase derives the key once; a wrong one says so. */

import type { AppModel } from '../app/index.js';
import { h } from './dom.js';
import { field, progress } from './fields.js';

export class UnlockView {
  readonly el: HTMLElement;
  private readonly passphrase = field('Passphrase', { type: 'password', autocomplete: 'current-password', required: true });
  private readonly progress = progress();
  private readonly submit = h('button', { type: 'submit', class: 'primary' }, 'Unlock');

  constructor(private readonly model: AppModel) {
    const form = h(
      'form',
      { class: 'card', novalidate: true, 'aria-labelledby': 'unlock-title', onsubmit: (e: Event) => this.onSubmit(e) },
      h('h2', { id: 'unlock-title' }, 'Unlock Curbside'),
      h('p', {}, 'Your messages on this device are locked. Enter your passphrase to open them.'),
      this.passphrase.row,
      this.progress.el,
      this.submit,
    );
    this.el = h('main', { class: 'auth', id: 'main' }, h('h1', { class: 'brand' }, 'Curbside'), form);
  }

  private async onSubmit(e: Event): Promise<void> {
    e.preventDefault();
    const input = this.passphrase.input;
    if (input.value === '') {
      this.passphrase.setError('Enter your passphrase.');
      input.focus();
      return;
    }
    this.submit.disabled = true;
    const ok = await this.model.unlock(input.value);
    this.submit.disabled = false;
    input.value = '';
    if (!ok) input.focus();
  }

  update(): void {
    const error = this.model.error;
    this.passphrase.setError(error);
    this.progress.set(this.model.busy);
  }

  focus(): void {
    this.passphrase.input.focus();
  }
}
