/** Labelled form fields with their error line (wired with aria-describedby / aria-invalid), and the progress of a long operation. */

import { h, uid } from './dom.js';

export interface Field {
  readonly row: HTMLDivElement;
  readonly input: HTMLInputElement;
  setError(text: string | undefined): void;
}

export function field(label: string, props: Record<string, string | boolean>, hint?: string): Field {
  const id = uid('f');
  const errorId = `${id}-error`;
  const hintId = `${id}-hint`;
  const input = h('input', { id, ...props, 'aria-describedby': hint ? `${hintId} ${errorId}` : errorId });
  const error = h('p', { class: 'field-error', id: errorId, 'aria-live': 'polite' });
  const row = h('div', { class: 'field' }, h('label', { for: id }, label), hint ? h('p', { class: 'hint', id: hintId }, hint) : null, input, error);
  return {
    row,
    input,
    setError(text) {
      error.textContent = text ?? '';
      if (text) input.setAttribute('aria-invalid', 'true');
      else input.removeAttribute('aria-invalid');
    },
  };
}

/** A progress bar with its words, shown while `busy` is set. */
export function progress(): { el: HTMLDivElement; set(busy: { what: string; progress: number } | undefined): void } {
  const label = h('p', { class: 'progress-label', id: uid('progress') });
  const bar = h('progress', { max: 100, value: 0, 'aria-labelledby': label.id });
  const el = h('div', { class: 'progress', role: 'status', hidden: true }, label, bar);
  return {
    el,
    set(busy) {
      el.hidden = busy === undefined;
      if (busy === undefined) return;
      label.textContent = busy.what;
      bar.value = Math.round(busy.progress * 100);
    },
  };
}
