/** The referral inbox: each referral's priority and status chips (words, not colour alone), patient, from/to names, specialty and time. */

import type { ReferralView } from '../app/index.js';
import { h, replace } from './dom.js';
import { when } from './format.js';

export const STATUS_WORDS: Record<ReferralView['status'], string> = {
  requested: 'Requested',
  accepted: 'Accepted',
  declined: 'Declined',
  cancelled: 'Cancelled',
  completed: 'Completed',
};

export const PRIORITY_WORDS: Record<ReferralView['priority'], string> = { routine: 'Routine', urgent: 'Urgent', stat: 'STAT' };

export function chips(r: Pick<ReferralView, 'priority' | 'status'>): HTMLElement {
  return h(
    'span',
    { class: 'chips' },
    h('span', { class: `chip priority-${r.priority}` }, PRIORITY_WORDS[r.priority]),
    h('span', { class: `chip status-${r.status}` }, STATUS_WORDS[r.status]),
  );
}

export class ReferralList {
  readonly el: HTMLUListElement = h('ul', { class: 'referrals', 'aria-label': 'Referrals' });

  constructor(private readonly open: (id: string) => void) {}

  update(items: readonly ReferralView[], selected: string | undefined): void {
    if (items.length === 0) {
      replace(this.el, h('li', { class: 'empty' }, 'No referrals yet. Use New referral to send one.'));
      return;
    }
    replace(
      this.el,
      ...items.map((r) =>
        h(
          'li',
          {},
          h(
            'button',
            { type: 'button', class: 'ref-item', 'aria-current': r.id === selected ? 'true' : 'false', 'data-referral': r.id, onclick: () => this.open(r.id) },
            h('span', { class: 'row' }, chips(r), h('time', { datetime: new Date(r.updatedAt).toISOString() }, when(r.updatedAt))),
            h('span', { class: 'name ref-patient' }, r.patient?.name ?? 'Patient details not received yet'),
            h('span', { class: 'ref-parties' }, `${r.direction === 'in' ? 'From' : 'To'} ${r.direction === 'in' ? r.fromName : r.toName}`),
            h('span', { class: 'specialty' }, r.specialty),
          ),
        ),
      ),
    );
  }
}
