/**
 * One referral: the patient summary, the note, the attachments (downloaded
 * decrypted), the transitions this user may make (decline and cancel ask
 * for a reason in a dialog) and "Download FHIR Bundle".
 */

import type { AppModel, ReferralView, Transition } from '../app/index.js';
import { openDialog } from './dialogs.js';
import { h, replace, uid } from './dom.js';
import { size } from './format.js';
import { chips } from './referral-list.js';

const LABEL: Record<Transition, string> = { accept: 'Accept', decline: 'Decline…', cancel: 'Cancel referral…', complete: 'Complete' };
const SEX: Record<string, string> = { male: 'Male', female: 'Female', other: 'Other', unknown: 'Unknown' };

function save(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export class ReferralDetail {
  readonly el: HTMLElement = h('section', { class: 'ref-detail', 'aria-labelledby': 'ref-detail-title' });
  private readonly status = h('p', { class: 'form-error', role: 'alert' });
  private shown = '';

  constructor(
    private readonly model: AppModel,
    private readonly back: () => void,
  ) {}

  update(r: ReferralView | undefined): void {
    const key = JSON.stringify(r ?? null);
    if (key === this.shown) return;
    this.shown = key;
    if (r === undefined) {
      replace(this.el, h('p', { class: 'no-conversation' }, 'Choose a referral, or send a new one.'));
      return;
    }
    const p = r.patient;
    const facts = h('dl', { class: 'ref-facts' });
    const fact = (k: string, v: string | undefined): void => {
      if (v !== undefined && v !== '') facts.append(h('dt', {}, k), h('dd', {}, v));
    };
    fact('Patient', p?.name ?? 'Not received yet');
    fact('Birth date', p?.birthDate);
    fact('Administrative sex', p?.sex === undefined ? undefined : (SEX[p.sex] ?? p.sex));
    for (const i of p?.identifiers ?? []) fact('Identifier', `${i.value} (${i.system})`);
    fact('From', r.fromName);
    fact('To', r.toName);
    fact('Specialty', r.specialty);
    fact('Sent', new Date(r.createdAt).toLocaleString());
    fact('Updated', new Date(r.updatedAt).toLocaleString());
    fact(r.status === 'cancelled' ? 'Reason for cancelling' : 'Reason for declining', r.reason);
    const files = r.attachments.map((a) => {
      const b = h('button', { type: 'button', class: 'file-link' }, `Download ${a.name} (${size(a.size)})`);
      b.addEventListener('click', () => {
        b.disabled = true;
        this.model.referrals
          ?.file(r.id, a.index)
          .then((blob) => save(blob, a.name))
          .catch(() => (this.status.textContent = `${a.name} could not be downloaded (it may have expired): ask the referring clinician to send it again.`))
          .finally(() => (b.disabled = false));
      });
      return h('li', {}, b);
    });
    const actions = r.allowed.map((t) =>
      h('button', { type: 'button', class: t === 'accept' || t === 'complete' ? 'primary' : 'danger', onclick: () => void this.act(r, t) }, LABEL[t]),
    );
    const exportButton = h('button', { type: 'button', onclick: () => this.exportBundle(r) }, 'Download FHIR Bundle');
    exportButton.disabled = r.patient === undefined;
    replace(
      this.el,
      h(
        'div',
        { class: 'ref-detail-header' },
        h('button', { type: 'button', class: 'back', onclick: () => this.back() }, 'Back to referrals'),
        h('h2', { id: 'ref-detail-title' }, `Referral: ${p?.name ?? 'patient not received yet'}`),
        chips(r),
      ),
      r.contentError ? h('p', { class: 'form-error' }, r.contentError) : null,
      facts,
      h('h3', {}, 'Note'),
      h('p', { class: 'ref-note' }, r.note ?? 'Not received yet.'),
      files.length > 0 ? h('h3', {}, 'Attachments') : null,
      files.length > 0 ? h('ul', { class: 'ref-files' }, ...files) : null,
      h('div', { class: 'ref-actions' }, ...actions, exportButton),
      this.status,
    );
  }

  private exportBundle(r: ReferralView): void {
    const json = this.model.referrals?.exportJson(r.id);
    if (json === undefined) {
      this.status.textContent = 'The referral has not arrived yet: wait for it, then download the Bundle.';
      return;
    }
    save(new Blob([json], { type: 'application/fhir+json' }), `referral-${r.shortId}.json`);
  }

  private async act(r: ReferralView, t: Transition): Promise<void> {
    let reason: string | undefined;
    if (t === 'decline' || t === 'cancel') {
      const id = uid('reason');
      const input = h('textarea', { id, rows: 3, required: true });
      const d = openDialog(
        t === 'decline' ? 'Decline the referral' : 'Cancel the referral',
        [
          h('div', { class: 'field' }, h('label', { for: id }, 'Reason'), h('p', { class: 'hint' }, 'Sent end to end encrypted to the other clinician.'), input),
        ],
        [
          { value: 'back', label: 'Back' },
          { value: 'go', label: t === 'decline' ? 'Decline' : 'Cancel referral', kind: 'danger' },
        ],
        'back',
      );
      input.focus();
      if ((await d.result) !== 'go') return;
      reason = input.value;
    }
    this.status.textContent = '';
    const problem = await this.model.referrals?.transition(r.id, t, reason);
    if (problem !== undefined) this.status.textContent = problem;
    else {
      // The buttons were redrawn: focus goes to the referral's title, not lost to the page.
      const title = this.el.querySelector<HTMLElement>('h2');
      title?.setAttribute('tabindex', '-1');
      title?.focus();
    }
  }
}
