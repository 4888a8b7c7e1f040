/**
 * Care teams (SECURITY.md, "Message content and care teams";
 * `client/src/team.rs`, `src/teams.rs` and `src/messages/receive.rs` of the
 * Rust CLI, with which it interoperates). The server knows nothing of teams:
 * a membership change is a `team_update` (kind `control`, the full member
 * list) sent to every old and new member, accepted only from a current
 * member (or this user's own other device); a team message is sealed once
 * (`./team-seal.ts`) and only the `team_message` envelope goes through each
 * member device's pairwise session. A file is uploaded once as an
 * attachment; only its reference (with its key) is sealed. A message may
 * be urgent or stat (the envelope's priority, as for any message) and be
 * recalled by its sender ({@link Teams.recall}).
 *
 * Feed every {@link Received} to {@link Teams.handle} (it answers whether
 * the message was a team's) and every delivery receipt to
 * {@link Teams.noteReceipt}; store {@link Teams.toJSON} sealed with the
 * account (it holds plaintext).
 */

import { systemRandom, type RandomSource } from '../crypto/primitives.js';
import { ProtocolError } from '../protocol/errors.js';
import type { Address, MessagePriority } from '../protocol/frames.js';
import { uploadAttachment, type AttachmentSource, type UploadOptions } from './attachments.js';
import type { Client, DeliveryReceipt, Received, SendOutcome } from './client.js';
import type { AttachmentRef, Content } from './content.js';
import { newMessageId } from './outbox.js';
import { newTeamId, openTeamMessage, sealTeamMessage, type TeamContent } from './team-seal.js';

export { newTeamId, openTeamMessage, sealTeamMessage, type TeamContent } from './team-seal.js';

/** A care team as this client knows it (the CLI's `Team`). */
export interface Team {
  readonly teamId: string;
  readonly name: string;
  /** Every member (user ids, sorted), this user included. */
  readonly members: readonly string[];
  /** This user was removed: nothing more is sent or accepted. */
  readonly removed: boolean;
  /**
   * Who this client saw dropped from the team (user ids, sorted; not the
   * current members). Their clients ignore the team from then on (the
   * CLI's rule), so they cannot be added back: {@link Teams.add} refuses.
   */
  readonly former: readonly string[];
}

export type TeamMessageStatus = 'sending' | 'queued' | 'sent' | 'failed' | 'received';

/** One message of a team's conversation. */
export interface TeamMessage {
  readonly messageId: string;
  readonly teamId: string;
  readonly from: string;
  /** The sending device (undefined for this device's own). */
  readonly device: number | undefined;
  /** The server's acceptance time, or the local send time (ms). */
  readonly at: number;
  /** Replaced by `{ type: 'recalled' }` when its sender recalls it. */
  content: TeamContent;
  status: TeamMessageStatus;
  /** Urgent or stat (the envelope's priority); absent: routine. */
  readonly priority?: Exclude<MessagePriority, 'routine'>;
  /** For a message this user sent: per member (user id), when its first device acknowledged it. */
  readonly deliveredTo: Record<string, number>;
}

/** Per member of a sent message: delivered (to at least one device) or still waiting. */
export interface MemberDelivery {
  readonly userId: string;
  readonly deliveredAt: number | undefined;
}

/** What {@link Teams.handle} made of a team's message. */
export type TeamEvent =
  | { type: 'added'; team: Team; by: string }
  | { type: 'updated'; team: Team; by: string }
  | { type: 'removed'; team: Team; by: string }
  | { type: 'message'; team: Team; message: TeamMessage }
  /** A team's message that is not accepted (not a member, unknown team, could not open). */
  | { type: 'ignored'; teamId: string; reason: 'unknown_team' | 'not_a_member' | 'removed' | 'could_not_open' };

export interface TeamsJSON {
  /** `former` is absent in state written before it was kept. */
  teams: { team_id: string; name: string; members: string[]; removed: boolean; former?: string[] }[];
  messages: {
    message_id: string;
    team_id: string;
    from: string;
    device: number | null;
    at: number;
    content: TeamContent;
    status: TeamMessageStatus;
    delivered_to: Record<string, number>;
    /** Absent: routine (and in state written before team messages had one). */
    priority?: Exclude<MessagePriority, 'routine'>;
  }[];
}

const sorted = (users: Iterable<string>): string[] => [...new Set(users)].sort();

/** The former members once `before`'s members become `members`: those dropped join them; current members are not former. */
function formerAfter(before: Team | undefined, members: readonly string[]): string[] {
  const dropped = (before?.members ?? []).filter((u) => !members.includes(u));
  return sorted([...(before?.former ?? []), ...dropped]).filter((u) => !members.includes(u));
}

/** Why {@link Teams.add} refuses a former member. */
export const CANNOT_READD = "a colleague removed from this team cannot be added back: create a new team with them (their client no longer accepts this team's updates)";

export class Teams {
  private readonly teams = new Map<string, Team>();
  private readonly messages = new Map<string, TeamMessage[]>();
  private readonly byId = new Map<string, TeamMessage>();
  private readonly rng: RandomSource;

  constructor(
    private readonly client: Client,
    opts: { state?: TeamsJSON; rng?: RandomSource } = {},
  ) {
    this.rng = opts.rng ?? systemRandom;
    for (const t of opts.state?.teams ?? []) {
      this.teams.set(t.team_id, { teamId: t.team_id, name: t.name, members: [...t.members], removed: t.removed, former: [...(t.former ?? [])] });
    }
    for (const m of opts.state?.messages ?? []) {
      this.record({
        messageId: m.message_id,
        teamId: m.team_id,
        from: m.from,
        device: m.device ?? undefined,
        at: m.at,
        content: m.content,
        status: m.status,
        deliveredTo: { ...m.delivered_to },
        ...(m.priority !== undefined ? { priority: m.priority } : {}),
      });
    }
  }

  private get me(): string {
    return this.client.account.me.user_id;
  }

  /** Every team this user is or was in. */
  list(): Team[] {
    return [...this.teams.values()];
  }

  get(teamId: string): Team | undefined {
    return this.teams.get(teamId);
  }

  /** A team's conversation, oldest first. */
  history(teamId: string): readonly TeamMessage[] {
    return this.messages.get(teamId) ?? [];
  }

  private current(teamId: string): Team {
    const t = this.teams.get(teamId);
    if (t === undefined) throw new ProtocolError('no such team: choose one of your teams');
    if (t.removed) throw new ProtocolError(`you were removed from team ${t.name}: ask a member to create a new team with you`);
    return t;
  }

  // ---- membership ----------------------------------------------------------

  /** Creates a team with these colleagues (user ids; this user is a member) and tells them. */
  async create(name: string, members: string[]): Promise<{ team: Team; outcome: SendOutcome }> {
    if (name.trim() === '') throw new ProtocolError('a team needs a name');
    const team: Team = { teamId: newTeamId(this.rng), name, members: sorted([this.me, ...members]), removed: false, former: [] };
    if (team.members.length < 2) throw new ProtocolError('a team needs at least one colleague besides you');
    const outcome = await this.publish(team, []);
    return { team, outcome };
  }

  /**
   * Adds colleagues (user ids) to a team: the new membership goes to every
   * old and new member. Refused for a former member ({@link Team.former}):
   * their client would ignore the update and every message after it.
   */
  async add(teamId: string, users: string[]): Promise<{ team: Team; outcome: SendOutcome }> {
    const t = this.current(teamId);
    if (users.some((u) => t.former.includes(u))) throw new ProtocolError(CANNOT_READD);
    const team = { ...t, members: sorted([...t.members, ...users]) };
    return this.publish(team, t.members).then((outcome) => ({ team, outcome }));
  }

  /** Removes a member: they are told, and receive nothing new. */
  async remove(teamId: string, user: string): Promise<{ team: Team; outcome: SendOutcome }> {
    const t = this.current(teamId);
    if (user === this.me) throw new ProtocolError('to leave a team, ask a member to remove you');
    if (!t.members.includes(user)) throw new ProtocolError(`that colleague is not a member of team ${t.name}`);
    const members = t.members.filter((m) => m !== user);
    const team = { ...t, members, former: formerAfter(t, members) };
    return this.publish(team, t.members).then((outcome) => ({ team, outcome }));
  }

  /** Renames a team (a `team_update` to every member). */
  async rename(teamId: string, name: string): Promise<{ team: Team; outcome: SendOutcome }> {
    const t = this.current(teamId);
    if (name.trim() === '') throw new ProtocolError('a team needs a name');
    const team = { ...t, name };
    return this.publish(team, t.members).then((outcome) => ({ team, outcome }));
  }

  private async publish(team: Team, before: readonly string[]): Promise<SendOutcome> {
    const recipients = sorted([...before, ...team.members]).filter((u) => u !== this.me);
    const update: Content = { type: 'team_update', team_id: team.teamId, name: team.name, members: [...team.members] };
    const { outcome } = await this.client.send(recipients, 'control', update);
    this.teams.set(team.teamId, team);
    return outcome;
  }

  // ---- sending -------------------------------------------------------------

  /** Sends text to a team's current members (sealed once; the envelope per member device), routine unless `priority` says otherwise (no escalation: a backup outside the team could not open it). */
  sendText(teamId: string, text: string, priority: MessagePriority = 'routine'): Promise<TeamMessage> {
    return this.sendContent(teamId, { type: 'text', to: [], text }, priority);
  }

  /** Encrypts and uploads a file once, then sends its reference to the team. */
  async sendFile(teamId: string, source: AttachmentSource, name: string, opts: UploadOptions = {}): Promise<TeamMessage> {
    this.current(teamId);
    const uploaded = await uploadAttachment(this.client.http, source, name, this.rng, opts);
    return this.sendAttachment(teamId, uploaded.file);
  }

  /** Sends a reference to an attachment already uploaded (a file sent again keeps its blob). */
  sendAttachment(teamId: string, file: AttachmentRef, priority: MessagePriority = 'routine'): Promise<TeamMessage> {
    return this.sendContent(teamId, { type: 'attachment', to: [], file }, priority);
  }

  private async sendContent(teamId: string, content: Extract<Content, { type: 'text' | 'attachment' }>, priority: MessagePriority): Promise<TeamMessage> {
    const team = this.current(teamId);
    const recipients = team.members.filter((u) => u !== this.me);
    const messageId = newMessageId(this.rng);
    const envelope = sealTeamMessage(teamId, messageId, content, this.rng);
    const message: TeamMessage = {
      messageId,
      teamId,
      from: this.me,
      device: undefined,
      at: Date.now(),
      content: content.type === 'text' ? { type: 'text', text: content.text } : { type: 'attachment', file: content.file },
      status: 'sending',
      deliveredTo: {},
      ...(priority !== 'routine' ? { priority } : {}),
    };
    this.record(message);
    try {
      const { outcome } = await this.client.send(recipients, 'message', envelope, messageId, { priority });
      message.status = outcome === 'queued' ? 'queued' : 'sent';
    } catch (e) {
      message.status = 'failed';
      throw e;
    }
    return message;
  }

  /** Notes a delivery receipt (wire `ClientOptions.onReceipt` here); whether it was for a team message. */
  noteReceipt(r: DeliveryReceipt): boolean {
    const m = this.byId.get(r.messageId);
    if (m === undefined || m.from !== this.me || r.recipient.user_id === this.me) return false;
    if (m.status === 'queued' || m.status === 'sending') m.status = 'sent';
    const was = m.deliveredTo[r.recipient.user_id];
    if (was === undefined || r.deliveredAt < was) m.deliveredTo[r.recipient.user_id] = r.deliveredAt;
    return true;
  }

  /** Per member of the team (other than this user), whether a sent message reached one of their devices. */
  deliveries(messageId: string): MemberDelivery[] {
    const m = this.byId.get(messageId);
    if (m === undefined) return [];
    for (const r of this.client.receipts) if (r.messageId === messageId) this.noteReceipt(r);
    const team = this.teams.get(m.teamId);
    const members = sorted([...(team?.members ?? []), ...Object.keys(m.deliveredTo)]).filter((u) => u !== this.me);
    return members.map((userId) => ({ userId, deliveredAt: m.deliveredTo[userId] }));
  }

  // ---- receiving -----------------------------------------------------------

  /**
   * Applies a received message if it is a team's (`team_update`,
   * `team_message`); `undefined` for anything else. The caller acknowledges
   * the delivery after storing {@link Teams.toJSON}.
   */
  handle(r: Received): TeamEvent | undefined {
    const c = r.content;
    if (c === undefined) return undefined;
    if (c.type === 'team_update') return this.applyUpdate(r.sender, c.team_id, c.name, c.members);
    if (c.type === 'team_message') return this.applyMessage(r, c.team_id, c.key, c.sealed);
    return undefined;
  }

  private applyUpdate(sender: Address, teamId: string, name: string, members: string[]): TeamEvent {
    const from = sender.user_id;
    const includesMe = members.includes(this.me);
    const known = this.teams.get(teamId);
    if (known !== undefined) {
      if (known.removed) return { type: 'ignored', teamId, reason: 'removed' };
      if (!(known.members.includes(from) || from === this.me)) return { type: 'ignored', teamId, reason: 'not_a_member' };
      const team: Team = { teamId, name, members: [...members], removed: !includesMe, former: formerAfter(known, members) };
      this.teams.set(teamId, team);
      return { type: includesMe ? 'updated' : 'removed', team, by: from };
    }
    if (!includesMe) return { type: 'ignored', teamId, reason: 'unknown_team' };
    const team: Team = { teamId, name, members: [...members], removed: false, former: [] };
    this.teams.set(teamId, team);
    return { type: 'added', team, by: from };
  }

  private applyMessage(r: Received, teamId: string, key: string, sealed: string): TeamEvent {
    const team = this.teams.get(teamId);
    if (team === undefined) return { type: 'ignored', teamId, reason: 'unknown_team' };
    if (team.removed) return { type: 'ignored', teamId, reason: 'removed' };
    if (!team.members.includes(r.sender.user_id)) return { type: 'ignored', teamId, reason: 'not_a_member' };
    let content: TeamContent;
    try {
      content = openTeamMessage(teamId, r.messageId, key, sealed);
    } catch {
      return { type: 'ignored', teamId, reason: 'could_not_open' };
    }
    const fromMe = r.sender.user_id === this.me;
    const existing = this.byId.get(r.messageId);
    if (existing !== undefined && existing.teamId === teamId) return { type: 'message', team, message: existing };
    const message: TeamMessage = {
      messageId: r.messageId,
      teamId,
      from: r.sender.user_id,
      device: r.sender.device_id,
      at: r.sentAt,
      content,
      status: fromMe ? 'sent' : 'received',
      deliveredTo: {},
      ...(r.priority !== 'routine' ? { priority: r.priority } : {}),
    };
    this.record(message);
    return { type: 'message', team, message };
  }

  private record(m: TeamMessage): void {
    if (this.byId.has(m.messageId)) return;
    this.byId.set(m.messageId, m);
    let list = this.messages.get(m.teamId);
    if (list === undefined) this.messages.set(m.teamId, (list = []));
    list.push(m);
  }

  /** A message of a team's conversation by its sender and id. */
  find(from: string, messageId: string): TeamMessage | undefined {
    const m = this.byId.get(messageId);
    return m !== undefined && m.from === from ? m : undefined;
  }

  /** `sender`'s recall (theirs, or ours): these messages' content and attachment reference are deleted, a placeholder kept; the messages deleted. */
  recall(sender: string, messageIds: readonly string[]): TeamMessage[] {
    const deleted: TeamMessage[] = [];
    for (const id of messageIds) {
      const m = this.find(sender, id);
      if (m === undefined || m.content.type === 'recalled') continue;
      m.content = { type: 'recalled' };
      deleted.push(m);
    }
    return deleted;
  }

  /** Deletes the messages sent at or before `cutoff` (ms; the organisation's retention); how many. */
  forgetBefore(cutoff: number): number {
    let n = 0;
    for (const [teamId, list] of this.messages) {
      const kept = list.filter((m) => m.at > cutoff);
      for (const m of list) if (m.at <= cutoff) this.byId.delete(m.messageId);
      n += list.length - kept.length;
      this.messages.set(teamId, kept);
    }
    return n;
  }

  /** The teams and their conversations, for the sealed store. */
  toJSON(): TeamsJSON {
    return {
      teams: this.list().map((t) => ({ team_id: t.teamId, name: t.name, members: [...t.members], removed: t.removed, former: [...t.former] })),
      messages: [...this.byId.values()].map((m) => ({
        message_id: m.messageId,
        team_id: m.teamId,
        from: m.from,
        device: m.device ?? null,
        at: m.at,
        content: m.content,
        status: m.status,
        delivered_to: { ...m.deliveredTo },
        ...(m.priority !== undefined ? { priority: m.priority } : {}),
      })),
    };
  }

  /** Counts only. */
  toString(): string {
    return `Teams(${this.teams.size} teams, ${this.byId.size} messages)`;
  }
}
