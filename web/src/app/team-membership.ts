/**
 * A care team's membership from the application (no DOM), over the
 * library's {@link Teams}: creating a team with clinicians of the
 * directory (by name), adding and removing members, each change a notice
 * in the team's conversation; the refusals in words that say what to do.
 * `./teams.ts`'s {@link SessionTeams} delegates here.
 */

import type { Teams } from '../client/teams.js';
import { teamKey, type TeamAppJSON, type TeamNotice, type TeamViews } from './team-views.js';
import type { AppState } from './state.js';
import type { Clinician } from './views.js';

export type TeamCreateResult = { ok: true; key: string } | { ok: false; field: 'name' | 'members' | undefined; message: string };

/** What the membership needs of the session's teams. */
export interface MembershipHost {
  readonly state: AppState;
  readonly core: Teams;
  readonly app: TeamAppJSON;
  readonly views: TeamViews;
  /** A team's id by its conversation key, while this user is a member (`undefined` otherwise). */
  current(key: string): string | undefined;
  store(): void;
  explain(e: unknown): string;
}

export class TeamMembership {
  constructor(private readonly host: MembershipHost) {}

  private get me(): string {
    return this.host.state.me.userId;
  }

  private notice(teamId: string, n: TeamNotice): void {
    (this.host.app.notices[teamId] ??= []).push(n);
  }

  private remember(people: readonly Clinician[]): void {
    for (const c of people) this.host.state.people[c.key] = { name: c.name, specialty: c.specialty, npi: c.npi, listed: true };
  }

  /** Creates a team with clinicians chosen from the directory; its key, or what to fix. */
  async create(name: string, members: readonly Clinician[]): Promise<TeamCreateResult> {
    const n = name.trim();
    if (n === '') return { ok: false, field: 'name', message: 'Give the team a name, such as “Ward 4 consults”.' };
    const others = members.filter((c) => c.key !== this.me);
    if (others.length === 0) return { ok: false, field: 'members', message: 'Add at least one colleague: search the directory by name.' };
    if (this.host.core.list().some((t) => !t.removed && t.name.toLowerCase() === n.toLowerCase())) {
      return { ok: false, field: 'name', message: `You already have a team called “${n}”: choose another name.` };
    }
    this.remember(others);
    try {
      const { team } = await this.host.core.create(n, others.map((c) => c.key));
      this.notice(team.teamId, { at: Date.now(), by: this.me, kind: 'created', added: others.map((c) => c.key), removed: [] });
      this.host.store();
      return { ok: true, key: teamKey(team.teamId) };
    } catch (e) {
      return { ok: false, field: undefined, message: `The team was not created: ${this.host.explain(e)}` };
    }
  }

  /** Why this clinician cannot be added to the team (the picker shows it in place of the Add button), or `undefined` if they can. */
  cannotAdd(teamId: string, c: Clinician): string | undefined {
    const t = this.host.core.get(teamId);
    return t && this.host.views.cannotAdd(t, [c]);
  }

  /** Adds clinicians chosen from the directory; `undefined` if done, else what to tell the user. */
  async add(key: string, people: readonly Clinician[]): Promise<string | undefined> {
    const teamId = this.host.current(key);
    const t = teamId === undefined ? undefined : this.host.core.get(teamId);
    if (t === undefined) return 'You are no longer a member of this team: ask a member to create a new team with you.';
    const refused = this.host.views.cannotAdd(t, people);
    if (refused !== undefined) return `${refused} No one was added.`;
    const fresh = people.filter((c) => !t.members.includes(c.key));
    if (fresh.length === 0) return 'They are already members.';
    this.remember(fresh);
    try {
      await this.host.core.add(t.teamId, fresh.map((c) => c.key));
    } catch (e) {
      return `No one was added: ${this.host.explain(e)}`;
    }
    this.notice(t.teamId, { at: Date.now(), by: this.me, kind: 'members', added: fresh.map((c) => c.key), removed: [] });
    this.host.store();
    return undefined;
  }

  /** Removes a member (they are told, and receive nothing new); `undefined` if done, else what to tell the user. */
  async remove(key: string, user: string): Promise<string | undefined> {
    const teamId = this.host.current(key);
    if (teamId === undefined) return 'You are no longer a member of this team.';
    if (user === this.me) return 'To leave a team, ask another member to remove you.';
    try {
      await this.host.core.remove(teamId, user);
    } catch (e) {
      return `They were not removed: ${this.host.explain(e)}`;
    }
    this.notice(teamId, { at: Date.now(), by: this.me, kind: 'members', added: [], removed: [user] });
    this.host.store();
    return undefined;
  }
}
