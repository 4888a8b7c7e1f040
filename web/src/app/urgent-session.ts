/**
 * Urgent messages, recall and the retention policy in an unlocked session
 * (over `./urgent.ts`'s pure state functions): sending with a priority and
 * an escalation, acknowledging (the `acknowledge` request, then the end to
 * end encrypted content; kept and sent again after a reconnection if the
 * connection was down), alerting again every {@link ALERT_INTERVAL_MS}
 * while a received urgent or stat message is open, recalling our own
 * messages, and the organisation's policy read at each connection and on
 * `policy_changed`, with the history older than its retention purged.
 */

import type { Client, SendOptions, SendOutcome } from '../client/client.js';
import { ServerError } from '../protocol/errors.js';
import type { MessagePriority, PolicyJson } from '../protocol/frames.js';
import { durationWords, type AppState, type Body, type StoredMessage } from './state.js';
import { ALERT_INTERVAL_MS, applyRecall, DEFAULT_RECALL_WINDOW_SECS, openAlerts, pendingAcks, policyFromJSON, policyWords, purgeRetention, timerRefusal, type OpenAlert } from './urgent.js';
import { urgentAlert, type UrgentAlert } from './urgent-views.js';

/** How a message is sent from the composer: its priority and, for urgent or stat, an escalation. */
export interface UrgentOptions {
  readonly priority: MessagePriority;
  /** A backup clinician (user id) and the delay (s). */
  readonly escalation?: { readonly backup: string; readonly afterSecs: number };
}

export type UrgentResult = 'sent' | 'queued' | 'confirm' | 'failed';

/** What the session gives. */
export interface UrgentHost {
  readonly client: Client;
  readonly state: AppState;
  persist(): Promise<void>;
  changed(): void;
  problem(text: string): void;
  /** Alerts again (a notification where the browser allows, and the in-app alert). */
  alert(title: string, body: string): void;
  nameOf(user: string): string;
  /** Asks the directory for a user's name (once a session). */
  lookUp(user: string): void;
  /** The session's send: the message stored as ours (with `extra`), then sent through the outbox. */
  sendContent(peer: string, body: Body, send: (id: string) => Promise<{ outcome: SendOutcome }>, confirmed: boolean, extra: Partial<StoredMessage>): Promise<UrgentResult>;
  /** Decrypted files of these messages leave memory. */
  forgetFiles(keys: readonly string[]): void;
  /** The care teams' urgent messages (`./team-urgent.ts`): they alert with the colleagues' and their acknowledgements wait for the connection too. */
  others?(): UrgentSource | undefined;
}

/** Urgent messages kept elsewhere than the colleagues' conversations. */
export interface UrgentSource {
  /** Those waiting for this user's acknowledgement. */
  alerting(): OpenAlert[];
  /** Sends the acknowledgements waiting for the connection. */
  flushAcks(): Promise<void>;
}

/** Whom a recall of our message `m` (kept in `peer`'s conversation) tells: every holder it went to for a message to an on-call role, else `peer`. */
export function recallRecipients(m: StoredMessage, peer: string): string[] {
  const to = m.oncall?.to ?? [];
  return to.length > 0 ? [...new Set(to)] : [peer];
}

/** "Dr. A", "Dr. A and Dr. B", "Dr. A, Dr. B and Dr. C". */
export function namesWords(names: readonly string[]): string {
  if (names.length <= 1) return names[0] ?? '';
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1] as string}`;
}

/** A recall's outcome, in words. */
export interface RecallOutcome {
  readonly ok: boolean;
  readonly text: string;
}

export class SessionUrgent {
  private lastAlert: number | undefined;
  private lastTick: number | undefined;
  private alertCount = 0;
  private flushing = false;

  constructor(private readonly host: UrgentHost) {}

  private get me(): string {
    return this.host.state.me.userId;
  }

  private find(peer: string, key: string): StoredMessage | undefined {
    return this.host.state.conversations[peer]?.messages.find((m) => `${m.from}:${m.id}` === key);
  }

  private store(): void {
    void this.host.persist().catch(() => undefined);
    this.host.changed();
  }

  /** The in-app alert while a received urgent or stat message waits for this user's acknowledgement. */
  get alert(): UrgentAlert | undefined {
    return urgentAlert(this.host.state, (u) => this.host.nameOf(u), this.alertCount, this.host.others?.()?.alerting() ?? []);
  }

  /** The organisation's retention policy in words (empty until first read). */
  get policyWords(): string {
    return policyWords(this.host.state.policy);
  }

  /** Whether the organisation deletes messages after a maximum lifespan (the conversation header says so only then). */
  get retentionLimited(): boolean {
    return (this.host.state.policy?.retentionSecs ?? null) !== null;
  }

  /** Why a conversation timer of `seconds` is refused (longer than the retention), if it is. */
  timerRefusal(seconds: number | null): string | undefined {
    return timerRefusal(this.host.state.policy, seconds);
  }

  // ---- sending ------------------------------------------------------------------

  /** Sends text with a priority (and an escalation for urgent or stat). */
  sendText(peer: string, text: string, options: UrgentOptions, confirmed = false): Promise<UrgentResult> {
    const opts: SendOptions = { priority: options.priority };
    const extra: Partial<StoredMessage> = {};
    if (options.priority !== 'routine') {
      extra.priority = options.priority;
      if (options.escalation !== undefined && options.escalation.backup !== peer) {
        opts.escalation = { backup: options.escalation.backup, afterSecs: options.escalation.afterSecs };
        extra.escalation = { backup: options.escalation.backup, afterSecs: options.escalation.afterSecs };
        this.host.lookUp(options.escalation.backup); // the backup by name in "escalates to …"
      }
    }
    return this.host.sendContent(peer, { type: 'text', text }, (id) => this.host.client.sendText([peer], text, id, opts), confirmed, extra);
  }

  /** The server accepted one of our messages: the recall window and an escalation's deadline count from then. */
  accepted(id: string, at: number): void {
    for (const c of Object.values(this.host.state.conversations)) {
      for (const m of c.messages) if (m.from === this.me && m.id === id) m.acceptedAt = at;
    }
  }

  // ---- acknowledging -----------------------------------------------------------------

  /** Acknowledges a colleague's urgent or stat message: alerting stops here at once; the server and the sender are told now, or after the connection is back. */
  async acknowledge(peer: string, key: string): Promise<void> {
    const m = this.find(peer, key);
    if (m === undefined || m.from === this.me || m.priority === undefined || (m.ack !== undefined && m.ack.pending !== true)) return;
    m.ack = { by: this.me, at: Date.now(), pending: true };
    this.store();
    await this.flushAcks();
  }

  /** Sends the acknowledgements waiting for the connection. */
  async flushAcks(): Promise<void> {
    if (this.flushing || this.host.client.state !== 'online') return;
    this.flushing = true;
    try {
      for (const { message: m } of pendingAcks(this.host.state)) {
        try {
          const r = await this.host.client.acknowledge(m.from, m.id);
          m.ack = { by: this.me, at: r.acknowledgedAt };
        } catch (e) {
          if (!(e instanceof ServerError) || e.code === 'rate_limited' || e.code === 'storage_unavailable') break; // offline or busy: again at the next connection
          delete m.ack;
          if (e.code === 'not_found') {
            m.ack = { by: this.me, at: Date.now() }; // recalled (its recall is on its way) or not ours to acknowledge: stop alerting
            this.host.problem(`${this.host.nameOf(m.from)}'s message can no longer be acknowledged: it was recalled. Contact ${this.host.nameOf(m.from)} directly if it still needs an answer.`);
          } else {
            this.host.problem(`The acknowledgement was refused (${e.message}): try again, or contact ${this.host.nameOf(m.from)} directly.`);
          }
        }
      }
    } finally {
      this.flushing = false;
      this.store();
    }
  }

  /** Called every second: the retention purge, the open urgent messages alerting again at their interval, our escalations' deadlines passing. */
  tick(now: number): void {
    const last = this.lastTick ?? now;
    this.lastTick = now;
    for (const c of Object.values(this.host.state.conversations)) {
      for (const m of c.messages) {
        if (m.from !== this.me || m.escalation === undefined || m.ack !== undefined) continue;
        const due = (m.acceptedAt ?? m.at) + m.escalation.afterSecs * 1000;
        if (due > last && due <= now) this.host.changed(); // "escalates at" becomes "escalated at"
      }
    }
    const deleted = purgeRetention(this.host.state, now);
    if (deleted.length > 0) {
      this.host.forgetFiles(deleted);
      this.store();
    }
    const open = openAlerts(this.host.state, this.host.others?.()?.alerting() ?? []);
    if (open.length === 0) {
      this.lastAlert = undefined;
      return;
    }
    if (this.lastAlert === undefined) this.lastAlert = now; // the arrival itself notified
    if (now - this.lastAlert < ALERT_INTERVAL_MS) return;
    this.lastAlert = now;
    this.alertCount++;
    const first = open[0] as OpenAlert;
    this.host.alert(
      first.priority === 'stat' ? 'STAT message waiting' : 'Urgent message waiting',
      open.length === 1 ? 'An urgent secure message is waiting for your acknowledgement.' : `${open.length} urgent secure messages are waiting for your acknowledgement.`,
    );
    this.host.changed();
  }

  // ---- recall -----------------------------------------------------------------------

  /** Recalls our message: the server deletes what it still holds, then every recipient device (and the backup's) is told to delete its copy. */
  async recall(peer: string, key: string): Promise<RecallOutcome> {
    const m = this.find(peer, key);
    if (m === undefined || m.from !== this.me || m.body.type === 'recalled') return { ok: false, text: 'This message cannot be recalled.' };
    // A message to an on-call role went to every holder at send time (one copy in each one's conversation): each is told.
    const to = recallRecipients(m, peer);
    const name = namesWords(to.map((u) => this.host.nameOf(u)));
    if (this.host.client.state !== 'online') return { ok: false, text: 'Recalling needs the connection: try again once Curbside shows Online.' };
    const recipients = [...to, ...(m.escalation !== undefined && !to.includes(m.escalation.backup) ? [m.escalation.backup] : [])];
    try {
      const r = await this.host.client.recall(m.id, recipients);
      const deleted = applyRecall(this.host.state, this.me, [m.id]);
      this.host.forgetFiles(deleted);
      this.store();
      return {
        ok: true,
        text: r.undelivered > 0 ? `Recalled: it had not reached ${name} yet and was deleted from the server.` : `Recalled: the devices of ${name} are told to delete it.`,
      };
    } catch (e) {
      const code = e instanceof ServerError ? e.code : undefined;
      const allowed = durationWords(this.host.state.policy?.recallWindowSecs ?? DEFAULT_RECALL_WINDOW_SECS);
      if (code === 'recall_window_passed') return { ok: false, text: `Too late to recall: your organisation allows recalling for ${allowed} after sending. Ask ${name} to disregard it.` };
      if (code === 'not_found') return { ok: false, text: `The server no longer has this message (it expired): ask ${name} to disregard it.` };
      return { ok: false, text: 'The recall could not be sent: check your connection and try again.' };
    }
  }

  // ---- the policy ---------------------------------------------------------------------

  /** At each connection: the policy, then the acknowledgements that waited. */
  async online(): Promise<void> {
    for (const c of Object.values(this.host.state.conversations)) for (const m of c.messages) if (m.escalation !== undefined) this.host.lookUp(m.escalation.backup);
    await this.readPolicy();
    await this.flushAcks();
    await this.host.others?.()?.flushAcks();
  }

  async readPolicy(): Promise<void> {
    try {
      this.setPolicy(await this.host.client.policy());
    } catch {
      /* read again at the next connection; the last one known stays in effect */
    }
  }

  /** `policy_changed`, or the answer of `GET /v1/policy`. */
  setPolicy(p: PolicyJson): void {
    this.host.state.policy = policyFromJSON(p);
    this.tick(Date.now());
    this.store();
  }
}
