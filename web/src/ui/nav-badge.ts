/**
 * A top bar button's count of things waiting for the user (the Referrals
 * button: referrals to answer), as a badge: the number shown, and said in
 * words to a screen reader ("Referrals (2 to answer)").
 */

import { h, replace } from './dom.js';

/** Sets `button` to `label` and, if `count` is more than 0, its badge (`words`: what the count is, e.g. "to answer"). */
export function setCount(button: HTMLButtonElement, label: string, count: number, words: string): void {
  if (button.dataset['badge'] === `${label}|${count}` && button.querySelector('.nav-label') !== null) return;
  button.dataset['badge'] = `${label}|${count}`;
  const shown = count > 99 ? '99+' : String(count);
  replace(
    button,
    h('span', { class: 'nav-label' }, label),
    count > 0 ? h('span', { class: 'nav-badge', 'aria-hidden': 'true' }, shown) : null,
    count > 0 ? h('span', { class: 'sr-only' }, ` (${count} ${words})`) : null,
  );
}
