/**
 * On-call roles changing hands in an unlocked session (beside
 * `./oncall-session.ts`, which reads the roles and sends to them): an
 * administrator's new role and shift, a hand-off by the holder or an
 * administrator, and the user told plainly when a role they held or now
 * hold changed hands (`./oncall-notices.ts`): on the server's
 * `oncall_changed` frame, and at each connection against the roles
 * remembered held. Every outcome in words that name people.
 */

import type { OnCallApi, OnCallRoleJson } from '../client/oncall.js';
import { ServerError } from '../protocol/errors.js';
import { applyOnCallChanged, compareHeld, decodeOnCallChanged, heldRoles, type HandoffNews } from './oncall-notices.js';
import type { AppState } from './state.js';
import type { Clinician } from './views.js';

/** An action's outcome, in words. */
export interface OnCallOutcome {
  readonly ok: boolean;
  readonly text: string;
}

/** What the on-call session gives. */
export interface OnCallChangesHost {
  readonly api: OnCallApi;
  readonly state: AppState;
  persist(): Promise<void>;
  changed(): void;
  /** A hand-off of a role this user held or now holds, in words (a notice, and a notification where allowed). */
  tell?(text: string): void;
  /** Reads the roles again (`undefined`: could not). */
  refresh(): Promise<OnCallRoleJson[] | undefined>;
  /** The roles as last read. */
  roles(): OnCallRoleJson[] | undefined;
  /** One role as the server now gives it (from `oncall_changed`). */
  replace(role: OnCallRoleJson): void;
}

export class OnCallChanges {
  /** Roles this device is handing off (its `oncall_changed` needs no notice here). */
  private readonly handingOff = new Set<string>();

  constructor(private readonly host: OnCallChangesHost) {}

  private get me(): string {
    return this.host.state.me.userId;
  }

  /** At a connection, with the roles just read: a hand-off (or a shift begun) since the last one is told. */
  connected(roles: readonly OnCallRoleJson[]): void {
    this.news(compareHeld(this.host.state.oncallHeld, roles, this.me, Date.now()));
  }

  /** `oncall_changed`: a role this user held or now holds changed hands (anything that is not a role is ignored). */
  onChanged(raw: unknown): void {
    const role = decodeOnCallChanged(raw);
    if (role === undefined) return;
    this.host.replace(role);
    for (const h of role.holders) this.host.state.people[h.user_id] = { name: h.display_name, specialty: h.specialty, npi: h.npi, listed: true };
    const news = applyOnCallChanged(this.host.state.oncallHeld, role, this.me, Date.now());
    // This device handed it off itself: its own screen said so already.
    const own = this.handingOff.delete(role.role_id) && !role.holders.some((h) => h.user_id === this.me);
    this.news(own ? { notices: [], held: news.held } : news);
  }

  private news(n: HandoffNews): void {
    this.host.state.oncallHeld = n.held;
    if (n.notices.length > 0) this.host.tell?.(n.notices.join(' '));
    void this.host.persist().catch(() => undefined);
    this.host.changed();
  }

  private refusal(e: unknown, what: string): OnCallOutcome {
    const code = e instanceof ServerError ? e.code : undefined;
    const message = e instanceof ServerError ? e.message.replace(/^[a-z_]+: /, '') : '';
    switch (code) {
      case 'conflict':
        return { ok: false, text: 'An on-call role with this name exists: choose another name.' };
      case 'forbidden':
        return { ok: false, text: `${what} is for the clinician holding the role now, or an administrator: ask them.` };
      case 'invalid_request':
        return { ok: false, text: /verified clinician/.test(message) ? 'Only verified clinicians hold on-call roles: an administrator verifies them first (Admin screen).' : `Not accepted: ${message}` };
      case 'not_found':
        return { ok: false, text: 'This on-call role no longer exists: reload the roles.' };
      default:
        return { ok: false, text: `${what} did not go through: check your connection and try again.` };
    }
  }

  /** An administrator creates a role. */
  async createRole(name: string, specialty: string): Promise<OnCallOutcome> {
    const n = name.trim();
    if (n === '') return { ok: false, text: 'Give the role a name, such as “On-call dermatology”.' };
    try {
      const role = await this.host.api.createRole(n, specialty.trim() === '' ? null : specialty.trim());
      await this.host.refresh();
      return { ok: true, text: `Created ${role.name}. Schedule who holds it below (recorded in the audit log).` };
    } catch (e) {
      return this.refusal(e, 'Creating a role');
    }
  }

  /** An administrator schedules a clinician (found by name) for a shift. */
  async schedule(roleId: string, who: Clinician, startsAt: number, endsAt: number): Promise<OnCallOutcome> {
    if (!(endsAt > startsAt)) return { ok: false, text: 'The shift must end after it starts.' };
    if (endsAt - startsAt > 31 * 86_400_000) return { ok: false, text: 'A shift lasts at most 31 days: schedule several.' };
    const role = this.host.roles()?.find((r) => r.role_id === roleId);
    try {
      await this.host.api.scheduleShift(roleId, who.key, startsAt, endsAt);
      this.host.state.people[who.key] = { name: who.name, specialty: who.specialty, npi: who.npi, listed: true };
      await this.host.refresh();
      return { ok: true, text: `${who.name} holds ${role?.name ?? 'the role'} from ${new Date(startsAt).toLocaleString()} until ${new Date(endsAt).toLocaleString()} (recorded in the audit log).` };
    } catch (e) {
      return this.refusal(e, 'Scheduling a shift');
    }
  }

  /** The holder (or an administrator) hands the role off now to a colleague found by name. */
  async handOff(roleId: string, to: Clinician): Promise<OnCallOutcome> {
    const role = this.host.roles()?.find((r) => r.role_id === roleId);
    this.handingOff.add(roleId);
    setTimeout(() => this.handingOff.delete(roleId), 30_000); // its oncall_changed comes at once, or never (an older server)
    try {
      const now = await this.host.api.handOff(roleId, to.key);
      this.host.state.people[to.key] = { name: to.name, specialty: to.specialty, npi: to.npi, listed: true };
      const roles = await this.host.refresh();
      if (roles !== undefined) this.host.state.oncallHeld = heldRoles(roles, this.me); // told here: not again at the next connection
      return { ok: true, text: `Handed off: ${to.name} holds ${now.name} from now on; messages to the role go to them.` };
    } catch (e) {
      this.handingOff.delete(roleId);
      return this.refusal(e, `Handing off ${role?.name ?? 'the role'}`);
    }
  }
}
