/**
 * The locked-out screen: this browser's device was revoked (from another of
 * the clinician's devices, by an administrator, or from its own Devices
 * screen) or the account deactivated. It says what happened, that the
 * browser's keys and messages were erased (or, if erasing failed, how to
 * do it), and what to do to get back in.
 */

import type { AppModel } from '../app/index.js';
import { h } from './dom.js';

export class LockedOutView {
  readonly el: HTMLElement;
  private readonly heading: HTMLHeadingElement;

  constructor(model: AppModel) {
    const out = model.linking.lockedOut ?? { reason: 'revoked', wiped: true };
    const gone = out.reason === 'deactivated';
    const what =
      out.reason === 'self'
        ? 'You revoked this browser from its Devices screen: it can no longer send or receive messages.'
        : gone
          ? 'An administrator deactivated your Curbside account: it can no longer send or receive messages on any device.'
          : 'It was revoked, from another of your devices or by an administrator: it can no longer send or receive messages.';
    const erased = out.wiped
      ? 'Your keys and the messages stored in this browser have been erased from it.'
      : 'Your keys and messages could not be erased from this browser automatically: clear this site’s data in the browser’s settings (Site settings → Delete data).';
    this.heading = h('h2', { id: 'locked-out-title', tabindex: -1 }, gone ? 'Your account was deactivated' : 'This browser is no longer linked to your account');
    const steps = gone
      ? h('ul', { class: 'locked-out-steps' }, h('li', {}, 'If this is a mistake, contact your administrator.'), h('li', {}, 'A clinician who comes back is invited again as a new user, with a new invite.'))
      : h(
          'ol',
          { class: 'locked-out-steps' },
          h('li', {}, 'On a device you still use, open Settings → Linked devices and choose “Link a new device” (in the terminal: curbside devices add).'),
          h('li', {}, 'Here, choose “Link this browser again” and enter the code it shows.'),
          h('li', {}, 'No other device? Ask your administrator for a device invite, and enter it as the code.'),
        );
    this.el = h(
      'main',
      { class: 'auth', id: 'main' },
      h('h1', { class: 'brand' }, 'Curbside'),
      h(
        'section',
        { class: 'card locked-out', 'aria-labelledby': 'locked-out-title' },
        this.heading,
        h('p', {}, what),
        h('p', { class: out.wiped ? 'admin-ok' : 'form-error' }, erased),
        h('h3', {}, 'What to do'),
        steps,
        h('button', { type: 'button', class: 'primary', onclick: () => model.linking.enrollAgain() }, gone ? 'Enroll with a new invite' : 'Link this browser again'),
      ),
    );
  }

  update(): void {
    // static
  }

  focus(): void {
    this.heading.focus();
  }
}
