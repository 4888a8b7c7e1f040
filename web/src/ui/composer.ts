/**
 * Writing: a text area (Enter sends, Shift+Enter starts a new line), a file
 * picker, and a camera button (`capture="environment"` opens the camera on
 * phones). Files are encrypted in the browser before they are uploaded.
 */

import { h, svg, uid } from './dom.js';

const PAPERCLIP = 'M21 11.5l-8.6 8.6a5.5 5.5 0 0 1-7.8-7.8l8.6-8.6a3.7 3.7 0 0 1 5.2 5.2l-8.6 8.6a1.8 1.8 0 0 1-2.6-2.6l7.9-7.9';
const CAMERA = 'M3 8.5A2.5 2.5 0 0 1 5.5 6h2l1.5-2h6l1.5 2h2A2.5 2.5 0 0 1 21 8.5v9a2.5 2.5 0 0 1-2.5 2.5h-13A2.5 2.5 0 0 1 3 17.5zM12 16.5a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7z';

function icon(d: string): SVGElement {
  return svg('svg', { viewBox: '0 0 24 24', 'aria-hidden': 'true', focusable: 'false' }, svg('path', { d }));
}

export interface ComposerActions {
  sendText(text: string): Promise<boolean>;
  sendFiles(files: File[]): Promise<void>;
}

export class Composer {
  readonly el: HTMLFormElement;
  readonly text: HTMLTextAreaElement;
  private readonly status = h('p', { class: 'composer-status', 'aria-live': 'polite' });

  /** `top`: shown above the text (the conversation's priority picker). */
  constructor(private readonly actions: ComposerActions, top?: HTMLElement) {
    const textId = uid('composer');
    const hintId = `${textId}-hint`;
    // autocomplete=off: the browser does not keep the draft in its session-restore files (test/browser found it there).
    this.text = h('textarea', { id: textId, rows: 2, autocomplete: 'off', 'aria-describedby': hintId, placeholder: 'Write a message' });
    this.text.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        void this.submit();
      }
    });
    const files = h('input', { type: 'file', multiple: true, class: 'sr-only', tabindex: -1, 'aria-hidden': 'true' });
    files.addEventListener('change', () => this.picked(files));
    const camera = h('input', { type: 'file', accept: 'image/*', capture: 'environment', class: 'sr-only', tabindex: -1, 'aria-hidden': 'true' });
    camera.addEventListener('change', () => this.picked(camera));
    this.el = h(
      'form',
      { class: 'composer', onsubmit: (e: Event) => { e.preventDefault(); void this.submit(); } },
      top,
      h('label', { for: textId, class: 'sr-only' }, 'Message'),
      this.text,
      h('p', { id: hintId, class: 'sr-only' }, 'Enter sends; Shift+Enter starts a new line.'),
      h(
        'div',
        { class: 'composer-actions' },
        h('button', { type: 'button', class: 'icon', 'aria-label': 'Attach a file', title: 'Attach a file', onclick: () => files.click() }, icon(PAPERCLIP)),
        h('button', { type: 'button', class: 'icon', 'aria-label': 'Take a photo', title: 'Take a photo', onclick: () => camera.click() }, icon(CAMERA)),
        h('button', { type: 'submit', class: 'primary send' }, 'Send'),
      ),
      files,
      camera,
      this.status,
    );
  }

  private picked(input: HTMLInputElement): void {
    const list = input.files ? [...input.files] : [];
    input.value = '';
    if (list.length > 0) void this.actions.sendFiles(list);
  }

  private async submit(): Promise<void> {
    const text = this.text.value;
    if (text.trim() === '') return;
    if (await this.actions.sendText(text)) this.text.value = '';
    this.text.focus();
  }

  setStatus(text: string): void {
    this.status.textContent = text;
  }
}
