/**
 * The Admin screen (the top bar's Admin button, for administrators only):
 * issuing invites (a link with Copy and a QR code), the users table
 * (pending clinicians first) and its actions, each confirmed when it cannot
 * be undone, and each result saying that the server audited it.
 */

import type { AdminConsole, AdminOutcome, AdminUser, InviteRole, InviteView } from '../app/index.js';
import { openDialog } from './dialogs.js';
import { h, replace, uid } from './dom.js';
import { qrSvg } from './qr.js';
import { RetentionCard } from './retention-card.js';

const EXPIRY = [
  [24, '1 day'],
  [72, '3 days'],
  [168, '7 days'],
  [720, '30 days'],
] as const;

export class AdminView {
  readonly el: HTMLElement;
  private readonly status = h('div', { class: 'admin-status', role: 'status', 'aria-live': 'polite' });
  private readonly inviteOut = h('div', { class: 'admin-invite-out' });
  private readonly body = h('tbody', {});
  private readonly listError = h('p', { class: 'form-error', role: 'alert' });
  private started = false;
  private readonly retention: RetentionCard;

  constructor(private readonly console: () => AdminConsole | undefined) {
    const roleId = uid('invite-role');
    const expId = uid('invite-exp');
    const role = h('select', { id: roleId }, h('option', { value: 'clinician' }, 'Clinician'), h('option', { value: 'compliance_officer' }, 'Compliance officer'));
    const exp = h('select', { id: expId }, ...EXPIRY.map(([hrs, label]) => h('option', { value: String(hrs) }, label)));
    exp.value = '72';
    const issue = h('button', { type: 'button', class: 'primary' }, 'Issue invite');
    issue.addEventListener('click', () => {
      const c = this.console();
      if (c === undefined) return;
      issue.disabled = true;
      void c.invite(role.value as InviteRole, Number(exp.value)).then((r) => {
        issue.disabled = false;
        this.show(r.outcome);
        if (r.invite) this.showInvite(r.invite);
      });
    });
    const inviteCard = h(
      'section',
      { class: 'card admin-card', 'aria-labelledby': 'admin-invite-title' },
      h('h3', { id: 'admin-invite-title' }, 'Issue an invite'),
      h('div', { class: 'admin-row' }, h('div', { class: 'field' }, h('label', { for: roleId }, 'Role'), role), h('div', { class: 'field' }, h('label', { for: expId }, 'Expires after'), exp)),
      issue,
      this.inviteOut,
    );
    const reload = h('button', { type: 'button', onclick: () => void this.console()?.refresh() }, 'Reload');
    const table = h(
      'table',
      { class: 'admin-users' },
      h('caption', { class: 'sr-only' }, 'Users, pending clinicians first'),
      h('thead', {}, h('tr', {}, ...['Name', 'NPI', 'Specialty', 'Roles', 'Status', 'Devices', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
      this.body,
    );
    const users = h(
      'section',
      { class: 'card admin-card', 'aria-labelledby': 'admin-users-title' },
      h('div', { class: 'admin-row' }, h('h3', { id: 'admin-users-title' }, 'Users'), reload),
      this.listError,
      h('div', { class: 'admin-scroll', tabindex: 0, role: 'region', 'aria-labelledby': 'admin-users-title' }, table),
    );
    this.retention = new RetentionCard(console, (o) => this.show(o));
    this.el = h('main', { class: 'admin', id: 'admin-main', 'aria-labelledby': 'admin-title' }, h('h2', { id: 'admin-title' }, 'Administration'), this.status, inviteCard, this.retention.el, users);
  }

  private show(o: AdminOutcome): void {
    replace(this.status, h('p', { class: o.ok ? 'admin-ok' : 'form-error' }, o.text), o.details ? h('p', { class: 'hint' }, `Details: ${o.details}`) : null);
  }

  private invitePanel(v: InviteView): HTMLElement {
    const id = uid('invite-link');
    const input = h('input', { id, type: 'text', readonly: true, value: v.link, class: 'invite-link', spellcheck: 'false' });
    const copied = h('span', { class: 'hint', 'aria-live': 'polite' });
    const copy = h('button', { type: 'button' }, 'Copy');
    copy.addEventListener('click', () => {
      input.select();
      void navigator.clipboard
        ?.writeText(v.link)
        .then(() => (copied.textContent = 'Copied.'))
        .catch(() => (copied.textContent = 'Copying was refused: select the link and copy it.'));
    });
    return h(
      'div',
      { class: 'invite-panel' },
      h('h4', {}, v.title),
      h('label', { for: id }, 'Invite link'),
      h('div', { class: 'search-row' }, input, copy),
      copied,
      h('p', { class: 'hint' }, v.expires),
      qrSvg(v.qr, `QR code of the link: ${v.title}`),
    );
  }

  private showInvite(v: InviteView): void {
    replace(this.inviteOut, this.invitePanel(v));
  }

  update(): void {
    const c = this.console();
    if (c === undefined) return;
    if (!this.started) {
      this.started = true;
      void c.refresh();
    }
    this.listError.textContent = c.error ?? '';
    this.retention.update();
    replace(this.body, ...(c.loaded && c.users.length === 0 ? [h('tr', {}, h('td', { colspan: 7 }, 'No users yet.'))] : c.users.map((u) => this.row(c, u))));
  }

  private row(c: AdminConsole, u: AdminUser): HTMLTableRowElement {
    const npi =
      u.npi === ''
        ? h('td', {}, '—')
        : h('td', {}, h('span', { class: 'npi' }, u.npi), ' ', h('span', { class: u.npiValid ? 'chip npi-ok' : 'chip npi-bad' }, u.npiValid ? 'check digit valid' : 'check digit invalid'));
    const status = u.deactivated ? 'Deactivated' : u.pending ? 'Pending verification' : u.verified ? 'Verified' : u.isClinician ? 'Pending verification' : 'Active';
    const devices = h(
      'td',
      {},
      h(
        'ul',
        { class: 'admin-devices' },
        ...u.devices.map((d) => {
          const li = h('li', {}, h('span', { class: d.active ? '' : 'revoked' }, `${d.label}${d.active ? ' (active)' : ''}`));
          if (d.active && !u.deactivated && !u.isMe) {
            li.append(' ', h('button', { type: 'button', class: 'small', onclick: () => void this.revoke(c, u, d.id) }, `Revoke device ${d.id}`));
          }
          return li;
        }),
      ),
    );
    const buttons = h('div', { class: 'admin-actions' });
    const actions = h('td', {}, buttons);
    const act = (label: string, run: () => Promise<void>, kind = ''): void => {
      const b = h('button', { type: 'button', class: `small ${kind}`, 'aria-label': `${label}: ${u.name}` }, label);
      b.addEventListener('click', () => {
        b.disabled = true;
        void run().finally(() => (b.disabled = false));
      });
      buttons.append(b);
    };
    if (!u.deactivated) {
      if (!u.verified && u.isClinician) act('Verify', async () => this.show(await c.verify(u.key)), 'primary');
      if (!u.isOfficer) act('Grant compliance officer', async () => this.show(await c.grantOfficer(u.key)));
      if (u.isClinician)
        act('Device invite', async () => {
          const r = await c.deviceInvite(u.key);
          this.show(r.outcome);
          if (r.invite) this.showInvite(r.invite);
        });
      if (!u.isMe) act('Deactivate', () => this.deactivate(c, u), 'danger');
    }
    const cells: [string, HTMLElement][] = [
      ['NPI', npi],
      ['Specialty', h('td', {}, u.specialty || '—')],
      ['Roles', h('td', {}, u.roles.join(', '))],
      ['Status', h('td', {}, status)],
      ['Devices', devices],
      ['Actions', actions],
    ];
    for (const [label, cell] of cells) cell.setAttribute('data-label', label);
    return h('tr', { 'data-user': u.key, class: u.pending ? 'pending' : '' }, h('th', { scope: 'row' }, u.name, u.isMe ? ' (you)' : ''), ...cells.map(([, c]) => c));
  }

  private async revoke(c: AdminConsole, u: AdminUser, device: number): Promise<void> {
    const answer = await openDialog(
      `Revoke device ${device} of ${u.name}?`,
      [h('p', {}, `Device ${device} of ${u.name} will no longer connect, send or receive. Messages queued for it are dropped. This cannot be undone: ${u.name} can enroll a new device with a device invite.`)],
      [
        { value: 'cancel', label: 'Cancel' },
        { value: 'revoke', label: 'Revoke device', kind: 'danger' },
      ],
      'cancel',
    ).result;
    if (answer === 'revoke') this.show(await c.revokeDevice(u.key, device));
  }

  private async deactivate(c: AdminConsole, u: AdminUser): Promise<void> {
    const answer = await openDialog(
      `Deactivate ${u.name}?`,
      [h('p', {}, `${u.name} will lose access: every device of theirs is revoked, messages queued for them are dropped and colleagues can no longer write to them. This cannot be undone.`)],
      [
        { value: 'cancel', label: 'Cancel' },
        { value: 'deactivate', label: `Deactivate ${u.name}`, kind: 'danger' },
      ],
      'cancel',
    ).result;
    if (answer === 'deactivate') this.show(await c.deactivate(u.key));
  }
}
