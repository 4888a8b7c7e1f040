/** Modal dialogs (the native `<dialog>`: focus kept inside, Escape cancels), resolved with the chosen action. */

import { h, uid, type Child } from './dom.js';

export interface Action<T extends string> {
  readonly value: T;
  readonly label: string;
  readonly kind?: 'primary' | 'danger';
}

export interface OpenDialog<T extends string> {
  readonly el: HTMLDialogElement;
  readonly body: HTMLDivElement;
  readonly result: Promise<T>;
  close(value: T): void;
}

export function openDialog<T extends string>(title: string, body: Child[], actions: Action<T>[], cancel: T): OpenDialog<T> {
  const titleId = uid('dialog-title');
  const content = h('div', { class: 'dialog-body' }, ...body);
  const buttons = actions.map((a) =>
    h('button', { type: 'button', class: a.kind ?? '', value: a.value, onclick: () => close(a.value) }, a.label),
  );
  const el = h('dialog', { 'aria-labelledby': titleId }, h('h2', { id: titleId }, title), content, h('div', { class: 'dialog-actions' }, ...buttons));
  let resolve: (v: T) => void = () => undefined;
  const result = new Promise<T>((r) => (resolve = r));
  let done = false;
  const close = (value: T): void => {
    if (done) return;
    done = true;
    el.close();
    el.remove();
    resolve(value);
  };
  el.addEventListener('cancel', (e) => {
    e.preventDefault();
    close(cancel);
  });
  document.body.appendChild(el);
  el.showModal();
  return { el, body: content, result, close };
}
