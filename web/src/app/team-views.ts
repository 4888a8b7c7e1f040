/**
 * What the views show of care teams, derived from the library's
 * {@link Teams} and the application's own team records (no DOM): the
 * conversation list's entries, a team's messages with each sender's name
 * and, for ours, each member's delivery status, an urgent message's
 * acknowledgement and Recall (as in a colleague's conversation), and the
 * membership notices ("Dr. Alice Adeyemi added Dr. Bob Brennan"). Names,
 * never ids.
 */

import type { Team, TeamMessage, Teams } from '../client/teams.js';
import type { AppState, Status, StoredMessage } from './state.js';
import type { Trust } from './trust.js';
import { canRecall, urgentView } from './urgent-views.js';
import { isImage, personView, type MessageView } from './views.js';

/** A team's conversation key (the conversation list and `AppModel.select` use keys; a colleague's is their user id). */
export const teamKey = (teamId: string): string => `team:${teamId}`;
export const isTeamKey = (key: string | undefined): key is string => key !== undefined && key.startsWith('team:');
export const teamIdOf = (key: string): string => key.slice('team:'.length);

/** A membership change, as kept in the sealed state (ids; named when shown). */
export interface TeamNotice {
  at: number;
  /** Who made it (this user for their own). */
  by: string;
  kind: 'created' | 'added_me' | 'members' | 'renamed' | 'removed_me';
  added: string[];
  removed: string[];
  name?: string;
}

/** The application's team records beside the library's, in the sealed `state` record. */
export interface TeamAppJSON {
  /** Theirs (`from:id`) that we told their sender we read. */
  readSent: string[];
  /** Ours: member → when a read receipt came (browser members send them; the CLI does not). */
  readBy: Record<string, Record<string, number>>;
  /** Ours: the members it was sent to (the team may change later). */
  recipients: Record<string, string[]>;
  /** Ours, refused: why, in words. */
  errors: Record<string, string>;
  /** Ours that failed and were sent again (hidden). */
  dropped: string[];
  notices: Record<string, TeamNotice[]>;
  /** Urgent and stat messages (`from:id`): who acknowledged first that this device knows of (`pending`: ours, waiting for the connection). */
  acks: Record<string, NonNullable<StoredMessage['ack']>>;
}

export function emptyTeamApp(): TeamAppJSON {
  return { readSent: [], readBy: {}, recipients: {}, errors: {}, dropped: [], notices: {}, acks: {} };
}

/** A team message as the colleagues' urgent functions take it (`./urgent.ts`, `./urgent-views.ts`): its content, status, priority and acknowledgement. */
export function asStored(m: TeamMessage, ack: StoredMessage['ack']): StoredMessage {
  return {
    id: m.messageId,
    from: m.from,
    at: m.at,
    body: m.content,
    status: m.status === 'sending' ? 'queued' : m.status,
    ...(m.priority !== undefined ? { priority: m.priority } : {}),
    ...(ack !== undefined ? { ack: { ...ack } } : {}),
  };
}

/** A team in the conversation list. */
export interface TeamSummary {
  readonly key: string;
  readonly name: string;
  readonly memberCount: number;
  readonly unread: number;
  readonly lastAt: number | undefined;
  readonly preview: string;
  /** This user was removed from it. */
  readonly removed: boolean;
}

export interface TeamMemberView {
  /** The member's user id (not shown; the key for removing them). */
  readonly key: string;
  readonly name: string;
  readonly specialty: string;
  readonly you: boolean;
  readonly trust: Trust;
}

/** An open team, as its header and members panel show it. */
export interface TeamView {
  readonly key: string;
  readonly name: string;
  readonly members: readonly TeamMemberView[];
  readonly removed: boolean;
  /** Members whose keys changed since this user verified them (names). */
  readonly keysChanged: readonly string[];
}

export type MemberStatus = 'queued' | 'sent' | 'delivered' | 'read' | 'failed';

export interface MemberDeliveryView {
  readonly name: string;
  readonly status: MemberStatus;
  /** When it was delivered or read (ms), if it was. */
  readonly at: number | undefined;
}

/** Ours: "Delivered to 2 of 3", and each member's status. */
export interface DeliveryView {
  readonly summary: string;
  readonly total: number;
  readonly delivered: number;
  readonly read: number;
  readonly members: readonly MemberDeliveryView[];
}

export interface TeamMessageView extends MessageView {
  readonly delivery: DeliveryView | undefined;
}

/** "A", "A and B", "A, B and C". */
export function nameList(names: readonly string[]): string {
  if (names.length <= 1) return names[0] ?? '';
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1] as string}`;
}

export class TeamViews {
  constructor(
    private readonly core: Teams,
    private readonly app: TeamAppJSON,
    private readonly state: AppState,
    private readonly readSent: Set<string>,
    private readonly trust: (user: string) => Trust,
  ) {}

  private get me(): string {
    return this.state.me.userId;
  }

  private name(user: string): string {
    return user === this.me ? 'You' : personView(this.state, user).name;
  }

  /** A team's messages that are shown (not the failed ones sent again). */
  shown(teamId: string): TeamMessage[] {
    const dropped = new Set(this.app.dropped);
    return [...this.core.history(teamId)].filter((m) => !dropped.has(m.messageId)).sort((a, b) => a.at - b.at);
  }

  unread(teamId: string): number {
    return this.shown(teamId).filter((m) => m.from !== this.me && m.content.type !== 'recalled' && !this.readSent.has(`${m.from}:${m.messageId}`)).length;
  }

  noticeText(n: TeamNotice): string {
    const by = this.name(n.by);
    const names = (users: string[]) => nameList(users.map((u) => this.name(u)));
    switch (n.kind) {
      case 'created':
        return `You created the team with ${names(n.added)}`;
      case 'added_me':
        return `${by} added you to the team (members: ${names(n.added)})`;
      case 'renamed':
        return `${by} renamed the team “${n.name ?? ''}”`;
      case 'removed_me':
        return `${by} removed you from the team: you no longer receive its messages`;
      case 'members': {
        const parts = [n.added.length > 0 ? `added ${names(n.added)}` : '', n.removed.length > 0 ? `removed ${names(n.removed)}` : ''].filter(Boolean);
        return `${by} ${parts.join(' and ')}`;
      }
    }
  }

  summary(t: Team): TeamSummary {
    const messages = this.shown(t.teamId);
    const last = messages[messages.length - 1];
    const notices = this.app.notices[t.teamId] ?? [];
    const lastNotice = notices[notices.length - 1];
    let preview = 'No messages yet';
    let lastAt: number | undefined;
    if (last !== undefined && (lastNotice === undefined || last.at >= lastNotice.at)) {
      const c = last.content;
      const what = c.type === 'text' ? c.text : c.type === 'attachment' ? `File: ${c.file.name}` : 'Message recalled';
      preview = `${this.name(last.from)}: ${what}`;
      lastAt = last.at;
    } else if (lastNotice !== undefined) {
      preview = this.noticeText(lastNotice);
      lastAt = lastNotice.at;
    }
    return { key: teamKey(t.teamId), name: t.name, memberCount: t.members.length, unread: this.unread(t.teamId), lastAt, preview, removed: t.removed };
  }

  /**
   * Who was removed from a team and may not be added back (user ids): the
   * library's former members, and (for state sealed before it kept them)
   * those removed in the team's notices; not the current members. A
   * removed member's client ignores the team from then on (the CLI's
   * rule): adding them back would show "Delivered" for what they never see.
   */
  former(t: Team): Set<string> {
    const removed = (this.app.notices[t.teamId] ?? []).flatMap((n) => (n.kind === 'members' ? n.removed : []));
    return new Set([...t.former, ...removed].filter((u) => !t.members.includes(u)));
  }

  /** Why these clinicians cannot be added to the team (naming those removed from it), or `undefined` if they can. */
  cannotAdd(t: Team, people: readonly { key: string; name: string }[]): string | undefined {
    const former = this.former(t);
    const refused = people.filter((c) => former.has(c.key));
    if (refused.length === 0) return undefined;
    const names = nameList(refused.map((c) => c.name));
    return `${names} ${refused.length === 1 ? 'was' : 'were'} removed from this team and cannot be added back: create a new team with them.`;
  }

  view(t: Team): TeamView {
    const members = [...t.members]
      .map((u) => {
        const p = personView(this.state, u);
        return { key: u, name: u === this.me ? `${p.name} (you)` : p.name, specialty: p.specialty, you: u === this.me, trust: u === this.me ? ('verified' as const) : this.trust(u) };
      })
      .sort((a, b) => (a.you ? -1 : b.you ? 1 : a.name.localeCompare(b.name)));
    const keysChanged = members.filter((m) => m.trust === 'changed').map((m) => m.name);
    return { key: teamKey(t.teamId), name: t.name, members, removed: t.removed, keysChanged };
  }

  delivery(m: TeamMessage): DeliveryView {
    const to = this.app.recipients[m.messageId] ?? this.core.deliveries(m.messageId).map((d) => d.userId);
    const readBy = this.app.readBy[m.messageId] ?? {};
    const members = to
      .filter((u) => u !== this.me)
      .map((u): MemberDeliveryView => {
        const read = readBy[u];
        const delivered = m.deliveredTo[u];
        if (read !== undefined) return { name: this.name(u), status: 'read', at: read };
        if (delivered !== undefined) return { name: this.name(u), status: 'delivered', at: delivered };
        const status: MemberStatus = m.status === 'failed' ? 'failed' : m.status === 'queued' || m.status === 'sending' ? 'queued' : 'sent';
        return { name: this.name(u), status, at: undefined };
      })
      .sort((a, b) => a.name.localeCompare(b.name));
    const total = members.length;
    const read = members.filter((x) => x.status === 'read').length;
    const delivered = members.filter((x) => x.status === 'read' || x.status === 'delivered').length;
    let summary: string;
    if (m.status === 'failed') summary = 'Not sent';
    else if (m.status === 'sending') summary = 'Sending…';
    else if (m.status === 'queued') summary = 'Queued: it goes when the connection is back';
    else if (total === 0) summary = 'No other member';
    else summary = `Delivered to ${delivered} of ${total}${read > 0 ? `, read by ${read}` : ''}`;
    return { summary, total, delivered, read, members };
  }

  messages(t: Team, now = Date.now()): TeamMessageView[] {
    const me = this.me;
    const nameOf = (u: string): string => personView(this.state, u).name;
    const out: TeamMessageView[] = [];
    for (const m of this.shown(t.teamId)) {
      const mine = m.from === me;
      const delivery = mine ? this.delivery(m) : undefined;
      let status: Status = 'received';
      if (mine && delivery !== undefined) {
        if (m.status === 'failed') status = 'failed';
        else if (m.status === 'queued' || m.status === 'sending') status = 'queued';
        else if (delivery.total > 0 && delivery.read === delivery.total) status = 'read';
        else if (delivery.total > 0 && delivery.delivered === delivery.total) status = 'delivered';
        else status = 'sent';
      }
      const c = m.content;
      const key = `${m.from}:${m.messageId}`;
      const stored = asStored(m, this.app.acks[key]);
      out.push({
        key,
        mine,
        sender: mine ? 'You' : this.name(m.from),
        at: m.at,
        status,
        body:
          c.type === 'text'
            ? { type: 'text', text: c.text }
            : c.type === 'attachment'
              ? { type: 'file', name: c.file.name, size: c.file.size, image: isImage(c.file) }
              : { type: 'recalled', text: mine ? 'You recalled this message' : 'Message recalled' },
        error: mine ? this.app.errors[m.messageId] : undefined,
        delivery: c.type === 'recalled' ? undefined : delivery,
        urgent: urgentView(this.state, stored, nameOf, now),
        canRecall: canRecall(this.state, stored, now),
      });
    }
    (this.app.notices[t.teamId] ?? []).forEach((n, i) => {
      const view: TeamMessageView = { key: `notice:${i}`, mine: false, sender: '', at: n.at, status: 'received', body: { type: 'notice', text: this.noticeText(n) }, error: undefined, delivery: undefined };
      let j = out.length;
      while (j > 0 && (out[j - 1] as TeamMessageView).at > n.at) j--;
      out.splice(j, 0, view);
    });
    return out;
  }
}
