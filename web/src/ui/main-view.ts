/**
 * The main screen: a header (the connection state, the user, the screens'
 * buttons, Settings and Lock: one row on a desktop, two fixed rows on a
 * phone), the conversations (nav) and the open conversation (main). Two
 * panes on a desktop; on a phone one at a time (the list, or the
 * conversation with its Back button). The page itself never scrolls: each
 * screen scrolls in its own pane under the header.
 */

import { IDLE_LOCK_CHOICES, isRoleKey, isTeamKey, type AppModel, type LinkState } from '../app/index.js';
import { ConversationList } from './conversation-list.js';
import { ConversationView } from './conversation-view.js';
import { openDialog } from './dialogs.js';
import { h, uid } from './dom.js';
import { AdminView } from './admin-view.js';
import { ComplianceView } from './compliance-view.js';
import { DevicesView } from './devices-view.js';
import { setCount } from './nav-badge.js';
import { ReferralsView } from './referral-view.js';
import { TeamConversationView } from './team-view.js';
import { OnCallThreadView } from './oncall-thread.js';
import { WorkflowScreens } from './workflow-screens.js';

const LINK: Record<LinkState, string> = {
  connecting: 'Connecting…',
  online: 'Online',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
};

export class MainView {
  readonly el: HTMLElement;
  private readonly link = h('p', { class: 'link', role: 'status' });
  private readonly me = h('p', { class: 'me' });
  private readonly notice = h('div', { class: 'notice', role: 'alert', hidden: true });
  private readonly noticeText = h('p', {});
  /** An urgent or stat message waiting for this user's acknowledgement (announced again at each re-alert). */
  private readonly alert = h('div', { class: 'urgent-alert', hidden: true });
  private readonly alertText = h('p', { role: 'alert' });
  private alertShown = '';
  private readonly list: ConversationList;
  private readonly conversation: ConversationView;
  private readonly team: TeamConversationView;
  /** An on-call role's thread (`oncall:…`), and the On-call and Consults screens. */
  private readonly roleThread: OnCallThreadView;
  private readonly workflow: WorkflowScreens;
  private shown: string | undefined;
  private readonly referrals: ReferralsView;
  private readonly referralsButton = h('button', { type: 'button', class: 'nav-referrals' }, 'Referrals');
  private readonly admin: AdminView;
  private readonly adminButton = h('button', { type: 'button', class: 'nav-admin', hidden: true }, 'Admin');
  private readonly compliance: ComplianceView;
  private readonly auditButton = h('button', { type: 'button', class: 'nav-audit', hidden: true }, 'Audit');
  private readonly devices: DevicesView;
  private showDevices: (on: boolean) => void = () => undefined;

  constructor(
    private readonly model: AppModel,
    private readonly notifications: { permission(): string; request(): Promise<string> },
  ) {
    this.list = new ConversationList(model);
    this.conversation = new ConversationView(model);
    this.team = new TeamConversationView(model);
    this.roleThread = new OnCallThreadView(model);
    this.notice.append(this.noticeText, h('button', { type: 'button', onclick: () => this.model.dismissNotice() }, 'Dismiss'));
    this.alert.append(this.alertText, h('button', { type: 'button', onclick: () => { const a = this.model.urgent?.alert; if (a) this.model.select(a.peer); } }, 'Show'));
    const panes = h('div', { class: 'panes' }, this.list.el, this.conversation.el, this.team.el, this.roleThread.el);
    this.workflow = new WorkflowScreens(model, (on) => {
      if (on) {
        this.workflow.hide();
        for (const [el, button, label] of [[this.referrals.el, this.referralsButton, 'Referrals'], [this.admin.el, this.adminButton, 'Admin'], [this.compliance.el, this.auditButton, 'Audit']] as const) {
          el.hidden = true;
          button.textContent = label;
        }
        this.referralsButton.hidden = false;
        this.showDevices(false);
      }
      panes.hidden = on || !this.referrals.el.hidden || !this.admin.el.hidden || !this.compliance.el.hidden || !this.devices.el.hidden;
      this.update();
    });
    const header = h(
      'header',
      { class: 'topbar' },
      h('h1', { class: 'brand' }, 'Curbside'),
      this.link,
      this.me,
      // The screens: in the row on a desktop; on a phone a strip of their own under the brand, Settings and Lock (app.css).
      h('div', { class: 'topnav', role: 'group', 'aria-label': 'Screens' }, ...this.workflow.buttons, this.referralsButton, this.adminButton, this.auditButton),
      h('button', { type: 'button', class: 'settings', onclick: () => void this.settings() }, 'Settings'),
      h('button', { type: 'button', class: 'lock', onclick: () => void this.model.lock() }, 'Lock'),
    );
    this.referrals = new ReferralsView(model);
    this.referrals.el.hidden = true;
    this.referralsButton.addEventListener('click', () => {
      const on = this.referrals.el.hidden;
      this.referrals.el.hidden = !on;
      panes.hidden = on;
      this.referralsButton.textContent = on ? 'Messages' : 'Referrals';
      this.update();
    });
    this.admin = new AdminView(() => this.model.admin);
    this.admin.el.hidden = true;
    this.adminButton.addEventListener('click', () => {
      const on = this.admin.el.hidden;
      this.admin.el.hidden = !on;
      this.referrals.el.hidden = true;
      panes.hidden = on;
      this.referralsButton.hidden = on;
      this.adminButton.textContent = on ? 'Messages' : 'Admin';
      this.update();
    });
    this.compliance = new ComplianceView(() => this.model.compliance);
    this.compliance.el.hidden = true;
    this.auditButton.addEventListener('click', () => {
      const on = this.compliance.el.hidden;
      this.compliance.el.hidden = !on;
      this.referrals.el.hidden = true;
      this.admin.el.hidden = true;
      this.adminButton.textContent = 'Admin';
      panes.hidden = on;
      this.referralsButton.hidden = on;
      this.auditButton.textContent = on ? 'Messages' : 'Audit';
      this.update();
    });
    // Linked devices (Settings → Linked devices): over the messages; any top bar screen's button leaves it.
    this.devices = new DevicesView(() => this.model.linking.devices, () => this.showDevices(false));
    this.devices.el.hidden = true;
    this.showDevices = (on) => {
      if (on) {
        for (const [el, button, label] of [[this.referrals.el, this.referralsButton, 'Referrals'], [this.admin.el, this.adminButton, 'Admin'], [this.compliance.el, this.auditButton, 'Audit']] as const) {
          el.hidden = true;
          button.textContent = label;
        }
        this.referralsButton.hidden = false;
      }
      if (this.devices.el.hidden === !on) return;
      this.devices.el.hidden = !on;
      panes.hidden = on || !this.referrals.el.hidden || !this.admin.el.hidden || !this.compliance.el.hidden;
      this.devices.setShown(on);
      this.update();
    };
    for (const b of [this.referralsButton, this.adminButton, this.auditButton]) b.addEventListener('click', () => (this.workflow.hide(), this.showDevices(false)));
    this.el = h('div', { class: 'app-main' }, header, this.notice, this.alert, panes, this.referrals.el, this.admin.el, this.compliance.el, this.devices.el, this.workflow.anchor);
  }

  update(): void {
    const state = this.model.link;
    this.link.textContent = LINK[state];
    this.link.className = `link link-${state}`;
    const me = this.model.me;
    this.me.textContent = me ? me.name : '';
    const notice = this.model.notice;
    this.notice.hidden = notice === undefined;
    this.noticeText.textContent = notice ?? '';
    const alert = this.model.urgent?.alert;
    this.alert.hidden = alert === undefined;
    const shown = alert === undefined ? '' : `${alert.round}:${alert.text}`;
    if (shown !== this.alertShown) {
      this.alertShown = shown;
      this.alertText.textContent = '';
      const text = alert?.text ?? '';
      requestAnimationFrame(() => (this.alertText.textContent = text)); // a new text, or the same again at a re-alert: announced again
    }
    const selected = this.model.selected;
    this.el.classList.toggle('showing-conversation', selected !== undefined);
    this.adminButton.hidden = this.model.admin === undefined;
    if (!this.admin.el.hidden) this.admin.update();
    this.auditButton.hidden = this.model.compliance === undefined;
    if (!this.compliance.el.hidden) this.compliance.update();
    if (!this.devices.el.hidden) this.devices.update();
    this.list.update();
    const team = isTeamKey(selected);
    const role = isRoleKey(selected);
    this.conversation.el.hidden = team || role;
    this.team.el.hidden = !team;
    this.roleThread.el.hidden = !role;
    this.conversation.update();
    this.team.update();
    this.roleThread.update();
    this.workflow.update();
    if (!this.referrals.el.hidden) this.referrals.update();
    else setCount(this.referralsButton, 'Referrals', this.model.referrals?.toAnswer ?? 0, 'to answer');
    if (selected === undefined && this.shown !== undefined && this.el.contains(document.activeElement) === false) {
      this.list.focusItem(this.shown); // Back on a phone: to the conversation just left
    }
    this.shown = selected;
  }

  dispose(): void {
    this.devices.setShown(false);
    this.conversation.dispose();
    this.team.dispose();
    this.roleThread.dispose();
    this.workflow.dispose();
  }

  private async settings(): Promise<void> {
    const id = uid('idle');
    const select = h('select', { id }, ...IDLE_LOCK_CHOICES.map((m) => h('option', { value: String(m) }, `${m} minute${m === 1 ? '' : 's'}`)));
    select.value = String(this.model.idleLockMinutes);
    select.addEventListener('change', () => this.model.setIdleLockMinutes(Number(select.value)));
    const permission = this.notifications.permission();
    const notify = h('button', { type: 'button' }, permission === 'granted' ? 'Notifications are on' : 'Turn on notifications');
    notify.disabled = permission === 'granted' || permission === 'denied' || permission === 'unsupported';
    const notifyHint = h(
      'p',
      { class: 'hint', 'aria-live': 'polite' },
      permission === 'denied'
        ? 'Notifications are blocked for this site: allow them in the browser’s site settings.'
        : permission === 'unsupported'
          ? 'This browser cannot show notifications.'
          : 'A message’s notification says only “New secure message”: never who wrote or what. A referral’s names the colleague and its priority, never the patient.',
    );
    notify.addEventListener('click', () => {
      void this.notifications.request().then((p) => {
        notify.textContent = p === 'granted' ? 'Notifications are on' : 'Turn on notifications';
        notify.disabled = p === 'granted' || p === 'denied';
        if (p === 'denied') notifyHint.textContent = 'Notifications are blocked for this site: allow them in the browser’s site settings.';
      });
    });
    const devices = h('button', { type: 'button' }, 'Linked devices');
    const dialog = openDialog(
      'Settings',
      [
        h('div', { class: 'field' }, h('label', { for: id }, 'Lock after inactivity'), select),
        h('p', { class: 'hint' }, 'Locking removes your keys and messages from memory until you enter your passphrase again.'),
        notify,
        notifyHint,
        h('p', { class: 'hint policy-words' }, this.model.urgent?.policyWords || 'Your organisation’s retention policy is read when you are online.'),
        h('p', { class: 'hint' }, 'Your devices: link a new one with a code, or revoke one you lost.'),
        devices,
      ],
      [{ value: 'close', label: 'Close', kind: 'primary' }],
      'close',
    );
    devices.addEventListener('click', () => {
      dialog.close('close');
      this.showDevices(true);
    });
    await dialog.result;
  }
}
