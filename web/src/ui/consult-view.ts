/**
 * The Consults screen (the top bar's Consults button): the opt-in to
 * answer consults of one's specialty, Ask (specialty, question, "share
 * answers with everyone asked", up to four images: `./consult-files.ts`), and
 * the consults asked and received, open first: the asker sees how many were
 * asked and the answers by name, and closes it; a recipient reads the
 * question, sees its images (decrypted previews) and answers. Closed ones
 * are marked closed and take no answers (their images stay viewable).
 */

import type { AppModel, ConsultOutcome, ConsultView } from '../app/index.js';
import { ConsultFiles, ConsultImagePicker } from './consult-files.js';
import { h, replace, uid } from './dom.js';
import { clock, dayLabel } from './format.js';

export class ConsultsView {
  readonly el: HTMLElement;
  private readonly status = h('div', { class: 'admin-status', role: 'status', 'aria-live': 'polite' });
  private readonly optIn: HTMLInputElement;
  private readonly optInLabel = h('label', {});
  private readonly list = h('ul', { class: 'consult-list', 'aria-label': 'Consults' });
  private readonly drafts = new Map<string, string>();
  private readonly images = new ConsultImagePicker();
  private readonly files = new ConsultFiles(() => this.model.consults);
  private rendered = '';

  constructor(private readonly model: AppModel) {
    const optId = uid('consult-optin');
    this.optIn = h('input', { id: optId, type: 'checkbox' });
    this.optInLabel.setAttribute('for', optId);
    this.optIn.addEventListener('change', () => {
      const c = this.model.consults;
      if (c === undefined) return;
      const on = this.optIn.checked;
      this.optIn.disabled = true;
      void c.setOptIn(on).then((r) => {
        this.optIn.disabled = false;
        if (!r.ok) this.optIn.checked = !on;
        this.show(r);
      });
    });
    const specId = uid('consult-specialty');
    const textId = uid('consult-question');
    const shareId = uid('consult-share');
    const specialty = h('input', { id: specId, type: 'text', autocomplete: 'off', placeholder: 'Dermatology' });
    const question = h('textarea', { id: textId, rows: 3, autocomplete: 'off', placeholder: 'Your question (no patient identifiers needed)' });
    const share = h('input', { id: shareId, type: 'checkbox' });
    const ask = h('button', { type: 'submit', class: 'primary' }, 'Ask');
    const askForm = h(
      'form',
      { class: 'card admin-card consult-ask', 'aria-labelledby': 'consult-ask-title' },
      h('h3', { id: 'consult-ask-title' }, 'Ask a curbside consult'),
      h('p', { class: 'hint' }, 'Your question goes, end-to-end encrypted, to the verified clinicians of the specialty who answer consults. You see how many were asked, and who answers.'),
      h('div', { class: 'field' }, h('label', { for: specId }, 'Specialty'), specialty),
      h('div', { class: 'field' }, h('label', { for: textId }, 'Question'), question),
      this.images.el,
      h('div', { class: 'field checkbox' }, share, h('label', { for: shareId }, 'Share answers with everyone who received it')),
      ask,
    );
    askForm.addEventListener('submit', (e) => {
      e.preventDefault();
      const c = this.model.consults;
      if (c === undefined) return;
      ask.disabled = true;
      const images = this.images.files;
      if (images.length > 0) this.show({ ok: true, text: `Encrypting and uploading ${images.length === 1 ? 'the image' : `${images.length} images`}…` });
      void c.ask(specialty.value, question.value, share.checked, images).then((r) => {
        ask.disabled = false;
        this.show(r);
        if (r.ok) (question.value = ''), (share.checked = false), this.images.clear();
      });
    });
    this.el = h(
      'main',
      { class: 'admin consults', id: 'consults-main', 'aria-labelledby': 'consults-title' },
      h('h2', { id: 'consults-title' }, 'Curbside consults'),
      this.status,
      h(
        'div',
        { class: 'consults-grid' },
        h('div', {}, h('section', { class: 'card admin-card consult-optin', 'aria-label': 'Answering consults' }, h('div', { class: 'field checkbox' }, this.optIn, this.optInLabel)), askForm),
        h('div', {}, h('h3', { class: 'consult-list-title' }, 'Your consults'), this.list),
      ),
    );
  }

  /** The screen is shown: the server's list is read again (closed ones, how many were asked). */
  shown(): void {
    this.rendered = '';
    void this.model.consults?.sync();
  }

  /** Locked: the decrypted images leave memory. */
  dispose(): void {
    this.files.release();
  }

  private show(o: ConsultOutcome): void {
    replace(this.status, h('p', { class: o.ok ? 'admin-ok' : 'form-error' }, o.text));
  }

  update(): void {
    const c = this.model.consults;
    if (c === undefined) return;
    if (!this.optIn.disabled) this.optIn.checked = c.optedIn; // not while the change is on its way
    this.optInLabel.textContent = c.specialty ? `Answer ${c.specialty} consults from colleagues` : 'Answer consults of my specialty (verified clinicians only)';
    const consults = c.list;
    this.files.keep(new Set(consults.flatMap((x) => x.files.map((f) => f.key))));
    const key = JSON.stringify(consults);
    if (key === this.rendered) return;
    // Keep what is being typed in an answer across redraws.
    for (const ta of this.list.querySelectorAll<HTMLTextAreaElement>('textarea[data-consult]')) this.drafts.set(ta.dataset['consult'] ?? '', ta.value);
    const focused = (document.activeElement as HTMLElement | null)?.dataset?.['consult'];
    this.rendered = key;
    replace(this.list, ...(consults.length === 0 ? [h('li', { class: 'empty' }, 'No consults yet: ask one above.')] : consults.map((x) => this.item(x))));
    if (focused !== undefined) this.list.querySelector<HTMLTextAreaElement>(`textarea[data-consult="${CSS.escape(focused)}"]`)?.focus();
  }

  private item(c: ConsultView): HTMLLIElement {
    const titleId = uid('consult');
    const answers =
      c.answers.length === 0
        ? null
        : h('ol', { class: 'consult-answers', 'aria-label': 'Answers' }, ...c.answers.map((a) => h('li', { class: a.mine ? 'mine' : '' }, h('p', { class: 'meta' }, h('span', { class: 'sender' }, a.name), ' ', h('time', { datetime: new Date(a.at).toISOString() }, `${dayLabel(a.at)} ${clock(a.at)}`)), h('p', { class: 'text' }, a.text))));
    const actions: HTMLElement[] = [];
    if (c.canClose) {
      const close = h('button', { type: 'button' }, 'Close consult');
      close.addEventListener('click', () => {
        close.disabled = true;
        void this.model.consults?.close(c.id).then((r) => this.show(r));
      });
      actions.push(close);
    }
    let answerForm: HTMLElement | null = null;
    if (c.canAnswer) {
      const id = uid('consult-answer');
      const text = h('textarea', { id, rows: 2, autocomplete: 'off', 'data-consult': c.id });
      text.value = this.drafts.get(c.id) ?? '';
      const send = h('button', { type: 'submit', class: 'primary' }, 'Send answer');
      answerForm = h('form', { class: 'consult-answer' }, h('label', { for: id }, 'Your answer'), text, send);
      answerForm.addEventListener('submit', (e) => {
        e.preventDefault();
        send.disabled = true;
        void this.model.consults?.answer(c.id, text.value).then((r) => {
          send.disabled = false;
          this.show(r);
          if (r.ok) this.drafts.delete(c.id);
        });
      });
    }
    return h(
      'li',
      { class: `card consult ${c.open ? 'open' : 'closed'}`, 'aria-labelledby': titleId },
      h(
        'div',
        { class: 'row' },
        h('h4', { id: titleId, class: 'name' }, c.mine ? `You asked ${c.specialty}` : `${c.asker} asked ${c.specialty}`),
        h('span', { class: `chip ${c.open ? 'consult-open' : 'consult-closed'}` }, c.open ? 'Open' : 'Closed'),
        h('time', { datetime: new Date(c.at).toISOString() }, `${dayLabel(c.at)} ${clock(c.at)}`),
      ),
      h('p', { class: 'text consult-question' }, c.text),
      this.files.render(c.files, c.asker),
      h('p', { class: 'hint consult-summary' }, c.summary),
      answers,
      answerForm,
      actions.length > 0 ? h('div', { class: 'ref-actions' }, ...actions) : null,
    );
  }
}
