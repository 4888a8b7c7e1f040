/**
 * The conversation pane: the colleague's name and specialty, a Back button
 * (phones show one pane at a time), the safety number, the timer, a red
 * banner when a verified colleague's keys changed (and a warning before
 * sending to them), the organisation's retention policy, the urgent
 * messages pinned until acknowledged, the messages (Recall on ours), and
 * the composer with its priority; files can be dropped onto it.
 */

import { isRoleKey, isTeamKey, type AppModel, type SendResult } from '../app/index.js';
import { Composer } from './composer.js';
import { openDialog } from './dialogs.js';
import { h, replace } from './dom.js';
import { MessageList } from './message-list.js';
import { PriorityPicker } from './priority-picker.js';
import { showSafetyNumber } from './safety-view.js';
import { confirmRecall, UrgentPins } from './urgent-view.js';

const TIMERS: [number | null, string][] = [
  [null, 'Timer off'],
  [30, '30 seconds'],
  [300, '5 minutes'],
  [3600, '1 hour'],
  [86_400, '1 day'],
  [604_800, '1 week'],
];

export class ConversationView {
  readonly el: HTMLElement;
  private readonly title = h('h2', { id: 'conversation-title', tabindex: -1 });
  private readonly subtitle = h('p', { class: 'subtitle' });
  private readonly timer: HTMLSelectElement;
  private readonly timerWords = h('p', { class: 'timer-words' });
  private readonly timerError = h('p', { class: 'form-error timer-error', role: 'alert' });
  private readonly policy = h('p', { class: 'policy-words' });
  private readonly pins: UrgentPins;
  private readonly priority: PriorityPicker;
  private readonly banner = h('div', { class: 'banner', role: 'alert', hidden: true });
  private readonly list: MessageList;
  private readonly composer: Composer;
  private readonly body: HTMLDivElement;
  private readonly empty = h('div', { class: 'no-conversation' }, h('h2', {}, 'No conversation open'), h('p', {}, 'Choose a conversation, or find a colleague by name or specialty.'));
  private peer: string | undefined;
  /** The composer says a message is queued (until the connection is back). */
  private queuedNote = false;

  constructor(private readonly model: AppModel) {
    this.list = new MessageList(model, (key) => void this.retry(key), undefined, (key) => void this.recall(key));
    this.pins = new UrgentPins((key) => this.peer !== undefined && void this.model.urgent?.acknowledge(this.peer, key));
    this.priority = new PriorityPicker(model, () => this.peer, () => this.composer?.setStatus(''));
    this.composer = new Composer({ sendText: (t) => this.sendText(t), sendFiles: (f) => this.sendFiles(f) }, this.priority.el);
    this.timer = h(
      'select',
      { id: 'timer-select', onchange: () => void this.onTimer() },
      ...TIMERS.map(([s, label]) => h('option', { value: s === null ? 'off' : String(s) }, label)),
    );
    const header = h(
      'header',
      { class: 'conversation-header' },
      h('button', { type: 'button', class: 'back', onclick: () => this.model.select(undefined) }, h('span', { 'aria-hidden': 'true' }, '‹ '), 'Back'),
      h('div', { class: 'who' }, this.title, this.subtitle),
      h('div', { class: 'tools' },
        h('label', { for: 'timer-select', class: 'timer-label' }, 'Disappearing messages'),
        this.timer,
        h('button', { type: 'button', onclick: () => this.peer && void showSafetyNumber(this.model, this.peer) }, 'Safety number'),
      ),
    );
    this.body = h('div', { class: 'conversation-body' }, header, this.banner, this.timerWords, this.timerError, this.policy, this.pins.el, this.list.el, this.list.announcer, this.composer.el);
    this.el = h('main', { class: 'conversation', id: 'main', 'aria-labelledby': 'conversation-title' }, this.empty);
    this.el.addEventListener('dragover', (e) => {
      if (this.peer === undefined) return;
      e.preventDefault();
      this.el.classList.add('dropping');
    });
    this.el.addEventListener('dragleave', () => this.el.classList.remove('dropping'));
    this.el.addEventListener('drop', (e) => {
      this.el.classList.remove('dropping');
      if (this.peer === undefined) return;
      e.preventDefault();
      const files = e.dataTransfer?.files ? [...e.dataTransfer.files] : [];
      if (files.length > 0) void this.sendFiles(files);
    });
  }

  update(): void {
    const selected = this.model.selected;
    const peer = isTeamKey(selected) || isRoleKey(selected) ? undefined : selected; // a team's is the team view's, a role's the role thread's
    const switched = peer !== this.peer;
    this.peer = peer;
    this.list.show(peer);
    if (peer === undefined) {
      if (switched) replace(this.el, this.empty);
      this.el.setAttribute('aria-label', 'Conversation');
      this.el.removeAttribute('aria-labelledby');
      return;
    }
    this.el.removeAttribute('aria-label');
    this.el.setAttribute('aria-labelledby', 'conversation-title');
    if (switched) {
      replace(this.el, this.body);
      this.composer.text.value = '';
      this.composer.setStatus('');
      this.timerError.textContent = '';
      this.priority.reset();
    }
    const person = this.model.person(peer);
    this.title.textContent = person.name;
    const trust = this.model.trust(peer);
    this.subtitle.textContent = [person.specialty, trust === 'verified' ? '✓ Verified' : trust === 'changed' ? 'Keys changed' : 'Not verified'].filter(Boolean).join(' · ');
    const timer = this.model.timer(peer);
    const value = timer.seconds === null ? 'off' : String(timer.seconds);
    if (![...this.timer.options].some((o) => o.value === value)) {
      // A duration set from another client (the CLI's `timer --seconds N`).
      this.timer.appendChild(h('option', { value }, timer.duration));
    }
    this.timer.value = value;
    this.timerWords.textContent = timer.seconds === null ? '' : timer.words;
    this.policy.textContent = this.model.urgent?.retentionLimited === true ? this.model.urgent.policyWords : ''; // no limit: said in Settings only
    this.pins.update(this.model.messages(peer));
    const bannerChanged = this.banner.hidden !== (trust !== 'changed');
    this.banner.hidden = trust !== 'changed';
    if (trust === 'changed') {
      replace(
        this.banner,
        h('p', {}, h('strong', {}, `${person.name}'s keys changed since you verified them.`), ' They may have a new device, or someone may be in the middle. Compare safety numbers before you send anything sensitive.'),
        h('button', { type: 'button', onclick: () => void showSafetyNumber(this.model, peer) }, 'Compare safety numbers'),
      );
    }
    this.list.update();
    if (bannerChanged) this.list.scrollToEnd();
    if (this.queuedNote && this.model.link === 'online') {
      this.queuedNote = false;
      this.composer.setStatus('');
    }
    if (switched) this.composer.text.focus();
  }

  dispose(): void {
    this.list.release();
  }

  /** Asks before sending to a colleague whose verified keys changed; whether to go on. */
  private async confirmChanged(peer: string): Promise<boolean> {
    const name = this.model.person(peer).name;
    const choice = await openDialog(
      `${name}'s keys changed`,
      [h('p', {}, `${name}'s keys are not the ones you verified. They may have a new device, or someone may be intercepting. Compare safety numbers first if you can.`)],
      [
        { value: 'compare', label: 'Compare safety numbers', kind: 'primary' },
        { value: 'send', label: 'Send anyway', kind: 'danger' },
        { value: 'cancel', label: 'Cancel' },
      ],
      'cancel',
    ).result;
    if (choice === 'compare') await showSafetyNumber(this.model, peer);
    return choice === 'send';
  }

  private async sendText(text: string): Promise<boolean> {
    const peer = this.peer;
    if (peer === undefined) return false;
    const options = this.priority.options();
    if (typeof options === 'string') {
      this.composer.setStatus(options);
      return false;
    }
    const send = (confirmed: boolean): Promise<SendResult> =>
      options.priority === 'routine' || this.model.urgent === undefined ? this.model.sendText(peer, text, confirmed) : this.model.urgent.sendText(peer, text, options, confirmed);
    let r: SendResult = await send(false);
    if (r === 'confirm') {
      if (!(await this.confirmChanged(peer))) return false;
      r = await send(true);
    }
    if (r !== 'failed') this.priority.reset();
    this.queuedNote = r === 'queued';
    this.composer.setStatus(this.queuedNote ? 'Offline: the message is queued and goes as soon as the connection is back.' : '');
    return r !== 'failed';
  }

  private async retry(messageKey: string): Promise<void> {
    const peer = this.peer;
    if (peer === undefined) return;
    let r = await this.model.retry(peer, messageKey);
    if (r === 'confirm' && (await this.confirmChanged(peer))) r = await this.model.retry(peer, messageKey, true);
    this.composer.setStatus(r === 'failed' ? 'It was not sent again: see the message for why.' : '');
  }

  private async sendFiles(files: File[]): Promise<void> {
    const peer = this.peer;
    if (peer === undefined) return;
    let confirmed = false;
    if (this.model.trust(peer) === 'changed') {
      if (!(await this.confirmChanged(peer))) return;
      confirmed = true;
    }
    for (const f of files) {
      this.composer.setStatus(`Encrypting and sending ${f.name}…`);
      const r = await this.model.sendFile(peer, f, f.name, confirmed);
      this.composer.setStatus(r === 'failed' ? `${f.name} could not be sent: check your connection and try again.` : '');
    }
  }

  private async onTimer(): Promise<void> {
    const peer = this.peer;
    if (peer === undefined) return;
    const v = this.timer.value;
    const seconds = v === 'off' ? null : Number(v);
    const refused = this.model.urgent?.timerRefusal(seconds);
    this.timerError.textContent = refused ?? '';
    if (refused !== undefined) {
      this.update(); // back to the timer in effect
      return;
    }
    await this.model.setTimer(peer, seconds);
  }

  private async recall(messageKey: string): Promise<void> {
    const peer = this.peer;
    const urgent = this.model.urgent;
    if (peer === undefined || urgent === undefined || !(await confirmRecall(this.model.person(peer).name))) return;
    this.composer.setStatus('Recalling…');
    const r = await urgent.recall(peer, messageKey);
    this.composer.setStatus(r.text);
  }
}
