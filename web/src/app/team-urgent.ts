/**
 * Urgent and stat messages and recall in care teams (no DOM), as in a
 * colleague's conversation (`./urgent-session.ts`; PROTOCOL.md, "Priority,
 * acknowledgement and escalation", "`recall` → `recalled`"): a member's
 * urgent message alerts every other member until one of them acknowledges
 * it (the `acknowledge` request, then the end to end encrypted content to
 * the sender and to the server's `also`, the other members, so that they
 * stop alerting too; kept and sent again after a reconnection if the
 * connection was down); the sender sees who acknowledged and when; the
 * sender recalls it within the organisation's window (the server deletes
 * the undelivered copies, then every member it went to is told to delete
 * theirs). No escalation in a team: a backup outside it could not open a
 * team's message. The acknowledgements are kept in the team records'
 * `acks` (message key → who, when).
 */

import type { Client } from '../client/client.js';
import type { TeamMessage, Teams } from '../client/teams.js';
import { ServerError } from '../protocol/errors.js';
import type { AppState } from './state.js';
import { teamKey, type TeamAppJSON } from './team-views.js';
import { acknowledgedBy, applyRecall, DEFAULT_RECALL_WINDOW_SECS, noteAck, type OpenAlert } from './urgent.js';
import type { RecallOutcome } from './urgent-session.js';
import { durationWords } from './state.js';

/** What the session's teams give. */
export interface TeamUrgentHost {
  readonly client: Client;
  readonly state: AppState;
  readonly core: Teams;
  readonly app: TeamAppJSON;
  store(): void;
  problem(text: string): void;
  nameOf(user: string): string;
  /** A recalled message's decrypted file leaves memory. */
  forgetFile(messageKey: string): void;
}

const keyOf = (m: TeamMessage): string => `${m.from}:${m.messageId}`;

export class TeamUrgent {
  private flushing = false;

  constructor(private readonly host: TeamUrgentHost) {}

  private get me(): string {
    return this.host.state.me.userId;
  }

  private *messages(): Generator<TeamMessage> {
    for (const t of this.host.core.list()) yield* this.host.core.history(t.teamId);
  }

  private find(messageKey: string): TeamMessage | undefined {
    for (const m of this.messages()) if (keyOf(m) === messageKey) return m;
    return undefined;
  }

  /** Whether a team message still asks for an acknowledgement. */
  private isOpen(m: TeamMessage): boolean {
    return m.priority !== undefined && m.content.type !== 'recalled' && m.status !== 'failed' && this.host.app.acks[keyOf(m)] === undefined;
  }

  /** Received urgent and stat team messages waiting for this user's acknowledgement. */
  alerting(): OpenAlert[] {
    const out: OpenAlert[] = [];
    for (const m of this.messages()) {
      if (m.from === this.me || m.priority === undefined || !this.isOpen(m)) continue;
      const team = this.host.core.get(m.teamId);
      if (team === undefined || team.removed) continue; // removed from the team: nothing more to do in it
      out.push({ peer: teamKey(m.teamId), from: m.from, priority: m.priority, at: m.at, where: team.name });
    }
    return out;
  }

  // ---- acknowledging -----------------------------------------------------------------

  /**
   * An `acknowledge` content from `from` (`./urgent.ts`'s
   * {@link acknowledgedBy}): our team messages a member acknowledged, a
   * member's we acknowledged on another device, or a member's that another
   * member took (they stop alerting here). Whether anything changed.
   */
  applyAcknowledge(from: string, ids: readonly string[], at: number): boolean {
    const wanted = new Set(ids);
    let changed = false;
    for (const m of this.messages()) {
      if (!wanted.has(m.messageId) || m.content.type === 'recalled' || !acknowledgedBy(this.me, from, m)) continue;
      const holder = { priority: m.priority, ack: this.host.app.acks[keyOf(m)] };
      if (noteAck(holder, from, at) && holder.ack !== undefined) {
        this.host.app.acks[keyOf(m)] = holder.ack;
        changed = true;
      }
    }
    return changed;
  }

  /** Acknowledges a member's urgent or stat message: alerting stops here at once; the server, the sender and the other members are told now, or once the connection is back. */
  async acknowledge(messageKey: string): Promise<void> {
    const m = this.find(messageKey);
    const ack = this.host.app.acks[messageKey];
    if (m === undefined || m.from === this.me || m.priority === undefined || m.content.type === 'recalled' || (ack !== undefined && ack.pending !== true)) return;
    this.host.app.acks[messageKey] = { by: this.me, at: Date.now(), pending: true };
    this.host.store();
    await this.flushAcks();
  }

  /** Sends the acknowledgements waiting for the connection. */
  async flushAcks(): Promise<void> {
    if (this.flushing || this.host.client.state !== 'online') return;
    this.flushing = true;
    const acks = this.host.app.acks;
    try {
      for (const m of [...this.messages()]) {
        const k = keyOf(m);
        if (acks[k]?.pending !== true || m.content.type === 'recalled') continue;
        try {
          const r = await this.host.client.acknowledge(m.from, m.messageId);
          if (acks[k]?.pending === true) acks[k] = { by: this.me, at: r.acknowledgedAt };
        } catch (e) {
          if (!(e instanceof ServerError) || e.code === 'rate_limited' || e.code === 'storage_unavailable') break; // offline or busy: again at the next connection
          const name = this.host.nameOf(m.from);
          if (e.code === 'not_found') {
            acks[k] = { by: this.me, at: Date.now() }; // recalled (its recall is on its way): stop alerting
            this.host.problem(`${name}'s message to the team can no longer be acknowledged: it was recalled. Contact ${name} directly if it still needs an answer.`);
          } else {
            delete acks[k];
            this.host.problem(`The acknowledgement was refused (${e.message}): try again, or contact ${name} directly.`);
          }
        }
      }
    } finally {
      this.flushing = false;
      this.host.store();
    }
  }

  // ---- recall -----------------------------------------------------------------------

  /** `sender`'s recall: their team messages' copies are deleted (placeholders kept) with their files; whether any was. */
  applyRecall(sender: string, ids: readonly string[]): boolean {
    const deleted = this.host.core.recall(sender, ids);
    for (const m of deleted) {
      delete this.host.app.acks[keyOf(m)];
      this.host.forgetFile(keyOf(m));
    }
    return deleted.length > 0;
  }

  /** Recalls our team message: the server deletes what it still holds, then every member it went to is told to delete their copy. */
  async recall(messageKey: string): Promise<RecallOutcome> {
    const m = this.find(messageKey);
    if (m === undefined || m.from !== this.me || m.content.type === 'recalled') return { ok: false, text: 'This message cannot be recalled.' };
    if (this.host.client.state !== 'online') return { ok: false, text: 'Recalling needs the connection: try again once Curbside shows Online.' };
    const team = this.host.core.get(m.teamId);
    const recipients = this.host.app.recipients[m.messageId] ?? (team?.members ?? []).filter((u) => u !== this.me);
    try {
      const r = await this.host.client.recall(m.messageId, recipients);
      this.applyRecall(this.me, [m.messageId]);
      applyRecall(this.host.state, this.me, [m.messageId]); // remembered: a late copy is dropped
      this.host.store();
      return {
        ok: true,
        text: r.undelivered > 0 ? `Recalled: ${r.undelivered === 1 ? 'a copy that had' : `${r.undelivered} copies that had`} not been delivered yet ${r.undelivered === 1 ? 'was' : 'were'} deleted from the server, and every member's devices are told to delete theirs.` : "Recalled: every member's devices are told to delete it.",
      };
    } catch (e) {
      const code = e instanceof ServerError ? e.code : undefined;
      const allowed = durationWords(this.host.state.policy?.recallWindowSecs ?? DEFAULT_RECALL_WINDOW_SECS);
      if (code === 'recall_window_passed') return { ok: false, text: `Too late to recall: your organisation allows recalling for ${allowed} after sending. Ask the team to disregard it.` };
      if (code === 'not_found') return { ok: false, text: 'The server no longer has this message (it expired): ask the team to disregard it.' };
      return { ok: false, text: 'The recall could not be sent: check your connection and try again.' };
    }
  }

  /** After the retention purge: the acknowledgements of messages no longer kept go too. */
  forgetGone(): void {
    const kept = new Set([...this.messages()].map(keyOf));
    for (const k of Object.keys(this.host.app.acks)) if (!kept.has(k)) delete this.host.app.acks[k];
  }
}
