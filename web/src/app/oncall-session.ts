/**
 * On-call roles in an unlocked session (over `./oncall.ts`): the roles read
 * with `GET /v1/oncall` (at each connection, when the On-call screen opens,
 * and right before a message to a role), sending text or a file to a role
 * (encrypted to every device of its holders, `role` in the `send` and the
 * role's tag in the content; on `holders_changed` the roles are read again
 * and the message resent under the same id, to the new holders, now or when
 * a queued message is refused later). An administrator's new role and
 * shift, a hand-off, and the notices when a role changes hands are
 * `./oncall-changes.ts`'s. Every outcome in words that name people.
 */

import { uploadAttachment } from '../client/attachments.js';
import type { Client, SendOptions, SendOutcome } from '../client/client.js';
import type { Content } from '../client/content.js';
import { newMessageId } from '../client/outbox.js';
import { OnCallApi, type OnCallRoleJson } from '../client/oncall.js';
import { systemRandom } from '../crypto/primitives.js';
import { ServerError } from '../protocol/errors.js';
import type { BlobLike } from '../protocol/platform.js';
import { explain } from './explain.js';
import { OnCallChanges, type OnCallOutcome } from './oncall-changes.js';
import { isRoleKey, matchingRoles, roleCopies, roleIdOf, roleThread, roleThreads, roleView, storeRoleMessage, type RoleMessageView, type RoleView } from './oncall.js';
import { raiseStatus, type AppState, type Body, type StoredMessage } from './state.js';
import type { Trust } from './trust.js';
import { namesWords, recallRecipients, type UrgentOptions } from './urgent-session.js';
import { personView, type Clinician } from './views.js';

export interface OnCallHost {
  readonly client: Client;
  readonly state: AppState;
  persist(): Promise<void>;
  changed(): void;
  problem(text: string): void;
  trust(user: string): Trust;
  /** A hand-off of a role this user held or now holds, in words (a notice, and a notification where allowed). */
  tell?(text: string): void;
}

export type { OnCallOutcome };

export type RoleSendResult = 'sent' | 'queued' | 'confirm' | 'failed';

/** What may be written to a role: text, or a file's reference. */
type RoleBody = Extract<Body, { type: 'text' } | { type: 'attachment' }>;

function roleBody(b: Body): RoleBody | undefined {
  return b.type === 'text' || b.type === 'attachment' ? b : undefined;
}

/** How often a refused send is resolved again and resent before giving up. */
const RESOLVE_ATTEMPTS = 3;

export class SessionOnCall {
  private readonly api: OnCallApi;
  private rolesValue: OnCallRoleJson[] | undefined;
  private readError: string | undefined;
  private readonly resending = new Set<string>();
  private readonly changes: OnCallChanges;

  constructor(private readonly host: OnCallHost) {
    this.api = new OnCallApi(host.client.http);
    this.changes = new OnCallChanges({ ...host, api: this.api, refresh: () => this.refresh(), roles: () => this.rolesValue, replace: (r) => void (this.rolesValue &&= [...this.rolesValue.filter((x) => x.role_id !== r.role_id), r]) });
  }

  private get me(): string {
    return this.host.state.me.userId;
  }

  /** Whether this user may create roles and schedule shifts. */
  get isAdmin(): boolean {
    return (this.host.state.me.roles ?? []).includes('admin');
  }

  /** The roles as last read (`undefined`: not read yet). */
  get roles(): RoleView[] | undefined {
    const now = Date.now();
    return this.rolesValue?.map((r) => roleView(r, this.me, now));
  }

  /** Why the roles could not be read, if they could not. */
  get error(): string | undefined {
    return this.readError;
  }

  /** Reads the roles again; the holders' names are remembered. */
  async refresh(): Promise<OnCallRoleJson[] | undefined> {
    try {
      this.rolesValue = await this.api.roles();
      this.readError = undefined;
      for (const r of this.rolesValue) {
        for (const h of r.holders) this.host.state.people[h.user_id] = { name: h.display_name, specialty: h.specialty, npi: h.npi, listed: true };
      }
    } catch (e) {
      this.readError = `The on-call roles could not be read (${e instanceof Error ? e.message : 'no answer'}): check your connection; they are read again when you are online.`;
    }
    this.host.changed();
    return this.rolesValue;
  }

  /** At each connection: the roles read again, and a hand-off (or a shift begun) since the last connection told. */
  async online(): Promise<void> {
    const roles = await this.refresh();
    if (roles === undefined) return;
    this.changes.connected(roles);
  }

  /** `oncall_changed`: a role this user held or now holds changed hands. */
  onChanged(raw: unknown): void {
    this.changes.onChanged(raw);
  }

  /** Roles whose name or specialty contains `query` (the directory search shows them beside colleagues). */
  matching(query: string): RoleView[] {
    const roles = this.roles ?? [];
    const ids = new Set(matchingRoles(this.rolesValue ?? [], query).map((r) => r.role_id));
    return roles.filter((r) => ids.has(r.roleId));
  }

  /** A role's thread (`oncall:…`): our messages, who they went to, and who answered. */
  thread(key: string): RoleMessageView[] {
    return roleThread(this.host.state, roleIdOf(key));
  }

  /** The threads of the roles written to, for the conversation list. */
  threads(): { key: string; name: string; lastAt: number; preview: string; unread: number; holdersWords: string }[] {
    const roles = this.roles ?? [];
    return roleThreads(this.host.state).map((t) => {
      const now = roles.find((r) => r.roleId === t.roleId);
      return { key: `oncall:${t.roleId}`, name: now?.name ?? t.name, lastAt: t.lastAt, preview: t.preview, unread: t.unread, holdersWords: now?.holdersWords ?? '' };
    });
  }

  /** The role behind a thread key, as last read; or its name from our messages. */
  view(key: string): RoleView | { name: string; holdersWords: string; roleId: string; holders: []; mine: false } {
    const id = roleIdOf(key);
    const found = this.roles?.find((r) => r.roleId === id);
    if (found !== undefined) return found;
    const name = roleThreads(this.host.state).find((t) => t.roleId === id)?.name ?? 'On-call role';
    return { name, holdersWords: 'who holds it now is read when you are online', roleId: id, holders: [], mine: false };
  }

  /** The conversations the user sees with `open` shown: itself, or for a role's thread, the holders' it answers in (read receipts go from those). */
  peersShown(open: string | undefined): string[] {
    return open === undefined ? [] : isRoleKey(open) ? this.holdersOf(open) : [open];
  }

  /** The holders we wrote to through a role's thread. */
  holdersOf(key: string): string[] {
    const id = roleIdOf(key);
    const out = new Set<string>();
    for (const c of Object.values(this.host.state.conversations)) if (c.messages.some((m) => m.from === this.me && m.oncall?.role === id)) out.add(c.peer);
    return [...out];
  }

  // ---- sending -------------------------------------------------------------------

  /** The role with its holders now (read from the server), or why not, in words. */
  private async resolve(roleId: string): Promise<OnCallRoleJson | string> {
    const roles = await this.refresh();
    if (roles === undefined) return this.readError ?? 'The on-call roles could not be read: try again once Curbside shows Online.';
    const role = roles.find((r) => r.role_id === roleId);
    if (role === undefined) return 'This on-call role no longer exists: write to a colleague by name instead.';
    if (role.holders.length === 0) return `Nobody holds ${role.name} now: its shifts are on the On-call screen; write to a colleague by name instead, or ask an administrator to schedule it.`;
    return role;
  }

  /** Sends text to whoever holds the role now, routine unless `urgent` says otherwise (`'confirm'`: a holder's verified keys changed; ask first). */
  async sendText(key: string, text: string, confirmed = false, urgent: UrgentOptions = { priority: 'routine' }): Promise<{ result: RoleSendResult; text: string }> {
    return this.write(key, { type: 'text', text }, confirmed, urgent);
  }

  /**
   * Encrypts and uploads a file in this browser, then sends its reference to
   * whoever holds the role now (`role` in the send, as for text; on
   * `holders_changed` the roles are read again and the same reference resent
   * under the same id): the file is uploaded once, whoever receives it.
   */
  async sendFile(key: string, file: Blob, name: string, confirmed = false): Promise<{ result: RoleSendResult; text: string }> {
    const safeName = name.replace(/^.*[\\/]/, '') || 'file';
    return this.write(key, async () => {
      try {
        return { type: 'attachment', file: (await uploadAttachment(this.host.client.http, file as unknown as BlobLike, safeName, systemRandom)).file };
      } catch (e) {
        return `${safeName} could not be uploaded (${explain(e)}): nothing was sent; try again.`;
      }
    }, confirmed, { priority: 'routine' });
  }

  /** Resolves the role, asks about changed keys, then stores the message (a file uploaded first) and delivers it. */
  private async write(key: string, body: RoleBody | (() => Promise<RoleBody | string>), confirmed: boolean, urgent: UrgentOptions): Promise<{ result: RoleSendResult; text: string }> {
    const roleId = roleIdOf(key);
    if (this.host.client.state !== 'online') return { result: 'failed', text: 'Writing to an on-call role needs the connection (to know who holds it now): try again once Curbside shows Online.' };
    const role = await this.resolve(roleId);
    if (typeof role === 'string') return { result: 'failed', text: role };
    const holders = role.holders.map((h) => h.user_id);
    if (!confirmed && holders.some((h) => this.host.trust(h) === 'changed')) return { result: 'confirm', text: '' };
    const backup = urgent.escalation?.backup;
    if (backup !== undefined && holders.includes(backup)) return { result: 'failed', text: `${this.host.state.people[backup]?.name ?? 'The backup'} holds ${role.name} now and receives the message anyway: choose another backup, or untick the escalation.` };
    const ready = typeof body === 'function' ? await body() : body;
    if (typeof ready === 'string') return { result: 'failed', text: ready };
    const id = newMessageId(systemRandom);
    const m: StoredMessage = { id, from: this.me, at: Date.now(), body: ready, status: 'queued' };
    if (urgent.priority !== 'routine') m.priority = urgent.priority;
    if (urgent.priority !== 'routine' && urgent.escalation !== undefined) m.escalation = { ...urgent.escalation };
    storeRoleMessage(this.host.state, m, { role: role.role_id, name: role.name }, holders);
    this.host.changed();
    await this.host.persist().catch(() => undefined);
    const r = await this.deliver(role, id, ready);
    await this.host.persist().catch(() => undefined);
    this.host.changed();
    return r;
  }

  /** The content of a message to `role`'s `holders`, tagged with the role (the holders see "to On-call dermatology"). */
  private content(role: OnCallRoleJson, holders: string[], body: RoleBody): Content {
    const tag = { role_id: role.role_id, name: role.name };
    return body.type === 'text' ? { type: 'text', to: holders, text: body.text, role: tag } : { type: 'attachment', to: holders, file: body.file, role: tag };
  }

  /** Sends (and on `holders_changed` resolves and resends, same id) until accepted, queued or refused. */
  private async deliver(first: OnCallRoleJson, id: string, body: RoleBody): Promise<{ result: RoleSendResult; text: string }> {
    let role = first;
    const stored = roleCopies(this.host.state, id)[0];
    const options: SendOptions = { role: role.role_id };
    if (stored?.priority !== undefined) options.priority = stored.priority;
    if (stored?.priority !== undefined && stored.escalation !== undefined) options.escalation = { ...stored.escalation };
    for (let attempt = 1; ; attempt++) {
      const holders = role.holders.map((h) => h.user_id);
      const names = role.holders.map((h) => h.display_name).join(' and ');
      let outcome: SendOutcome;
      try {
        ({ outcome } = await this.host.client.send(holders, 'message', this.content(role, holders, body), id, { ...options, role: role.role_id }));
      } catch (e) {
        if (e instanceof ServerError && e.code === 'holders_changed' && attempt < RESOLVE_ATTEMPTS) {
          const again = await this.resolve(role.role_id);
          if (typeof again !== 'string') {
            role = again;
            storeRoleMessage(this.host.state, this.copy(id) ?? { id, from: this.me, at: Date.now(), body, status: 'queued' }, { role: role.role_id, name: role.name }, role.holders.map((h) => h.user_id));
            this.host.changed();
            continue;
          }
          return this.fail(id, again);
        }
        return this.fail(id, e instanceof ServerError && e.code === 'not_found' ? `Nobody holds ${role.name} now: write to a colleague by name instead.` : explain(e));
      }
      for (const h of holders) {
        const c = this.host.state.conversations[h];
        if (c !== undefined && outcome !== 'queued') raiseStatus(c, this.me, [id], 'sent');
      }
      const what = body.type === 'attachment' ? `${body.file.name}: ` : '';
      const hold = holders.length > 1 ? 'hold' : 'holds';
      return outcome === 'queued'
        ? { result: 'queued', text: `${what}Offline: queued for ${names}, who ${hold} ${role.name}; it goes when the connection is back.` }
        : { result: 'sent', text: `${what}Sent to ${names}, who ${hold} ${role.name} now.` };
    }
  }

  private copy(id: string): StoredMessage | undefined {
    const c = roleCopies(this.host.state, id)[0];
    if (c === undefined) return undefined;
    const { oncall: _, ...rest } = c;
    return rest;
  }

  private fail(id: string, why: string): { result: RoleSendResult; text: string } {
    for (const m of roleCopies(this.host.state, id)) {
      m.status = 'failed';
      m.error = why;
    }
    return { result: 'failed', text: why };
  }

  /**
   * A queued message the outbox sent later: a message to a role refused with
   * `holders_changed` is resolved again and resent under the same id (whether
   * it was ours to handle).
   */
  noteSent(id: string, outcome: SendOutcome | 'refused', error?: Error): boolean {
    const copies = roleCopies(this.host.state, id);
    if (copies.length === 0) return false;
    const first = copies[0] as StoredMessage;
    const body = roleBody(first.body);
    if (outcome === 'refused' && error instanceof ServerError && error.code === 'holders_changed' && !this.resending.has(id) && body !== undefined) {
      this.resending.add(id);
      void this.resolve(first.oncall?.role ?? '')
        .then(async (role) => {
          if (typeof role === 'string') return void this.fail(id, role);
          storeRoleMessage(this.host.state, this.copy(id) ?? first, { role: role.role_id, name: role.name }, role.holders.map((h) => h.user_id));
          await this.deliver(role, id, body);
        })
        .finally(() => {
          this.resending.delete(id);
          void this.host.persist().catch(() => undefined);
          this.host.changed();
        });
      return true;
    }
    if (outcome === 'refused') this.fail(id, explain(error));
    else if (outcome !== 'queued') for (const c of Object.values(this.host.state.conversations)) raiseStatus(c, this.me, [id], 'sent');
    void this.host.persist().catch(() => undefined);
    this.host.changed();
    return true;
  }

  /** A refused message to the role, sent again under a new id to whoever holds it now. */
  async retry(key: string, messageKey: string): Promise<{ result: RoleSendResult; text: string }> {
    const id = messageKey.slice(messageKey.indexOf(':') + 1);
    const copies = roleCopies(this.host.state, id);
    const first = copies[0];
    const body = first === undefined ? undefined : roleBody(first.body);
    if (first === undefined || first.status !== 'failed' || body === undefined) return { result: 'failed', text: 'This message cannot be sent again.' };
    for (const c of Object.values(this.host.state.conversations)) c.messages = c.messages.filter((m) => !(m.from === this.me && m.id === id));
    // A file goes again as the reference already uploaded.
    return this.write(key, body, true, first.priority === undefined ? { priority: 'routine' } : { priority: first.priority, ...(first.escalation ? { escalation: first.escalation } : {}) });
  }

  /** Whom our message of a role's thread went to, by name ("Dr. A and Dr. B"): a recall tells each of them. */
  recipientNames(messageKey: string): string {
    for (const c of Object.values(this.host.state.conversations)) {
      const m = c.messages.find((x) => `${x.from}:${x.id}` === messageKey);
      if (m !== undefined) return namesWords(recallRecipients(m, c.peer).map((u) => personView(this.host.state, u).name));
    }
    return '';
  }

  /** The holder's conversation a message of a role's thread is kept in (for its recall and acknowledgement). */
  peerOf(messageKey: string): string | undefined {
    for (const c of Object.values(this.host.state.conversations)) if (c.messages.some((m) => `${m.from}:${m.id}` === messageKey)) return c.peer;
    return undefined;
  }

  /**
   * A referral to a role goes to the one clinician holding it now (read
   * again here; the CLI's `refer create --role`): that clinician, or why
   * not, in words.
   */
  async holderNow(roleId: string): Promise<Clinician | string> {
    const role = await this.resolve(roleId);
    if (typeof role === 'string') return role;
    const [one, ...more] = role.holders;
    if (one === undefined || more.length > 0) return `${role.name} is held by ${role.holders.map((h) => h.display_name).join(' and ')} now: a referral goes to one clinician; choose one by name instead.`;
    return { key: one.user_id, name: one.display_name, specialty: one.specialty, npi: one.npi };
  }

  // ---- administration and hand-off (`./oncall-changes.ts`) --------------------------------

  createRole(name: string, specialty: string): Promise<OnCallOutcome> {
    return this.changes.createRole(name, specialty);
  }

  schedule(roleId: string, who: Clinician, startsAt: number, endsAt: number): Promise<OnCallOutcome> {
    return this.changes.schedule(roleId, who, startsAt, endsAt);
  }

  handOff(roleId: string, to: Clinician): Promise<OnCallOutcome> {
    return this.changes.handOff(roleId, to);
  }
}
