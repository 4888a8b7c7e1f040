/**
 * A care team's conversation pane: the team's name and members, a Back
 * button (phones show one pane at a time), the Members panel, a banner when
 * a verified member's keys changed (and a warning before sending) or when
 * the user was removed, the messages with each sender's name and, for ours,
 * "Delivered to 2 of 3" that opens to each member's status, the urgent
 * and stat messages pinned until a member acknowledges them (Acknowledge on
 * a colleague's), Recall on ours, and the composer (text and files, as in
 * a 1:1 conversation; text routine, urgent or stat).
 */

import { isTeamKey, type AppModel, type MemberStatus, type TeamMessageView, type TeamSendResult, type TeamView as Team } from '../app/index.js';
import { Composer } from './composer.js';
import { openDialog } from './dialogs.js';
import { h, replace, uid } from './dom.js';
import { clock } from './format.js';
import { MessageList } from './message-list.js';
import { PriorityPicker } from './priority-picker.js';
import { MembersPanel } from './team-members.js';
import { confirmRecall, UrgentPins } from './urgent-view.js';

const MEMBER_STATUS: Record<MemberStatus, string> = {
  queued: 'Queued',
  sent: 'Sent, not delivered yet',
  delivered: 'Delivered',
  read: 'Read',
  failed: 'Not sent',
};

export class TeamConversationView {
  readonly el: HTMLElement;
  private readonly title = h('h2', { id: uid('team-title'), tabindex: -1 });
  private readonly subtitle = h('p', { class: 'subtitle' });
  private readonly banner = h('div', { class: 'banner', role: 'alert', hidden: true });
  private readonly removedNote = h('p', { class: 'team-removed', role: 'status', hidden: true });
  private readonly membersButton: HTMLButtonElement;
  private readonly members: MembersPanel;
  private readonly list: MessageList<TeamMessageView>;
  private readonly composer: Composer;
  private readonly pins: UrgentPins;
  private readonly priority: PriorityPicker;
  private readonly columns: HTMLDivElement;
  private readonly chat: HTMLDivElement;
  private readonly body: HTMLDivElement;
  private readonly openDetails = new Set<string>();
  private key: string | undefined;

  constructor(private readonly model: AppModel) {
    this.list = new MessageList<TeamMessageView>(
      { messages: (k) => this.model.teams?.messages(k) ?? [], file: (k, m) => this.model.teams?.file(k, m) ?? Promise.reject(new Error('locked')) },
      (m) => void this.retry(m),
      (m, li) => this.delivery(m, li),
      (m) => void this.recall(m),
    );
    this.pins = new UrgentPins((m) => this.key !== undefined && void this.model.teams?.acknowledge(this.key, m));
    this.priority = new PriorityPicker(model, () => undefined, () => this.composer?.setStatus(''), true);
    this.composer = new Composer({ sendText: (t) => this.sendText(t), sendFiles: (f) => this.sendFiles(f) }, this.priority.el);
    this.members = new MembersPanel(model, () => this.showMembers(false));
    this.membersButton = h('button', { type: 'button', 'aria-expanded': 'false', 'aria-controls': this.members.el.id, onclick: () => this.showMembers(this.members.el.hidden) }, 'Members');
    const header = h(
      'header',
      { class: 'conversation-header' },
      h('button', { type: 'button', class: 'back', onclick: () => this.model.select(undefined) }, h('span', { 'aria-hidden': 'true' }, '‹ '), 'Back'),
      h('div', { class: 'who' }, this.title, this.subtitle),
      h('div', { class: 'tools' }, this.membersButton),
    );
    this.chat = h('div', { class: 'team-chat' }, this.pins.el, this.list.el, this.list.announcer, this.removedNote, this.composer.el);
    this.columns = h('div', { class: 'team-columns' }, this.chat, this.members.el);
    this.body = h('div', { class: 'conversation-body' }, header, this.banner, this.columns);
    // Its content is in the page only while a team is shown (one composer in the page at a time).
    this.el = h('main', { class: 'team-conversation', id: 'team-main', 'aria-labelledby': this.title.id, hidden: true });
    this.el.addEventListener('dragover', (e) => {
      if (this.key === undefined) return;
      e.preventDefault();
      this.el.classList.add('dropping');
    });
    this.el.addEventListener('dragleave', () => this.el.classList.remove('dropping'));
    this.el.addEventListener('drop', (e) => {
      this.el.classList.remove('dropping');
      if (this.key === undefined) return;
      e.preventDefault();
      const files = e.dataTransfer?.files ? [...e.dataTransfer.files] : [];
      if (files.length > 0) void this.sendFiles(files);
    });
  }

  private showMembers(on: boolean): void {
    this.members.el.hidden = !on;
    this.membersButton.setAttribute('aria-expanded', String(on));
    this.columns.classList.toggle('members-open', on);
    if (on) this.members.title.focus();
    else this.membersButton.focus();
  }

  update(): void {
    const selected = this.model.selected;
    const key = isTeamKey(selected) ? selected : undefined;
    const team = key === undefined ? undefined : this.model.teams?.view(key);
    const switched = key !== this.key;
    this.key = team === undefined ? undefined : key;
    this.list.show(this.key);
    if (team === undefined) {
      if (this.el.firstChild !== null) replace(this.el);
      return;
    }
    if (this.el.firstChild === null) replace(this.el, this.body);
    if (switched) {
      this.openDetails.clear();
      this.members.reset();
      this.members.el.hidden = true;
      this.membersButton.setAttribute('aria-expanded', 'false');
      this.columns.classList.remove('members-open');
      this.composer.text.value = '';
      this.composer.setStatus('');
      this.priority.reset();
    }
    this.title.textContent = team.name;
    replace(this.subtitle, `Care team · ${team.members.length} members`, h('span', { class: 'member-names' }, `: ${team.members.map((m) => (m.you ? 'you' : m.name)).join(', ')}`));
    this.membersButton.textContent = `Members (${team.members.length})`;
    this.members.update(team);
    this.drawBanner(team);
    this.removedNote.hidden = !team.removed;
    this.removedNote.textContent = team.removed ? 'You were removed from this team: you can read what it sent you, but no longer write to it. To work with its members again, ask one of them to create a new team with you.' : '';
    this.composer.el.hidden = team.removed;
    const focused = (document.activeElement as HTMLElement | null)?.closest?.('details[data-key]')?.getAttribute('data-key');
    this.pins.update(this.model.teams?.messages(team.key) ?? []);
    this.list.update();
    if (focused) this.list.el.querySelector<HTMLElement>(`details[data-key="${CSS.escape(focused)}"] summary`)?.focus();
    if (switched && !team.removed) this.composer.text.focus();
  }

  private drawBanner(team: Team): void {
    this.banner.hidden = team.keysChanged.length === 0;
    if (team.keysChanged.length === 0) return;
    replace(
      this.banner,
      h('p', {}, h('strong', {}, `Keys changed since you verified them: ${team.keysChanged.join(', ')}.`), ' They may have a new device, or someone may be in the middle. Compare safety numbers in your conversation with them before you send anything sensitive.'),
    );
  }

  dispose(): void {
    this.list.release();
  }

  /** Ours: "Delivered to 1 of 2", opening to each member's status. */
  private delivery(m: TeamMessageView, li: HTMLLIElement): void {
    const d = m.delivery;
    if (d === undefined) return;
    const details = h(
      'details',
      { class: 'delivery', 'data-key': m.key, open: this.openDetails.has(m.key) },
      h('summary', {}, d.summary),
      h(
        'ul',
        { class: 'delivery-members' },
        ...d.members.map((x) =>
          h(
            'li',
            { class: `delivery-${x.status}` },
            h('span', { class: 'name' }, x.name),
            h('span', { class: 'delivery-status' }, MEMBER_STATUS[x.status], x.at !== undefined ? ` ${clock(x.at)}` : ''),
          ),
        ),
      ),
    );
    details.addEventListener('toggle', () => {
      if (details.open) this.openDetails.add(m.key);
      else this.openDetails.delete(m.key);
    });
    li.appendChild(details);
  }

  /** Asks before sending to a team with a member whose verified keys changed; whether to go on. */
  private async confirmChanged(): Promise<boolean> {
    const team = this.key === undefined ? undefined : this.model.teams?.view(this.key);
    const names = team?.keysChanged.join(', ') ?? '';
    const choice = await openDialog(
      'Keys changed in this team',
      [h('p', {}, `The keys of ${names} are not the ones you verified. They may have a new device, or someone may be intercepting. Compare safety numbers in your conversation with them first if you can.`)],
      [
        { value: 'cancel', label: 'Cancel' },
        { value: 'send', label: 'Send anyway', kind: 'danger' },
      ],
      'cancel',
    ).result;
    return choice === 'send';
  }

  private async withConfirm(send: (confirmed: boolean) => Promise<TeamSendResult>): Promise<TeamSendResult> {
    let r = await send(false);
    if (r === 'confirm') r = (await this.confirmChanged()) ? await send(true) : 'confirm';
    return r;
  }

  private async sendText(text: string): Promise<boolean> {
    const key = this.key;
    const teams = this.model.teams;
    if (key === undefined || teams === undefined) return false;
    const options = this.priority.options();
    if (typeof options === 'string') {
      this.composer.setStatus(options);
      return false;
    }
    const r = await this.withConfirm((c) => teams.sendText(key, text, c, options.priority));
    if (r === 'sent' || r === 'queued') this.priority.reset();
    this.composer.setStatus(r === 'queued' ? 'Offline: the message is queued and goes as soon as the connection is back.' : r === 'failed' ? 'It was not sent: see the message for why.' : '');
    return r === 'sent' || r === 'queued';
  }

  private async recall(messageKey: string): Promise<void> {
    const key = this.key;
    const teams = this.model.teams;
    const team = key === undefined ? undefined : teams?.view(key);
    if (key === undefined || teams === undefined || team === undefined || !(await confirmRecall(team.name, true))) return;
    this.composer.setStatus('Recalling…');
    const r = await teams.recall(key, messageKey);
    this.composer.setStatus(r.text);
  }

  private async sendFiles(files: File[]): Promise<void> {
    const key = this.key;
    const teams = this.model.teams;
    if (key === undefined || teams === undefined) return;
    let confirmed = false;
    if ((teams.view(key)?.keysChanged.length ?? 0) > 0) {
      if (!(await this.confirmChanged())) return;
      confirmed = true;
    }
    for (const f of files) {
      this.composer.setStatus(`Encrypting and sending ${f.name} to the team…`);
      const r = await teams.sendFile(key, f, f.name, confirmed);
      this.composer.setStatus(r === 'failed' ? `${f.name} could not be sent: check your connection and try again.` : '');
    }
  }

  private async retry(messageKey: string): Promise<void> {
    const key = this.key;
    const teams = this.model.teams;
    if (key === undefined || teams === undefined) return;
    const r = await this.withConfirm((c) => teams.retry(key, messageKey, c));
    this.composer.setStatus(r === 'failed' ? 'It was not sent again: see the message for why.' : '');
  }
}
