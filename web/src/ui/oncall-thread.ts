/**
 * An on-call role's conversation (key `oncall:…`): the role's name and who
 * holds it now, our messages (each saying whom it went to) and the
 * holders' answers (each saying who answered), and a composer that writes
 * to whoever holds the role at send time, with a priority (urgent and stat
 * ask the holder to acknowledge; Recall as in any conversation). Files
 * (the paperclip, the camera) go the same way: encrypted here,
 * uploaded once, their reference sent to whoever holds the role.
 */

import { isRoleKey, type AppModel, type RoleMessageView } from '../app/index.js';
import { Composer } from './composer.js';
import { openDialog } from './dialogs.js';
import { h } from './dom.js';
import { MessageList } from './message-list.js';
import { PriorityPicker } from './priority-picker.js';
import { confirmRecall } from './urgent-view.js';

export class OnCallThreadView {
  readonly el: HTMLElement;
  private readonly title = h('h2', { id: 'oncall-thread-title', tabindex: -1 });
  private readonly subtitle = h('p', { class: 'subtitle oncall-holders' });
  private readonly list: MessageList<RoleMessageView>;
  private readonly composer: Composer;
  private readonly priority: PriorityPicker;
  /** In the document only while a role's thread is shown (its labels do not double the conversation's). */
  private readonly body: HTMLElement;
  private key: string | undefined;

  constructor(private readonly model: AppModel) {
    this.list = new MessageList<RoleMessageView>(
      // A file, ours or a holder's, from the holder's conversation it is kept in.
      { messages: (key) => this.model.oncall?.thread(key) ?? [], file: (_key, messageKey) => this.model.file(this.model.oncall?.peerOf(messageKey) ?? messageKey.slice(0, messageKey.indexOf(':')), messageKey) },
      (messageKey) => void this.retry(messageKey),
      (m, li) => li.appendChild(h('p', { class: 'role-note' }, m.note)),
      (messageKey) => void this.recall(messageKey),
    );
    this.priority = new PriorityPicker(model, () => undefined, () => this.composer?.setStatus(''));
    this.composer = new Composer({ sendText: (t) => this.sendText(t), sendFiles: (files) => this.sendFiles(files) }, this.priority.el);
    this.composer.text.placeholder = 'Write to whoever is on call';
    const header = h(
      'header',
      { class: 'conversation-header' },
      h('button', { type: 'button', class: 'back', onclick: () => this.model.select(undefined) }, h('span', { 'aria-hidden': 'true' }, '‹ '), 'Back'),
      h('div', { class: 'who' }, this.title, this.subtitle),
      h('div', { class: 'tools' }, h('span', { class: 'chip oncall-chip' }, 'On-call role')),
    );
    this.body = h('div', { class: 'conversation-body' }, header, this.list.el, this.list.announcer, this.composer.el);
    this.el = h('main', { class: 'conversation oncall-thread', id: 'oncall-thread', 'aria-label': 'On-call conversation' });
  }

  update(): void {
    const selected = this.model.selected;
    const key = isRoleKey(selected) ? selected : undefined;
    const switched = key !== this.key;
    this.key = key;
    this.list.show(key);
    const o = this.model.oncall;
    if (key === undefined || o === undefined) {
      if (switched) this.body.remove();
      this.el.removeAttribute('aria-labelledby');
      this.el.setAttribute('aria-label', 'On-call conversation');
      return;
    }
    if (switched) {
      this.el.appendChild(this.body);
      this.el.setAttribute('aria-labelledby', 'oncall-thread-title');
      this.el.removeAttribute('aria-label');
      this.composer.text.value = '';
      this.composer.setStatus('');
      this.priority.reset();
    }
    const role = o.view(key);
    this.title.textContent = role.name;
    this.subtitle.textContent = role.holdersWords.replace(/^now: /, 'Now on call: ').replace(/^nobody/, 'Nobody');
    this.list.update();
    if (switched) this.composer.text.focus();
  }

  dispose(): void {
    this.list.release();
  }

  private async confirmChanged(): Promise<boolean> {
    const choice = await openDialog(
      'Keys changed',
      [h('p', {}, 'The keys of the clinician on call are not the ones you verified. Compare safety numbers in their conversation first if you can.')],
      [
        { value: 'send', label: 'Send anyway', kind: 'danger' },
        { value: 'cancel', label: 'Cancel' },
      ],
      'cancel',
    ).result;
    return choice === 'send';
  }

  private async sendText(text: string): Promise<boolean> {
    const key = this.key;
    const o = this.model.oncall;
    if (key === undefined || o === undefined) return false;
    const options = this.priority.options();
    if (typeof options === 'string') return (this.composer.setStatus(options), false);
    this.composer.setStatus('Finding who is on call…');
    let r = await o.sendText(key, text, false, options);
    if (r.result === 'confirm') {
      if (!(await this.confirmChanged())) return (this.composer.setStatus(''), false);
      r = await o.sendText(key, text, true, options);
    }
    if (r.result !== 'failed') this.priority.reset();
    this.composer.setStatus(r.text);
    return r.result !== 'failed';
  }

  /** Each file encrypted here, uploaded once and sent to whoever holds the role at send time. */
  private async sendFiles(files: File[]): Promise<void> {
    const key = this.key;
    const o = this.model.oncall;
    if (key === undefined || o === undefined) return;
    let confirmed = false;
    for (const f of files) {
      this.composer.setStatus(`Encrypting and sending ${f.name} to whoever is on call…`);
      let r = await o.sendFile(key, f, f.name, confirmed);
      if (r.result === 'confirm') {
        if (!(await this.confirmChanged())) return this.composer.setStatus('');
        confirmed = true;
        r = await o.sendFile(key, f, f.name, true);
      }
      this.composer.setStatus(r.text);
      if (r.result === 'failed') return;
    }
  }

  private async recall(messageKey: string): Promise<void> {
    const o = this.model.oncall;
    const peer = o?.peerOf(messageKey);
    const urgent = this.model.urgent;
    if (o === undefined || peer === undefined || urgent === undefined || !(await confirmRecall(o.recipientNames(messageKey)))) return;
    this.composer.setStatus('Recalling…');
    this.composer.setStatus((await urgent.recall(peer, messageKey)).text);
  }

  private async retry(messageKey: string): Promise<void> {
    const key = this.key;
    const o = this.model.oncall;
    if (key === undefined || o === undefined) return;
    const r = await o.retry(key, messageKey);
    this.composer.setStatus(r.text);
  }
}
