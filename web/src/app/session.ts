/**
 * An unlocked session: the {@link Client}, the account and the application
 * state, kept in the sealed store. Every change is written (account,
 * outbox and state in one transaction) before a received message is
 * acknowledged (the client acknowledges once `onMessage` resolved), and
 * after each send changed the ratchet. Dropped whole at lock.
 */

import type { Account } from '../client/account.js';
import { downloadAttachment, uploadAttachment } from '../client/attachments.js';
import { Client, type ClientStateJSON, type ConnectionState, type DeliveryReceipt, type Received, type SendOutcome } from '../client/client.js';
import type { Content } from '../client/content.js';
import { newMessageId } from '../client/outbox.js';
import { systemRandom } from '../crypto/primitives.js';
import type { DirectoryEntry } from '../protocol/frames.js';
import type { BlobLike } from '../protocol/platform.js';
import type { Vault } from './ports.js';
import { fillOwnProfile } from './device-link.js';
import { explain } from './explain.js';
import { applyReceived } from './receive.js';
import { SessionReferrals } from './referrals.js';
import { SessionTeams } from './teams.js';
import { SessionUrgent } from './urgent-session.js';
import { SessionConsults } from './consult-session.js';
import { SessionOnCall } from './oncall-session.js';
import { timerRefusal } from './urgent.js';
import { addMessage, conversation, purgeExpired, raiseStatus, setTimer, type AppState, type Body, type StoredMessage } from './state.js';
import { keySetFingerprint, identityKeysOf, qrModules, safetyNumber, trustOf, type Trust } from './trust.js';
import { mimeOf, personView, type Clinician, type LinkState, type SafetyView } from './views.js';

/** What the session tells the model. */
export interface SessionEvents {
  changed(): void;
  /** A message from a colleague arrived (the model notifies if the tab is hidden). */
  arrived(): void;
  /** A referral's news (`./referral-notices.ts`; the model notifies if the tab is hidden). */ notify?(title: string, body: string, tag: string): void;
  /** An open urgent message alerts again (`./urgent-session.ts`; the model notifies even while the page is shown). */ alert?(title: string, body: string): void;
  /** A problem to show the user, in words that say what to do. */
  problem(text: string): void;
  /** An on-call role this user held or now holds changed hands (`./oncall-notices.ts`): a notice, and a notification even while the page is shown. */ oncall?(text: string): void;
  /** The server refused this device for good (revoked, or the account deactivated): `./device-link.ts`'s lock-out. */ lockedOut?(reason: 'revoked' | 'deactivated'): void;
}

export type SendResult = 'sent' | 'queued' | 'confirm' | 'failed';

export class Session {
  readonly client: Client;
  readonly referrals: SessionReferrals;
  readonly teams: SessionTeams;
  readonly urgent: SessionUrgent;
  /** On-call roles (`./oncall-session.ts`) and curbside consults (`./consult-session.ts`). */ readonly oncall: SessionOnCall;
  readonly consults: SessionConsults;
  private writing: Promise<void> = Promise.resolve();
  private link: LinkState = 'connecting';
  private everOnline = false;
  private asked = new Set<string>();
  private open: string | undefined;
  private visible = true;
  private readonly files = new Map<string, Promise<Blob>>();
  private purgeTimer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly vault: Vault,
    readonly account: Account,
    clientState: ClientStateJSON,
    readonly state: AppState,
    private readonly events: SessionEvents,
  ) {
    this.client = new Client(account, {
      state: clientState,
      onMessage: (r) => this.onMessage(r),
      onReceipt: (r) => this.onReceipt(r),
      onState: (s) => this.onState(s),
      onSent: (id, outcome, error) => this.onSent(id, outcome, error),
      onReferralUpdated: (r) => this.referrals.onUpdated(r),
      onAccepted: (id, at) => this.urgent.accepted(id, at),
      onPolicyChanged: (p) => this.urgent.setPolicy(p),
      onOnCallChanged: (r) => this.oncall.onChanged(r),
    });
    this.referrals = new SessionReferrals({ client: this.client, state, persist: () => this.persist(), changed: () => this.changed(), lookUp: (u) => this.lookUp(u), search: (q) => this.search(q), notify: (t, b, tag) => this.events.notify?.(t, b, tag) });
    this.urgent = new SessionUrgent({ client: this.client, state, persist: () => this.persist(), changed: () => this.changed(), problem: (t) => events.problem(t), alert: (t, b) => events.alert?.(t, b), nameOf: (u) => personView(state, u).name, lookUp: (u) => this.lookUp(u), sendContent: (...a) => this.sendContent(...a), forgetFiles: (keys) => keys.forEach((k) => this.files.delete(k)), others: () => this.teams.urgent });
    this.oncall = new SessionOnCall({ client: this.client, state, persist: () => this.persist(), changed: () => this.changed(), problem: (t) => events.problem(t), trust: (u) => this.trust(u), tell: (t) => (events.oncall ?? events.problem)(t) });
    this.consults = new SessionConsults({ client: this.client, state, persist: () => this.persist(), changed: () => this.changed(), lookUp: (u) => this.lookUp(u), nameOf: (u) => personView(state, u).name, notify: (t, b, tag) => this.events.notify?.(t, b, tag) });
    this.teams = new SessionTeams({ client: this.client, state, persist: () => this.persist(), changed: () => this.changed(), lookUp: (u) => this.lookUp(u), arrived: () => events.arrived(), problem: (t) => events.problem(t), trust: (u) => this.trust(u), explain });
  }

  get me(): string {
    return this.state.me.userId;
  }

  get linkState(): LinkState {
    return this.link;
  }

  start(): void {
    this.client.start();
    this.purgeTimer = setInterval(() => this.purge(), 1000);
    this.purge();
    for (const peer of Object.keys(this.state.conversations)) this.lookUp(peer);
  }

  /** Stops the connection, writes the state a last time and wipes the store's key. */
  async stop(): Promise<void> {
    if (this.purgeTimer !== undefined) clearInterval(this.purgeTimer);
    this.client.stop();
    await this.persist().catch(() => undefined);
    this.files.clear();
    this.vault.close();
  }

  /** Writes the account, the outbox and the state in one sealed transaction (writes are serialized). */
  persist(): Promise<void> {
    const run = this.writing.then(() =>
      this.vault.write({ account: this.account.toJSON(), client: this.client.stateJSON(), state: this.teams.save() }),
    );
    this.writing = run.catch(() => undefined);
    return run;
  }

  private changed(): void { this.events.changed(); }

  // ---- the client's callbacks ------------------------------------------------

  private async onMessage(r: Received): Promise<void> {
    this.referrals.applyMessage(r);
    this.consults.apply(r);
    const team = this.teams.apply(r);
    const effect = applyReceived(this.state, r);
    for (const k of effect.deleted ?? []) this.files.delete(k);
    try {
      await this.persist();
    } catch (e) {
      this.events.problem('Could not save a message on this device (is the disk full?): it will come again.');
      throw e;
    }
    if (effect.peer !== undefined) this.lookUp(effect.peer);
    this.lookUp(r.sender.user_id); // by name: a colleague who acknowledged a message we hold, say
    if (effect.incoming) {
      this.events.arrived();
      if (effect.peer !== undefined && this.oncall.peersShown(this.open).includes(effect.peer)) void this.markRead(effect.peer);
    }
    this.teams.stored(team); // notifies, and reads it at once if shown
    this.changed();
  }

  private onReceipt(r: DeliveryReceipt): void {
    if (r.recipient.user_id === this.me || this.teams.noteReceipt(r)) return; // our own other device; a team message
    const c = this.state.conversations[r.recipient.user_id];
    if (c !== undefined && raiseStatus(c, this.me, [r.messageId], 'delivered')) {
      void this.persist().catch(() => undefined);
      this.changed();
    }
  }

  private onState(s: ConnectionState): void {
    if (s === 'online') {
      this.everOnline = true;
      this.link = 'online';
      void this.referrals.sync();
      void this.urgent.online();
      void this.oncall.online().then(() => this.consults.sync());
      // A linked device's own name, from the directory (`./device-link.ts`).
      if (this.state.me.name === '') void fillOwnProfile(this.client, this.state).then(async (found) => found && (await this.persist(), this.changed())).catch(() => undefined);
    } else if (s === 'connecting') {
      this.link = this.everOnline ? 'reconnecting' : 'connecting';
    } else if (s === 'offline') {
      this.link = 'reconnecting';
    } else {
      this.link = 'offline';
      const code = (this.client.error as { code?: unknown } | undefined)?.code;
      if (s === 'failed' && (code === 'device_revoked' || code === 'user_deactivated') && this.events.lockedOut) this.events.lockedOut(code === 'device_revoked' ? 'revoked' : 'deactivated');
      else if (s === 'failed') this.events.problem(explain(this.client.error, true));
    }
    this.changed();
  }

  private onSent(id: string, outcome: SendOutcome | 'refused', error?: Error): void {
    if (this.teams.noteSent(id, outcome, error) || this.oncall.noteSent(id, outcome, error)) return;
    for (const c of Object.values(this.state.conversations)) {
      const m = c.messages.find((x) => x.id === id && x.from === this.me);
      if (m === undefined) continue;
      if (outcome === 'refused') {
        m.status = 'failed';
        m.error = explain(error);
      } else if (outcome !== 'queued') {
        raiseStatus(c, this.me, [id], 'sent');
      }
    }
    void this.persist().catch(() => undefined);
    this.changed();
  }

  private purge(): void {
    this.urgent.tick(Date.now());
    for (const kept of [this.teams, this.consults]) kept.retain(Date.now()); // the retention: team messages, consults' images
    if (purgeExpired(this.state, Date.now()) > 0) {
      void this.persist().catch(() => undefined);
      this.changed();
    }
  }

  // ---- people ---------------------------------------------------------------

  /** Asks the directory for a colleague's name once per session (users see names, not ids). */
  lookUp(user: string): void {
    if (user === this.me || this.asked.has(user)) return;
    const known = this.state.people[user];
    if (known?.listed) return;
    this.asked.add(user);
    this.client
      .directory({ user_id: user })
      .then((entries) => {
        const e = entries.find((x) => x.user_id === user);
        this.state.people[user] = e
          ? { name: e.display_name, specialty: e.specialty, npi: e.npi, listed: true }
          : { name: '', specialty: '', npi: '', listed: false };
        void this.persist().catch(() => undefined);
        this.changed();
      })
      .catch(() => this.asked.delete(user)); // asked again at the next message or unlock
  }

  /** Verified clinicians whose name contains `query`, or whose specialty is `query` (the user excluded). */
  async search(query: string): Promise<Clinician[]> {
    const q = query.trim();
    if (q === '') return [];
    const online = this.client.state === 'online';
    const [byName, bySpecialty] = await Promise.all([
      online ? this.client.searchDirectory(q, null) : this.client.directory({ name: q }),
      online ? this.client.searchDirectory(null, q) : this.client.directory({ specialty: q }),
    ]);
    const seen = new Map<string, DirectoryEntry>();
    for (const e of [...byName, ...bySpecialty]) if (e.user_id !== this.me) seen.set(e.user_id, e);
    return [...seen.values()].map((e) => ({ key: e.user_id, name: e.display_name, specialty: e.specialty, npi: e.npi }));
  }

  /** Opens (creating if new) a conversation with a clinician from the directory. */
  startWith(c: Clinician): void {
    this.state.people[c.key] = { name: c.name, specialty: c.specialty, npi: c.npi, listed: true };
    conversation(this.state, c.key);
    void this.persist().catch(() => undefined);
    this.changed();
  }

  // ---- reading ------------------------------------------------------------------

  /** The conversation the user sees (`undefined`: none), and whether the tab is visible. */
  setOpen(peer: string | undefined, visible: boolean): void {
    this.open = visible ? peer : undefined;
    this.visible = visible;
    this.teams.setOpen(peer, visible);
    for (const p of this.oncall.peersShown(this.open)) void this.markRead(p);
  }

  /** Sends read receipts for what the user now sees, and clears the unread count. */
  private async markRead(peer: string): Promise<void> {
    const c = this.state.conversations[peer];
    if (c === undefined || !this.visible) return;
    const ids = c.messages.filter((m) => m.from === peer && m.status === 'received' && m.readSent !== true).map((m) => m.id);
    if (ids.length === 0 && c.unread === 0) return;
    for (const m of c.messages) if (ids.includes(m.id) && m.from === peer) m.readSent = true;
    c.unread = 0;
    this.changed();
    if (ids.length > 0) {
      const sending = this.client.sendReadReceipt([peer], ids);
      sending.catch(() => undefined);
      await this.persist().catch(() => undefined);
      await sending.catch(() => undefined);
    }
    await this.persist().catch(() => undefined);
  }

  // ---- sending --------------------------------------------------------------------

  trust(peer: string): Trust {
    return trustOf(this.account, peer, this.state.conversations[peer]?.verifiedKeys ?? null);
  }

  /** Sends text; `'confirm'` (nothing sent) if the colleague's keys changed since verified and the user did not confirm. */
  sendText(peer: string, text: string, confirmed = false): Promise<SendResult> {
    return this.sendContent(peer, { type: 'text', text }, (id) => this.client.sendText([peer], text, id), confirmed);
  }

  /** Encrypts and uploads a file in this browser, then sends its reference. */
  async sendFile(peer: string, file: Blob, name: string, confirmed = false): Promise<SendResult> {
    if (!confirmed && this.trust(peer) === 'changed') return 'confirm';
    let uploaded;
    try {
      uploaded = await uploadAttachment(this.client.http, file as unknown as BlobLike, name.replace(/^.*[\\/]/, '') || 'file', systemRandom);
    } catch (e) {
      this.events.problem(`The file could not be uploaded: ${explain(e)}`);
      return 'failed';
    }
    const ref = uploaded.file;
    return this.sendContent(peer, { type: 'attachment', file: ref }, (id) => this.client.sendAttachment([peer], ref, id), true);
  }

  /** Sets or turns off the conversation's disappearing-message timer, for both sides (the CLI's `timer`). */
  setTimer(peer: string, seconds: number | null): Promise<SendResult> {
    const refused = timerRefusal(this.state.policy, seconds);
    if (refused !== undefined) return Promise.resolve((this.events.problem(refused), 'failed'));
    const c = conversation(this.state, peer);
    setTimer(c, seconds, Date.now());
    const content: Content = { type: 'timer', to: [peer], seconds };
    return this.sendContent(peer, { type: 'timer', seconds }, (id) => this.client.send([peer], 'control', content, id), true);
  }

  /** Sends a message that was refused again, under a new id (`'confirm'`: the colleague's keys changed; ask first). */
  retry(peer: string, key: string, confirmed = false): Promise<SendResult> {
    const c = this.state.conversations[peer];
    const i = c?.messages.findIndex((m) => `${m.from}:${m.id}` === key && m.status === 'failed') ?? -1;
    if (c === undefined || i < 0) return Promise.resolve('failed');
    if (!confirmed && this.trust(peer) === 'changed') return Promise.resolve('confirm');
    const [m] = c.messages.splice(i, 1) as [StoredMessage];
    const body = m.body;
    switch (body.type) {
      case 'text': // an urgent one stays urgent, with its escalation
        return m.priority === undefined ? this.sendText(peer, body.text, true) : this.urgent.sendText(peer, body.text, { priority: m.priority, ...(m.escalation ? { escalation: m.escalation } : {}) }, true);
      case 'attachment':
        return this.sendContent(peer, body, (id) => this.client.sendAttachment([peer], body.file, id), true);
      case 'timer':
        return this.setTimer(peer, body.seconds);
      default:
        return Promise.resolve('failed');
    }
  }

  /** Stores our message (with `extra`: its priority, its escalation), then sends it through the outbox. */
  async sendContent(peer: string, body: Body, send: (id: string) => Promise<{ outcome: SendOutcome }>, confirmed: boolean, extra: Partial<StoredMessage> = {}): Promise<SendResult> {
    if (!confirmed && this.trust(peer) === 'changed') return 'confirm';
    const id = newMessageId(systemRandom);
    const c = conversation(this.state, peer);
    const m: StoredMessage = { ...extra, id, from: this.me, at: Date.now(), body, status: 'queued' };
    addMessage(c, m);
    this.changed();
    const sending = send(id); // in the outbox from here on
    sending.catch(() => undefined); // handled below, after the write (not an unhandled rejection meanwhile)
    await this.persist().catch(() => undefined);
    let result: SendResult;
    try {
      const { outcome } = await sending;
      if (outcome === 'queued') result = 'queued';
      else {
        raiseStatus(c, this.me, [id], 'sent');
        result = 'sent';
      }
    } catch (e) {
      m.status = 'failed';
      m.error = explain(e);
      result = 'failed';
    }
    await this.persist().catch(() => undefined);
    this.changed();
    return result;
  }

  // ---- safety numbers ---------------------------------------------------------------

  /** The safety number with `peer` (their keys fetched first if none is known); `undefined` if they have no device. */
  async safety(peer: string): Promise<SafetyView | undefined> {
    if (identityKeysOf(this.account, peer).length === 0) {
      await this.client.ensureSessions(peer);
      await this.persist().catch(() => undefined);
    }
    const n = safetyNumber(this.account, peer);
    if (n === undefined) return undefined;
    return {
      name: personView(this.state, peer).name,
      digits: n.digits,
      groups: n.groups(),
      qr: qrModules(n.digits),
      trust: this.trust(peer),
      devices: identityKeysOf(this.account, peer).length,
    };
  }

  /** The user compared the numbers: pin the colleague's current keys. */
  async confirmSafety(peer: string): Promise<void> {
    conversation(this.state, peer).verifiedKeys = keySetFingerprint(identityKeysOf(this.account, peer));
    await this.persist();
    this.changed();
  }

  // ---- attachments ------------------------------------------------------------------

  /** A received or sent file, downloaded and decrypted (every chunk, the digest and the size verified). */
  file(peer: string, key: string): Promise<Blob> {
    const cached = this.files.get(key);
    if (cached !== undefined) return cached;
    const m = this.state.conversations[peer]?.messages.find((x) => `${x.from}:${x.id}` === key);
    if (m === undefined || m.body.type !== 'attachment') return Promise.reject(new Error('no such file'));
    const ref = m.body.file;
    const p = downloadAttachment(this.client.http, ref, { as: 'blob' }).then((b) => new Blob([b as Blob], { type: mimeOf(ref.name) }));
    this.files.set(key, p);
    p.catch(() => this.files.delete(key));
    return p;
  }
}
