/**
 * The top bar's On-call and Consults buttons and their screens, over the
 * messages like Referrals: a button shows its screen (its label becomes
 * Messages), again goes back; any other top bar screen hides them. A
 * screen is in the document only while shown (its fields' labels do not
 * double those of other screens).
 */

import type { AppModel } from '../app/index.js';
import { ConsultsView } from './consult-view.js';
import { h } from './dom.js';
import { setCount } from './nav-badge.js';
import { OnCallView } from './oncall-view.js';

interface Screen {
  readonly el: HTMLElement;
  readonly button: HTMLButtonElement;
  readonly label: string;
  update(): void;
  shown(): void;
}

export class WorkflowScreens {
  readonly buttons: HTMLButtonElement[];
  /** Where the main view puts the screens (one is inserted after it while shown). */
  readonly anchor: Comment = document.createComment('on-call and consults screens');
  private readonly oncall: OnCallView;
  private readonly consults: ConsultsView;
  private readonly all: Screen[];

  /** `enter(on)`: the main view hides (or shows again) its panes and its own screens. */
  constructor(private readonly model: AppModel, private readonly enter: (on: boolean) => void) {
    this.oncall = new OnCallView(model, () => this.hide());
    this.consults = new ConsultsView(model);
    const make = (label: string, cls: string, view: OnCallView | ConsultsView): Screen => ({
      el: view.el,
      button: h('button', { type: 'button', class: cls }, label),
      label,
      update: () => view.update(),
      shown: () => view.shown(),
    });
    this.all = [make('On-call', 'nav-oncall', this.oncall), make('Consults', 'nav-consults', this.consults)];
    for (const s of this.all) s.button.addEventListener('click', () => this.toggle(s));
    this.buttons = this.all.map((s) => s.button);
  }

  /** Whether one of these screens is shown. */
  get active(): boolean {
    return this.all.some((s) => s.el.isConnected);
  }

  private toggle(s: Screen): void {
    const on = !s.el.isConnected;
    for (const o of this.all) {
      o.el.remove();
      o.button.dataset['badge'] = '';
    }
    if (on) this.enter(true);
    if (on) {
      this.anchor.after(s.el);
      s.shown();
    } else this.enter(false);
    this.model.touch();
    this.update();
  }

  /** Another top bar screen was chosen (or Message on a role): these leave. */
  hide(): void {
    if (!this.active) return;
    for (const o of this.all) o.el.remove();
    this.enter(false);
    this.update();
  }

  /** Locked: the consults' decrypted images leave memory. */
  dispose(): void {
    this.consults.dispose();
  }

  update(): void {
    for (const s of this.all) {
      if (s.el.isConnected) {
        s.button.textContent = 'Messages';
        s.button.dataset['badge'] = '';
        s.update();
      }
    }
    const [oncall, consults] = this.all as [Screen, Screen];
    if (!oncall.el.isConnected) oncall.button.textContent = 'On-call';
    if (!consults.el.isConnected) setCount(consults.button, 'Consults', this.model.consults?.toAnswer ?? 0, 'to answer');
  }
}
