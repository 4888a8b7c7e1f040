/**
 * A consult question's images, in the Consults screen: the Ask form's
 * picker (at most `CONSULT_MAX_ATTACHMENTS`, each listed by name with a
 * Remove button) and, in each consult, every image as a preview decrypted
 * by the application (a blob: URL of the decrypted `Blob`, kept while
 * unlocked) with its name and a Download button; a file that is not an
 * image (another client may send one) is a Download button only.
 */

import { CONSULT_MAX_ATTACHMENTS, type ConsultFile, type ConsultFileView } from '../app/index.js';
import { h, replace, uid } from './dom.js';
import { size } from './format.js';

/** Images larger than this are not decrypted for a preview until asked (as in a conversation). */
const PREVIEW_MAX = 8 * 1024 * 1024;

/** The Ask form's images: a button opens the picker; the chosen ones are listed, each removable. */
export class ConsultImagePicker {
  readonly el: HTMLElement;
  private readonly input: HTMLInputElement;
  private readonly list = h('ul', { class: 'consult-picked', 'aria-label': 'Images to attach' });
  private readonly error = h('p', { class: 'field-error', 'aria-live': 'polite' });
  private picked: File[] = [];

  constructor() {
    const hintId = uid('consult-images-hint');
    const labelId = uid('consult-images-label');
    this.input = h('input', { type: 'file', accept: 'image/*', multiple: true, class: 'sr-only', tabindex: -1, 'aria-hidden': 'true' });
    this.input.addEventListener('change', () => {
      this.picked.push(...(this.input.files ? [...this.input.files] : []));
      this.input.value = '';
      this.render();
    });
    const add = h('button', { type: 'button', class: 'consult-add-images', 'aria-describedby': hintId, onclick: () => this.input.click() }, 'Add images');
    this.el = h(
      'div',
      { class: 'field consult-images', role: 'group', 'aria-labelledby': labelId },
      h('span', { id: labelId, class: 'field-label' }, 'Images (optional)'),
      h('p', { id: hintId, class: 'hint' }, `Up to ${CONSULT_MAX_ATTACHMENTS} photos or screenshots, encrypted in this browser before they are uploaded.`),
      add,
      this.input,
      this.list,
      this.error,
    );
  }

  /** The images chosen, for `ask`. */
  get files(): ConsultFile[] {
    return this.picked.map((f) => ({ blob: f, name: f.name }));
  }

  /** After a consult was sent: nothing chosen. */
  clear(): void {
    this.picked = [];
    this.render();
  }

  private render(): void {
    const over = this.picked.length - CONSULT_MAX_ATTACHMENTS;
    this.error.textContent = over > 0 ? `A consult takes at most ${CONSULT_MAX_ATTACHMENTS} images: remove ${over}.` : '';
    replace(
      this.list,
      ...this.picked.map((f, i) =>
        h(
          'li',
          {},
          h('span', { class: 'name' }, `${f.name} (${size(f.size)})`),
          h('button', { type: 'button', class: 'consult-remove', 'aria-label': `Remove ${f.name}`, onclick: () => (this.picked.splice(i, 1), this.render()) }, 'Remove'),
        ),
      ),
    );
  }
}

/** Where a consult's files come from (the session: decrypted in the application). */
export interface ConsultFileSource {
  file(key: string): Promise<Blob>;
}

/** The files of the consults shown: previews and downloads, their decrypted copies' object URLs kept while the screen lives. */
export class ConsultFiles {
  private readonly urls = new Map<string, string>();
  private readonly pending = new Map<string, Promise<string>>();

  constructor(private readonly source: () => ConsultFileSource | undefined) {}

  /** The files of one consult (null if none); `from`: "You" or the asker's name (who to ask again if one is gone). */
  render(files: readonly ConsultFileView[], from: string): HTMLElement | null {
    if (files.length === 0) return null;
    return h('ul', { class: 'consult-files', 'aria-label': 'Attached images' }, ...files.map((f) => h('li', {}, this.item(f, from))));
  }

  /** The consults now shown: the decrypted copies of files no longer listed (purged, gone) leave memory. */
  keep(keys: ReadonlySet<string>): void {
    for (const [key, url] of this.urls) {
      if (keys.has(key)) continue;
      URL.revokeObjectURL(url);
      this.urls.delete(key);
    }
  }

  /** Locked or closed: every decrypted copy leaves memory. */
  release(): void {
    this.keep(new Set());
  }

  private item(f: ConsultFileView, from: string): HTMLElement {
    const label = `${f.name} (${size(f.size)})`;
    const download = h('button', { type: 'button', class: 'small consult-download' }, `Download ${label}`);
    const next = from === 'You' ? 'attach it to a new consult if still needed' : `ask ${from} to send it again in a conversation`;
    const gone = (): HTMLElement => h('p', { class: 'message-error' }, `${f.name} could not be downloaded: it may have expired on the server. ${next[0]?.toUpperCase()}${next.slice(1)}.`);
    download.addEventListener('click', () => {
      download.textContent = 'Decrypting…';
      this.url(f.key).then(
        (url) => {
          download.textContent = `Download ${label}`;
          const a = h('a', { href: url, download: f.name, hidden: true });
          document.body.appendChild(a);
          a.click();
          a.remove();
        },
        () => download.replaceWith(gone()),
      );
    });
    if (!f.image || (f.size > PREVIEW_MAX && !this.urls.has(f.key))) return h('p', { class: 'attachment consult-file' }, download);
    const figure = h('figure', { class: 'attachment image consult-image' });
    const shown = this.urls.get(f.key);
    if (shown !== undefined) figure.appendChild(h('img', { src: shown, alt: `Image ${f.name}` }));
    else {
      const loading = h('p', { class: 'loading', role: 'status' }, `Decrypting ${f.name}…`);
      figure.appendChild(loading);
      this.url(f.key).then(
        (url) => loading.replaceWith(h('img', { src: url, alt: `Image ${f.name}` })),
        () => loading.replaceWith(gone()),
      );
    }
    figure.appendChild(h('figcaption', {}, download));
    return figure;
  }

  /** The object URL of a file's decrypted copy (decrypted once). */
  private url(key: string): Promise<string> {
    const known = this.urls.get(key);
    if (known !== undefined) return Promise.resolve(known);
    let p = this.pending.get(key);
    if (p === undefined) {
      const source = this.source();
      if (source === undefined) return Promise.reject(new Error('locked'));
      p = source.file(key).then((blob) => {
        const again = this.urls.get(key);
        if (again !== undefined) return again;
        const url = URL.createObjectURL(blob);
        this.urls.set(key, url);
        return url;
      });
      this.pending.set(key, p);
      const done = (): void => void this.pending.delete(key);
      p.then(done, done);
    }
    return p;
  }
}
