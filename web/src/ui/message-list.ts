/**
 * A conversation's messages: day separators, the sender's name, the time,
 * our messages' status (queued, sent, delivered, read), text as text,
 * images as decrypted previews (blob: URLs) and other files as download
 * links with their names, decrypted on demand. A care team's conversation
 * uses it too, with its own source and each message decorated (the
 * per-member delivery detail).
 */

import type { MessageView, Status } from '../app/index.js';
import { h, replace, srOnly } from './dom.js';
import { clock, dayLabel, sameDay, size } from './format.js';
import { decorateUrgent } from './urgent-view.js';

/** Images larger than this are not decrypted for a preview until asked (a download link instead). */
const PREVIEW_MAX = 8 * 1024 * 1024;

const STATUS: Record<Status, string> = {
  queued: 'Queued',
  sent: 'Sent',
  delivered: 'Delivered',
  read: 'Read',
  failed: 'Not sent',
  received: '',
};

/** Where the messages and their files come from (the model for a colleague; the teams for a team). */
export interface MessageSource<M extends MessageView> {
  messages(key: string): M[];
  file(key: string, messageKey: string): Promise<Blob>;
}

export class MessageList<M extends MessageView = MessageView> {
  readonly el = h('ol', { class: 'messages', 'aria-label': 'Messages', tabindex: 0 }); // focusable: it scrolls (on a phone under the pinned messages too)
  /** Announces a colleague's new message in the open conversation (the list itself is redrawn, so it is not live). */
  readonly announcer = h('p', { class: 'sr-only', role: 'status', 'aria-live': 'polite' });
  private lastKey: string | undefined;
  /** Decrypted files' object URLs by message key, kept while the conversation is open. */
  private readonly urls = new Map<string, string>();
  private peer: string | undefined;
  private rendered: string | undefined;
  /** The message the announcer last spoke of. */
  private announced: string | undefined;

  constructor(
    private readonly model: MessageSource<M>,
    private readonly onRetry: (messageKey: string) => void,
    /** Adds to a message's item (after its body). */
    private readonly decorate?: (m: M, li: HTMLLIElement) => void,
    /** Recall on our own messages, and each message's priority and acknowledgement (a colleague's conversation). */
    private readonly onRecall?: (messageKey: string) => void,
  ) {}

  /** Another conversation: the previous one's decrypted files leave memory. */
  show(peer: string | undefined): void {
    if (peer === this.peer) return;
    this.release();
    this.peer = peer;
  }

  release(): void {
    for (const url of this.urls.values()) URL.revokeObjectURL(url);
    this.urls.clear();
  }

  update(): void {
    const peer = this.peer;
    if (peer === undefined) {
      replace(this.el);
      return;
    }
    const atBottom = this.el.scrollHeight - this.el.scrollTop - this.el.clientHeight < 40;
    const messages = this.model.messages(peer);
    const items: HTMLLIElement[] = [];
    let previous: number | undefined;
    for (const m of messages) {
      if (previous === undefined || !sameDay(previous, m.at)) items.push(h('li', { class: 'day' }, dayLabel(m.at)));
      previous = m.at;
      items.push(this.message(peer, m));
    }
    if (items.length === 0) items.push(h('li', { class: 'empty' }, 'No messages yet. Write below; it is encrypted before it leaves this device.'));
    replace(this.el, ...items);
    if (atBottom || this.rendered !== peer) this.el.scrollTop = this.el.scrollHeight;
    for (const [key, url] of this.urls) {
      if (messages.some((m) => m.key === key && m.body.type === 'file')) continue;
      URL.revokeObjectURL(url); // recalled or purged: the decrypted file leaves memory
      this.urls.delete(key);
    }
    const last = messages[messages.length - 1];
    if (this.announced !== undefined && !messages.some((m) => m.key === this.announced && m.body.type !== 'recalled')) {
      this.announcer.textContent = ''; // recalled or purged: its words go too
      this.announced = undefined;
    }
    if (this.rendered === peer && last !== undefined && last.key !== this.lastKey && !last.mine) {
      this.announced = last.key;
      this.announcer.textContent = `${last.sender === '' ? '' : `${last.sender}${last.toRole === undefined ? '' : ` to ${last.toRole}`}: `}${last.urgent !== undefined ? `${last.urgent.label}: ` : ''}${last.body.type === 'file' ? `file ${last.body.name}` : last.body.text}`;
    }
    this.lastKey = last?.key;
    this.rendered = peer;
  }

  scrollToEnd(): void {
    this.el.scrollTop = this.el.scrollHeight;
  }

  private message(peer: string, m: M): HTMLLIElement {
    if (m.body.type === 'notice') return h('li', { class: 'notice-line' }, m.body.text);
    const meta = h(
      'p',
      { class: 'meta' },
      m.mine ? null : h('span', { class: 'sender' }, m.sender),
      m.mine || m.toRole === undefined ? null : h('span', { class: 'to-role' }, `to ${m.toRole}`),
      h('time', { datetime: new Date(m.at).toISOString() }, clock(m.at)),
      m.mine ? h('span', { class: `status status-${m.status}` }, srOnly('Status: '), STATUS[m.status]) : null,
    );
    const li = h('li', { class: `message ${m.mine ? 'mine' : 'theirs'}` }, m.mine ? srOnly('You: ') : null, meta);
    if (m.body.type === 'text') li.appendChild(h('p', { class: 'text' }, m.body.text));
    else if (m.body.type === 'recalled') {
      li.classList.add('recalled');
      li.appendChild(h('p', { class: 'text recalled-text' }, m.body.text));
    } else li.appendChild(this.file(peer, m, m.body));
    if (m.error !== undefined) li.appendChild(h('p', { class: 'message-error', role: 'alert' }, m.error));
    this.decorate?.(m, li);
    if (this.onRecall !== undefined) decorateUrgent(m, li, this.onRecall);
    if (m.mine && m.status === 'failed') li.appendChild(h('button', { type: 'button', class: 'retry', onclick: () => this.onRetry(m.key) }, 'Send again'));
    return li;
  }

  private file(peer: string, m: MessageView, f: { name: string; size: number; image: boolean }): HTMLElement {
    const url = this.urls.get(m.key);
    const label = `${f.name} (${size(f.size)})`;
    if (f.image && (f.size <= PREVIEW_MAX || url !== undefined)) {
      const figure = h('figure', { class: 'attachment image' });
      if (url !== undefined) {
        figure.appendChild(h('img', { src: url, alt: `Image ${f.name}` }));
      } else {
        figure.appendChild(h('p', { class: 'loading', role: 'status' }, `Decrypting ${f.name}…`));
        this.decrypt(peer, m.key).catch(() => replace(figure, h('p', { class: 'message-error' }, `${f.name} could not be downloaded: it may have expired. Ask for it again.`)));
      }
      const link = h('a', { download: f.name, href: url ?? '#', class: 'file-link' }, `Download ${label}`);
      figure.appendChild(h('figcaption', {}, link));
      if (url === undefined) link.addEventListener('click', (e) => this.onDownload(e, peer, m.key, link));
      return figure;
    }
    const link = h('a', { download: f.name, href: url ?? '#', class: 'file-link' }, `Download ${label}`);
    if (url === undefined) link.addEventListener('click', (e) => this.onDownload(e, peer, m.key, link));
    return h('p', { class: 'attachment' }, link);
  }

  private async decrypt(peer: string, key: string): Promise<string> {
    const existing = this.urls.get(key);
    if (existing !== undefined) return existing;
    const blob = await this.model.file(peer, key);
    if (this.peer !== peer) throw new Error('closed');
    const again = this.urls.get(key);
    if (again !== undefined) return again;
    const url = URL.createObjectURL(blob);
    this.urls.set(key, url);
    this.update();
    return url;
  }

  private onDownload(e: Event, peer: string, key: string, link: HTMLAnchorElement): void {
    if (this.urls.has(key)) return;
    e.preventDefault();
    link.textContent = 'Decrypting…';
    this.decrypt(peer, key).then(
      (url) => {
        const a = h('a', { href: url, download: link.getAttribute('download') ?? 'file', hidden: true });
        document.body.appendChild(a);
        a.click();
        a.remove();
      },
      () => {
        link.textContent = 'The file could not be downloaded (it may have expired): ask for it again.';
      },
    );
  }
}
