/**
 * The Devices screen (Settings → Linked devices): the clinician's devices
 * (this browser marked), "Link a new device" (the code big and grouped
 * for typing, Copy, its expiry, a QR code of the enrollment link, and the
 * wait until the new device appears), and Revoke, confirmed in a dialog
 * that names the device; revoking this browser warns apart (it is signed
 * out and erased, and with no other device only an administrator lets the
 * clinician back in).
 */

import type { CodeView, DeviceRow, DevicesConsole } from '../app/index.js';
import { openDialog } from './dialogs.js';
import { h, replace } from './dom.js';
import { qrSvg } from './qr.js';

export class DevicesView {
  readonly el: HTMLElement;
  private readonly status = h('div', { class: 'devices-status', role: 'status', 'aria-live': 'polite' });
  private readonly listError = h('p', { class: 'form-error', role: 'alert' });
  private readonly activeList = h('ul', { class: 'device-list', 'aria-labelledby': 'devices-active-title' });
  private readonly revokedSection = h('section', { class: 'devices-revoked', 'aria-labelledby': 'devices-revoked-title', hidden: true });
  private readonly revokedList = h('ul', { class: 'device-list', 'aria-labelledby': 'devices-revoked-title' });
  private readonly codeOut = h('div', { class: 'device-code-out' });
  private readonly linkButton = h('button', { type: 'button', class: 'primary' }, 'Link a new device');
  private rendered = '';
  private shownCode: string | undefined;

  constructor(
    private readonly console: () => DevicesConsole | undefined,
    back: () => void,
  ) {
    this.linkButton.addEventListener('click', () => {
      const c = this.console();
      if (c === undefined) return;
      this.linkButton.disabled = true;
      void c.link().finally(() => {
        this.linkButton.disabled = false;
        this.codeOut.querySelector<HTMLElement>('h4')?.focus();
      });
    });
    const reload = h('button', { type: 'button', onclick: () => void this.console()?.refresh() }, 'Reload');
    this.revokedSection.append(h('h4', { id: 'devices-revoked-title' }, 'Revoked devices'), this.revokedList);
    const list = h(
      'section',
      { class: 'card devices-card', 'aria-labelledby': 'devices-active-title' },
      h('div', { class: 'admin-row' }, h('h3', { id: 'devices-active-title' }, 'Your devices'), reload),
      h('p', { class: 'hint' }, 'Every message to you, and every message you send from any of them, reaches all your active devices. Revoke a device you lost or no longer use.'),
      this.listError,
      this.activeList,
      this.revokedSection,
    );
    const link = h(
      'section',
      { class: 'card devices-card', 'aria-labelledby': 'devices-link-title' },
      h('h3', { id: 'devices-link-title' }, 'Link a new device'),
      h('p', {}, 'On the new device, open Curbside (in a browser: this site’s address; in the terminal: curbside enroll --invite CODE), choose “I already use Curbside on another device” and enter the code shown here. Only you should see it.'),
      this.linkButton,
      this.codeOut,
    );
    this.el = h(
      'main',
      { class: 'devices', id: 'devices-main', 'aria-labelledby': 'devices-title' },
      h('div', { class: 'devices-head' }, h('h2', { id: 'devices-title' }, 'Linked devices'), h('button', { type: 'button', onclick: back }, 'Back to messages')),
      this.status,
      h('div', { class: 'devices-grid' }, list, link),
    );
  }

  /** The screen is shown (`true`) or left: the list is loaded, and watched while a code waits. */
  setShown(shown: boolean): void {
    const c = this.console();
    c?.setShown(shown);
    if (shown) {
      void c?.refresh();
      this.el.querySelector<HTMLElement>('h2')?.setAttribute('tabindex', '-1');
      this.el.querySelector<HTMLElement>('h2')?.focus();
    }
  }

  update(): void {
    const c = this.console();
    if (c === undefined) return;
    const o = c.outcome;
    const statusText = o?.text ?? '';
    if (this.status.textContent !== statusText) replace(this.status, o ? h('p', { class: o.ok ? 'admin-ok' : 'form-error' }, o.text) : null);
    this.listError.textContent = c.error ?? '';
    const active = c.active;
    const revoked = c.revoked;
    const signature = JSON.stringify([c.loaded, active, revoked]);
    if (signature !== this.rendered) {
      this.rendered = signature;
      replace(this.activeList, ...(c.loaded ? active.map((d) => this.row(c, d, active.length)) : [h('li', { class: 'hint' }, 'Loading your devices…')]));
      replace(this.revokedList, ...revoked.map((d) => this.row(c, d, active.length)));
      this.revokedSection.hidden = revoked.length === 0;
    }
    const code = c.code;
    if (code?.code !== this.shownCode) {
      this.shownCode = code?.code;
      replace(this.codeOut, code ? this.codePanel(code) : null);
      this.linkButton.textContent = code ? 'Issue another code' : 'Link a new device';
    }
  }

  private row(c: DevicesConsole, d: DeviceRow, activeCount: number): HTMLLIElement {
    const li = h(
      'li',
      { class: `device${d.thisDevice ? ' this-device' : ''}${d.active ? '' : ' revoked'}`, 'data-device': d.id },
      h('div', { class: 'device-info' }, h('p', { class: 'device-name' }, d.name, d.thisDevice ? h('span', { class: 'chip chip-this' }, 'this device') : null), h('p', { class: 'hint' }, d.detail)),
    );
    if (d.active) {
      const b = h('button', { type: 'button', class: 'small' }, d.thisDevice ? 'Revoke this browser' : `Revoke ${d.name}`);
      b.addEventListener('click', () => void this.revoke(c, d, activeCount, b));
      li.append(b);
    }
    return li;
  }

  private codePanel(v: CodeView): HTMLElement {
    const copied = h('span', { class: 'hint', 'aria-live': 'polite' });
    const copy = h('button', { type: 'button' }, 'Copy code');
    copy.addEventListener('click', () => {
      void navigator.clipboard
        ?.writeText(v.code)
        .then(() => (copied.textContent = 'Copied.'))
        .catch(() => (copied.textContent = 'Copying was refused: type the code from the screen.'));
    });
    const code = h('p', { class: 'device-code', 'data-code': v.code }, h('span', { class: 'code-prefix' }, 'cbs_dev_'));
    for (const g of v.groups) code.append(' ', h('span', { class: 'code-group' }, g));
    return h(
      'div',
      { class: 'device-code-panel' },
      h('h4', { tabindex: -1 }, 'Enter this code on your new device'),
      code,
      h('div', { class: 'search-row' }, copy, copied),
      h('p', { class: 'hint' }, `${v.expires} Spaces do not matter; capitals do.`),
      h('p', {}, 'Or scan this QR code with the new device’s camera: it opens Curbside there with the code filled in.'),
      qrSvg(v.qr, 'QR code of the link that links a new device'),
      h('p', { class: 'device-waiting' }, 'Waiting for the new device… it appears in Your devices once it has enrolled.'),
    );
  }

  private async revoke(c: DevicesConsole, d: DeviceRow, activeCount: number, button: HTMLButtonElement): Promise<void> {
    const self = d.thisDevice;
    const body = self
      ? [
          h('p', { class: 'warning' }, 'This signs this browser out of Curbside for good: it stops receiving messages, and its keys and every message stored in it are erased now.'),
          activeCount <= 1
            ? h('p', { class: 'warning' }, 'This is your only active device: afterwards, only an administrator’s device invite lets you back in.')
            : h('p', {}, 'Your other devices keep working; you can link this browser again later with a code from one of them.'),
        ]
      : [h('p', {}, `${d.name} (${d.detail.charAt(0).toLowerCase()}${d.detail.slice(1)}) will no longer connect, send or receive; messages waiting for it are dropped. This cannot be undone: to use it again, link it anew with a code from this screen.`)];
    const answer = await openDialog(
      self ? 'Revoke this browser?' : `Revoke ${d.name}?`,
      body,
      [
        { value: 'cancel', label: 'Cancel' },
        { value: 'revoke', label: self ? 'Revoke and erase this browser' : `Revoke ${d.name}`, kind: 'danger' },
      ],
      'cancel',
    ).result;
    if (answer !== 'revoke') {
      button.focus();
      return;
    }
    button.disabled = true;
    await c.revoke(d.id);
    button.disabled = false;
    this.status.querySelector('p')?.setAttribute('tabindex', '-1');
  }
}
