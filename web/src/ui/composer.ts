/**
 * Writing: a text area (Enter sends, Shift+Enter starts a new line), a file
 * picker, and a camera button (`capture="environment"` opens the camera on
 * phones). Files are encrypted in the browser before they are uploaded.
 */

import { h, uid } from './dom.js';

export interface ComposerActions {
  sendText(text: string): Promise<boolean>;
  sendFiles(files: File[]): Promise<void>;
}

export class Composer {
  readonly el: HTMLFormElement;
  readonly text: HTMLTextAreaElement;
  private readonly status = h('p', { class: 'composer-status', 'aria-live': 'polite' });

  constructor(private readonly actions: ComposerActions) {
    const textId = uid('composer');
    const hintId = `${textId}-hint`;
    this.text = h('textarea', { id: textId, rows: 2, 'aria-describedby': hintId, placeholder: 'Write a message' });
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
      h('label', { for: textId, class: 'sr-only' }, 'Message'),
      this.text,
      h('p', { id: hintId, class: 'sr-only' }, 'Enter sends; Shift+Enter starts a new line.'),
      h(
        'div',
        { class: 'composer-actions' },
        h('button', { type: 'button', class: 'icon', 'aria-label': 'Attach a file', title: 'Attach a file', onclick: () => files.click() }, '📎'),
        h('button', { type: 'button', class: 'icon', 'aria-label': 'Take a photo', title: 'Take a photo', onclick: () => camera.click() }, '📷'),
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
