/**
 * The enrollment screen: the invite (also taken from the link's
 * `#invite=cbs_inv_…`), the clinician's full name, NPI and specialty, and
 * the passphrase that seals this browser's data, twice.
 */

import { inviteFromFragment, MIN_PASSPHRASE, type AppModel, type EnrollField } from '../app/index.js';
import { h } from './dom.js';
import { field, progress, type Field } from './fields.js';

export class EnrollView {
  readonly el: HTMLElement;
  private readonly fields: Record<EnrollField, Field>;
  private readonly formError: HTMLParagraphElement;
  private readonly progress = progress();
  private readonly submit: HTMLButtonElement;

  constructor(private readonly model: AppModel) {
    this.fields = {
      invite: field('Invite', { type: 'text', autocomplete: 'off', spellcheck: 'false', required: true }, 'From your administrator: it starts with cbs_inv_ (the first administrator: the cbs_boot_ token the server printed).'),
      name: field('Full name', { type: 'text', autocomplete: 'off', required: true }),
      npi: field('NPI', { type: 'text', inputmode: 'numeric', autocomplete: 'off', required: true }, 'Your 10-digit National Provider Identifier (an administrator enrolling with cbs_boot_ leaves it and Specialty empty).'),
      specialty: field('Specialty', { type: 'text', autocomplete: 'off', required: true }),
      passphrase: field('Passphrase', { type: 'password', autocomplete: 'new-password', required: true }, `At least ${MIN_PASSPHRASE} characters. It protects your messages on this device; it cannot be recovered.`),
      confirmation: field('Passphrase again', { type: 'password', autocomplete: 'new-password', required: true }),
    };
    const invite = inviteFromFragment(location.hash);
    if (invite !== undefined) this.fields.invite.input.value = invite;
    this.formError = h('p', { class: 'form-error', role: 'alert' });
    this.submit = h('button', { type: 'submit', class: 'primary' }, 'Enroll this browser');
    const form = h(
      'form',
      { class: 'card', novalidate: true, 'aria-labelledby': 'enroll-title', onsubmit: (e: Event) => this.onSubmit(e) },
      h('h2', { id: 'enroll-title' }, 'Enroll this browser'),
      h('p', {}, 'Your messages are encrypted on this device before they leave it.'),
      ...Object.values(this.fields).map((f) => f.row),
      this.formError,
      this.progress.el,
      this.submit,
    );
    this.el = h('main', { class: 'auth', id: 'main' }, h('h1', { class: 'brand' }, 'Curbside'), form);
  }

  private async onSubmit(e: Event): Promise<void> {
    e.preventDefault();
    this.submit.disabled = true;
    const v = (k: EnrollField) => this.fields[k].input.value;
    const ok = await this.model.enroll({
      invite: v('invite'),
      name: v('name'),
      npi: v('npi'),
      specialty: v('specialty'),
      passphrase: v('passphrase'),
      confirmation: v('confirmation'),
    });
    this.submit.disabled = false;
    if (ok) {
      history.replaceState(null, '', location.pathname); // the invite is spent: out of the address bar
      return;
    }
    const first = (Object.keys(this.fields) as EnrollField[]).find((k) => this.model.errors[k] !== undefined);
    if (first !== undefined) this.fields[first].input.focus();
  }

  update(): void {
    const errors = this.model.errors;
    for (const [k, f] of Object.entries(this.fields) as [EnrollField, Field][]) f.setError(errors[k]);
    this.formError.textContent = this.model.error ?? '';
    this.progress.set(this.model.busy);
  }

  focus(): void {
    (this.fields.invite.input.value ? this.fields.name.input : this.fields.invite.input).focus();
  }
}
