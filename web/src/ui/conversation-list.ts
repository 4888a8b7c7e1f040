/**
 * The navigation pane: directory search by name or specialty (to start a
 * conversation) and the conversations, latest first, each with the
 * colleague's name, specialty, unread count and last-message time, and
 * the care teams among them (marked as a team, with their member count;
 * New team opens `team-dialog.ts`).
 */

import type { AppModel, Clinician, ConversationSummary, RoleView, TeamSummary } from '../app/index.js';
import { h, replace, srOnly, uid } from './dom.js';
import { when } from './format.js';
import { newTeamDialog } from './team-dialog.js';

export class ConversationList {
  readonly el: HTMLElement;
  private readonly list = h('ul', { class: 'conversations' });
  private readonly results = h('ul', { class: 'results' });
  private readonly searchStatus = h('p', { class: 'search-status', 'aria-live': 'polite' });
  private readonly query: HTMLInputElement;
  private readonly buttons = new Map<string, HTMLButtonElement>();

  constructor(private readonly model: AppModel) {
    const id = uid('search');
    this.query = h('input', { id, type: 'search', autocomplete: 'off', placeholder: 'Name or specialty' });
    const search = h(
      'form',
      { role: 'search', class: 'search', onsubmit: (e: Event) => void this.onSearch(e) },
      h('label', { for: id }, 'Find a colleague'),
      h('div', { class: 'search-row' }, this.query, h('button', { type: 'submit' }, 'Search')),
    );
    this.el = h(
      'nav',
      { class: 'sidebar', 'aria-labelledby': 'conversations-title' },
      search,
      this.searchStatus,
      this.results,
      h(
        'div',
        { class: 'list-head' },
        h('h2', { id: 'conversations-title' }, 'Conversations'),
        h('button', { type: 'button', class: 'small new-team', onclick: () => void this.newTeam() }, 'New team'),
      ),
      this.list,
    );
  }

  private async onSearch(e: Event): Promise<void> {
    e.preventDefault();
    const q = this.query.value.trim();
    replace(this.results);
    if (q === '') {
      this.searchStatus.textContent = 'Type part of a name, or a specialty.';
      return;
    }
    this.searchStatus.textContent = 'Searching…';
    const oncall = this.model.oncall;
    if (oncall !== undefined && this.model.link === 'online') await oncall.refresh(); // who holds each role now
    const roles = oncall?.matching(q) ?? [];
    let found: Clinician[];
    try {
      found = await this.model.search(q);
    } catch (err) {
      this.searchStatus.textContent = err instanceof Error ? err.message : 'The directory could not be searched: try again.';
      return;
    }
    const n = found.length + roles.length;
    this.searchStatus.textContent =
      n === 0 ? `No clinician or on-call role matches “${q}”: try part of the name or the specialty's full name.` : `${n} found: choose one to write to.`;
    replace(
      this.results,
      ...roles.map((r) => this.roleResult(r)),
      ...found.map((c) =>
        h(
          'li',
          {},
          h(
            'button',
            { type: 'button', class: 'result', onclick: () => this.start(c) },
            h('span', { class: 'name' }, c.name),
            h('span', { class: 'specialty' }, c.specialty),
          ),
        ),
      ),
    );
  }

  /** An on-call role among the results: "On-call dermatology — now: Dr. X". */
  private roleResult(r: RoleView): HTMLLIElement {
    return h(
      'li',
      {},
      h(
        'button',
        { type: 'button', class: 'result role-result', onclick: () => this.startRole(r) },
        h('span', { class: 'name' }, `${r.name} — ${r.holdersWords}`),
        h('span', { class: 'specialty' }, r.specialty ? `On-call role · ${r.specialty}` : 'On-call role'),
      ),
    );
  }

  private startRole(r: RoleView): void {
    replace(this.results);
    this.searchStatus.textContent = '';
    this.query.value = '';
    this.model.select(r.key);
  }

  private start(c: Clinician): void {
    replace(this.results);
    this.searchStatus.textContent = '';
    this.query.value = '';
    this.model.startWith(c);
  }

  private async newTeam(): Promise<void> {
    const key = await newTeamDialog(this.model);
    if (key !== undefined) this.model.select(key);
  }

  update(): void {
    const focused = [...this.buttons].find(([, b]) => b === document.activeElement)?.[0];
    this.buttons.clear();
    const items: ({ at: number; el: HTMLLIElement })[] = [
      ...this.model.conversations.map((c) => ({ at: c.lastAt ?? Number.MAX_SAFE_INTEGER, el: this.item(c) })),
      ...(this.model.teams?.summaries() ?? []).map((t) => ({ at: t.lastAt ?? Number.MAX_SAFE_INTEGER, el: this.teamItem(t) })),
      ...(this.model.oncall?.threads() ?? []).map((t) => ({ at: t.lastAt, el: this.roleItem(t) })),
    ].sort((a, b) => b.at - a.at);
    replace(this.list, ...items.map((i) => i.el));
    if (items.length === 0) replace(this.list, h('li', { class: 'empty' }, 'No conversations yet: find a colleague above.'));
    if (focused !== undefined) this.buttons.get(focused)?.focus();
  }

  /** Puts the focus on a conversation's entry (after Back on a phone). */
  focusItem(key: string): void {
    this.buttons.get(key)?.focus();
  }

  private roleItem(t: { key: string; name: string; lastAt: number; preview: string; unread: number; holdersWords: string }): HTMLLIElement {
    const button = h(
      'button',
      { type: 'button', class: 'conv-item role-item', 'aria-current': this.model.selected === t.key ? 'true' : undefined, onclick: () => this.model.select(t.key) },
      h('span', { class: 'row' }, h('span', { class: 'name' }, t.name), h('span', { class: 'chip oncall-chip' }, 'On call'), h('time', { datetime: new Date(t.lastAt).toISOString() }, when(t.lastAt))),
      h('span', { class: 'row' }, h('span', { class: 'specialty' }, t.holdersWords.replace(/^./, (c) => c.toUpperCase()) || ' '), t.unread > 0 ? h('span', { class: 'unread' }, String(t.unread), srOnly(' unread')) : null),
      h('span', { class: 'preview' }, t.preview),
    );
    this.buttons.set(t.key, button);
    return h('li', {}, button);
  }

  private teamItem(t: TeamSummary): HTMLLIElement {
    const selected = this.model.selected === t.key;
    const button = h(
      'button',
      { type: 'button', class: 'conv-item team-item', 'aria-current': selected ? 'true' : undefined, onclick: () => this.model.select(t.key) },
      h(
        'span',
        { class: 'row' },
        h('span', { class: 'name' }, t.name),
        h('span', { class: 'chip team-chip' }, 'Team'),
        t.lastAt !== undefined ? h('time', { datetime: new Date(t.lastAt).toISOString() }, when(t.lastAt)) : null,
      ),
      h(
        'span',
        { class: 'row' },
        h('span', { class: 'specialty' }, t.removed ? 'You were removed' : `${t.memberCount} members`),
        t.unread > 0 ? h('span', { class: 'unread' }, String(t.unread), srOnly(' unread')) : null,
      ),
      h('span', { class: 'preview' }, t.preview),
    );
    this.buttons.set(t.key, button);
    return h('li', {}, button);
  }

  private item(c: ConversationSummary): HTMLLIElement {
    const selected = this.model.selected === c.person.key;
    const button = h(
      'button',
      { type: 'button', class: 'conv-item', 'aria-current': selected ? 'true' : undefined, onclick: () => this.model.select(c.person.key) },
      h(
        'span',
        { class: 'row' },
        h('span', { class: 'name' }, c.person.name),
        c.trust === 'verified' ? h('span', { class: 'badge verified', title: 'Safety number verified' }, '✓', srOnly(' verified')) : null,
        c.trust === 'changed' ? h('span', { class: 'badge changed', title: 'Keys changed since verified' }, '!', srOnly(' keys changed')) : null,
        c.lastAt !== undefined ? h('time', { datetime: new Date(c.lastAt).toISOString() }, when(c.lastAt)) : null,
      ),
      h(
        'span',
        { class: 'row' },
        h('span', { class: 'specialty' }, c.person.specialty || ' '),
        c.unread > 0 ? h('span', { class: 'unread' }, String(c.unread), srOnly(' unread')) : null,
      ),
      h('span', { class: 'preview' }, c.preview),
    );
    this.buttons.set(c.person.key, button);
    return h('li', {}, button);
  }
}
