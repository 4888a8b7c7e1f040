/**
 * A team's members panel: each member by name and specialty (the user
 * first), Remove for the others (confirmed in a dialog that names the
 * person), and Add members from the directory. Read-only once the user was
 * removed from the team.
 */

import type { AppModel, TeamView } from '../app/index.js';
import { openDialog } from './dialogs.js';
import { h, replace, srOnly, uid } from './dom.js';
import { MemberPicker } from './team-picker.js';

export class MembersPanel {
  readonly el: HTMLElement;
  readonly title: HTMLHeadingElement;
  private readonly list: HTMLUListElement;
  private readonly status = h('p', { class: 'members-status', role: 'status' });
  private readonly addSection: HTMLElement;
  private readonly picker: MemberPicker;
  private readonly addButton: HTMLButtonElement;
  private team: TeamView | undefined;

  constructor(
    private readonly model: AppModel,
    private readonly onClose: () => void,
  ) {
    const titleId = uid('members-title');
    this.title = h('h3', { id: titleId, tabindex: -1 }, 'Members');
    this.list = h('ul', { class: 'member-list', 'aria-labelledby': titleId });
    this.picker = new MemberPicker(
      model,
      'Add members',
      () => new Set(this.team?.members.map((m) => m.key) ?? []),
      () => this.drawAdd(),
      (c) => (this.team === undefined ? undefined : this.model.teams?.cannotAdd(this.team.key, c)),
    );
    this.addButton = h('button', { type: 'button', class: 'primary', onclick: () => void this.add() }, 'Add to team');
    this.addSection = h('section', { class: 'members-add', 'aria-label': 'Add members' }, this.picker.el, this.addButton);
    this.el = h(
      'section',
      { class: 'team-members', id: uid('team-members'), 'aria-labelledby': titleId, hidden: true },
      h('div', { class: 'members-head' }, this.title, h('button', { type: 'button', class: 'small', onclick: () => this.onClose() }, 'Close', srOnly(' members'))),
      this.status,
      this.list,
      this.addSection,
    );
    this.drawAdd();
  }

  /** Another team: what was being chosen is dropped. */
  reset(): void {
    this.picker.clear();
    this.status.textContent = '';
    this.drawAdd();
  }

  update(team: TeamView): void {
    this.team = team;
    this.title.textContent = `Members (${team.members.length})`;
    const focusedKey = (document.activeElement as HTMLElement | null)?.closest?.('li[data-member]')?.getAttribute('data-member');
    replace(
      this.list,
      ...team.members.map((m) =>
        h(
          'li',
          { class: 'member', 'data-member': m.key },
          h('span', { class: 'member-who' }, h('span', { class: 'name' }, m.name), h('span', { class: 'specialty' }, m.specialty)),
          m.trust === 'changed' ? h('span', { class: 'badge changed' }, 'Keys changed') : m.trust === 'verified' && !m.you ? h('span', { class: 'badge verified' }, '✓', srOnly(' verified')) : null,
          m.you || team.removed
            ? null
            : h('button', { type: 'button', class: 'small danger-outline', onclick: () => void this.remove(m.key, m.name) }, 'Remove', srOnly(` ${m.name}`)),
        ),
      ),
    );
    if (focusedKey) this.list.querySelector<HTMLButtonElement>(`li[data-member="${CSS.escape(focusedKey)}"] button`)?.focus();
    this.addSection.hidden = team.removed;
  }

  private drawAdd(): void {
    const n = this.picker.chosen.length;
    this.addButton.disabled = n === 0;
    this.addButton.textContent = n === 0 ? 'Add to team' : `Add ${n} to team`;
  }

  private async add(): Promise<void> {
    const team = this.team;
    const teams = this.model.teams;
    if (team === undefined || teams === undefined || this.picker.chosen.length === 0) return;
    const people = this.picker.chosen;
    this.status.textContent = 'Adding…';
    const problem = await teams.add(team.key, people);
    if (problem !== undefined) {
      this.status.textContent = problem;
      return;
    }
    this.status.textContent = `${people.map((p) => p.name).join(', ')} ${people.length === 1 ? 'is' : 'are'} now in ${team.name}.`;
    this.picker.clear();
    this.drawAdd();
  }

  private async remove(user: string, name: string): Promise<void> {
    const team = this.team;
    const teams = this.model.teams;
    if (team === undefined || teams === undefined) return;
    const choice = await openDialog(
      `Remove ${name} from ${team.name}?`,
      [h('p', {}, `${name} will no longer receive this team’s messages, and what they send to it is no longer accepted. They keep what they already received.`)],
      [
        { value: 'cancel', label: 'Cancel' },
        { value: 'remove', label: `Remove ${name}`, kind: 'danger' },
      ],
      'cancel',
    ).result;
    if (choice !== 'remove') return;
    this.status.textContent = `Removing ${name}…`;
    const problem = await teams.remove(team.key, user);
    this.status.textContent = problem ?? `${name} was removed from ${team.name}.`;
    this.title.focus();
  }
}
