/**
 * The application's root view: shows the model's screen (enroll, unlock,
 * main) and redraws it at each change event. Views import only from
 * `../app/`: never crypto, protocol or client code.
 */

import type { AppModel, Screen } from '../app/index.js';
import { h, replace } from './dom.js';
import { EnrollView } from './enroll-view.js';
import { LockedOutView } from './locked-out-view.js';
import { MainView } from './main-view.js';
import { UnlockView } from './unlock-view.js';

export interface Notifications {
  permission(): string;
  request(): Promise<string>;
}

interface View {
  readonly el: HTMLElement;
  update(): void;
  focus?(): void;
  /** The screen goes: let go of what it holds (decrypted files' URLs). */
  dispose?(): void;
}

export class AppView {
  private screen: Screen | undefined;
  private view: View | undefined;

  constructor(
    private readonly root: HTMLElement,
    private readonly model: AppModel,
    private readonly notifications: Notifications,
  ) {
    model.subscribe(() => this.update());
    this.update();
  }

  private update(): void {
    const screen = this.model.screen;
    if (screen !== this.screen) {
      this.screen = screen;
      this.view?.dispose?.();
      for (const d of document.querySelectorAll('dialog')) d.remove();
      this.view = this.make(screen);
      replace(this.root, this.view.el);
      document.title = screen === 'main' ? 'Curbside' : screen === 'unlock' ? 'Unlock — Curbside' : screen === 'enroll' ? 'Enroll — Curbside' : screen === 'locked_out' ? 'Signed out — Curbside' : 'Curbside';
      this.view.update();
      this.view.focus?.();
      return;
    }
    this.view?.update();
  }

  private make(screen: Screen): View {
    switch (screen) {
      case 'enroll':
        return new EnrollView(this.model);
      case 'unlock':
        return new UnlockView(this.model);
      case 'main':
        return new MainView(this.model, this.notifications);
      case 'locked_out':
        return new LockedOutView(this.model);
      case 'elsewhere':
        return {
          el: h(
            'main',
            { class: 'auth', id: 'main' },
            h('h1', { class: 'brand' }, 'Curbside'),
            h('div', { class: 'card' }, h('h2', {}, 'Open in another tab'), h('p', {}, 'Curbside is already open in another tab or window of this browser. Use that one, or close it and reload this page.'), h('button', { type: 'button', class: 'primary', onclick: () => location.reload() }, 'Reload')),
          ),
          update: () => undefined,
        };
      case 'loading':
        return { el: h('main', { class: 'auth', id: 'main' }, h('h1', { class: 'brand' }, 'Curbside'), h('p', { role: 'status' }, 'Loading…')), update: () => undefined };
    }
  }
}
