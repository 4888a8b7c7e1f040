/**
 * The enrollment screen, two ways in (a radio choice at the top):
 *
 * - new to Curbside: the invite (also taken from the link's
 *   `#invite=cbs_inv_…`), the full name, and a clinician's NPI and
 *   specialty ("I am a compliance officer" asks neither: checked already
 *   when the link says `&role=compliance_officer`; unchecked again, on the
 *   NPI field's error, if the server says the invite is a clinician's);
 * - "I already use Curbside on another device": the device code that
 *   device shows (also from a `#invite=cbs_dev_…` link, its QR code);
 *   name and roles then come from the server.
 *
 * Both ask the passphrase that seals this browser's data, twice.
 */

import { inviteFromFragment, MIN_PASSPHRASE, parseInvite, roleFromFragment, roleNeedsNoNpi, type AppModel, type DeviceField, type EnrollField } from '../app/index.js';
import { h, replace, uid } from './dom.js';
import { field, progress, type Field } from './fields.js';

type Mode = 'new' | 'device';
type NewField = Exclude<EnrollField, 'passphrase' | 'confirmation'>;

export class EnrollView {
  readonly el: HTMLElement;
  private mode: Mode;
  private readonly fields: Record<NewField, Field>;
  private readonly code: Field;
  private readonly officer: HTMLInputElement;
  private readonly officerRow: HTMLElement;
  private readonly passphrase: Field;
  private readonly confirmation: Field;
  private readonly modeFields = h('div', { class: 'enroll-mode-fields' });
  private readonly intro = h('p', {});
  private readonly radios: Record<Mode, HTMLInputElement>;
  private readonly formError: HTMLParagraphElement;
  private readonly progress = progress();
  private readonly submit: HTMLButtonElement;

  constructor(private readonly model: AppModel) {
    this.fields = {
      invite: field('Invite', { type: 'text', autocomplete: 'off', spellcheck: 'false', required: true }, 'From your administrator: it starts with cbs_inv_ (the first administrator: the cbs_boot_ token the server printed).'),
      name: field('Full name', { type: 'text', autocomplete: 'off', required: true }),
      npi: field('NPI', { type: 'text', inputmode: 'numeric', autocomplete: 'off', required: true }, 'Your 10-digit National Provider Identifier (an administrator enrolling with cbs_boot_ leaves it and Specialty empty).'),
      specialty: field('Specialty', { type: 'text', autocomplete: 'off', required: true }),
    };
    this.code = field(
      'Device code',
      { type: 'text', autocomplete: 'off', autocapitalize: 'off', spellcheck: 'false', required: true, class: 'device-code-input' },
      'On your other device, open Settings → Linked devices and choose “Link a new device” (in the terminal: curbside devices add). Type the code it shows: spaces do not matter, capitals do. A device invite from your administrator works too.',
    );
    this.passphrase = field('Passphrase', { type: 'password', autocomplete: 'new-password', required: true }, `At least ${MIN_PASSPHRASE} characters. It protects your messages on this device; it cannot be recovered.`);
    this.confirmation = field('Passphrase again', { type: 'password', autocomplete: 'new-password', required: true });

    const officerId = uid('officer');
    this.officer = h('input', { type: 'checkbox', id: officerId, 'aria-describedby': `${officerId}-hint` });
    this.officer.checked = roleNeedsNoNpi(roleFromFragment(location.hash));
    this.officer.addEventListener('change', () => this.showProfile());
    this.officerRow = h(
      'div',
      { class: 'enroll-choice enroll-officer' },
      this.officer,
      h('div', {}, h('label', { for: officerId }, 'I am a compliance officer'), h('p', { class: 'hint', id: `${officerId}-hint` }, 'No NPI or specialty: only clinicians give them. An administrator invited with the admin role checks this too.')),
    );
    // A pasted link says whom its invite is for.
    this.fields.invite.input.addEventListener('input', () => {
      const role = parseInvite(this.fields.invite.input.value).role;
      if (role === undefined) return;
      this.officer.checked = roleNeedsNoNpi(role);
      this.showProfile();
    });

    const invite = inviteFromFragment(location.hash);
    this.mode = invite?.startsWith('cbs_dev_') || (invite === undefined && model.linking.preferred) ? 'device' : 'new';
    if (invite !== undefined) (this.mode === 'device' ? this.code : this.fields.invite).input.value = invite;

    const name = uid('enroll-mode');
    const radio = (mode: Mode, label: string, hint: string): [HTMLInputElement, HTMLElement] => {
      const id = uid('mode');
      const input = h('input', { type: 'radio', name, id, value: mode, 'aria-describedby': `${id}-hint` });
      input.checked = this.mode === mode;
      input.addEventListener('change', () => input.checked && this.setMode(mode));
      return [input, h('div', { class: 'enroll-choice' }, input, h('div', {}, h('label', { for: id }, label), h('p', { class: 'hint', id: `${id}-hint` }, hint)))];
    };
    const [newRadio, newRow] = radio('new', 'I’m new to Curbside', 'I have an invite from my administrator.');
    const [deviceRadio, deviceRow] = radio('device', 'I already use Curbside on another device', 'Link this browser to my account with a code from that device.');
    this.radios = { new: newRadio, device: deviceRadio };

    this.formError = h('p', { class: 'form-error', role: 'alert' });
    this.submit = h('button', { type: 'submit', class: 'primary' });
    const form = h(
      'form',
      { class: 'card', novalidate: true, 'aria-labelledby': 'enroll-title', onsubmit: (e: Event) => this.onSubmit(e) },
      h('h2', { id: 'enroll-title' }, 'Enroll this browser'),
      h('fieldset', { class: 'enroll-modes' }, h('legend', {}, 'How are you joining?'), newRow, deviceRow),
      this.intro,
      this.modeFields,
      this.passphrase.row,
      this.confirmation.row,
      this.formError,
      this.progress.el,
      this.submit,
    );
    this.el = h('main', { class: 'auth', id: 'main' }, h('h1', { class: 'brand' }, 'Curbside'), form);
    this.render();
  }

  private setMode(mode: Mode): void {
    this.mode = mode;
    this.render();
    this.update();
  }

  private render(): void {
    this.radios[this.mode].checked = true;
    if (this.mode === 'device') {
      replace(this.modeFields, this.code.row);
      this.intro.textContent = 'This browser becomes another device of your account: your name comes from the server, and your messages reach every device you have.';
      this.submit.textContent = 'Link this browser';
    } else {
      const f = this.fields;
      replace(this.modeFields, f.invite.row, this.officerRow, f.name.row, f.npi.row, f.specialty.row);
      this.showProfile();
      this.intro.textContent = 'Your messages are encrypted on this device before they leave it.';
      this.submit.textContent = 'Enroll this browser';
    }
  }

  /** NPI and specialty only for a clinician. */
  private showProfile(): void {
    this.fields.npi.row.hidden = this.officer.checked;
    this.fields.specialty.row.hidden = this.officer.checked;
  }

  private async onSubmit(e: Event): Promise<void> {
    e.preventDefault();
    this.submit.disabled = true;
    const passphrase = this.passphrase.input.value;
    const confirmation = this.confirmation.input.value;
    let ok: boolean;
    if (this.mode === 'device') {
      ok = await this.model.linking.enroll({ code: this.code.input.value, passphrase, confirmation });
    } else {
      const v = (k: NewField) => this.fields[k].input.value;
      const officer = this.officer.checked;
      ok = await this.model.enroll({ invite: v('invite'), name: v('name'), npi: v('npi'), specialty: v('specialty'), passphrase, confirmation, officer });
      if (!ok && officer && this.model.errors.npi !== undefined) {
        // The server says the invite is a clinician's: ask NPI and specialty after all.
        this.officer.checked = false;
        this.showProfile();
      }
    }
    this.submit.disabled = false;
    if (ok) {
      history.replaceState(null, '', location.pathname); // the invite is spent: out of the address bar
      return;
    }
    this.firstInvalid()?.focus();
  }

  private firstInvalid(): HTMLInputElement | undefined {
    if (this.mode === 'device') {
      const errors = this.model.linking.errors;
      const order: [DeviceField, Field][] = [['code', this.code], ['passphrase', this.passphrase], ['confirmation', this.confirmation]];
      return order.find(([k]) => errors[k] !== undefined)?.[1].input;
    }
    const errors = this.model.errors;
    const order: [EnrollField, Field][] = [...(Object.entries(this.fields) as [EnrollField, Field][]), ['passphrase', this.passphrase], ['confirmation', this.confirmation]];
    return order.find(([k]) => errors[k] !== undefined)?.[1].input;
  }

  update(): void {
    if (this.mode === 'device') {
      const errors = this.model.linking.errors;
      this.code.setError(errors.code);
      this.passphrase.setError(errors.passphrase);
      this.confirmation.setError(errors.confirmation);
    } else {
      const errors = this.model.errors;
      for (const [k, f] of Object.entries(this.fields) as [NewField, Field][]) f.setError(errors[k]);
      this.passphrase.setError(errors.passphrase);
      this.confirmation.setError(errors.confirmation);
    }
    this.formError.textContent = (this.mode === 'device' ? this.model.linking.error : this.model.error) ?? '';
    this.progress.set(this.model.linking.busy ?? this.model.busy);
  }

  focus(): void {
    if (this.mode === 'device') (this.code.input.value ? this.passphrase.input : this.code.input).focus();
    else (this.fields.invite.input.value ? this.fields.name.input : this.fields.invite.input).focus();
  }
}
