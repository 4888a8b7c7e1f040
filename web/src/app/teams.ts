/**
 * Care teams in the application model (no DOM), over the library's
 * {@link Teams} (`src/client/teams.ts`: the CLI's team_update and
 * team_message, its acceptance rules): the teams and their conversations
 * kept in the sealed `state` record (`state.teams`), received
 * `team_update` and team messages from CLI and browser members, text and
 * files to the team (text routine, urgent or stat), each member's delivery
 * (the server's delivery receipts; read receipts from members in a
 * browser: the CLI sends none for team messages), unread counts and
 * notifications without content, as the 1:1 conversations have them.
 * Membership (creating a team, adding and removing members) is
 * `./team-membership.ts`'s; acknowledging and recalling
 * `./team-urgent.ts`'s.
 */

import { downloadAttachment, uploadAttachment } from '../client/attachments.js';
import type { Client, DeliveryReceipt, Received, SendOutcome } from '../client/client.js';
import { Teams, type Team, type TeamMessage, type TeamsJSON } from '../client/teams.js';
import { systemRandom } from '../crypto/primitives.js';
import type { MessagePriority } from '../protocol/frames.js';
import type { BlobLike } from '../protocol/platform.js';
import type { AppState } from './state.js';
import { TeamMembership, type TeamCreateResult } from './team-membership.js';
import { TeamUrgent } from './team-urgent.js';
import { emptyTeamApp, isTeamKey, teamIdOf, teamKey, TeamViews, type TeamAppJSON, type TeamMessageView, type TeamNotice, type TeamSummary, type TeamView } from './team-views.js';
import type { Trust } from './trust.js';
import type { RecallOutcome } from './urgent-session.js';
import { wasRecalled } from './urgent.js';
import { mimeOf, personView, type Clinician } from './views.js';

export { isTeamKey } from './team-views.js';
export type { TeamCreateResult } from './team-membership.js';
export type { DeliveryView, MemberDeliveryView, MemberStatus, TeamMemberView, TeamMessageView, TeamSummary, TeamView } from './team-views.js';

/** The sealed form: the library's teams and conversations, and the application's records. */
export interface TeamStateJSON {
  core: TeamsJSON;
  app: TeamAppJSON;
}

export type TeamSendResult = 'sent' | 'queued' | 'confirm' | 'failed';

/** What the session gives the teams. */
export interface TeamHost {
  readonly client: Client;
  readonly state: AppState;
  persist(): Promise<void>;
  changed(): void;
  lookUp(user: string): void;
  /** A colleague's new message (the model notifies if the page is hidden). */
  arrived(): void;
  problem(text: string): void;
  trust(user: string): Trust;
  explain(e: unknown): string;
}

/** What a received message did, for the session. */
export interface TeamEffect {
  /** A colleague's new message (unread, worth a notification). */
  readonly incoming: boolean;
  /** The team's conversation key. */
  readonly key?: string;
}

export class SessionTeams {
  private readonly core: Teams;
  private readonly app: TeamAppJSON;
  private readonly readSent: Set<string>;
  private readonly views: TeamViews;
  private readonly membership: TeamMembership;
  /** Urgent and stat team messages: acknowledging, alerting, recall. */
  readonly urgent: TeamUrgent;
  private open: string | undefined;
  private visible = true;
  private readonly files = new Map<string, Promise<Blob>>();

  constructor(private readonly host: TeamHost) {
    const saved = host.state.teams;
    this.core = new Teams(host.client, saved === undefined ? {} : { state: saved.core });
    this.app = { ...emptyTeamApp(), ...(saved?.app ?? {}) };
    this.readSent = new Set(this.app.readSent);
    this.views = new TeamViews(this.core, this.app, host.state, this.readSent, (u) => host.trust(u));
    const shared = { state: host.state, core: this.core, app: this.app, store: () => this.store() };
    this.membership = new TeamMembership({ ...shared, views: this.views, current: (key) => this.current(key)?.teamId, explain: host.explain });
    this.urgent = new TeamUrgent({ ...shared, client: host.client, problem: (t) => host.problem(t), nameOf: (u) => personView(host.state, u).name, forgetFile: (k) => this.files.delete(k) });
  }

  private get me(): string {
    return this.host.state.me.userId;
  }

  /** The organisation's retention: team messages older than it are deleted (and their decrypted files); whether any were. */
  retain(now: number): boolean {
    const secs = this.host.state.policy?.retentionSecs ?? null;
    if (secs === null || this.core.forgetBefore(now - secs * 1000) === 0) return false;
    this.files.clear();
    this.urgent.forgetGone();
    this.store();
    return true;
  }

    /** Writes the teams into the state record (the session calls it at each write); the state. */
  save(): AppState {
    this.app.readSent = [...this.readSent];
    this.host.state.teams = { core: this.core.toJSON(), app: this.app };
    return this.host.state;
  }

  private store(): void {
    void this.host.persist().catch(() => undefined);
    this.host.changed();
  }

  private team(key: string): Team | undefined {
    return isTeamKey(key) ? this.core.get(teamIdOf(key)) : undefined;
  }

  /** The team of this key while this user is a member. */
  private current(key: string): Team | undefined {
    const t = this.team(key);
    return t === undefined || t.removed ? undefined : t;
  }

  private notice(teamId: string, n: TeamNotice): void {
    (this.app.notices[teamId] ??= []).push(n);
  }

  // ---- receiving ----------------------------------------------------------------

  /** A received message: team content is applied (`undefined`: not a team's). The session persists, then acknowledges. */
  apply(r: Received): TeamEffect | undefined {
    const c = r.content;
    if (c === undefined) return undefined;
    if (c.type === 'read') {
      this.applyRead(r.sender.user_id, c.message_ids, r.sentAt);
      return undefined; // 1:1 receipts too: receive.ts goes on
    }
    // Of a team's message or a colleague's: receive.ts goes on (and remembers the recall).
    if (c.type === 'acknowledge') return void this.urgent.applyAcknowledge(r.sender.user_id, c.message_ids, r.sentAt);
    if (c.type === 'recall') return void this.urgent.applyRecall(r.sender.user_id, c.message_ids);
    if (c.type !== 'team_update' && c.type !== 'team_message') return undefined;
    if (c.type === 'team_message' && wasRecalled(this.host.state, r.sender.user_id, r.messageId)) return { incoming: false }; // it came after its recall
    const teamId = c.team_id;
    const before = this.core.get(teamId);
    const known = c.type === 'team_message' && this.core.history(teamId).some((m) => m.messageId === r.messageId && m.from === r.sender.user_id);
    const e = this.core.handle(r);
    if (e === undefined || e.type === 'ignored') return { incoming: false };
    for (const u of e.team.members) this.host.lookUp(u);
    this.host.lookUp(r.sender.user_id);
    const at = r.sentAt;
    const by = r.sender.user_id;
    switch (e.type) {
      case 'added':
        this.notice(teamId, { at, by, kind: 'added_me', added: e.team.members.filter((u) => u !== this.me), removed: [] });
        break;
      case 'removed':
        this.notice(teamId, { at, by, kind: 'removed_me', added: [], removed: [this.me] });
        break;
      case 'updated': {
        const old = before?.members ?? [];
        const added = e.team.members.filter((u) => !old.includes(u));
        const removed = old.filter((u) => !e.team.members.includes(u));
        if (added.length > 0 || removed.length > 0) this.notice(teamId, { at, by, kind: 'members', added, removed });
        if (before !== undefined && before.name !== e.team.name) this.notice(teamId, { at, by, kind: 'renamed', added: [], removed: [], name: e.team.name });
        break;
      }
      case 'message':
        return { incoming: !known && e.message.from !== this.me, key: teamKey(teamId) };
    }
    return { incoming: false, key: teamKey(teamId) };
  }

  private applyRead(from: string, ids: readonly string[], at: number): void {
    const wanted = new Set(ids);
    let changed = false;
    for (const t of this.core.list()) {
      for (const m of this.core.history(t.teamId)) {
        if (!wanted.has(m.messageId)) continue;
        if (from === this.me && m.from !== this.me) {
          // Read on another of this user's devices.
          changed = !this.readSent.has(`${m.from}:${m.messageId}`) || changed;
          this.readSent.add(`${m.from}:${m.messageId}`);
        } else if (m.from === this.me && from !== this.me) {
          const by = (this.app.readBy[m.messageId] ??= {});
          if (by[from] === undefined) {
            by[from] = at;
            changed = true;
          }
        }
      }
    }
    if (changed) this.host.changed();
  }

  /** A delivery receipt; whether it was for one of our team messages. */
  noteReceipt(r: DeliveryReceipt): boolean {
    if (!this.core.noteReceipt(r)) return false;
    this.store();
    return true;
  }

  private mine(id: string): TeamMessage | undefined {
    for (const t of this.core.list()) {
      const m = this.core.history(t.teamId).find((x) => x.messageId === id && x.from === this.me);
      if (m !== undefined) return m;
    }
    return undefined;
  }

  /** A queued team message was accepted later, or refused; whether it was one. */
  noteSent(id: string, outcome: SendOutcome | 'refused', error?: Error): boolean {
    const m = this.mine(id);
    if (m === undefined) return false;
    if (outcome === 'refused') {
      m.status = 'failed';
      this.app.errors[id] = this.host.explain(error);
    } else if (outcome !== 'queued' && (m.status === 'queued' || m.status === 'sending')) {
      m.status = 'sent';
    }
    this.store();
    return true;
  }

  // ---- reading --------------------------------------------------------------------

  /** The conversation shown (a team's key, or anything else: none of ours) and whether the page is visible. */
  setOpen(key: string | undefined, visible: boolean): void {
    this.visible = visible;
    this.open = visible && isTeamKey(key) ? key : undefined;
    if (this.open !== undefined) void this.markRead(this.open);
  }

  /** What {@link apply} did is stored: a colleague's new message notifies (the model, if the page is hidden) and is read at once if shown. */
  stored(effect: TeamEffect | undefined): void {
    if (effect?.incoming !== true || effect.key === undefined) return;
    this.host.arrived();
    if (this.open === effect.key) void this.markRead(effect.key);
  }

  /** Read receipts to each sender for what the user now sees (browser members show them; the CLI ignores them). */
  private async markRead(key: string): Promise<void> {
    const t = this.team(key);
    if (t === undefined || !this.visible) return;
    const bySender = new Map<string, string[]>();
    for (const m of this.views.shown(t.teamId)) {
      const k = `${m.from}:${m.messageId}`;
      if (m.from === this.me || this.readSent.has(k)) continue;
      this.readSent.add(k);
      bySender.set(m.from, [...(bySender.get(m.from) ?? []), m.messageId]);
    }
    if (bySender.size === 0) return;
    this.host.changed();
    const sending = [...bySender].map(([sender, ids]) => this.host.client.sendReadReceipt([sender], ids).catch(() => undefined));
    await this.host.persist().catch(() => undefined);
    await Promise.all(sending);
    await this.host.persist().catch(() => undefined);
  }

  // ---- what the views show ----------------------------------------------------------

  /** Every team this user is or was in, for the conversation list. */
  summaries(): TeamSummary[] {
    for (const t of this.core.list()) for (const u of t.members) this.host.lookUp(u); // once per session each
    return this.core.list().map((t) => this.views.summary(t));
  }

  view(key: string): TeamView | undefined {
    const t = this.team(key);
    return t && this.views.view(t);
  }

  messages(key: string): TeamMessageView[] {
    const t = this.team(key);
    return t === undefined ? [] : this.views.messages(t);
  }

  // ---- membership (`./team-membership.ts`) ------------------------------------------

  /** Creates a team with clinicians chosen from the directory; its key, or what to fix. */
  create(name: string, members: readonly Clinician[]): Promise<TeamCreateResult> {
    return this.membership.create(name, members);
  }

  /** Why this clinician cannot be added to the team (the picker shows it in place of the Add button), or `undefined` if they can. */
  cannotAdd(key: string, c: Clinician): string | undefined {
    const t = this.team(key);
    return t && this.membership.cannotAdd(t.teamId, c);
  }

  /** Adds clinicians chosen from the directory; `undefined` if done, else what to tell the user. */
  add(key: string, people: readonly Clinician[]): Promise<string | undefined> {
    return this.membership.add(key, people);
  }

  /** Removes a member (they are told, and receive nothing new); `undefined` if done, else what to tell the user. */
  remove(key: string, user: string): Promise<string | undefined> {
    return this.membership.remove(key, user);
  }

  // ---- urgent messages (`./team-urgent.ts`) ------------------------------------------

  /** Acknowledges a member's urgent or stat message in this team. */
  acknowledge(key: string, messageKey: string): Promise<void> {
    return this.team(key) === undefined ? Promise.resolve() : this.urgent.acknowledge(messageKey);
  }

  /** Recalls our message to this team. */
  recall(key: string, messageKey: string): Promise<RecallOutcome> {
    return this.team(key) === undefined ? Promise.resolve({ ok: false, text: 'This message cannot be recalled.' }) : this.urgent.recall(messageKey);
  }

  // ---- sending ----------------------------------------------------------------------

  /** Sends text to the team, routine unless `priority` says urgent or stat (`'confirm'`: a member's keys changed since verified; nothing sent, ask first). */
  sendText(key: string, text: string, confirmed = false, priority: MessagePriority = 'routine'): Promise<TeamSendResult> {
    return this.send(key, confirmed, (teamId) => this.core.sendText(teamId, text, priority));
  }

  /** Encrypts and uploads a file once in this browser, then sends its reference to the team. */
  async sendFile(key: string, file: Blob, name: string, confirmed = false): Promise<TeamSendResult> {
    const t = this.team(key);
    if (t === undefined || t.removed) return 'failed';
    if (!confirmed && this.views.view(t).keysChanged.length > 0) return 'confirm';
    let ref;
    try {
      ref = (await uploadAttachment(this.host.client.http, file as unknown as BlobLike, name.replace(/^.*[\\/]/, '') || 'file', systemRandom)).file;
    } catch (e) {
      this.host.problem(`The file could not be uploaded: ${this.host.explain(e)}`);
      return 'failed';
    }
    return this.send(key, true, (teamId) => this.core.sendAttachment(teamId, ref));
  }

  /** Sends a refused message again, under a new id (the failed one is then hidden). */
  retry(key: string, messageKey: string, confirmed = false): Promise<TeamSendResult> {
    const t = this.team(key);
    const m = t && this.views.shown(t.teamId).find((x) => `${x.from}:${x.messageId}` === messageKey && x.status === 'failed');
    if (m === undefined) return Promise.resolve('failed');
    const content = m.content;
    if (content.type === 'recalled') return Promise.resolve('failed');
    const priority = m.priority ?? 'routine'; // an urgent one stays urgent
    return this.send(key, confirmed, (teamId) => (content.type === 'text' ? this.core.sendText(teamId, content.text, priority) : this.core.sendAttachment(teamId, content.file, priority))).then((r) => {
      if (r !== 'confirm') {
        this.app.dropped.push(m.messageId);
        this.store();
      }
      return r;
    });
  }

  private async send(key: string, confirmed: boolean, send: (teamId: string) => Promise<TeamMessage>): Promise<TeamSendResult> {
    const t = this.team(key);
    if (t === undefined || t.removed) {
      this.host.problem('You are no longer a member of this team: nothing was sent.');
      return 'failed';
    }
    if (!confirmed && this.views.view(t).keysChanged.length > 0) return 'confirm';
    const sending = send(t.teamId); // recorded and in the outbox from here on
    sending.catch(() => undefined);
    const m = this.core.history(t.teamId).slice(-1)[0];
    if (m !== undefined && m.from === this.me) this.app.recipients[m.messageId] = t.members.filter((u) => u !== this.me);
    this.store();
    let result: TeamSendResult;
    try {
      const sent = await sending;
      result = sent.status === 'queued' ? 'queued' : 'sent';
    } catch (e) {
      if (m !== undefined) this.app.errors[m.messageId] = this.host.explain(e);
      result = 'failed';
    }
    this.store();
    return result;
  }

  // ---- files ------------------------------------------------------------------------

  /** A team message's file, downloaded and decrypted (every chunk, the digest and the size verified). */
  file(key: string, messageKey: string): Promise<Blob> {
    const cached = this.files.get(messageKey);
    if (cached !== undefined) return cached;
    const t = this.team(key);
    const m = t && this.core.history(t.teamId).find((x) => `${x.from}:${x.messageId}` === messageKey);
    if (m === undefined || m.content.type !== 'attachment') return Promise.reject(new Error('no such file'));
    const ref = m.content.file;
    const p = downloadAttachment(this.host.client.http, ref, { as: 'blob' }).then((b) => new Blob([b as Blob], { type: mimeOf(ref.name) }));
    this.files.set(messageKey, p);
    p.catch(() => this.files.delete(messageKey));
    return p;
  }
}
