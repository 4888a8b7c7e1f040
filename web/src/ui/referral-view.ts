/**
 * The Referrals screen: the inbox (with New referral) beside the open
 * referral or the form; on a phone one at a time. Updated live at each of
 * the model's changes.
 */

import type { AppModel } from '../app/index.js';
import { h, replace } from './dom.js';
import { ReferralDetail } from './referral-detail.js';
import { ReferralForm } from './referral-form.js';
import { ReferralList } from './referral-list.js';

export class ReferralsView {
  readonly el: HTMLElement;
  private readonly list: ReferralList;
  private readonly detail: ReferralDetail;
  private readonly right = h('main', { class: 'ref-main', id: 'referral-main', 'aria-label': 'Referral' });
  private selected: string | undefined;
  private form: ReferralForm | undefined;

  constructor(private readonly model: AppModel) {
    this.list = new ReferralList((id) => this.open(id));
    this.detail = new ReferralDetail(model, () => this.open(undefined));
    const side = h(
      'section',
      { class: 'sidebar ref-sidebar', 'aria-labelledby': 'referrals-title' },
      h('h2', { id: 'referrals-title' }, 'Referrals'),
      h('button', { type: 'button', class: 'primary new-referral', onclick: () => this.newReferral() }, 'New referral'),
      this.list.el,
    );
    this.el = h('div', { class: 'panes referrals-panes' }, side, this.right);
  }

  private open(id: string | undefined): void {
    this.form = undefined;
    this.selected = id;
    this.update();
    if (id !== undefined) this.right.querySelector<HTMLElement>('h2')?.setAttribute('tabindex', '-1');
    if (id !== undefined) this.right.querySelector<HTMLElement>('h2')?.focus();
  }

  private newReferral(): void {
    this.selected = undefined;
    this.form = new ReferralForm(this.model, (id) => this.open(id));
    replace(this.right, this.form.el);
    this.el.classList.add('showing-detail');
    this.form.focus();
  }

  update(): void {
    const refs = this.model.referrals;
    if (refs === undefined) return;
    this.list.update(refs.list(), this.selected);
    this.el.classList.toggle('showing-detail', this.form !== undefined || this.selected !== undefined);
    if (this.form !== undefined) return;
    this.detail.update(this.selected === undefined ? undefined : refs.get(this.selected));
    if (this.right.firstChild !== this.detail.el) replace(this.right, this.detail.el);
  }
}
