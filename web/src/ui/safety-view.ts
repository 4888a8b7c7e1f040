/**
 * The safety number with a colleague: 12 groups of 5 digits and their QR
 * code, to compare in person or on a call; Confirm pins their keys. If the
 * keys change later, the conversation shows a red banner.
 */

import type { AppModel } from '../app/index.js';
import { openDialog } from './dialogs.js';
import { h, replace, srOnly } from './dom.js';
import { qrSvg } from './qr.js';

export async function showSafetyNumber(model: AppModel, key: string): Promise<void> {
  const name = model.person(key).name;
  const d = openDialog(`Safety number with ${name}`, [h('p', { role: 'status' }, `Fetching ${name}'s keys…`)], [{ value: 'close', label: 'Close' }], 'close');
  let view;
  try {
    view = await model.safety(key);
  } catch {
    replace(d.body, h('p', { role: 'alert' }, 'The keys could not be fetched: check your connection and try again.'));
    return;
  }
  if (view === undefined) {
    replace(d.body, h('p', { role: 'alert' }, `${name} has no active device yet: try again once they have enrolled one.`));
    return;
  }
  const status = h(
    'p',
    { class: `trust trust-${view.trust}`, role: 'status' },
    view.trust === 'verified'
      ? `Verified: ${name}'s current keys are the ones you confirmed.`
      : view.trust === 'changed'
        ? `${name}'s keys changed since you verified them: compare again before you trust this conversation.`
        : 'Not verified yet.',
  );
  const groups = h(
    'p',
    { class: 'safety-digits' },
    srOnly(`Safety number: ${view.groups.join(' ')}`),
    ...view.groups.map((g) => h('span', { class: 'group', 'aria-hidden': 'true' }, g)),
  );
  const confirm = h('button', { type: 'button', class: 'primary' }, view.trust === 'verified' ? 'Confirmed' : 'Confirm: the numbers match');
  confirm.disabled = view.trust === 'verified';
  confirm.addEventListener('click', () => {
    confirm.disabled = true;
    void model.confirmSafety(key).then(
      () => {
        status.className = 'trust trust-verified';
        status.textContent = `Verified: ${name}'s current keys are the ones you confirmed.`;
        confirm.textContent = 'Confirmed';
      },
      () => {
        confirm.disabled = false;
        status.textContent = 'It could not be saved on this device: try again.';
      },
    );
  });
  replace(
    d.body,
    h(
      'p',
      {},
      `Compare these 60 digits with the ones ${name} sees (in person or on a call), or scan the code. If they match, confirm: you will be warned if ${name}'s keys ever change.`,
    ),
    status,
    groups,
    qrSvg(view.qr, `QR code of the safety number with ${name}`),
    h('p', { class: 'hint' }, `${view.devices} device${view.devices === 1 ? '' : 's'} of ${name}.`),
    confirm,
  );
}
