/**
 * The protocol client (PROTOCOL.md; `client/src/client/`): one device's
 * connection kept up with backoff, sends to every device of the recipients
 * and to our own other devices (`stale_devices` handled), an outbox resent
 * under the same message ids, receive with duplicate suppression and
 * acknowledgement after the caller persisted, delivery receipts, prekey
 * replenishing and the directory.
 *
 * Nothing here logs: errors carry codes and ids, never keys, tokens or content.
 */

import { CryptoError } from '../crypto/errors.js';
import { encodeMessage } from '../crypto/message.js';
import { systemRandom, type RandomSource } from '../crypto/primitives.js';
import { fromBase64, toBase64 } from '../protocol/base64.js';
import { Connection, type CloseInfo } from '../protocol/connection.js';
import { isRetryable, ProtocolError, ServerError, TransportError } from '../protocol/errors.js';
import {
  retryAfterMs,
  staleDevices,
  type Address,
  type DirectoryEntry,
  type EnvelopeJson,
  type EscalationJson,
  type MessageKind,
  type MessagePriority,
  type PolicyJson,
  type ServerFrame,
} from '../protocol/frames.js';
import { DeviceHttp, HttpApi, type DirectoryQuery } from '../protocol/http.js';
import { setTimer, sleep, type FetchLike, type WebSocketFactory } from '../protocol/platform.js';
import { Account, addressKey, PREKEY_BATCH } from './account.js';
import { uploadAttachment, type AttachmentSource, type UploadOptions, type Uploaded } from './attachments.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { decodeContent, encodeContent, type AttachmentRef, type Content } from './content.js';
import { newMessageId, outgoingFromJSON, outgoingToJSON, type Outgoing, type StoredOutgoing } from './outbox.js';
import { Inbox, SeenKeys, type Received } from './receiving.js';
import { decryptFrom, openSessions } from './sessions.js';

export { SEEN_CAPACITY, type Received } from './receiving.js';

/** How a message is sent: its priority and, for urgent or stat, an escalation to a backup clinician. */
export interface SendOptions {
  priority?: MessagePriority;
  escalation?: { afterSecs: number; backup: string };
  /** To an on-call role (its id): `to` must be its holders now, else the send is refused with `holders_changed`. */
  role?: string;
  /** A curbside consult's question or answer (its id). */
  consult?: string;
}

/** A delivery receipt: a recipient device acknowledged a message. */
export interface DeliveryReceipt {
  readonly messageId: string;
  readonly recipient: Address;
  readonly deliveredAt: number;
}

export type SendOutcome = 'accepted' | 'duplicate' | 'queued';
export type ConnectionState = 'offline' | 'connecting' | 'online' | 'stopped' | 'failed';

export interface ClientOptions {
  webSocket?: WebSocketFactory;
  fetch?: FetchLike;
  rng?: RandomSource;
  backoff?: BackoffOptions;
  requestTimeoutMs?: number;
  /** The outbox and the remembered message ids from {@link Client.stateJSON}. */
  state?: ClientStateJSON;
  /**
   * Called for each received message; once it resolves (the caller stored the
   * message and the account), the delivery is acknowledged. Without it,
   * messages wait for {@link Client.nextMessage} and {@link Client.ack}.
   */
  onMessage?: (m: Received) => Promise<void>;
  onReceipt?: (r: DeliveryReceipt) => void;
  onState?: (s: ConnectionState, error?: Error) => void;
  /** A queued message was accepted later (or refused: `error`). */
  onSent?: (messageId: string, outcome: SendOutcome | 'refused', error?: Error) => void;
  onReferralUpdated?: (referral: Record<string, unknown>) => void;
  /** The server accepted a message (its acceptance time, for an escalation's deadline and the recall window). */
  onAccepted?: (messageId: string, acceptedAt: number) => void;
  /** `policy_changed`: the organisation's policy now in effect. */
  onPolicyChanged?: (policy: PolicyJson) => void;
  /** `oncall_changed`: a role this user held or now holds was handed off (the role unchecked: `parseRole`). */
  onOnCallChanged?: (role: Record<string, unknown>) => void;
}

/** The serializable client state besides the account (store it sealed: the outbox holds plaintext). */
export interface ClientStateJSON {
  outbox: StoredOutgoing[];
  seen: string[];
}

/** Errors that end the connection for good: reconnecting would not help. */
const TERMINAL = new Set(['auth_failed', 'device_revoked', 'unsupported_version', 'conflict', 'user_deactivated']);

type Waiter = { resolve: (o: SendOutcome) => void; reject: (e: Error) => void };

export class Client {
  readonly account: Account;
  readonly http: DeviceHttp;
  private readonly rng: RandomSource;
  private conn: Connection | undefined;
  private stateValue: ConnectionState = 'offline';
  private lastError: Error | undefined;
  private stopped = true;
  private readonly backoff: Backoff;
  private outbox: Outgoing[] = [];
  private readonly waiters = new Map<string, Waiter>();
  private readonly seen: SeenKeys;
  private readonly inbox = new Inbox();
  private lock: Promise<unknown> = Promise.resolve();
  private handlerChain: Promise<unknown> = Promise.resolve();
  private flushing = false;
  private stateWaiters: (() => void)[] = [];
  private wakeUp: (() => void) | undefined;
  /** Delivery receipts received so far. */
  readonly receipts: DeliveryReceipt[] = [];

  constructor(account: Account, private readonly opts: ClientOptions = {}) {
    this.account = account;
    this.rng = opts.rng ?? systemRandom;
    this.backoff = new Backoff(opts.backoff);
    const me = account.me;
    this.http = new DeviceHttp(
      new HttpApi({ url: account.server.url, ...(opts.fetch ? { fetch: opts.fetch } : {}) }),
      account.server.serverName,
      me,
      account.identity,
    );
    for (const o of opts.state?.outbox ?? []) this.outbox.push(outgoingFromJSON(o));
    this.seen = new SeenKeys(opts.state?.seen ?? []);
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  /** Why the client is `failed` (or the last connection attempt failed). */
  get error(): Error | undefined {
    return this.lastError;
  }

  /** Messages not yet accepted by the server, oldest first. */
  get pending(): readonly Outgoing[] {
    return this.outbox;
  }

  /** The outbox and remembered ids, for the sealed store (the account is `account.toJSON()`). */
  stateJSON(): ClientStateJSON {
    return { outbox: this.outbox.map(outgoingToJSON), seen: this.seen.toJSON() };
  }

  // ---- connection -------------------------------------------------------

  /** Starts connecting, and reconnecting with backoff whenever the connection is lost. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.run();
  }

  /** Closes the connection and stops reconnecting. */
  stop(): void {
    this.stopped = true;
    this.conn?.close();
    this.wakeUp?.();
    this.setState('stopped');
  }

  /** Drops the current connection (it is re-established with backoff), as a network failure would. */
  dropConnection(): void {
    this.conn?.close();
  }

  /** Resolves once online; rejects if the client failed or `timeoutMs` passed. */
  async waitOnline(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.stateValue !== 'online') {
      if (this.stateValue === 'failed') throw this.lastError ?? new TransportError('failed');
      const left = deadline - Date.now();
      if (left <= 0) throw new TransportError('not online in time');
      await new Promise<void>((resolve) => {
        const cancel = setTimer(resolve, left);
        this.stateWaiters.push(() => {
          cancel();
          resolve();
        });
      });
    }
  }

  private setState(s: ConnectionState, error?: Error): void {
    this.stateValue = s;
    if (error !== undefined) this.lastError = error;
    const w = this.stateWaiters;
    this.stateWaiters = [];
    for (const f of w) f();
    this.opts.onState?.(s, error);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      this.setState('connecting');
      let conn: Connection;
      try {
        conn = await Connection.connect({
          url: this.account.server.url,
          serverName: this.account.server.serverName,
          address: this.account.me,
          identity: this.account.identity,
          ...(this.opts.webSocket ? { webSocket: this.opts.webSocket } : {}),
          ...(this.opts.requestTimeoutMs ? { requestTimeoutMs: this.opts.requestTimeoutMs } : {}),
        });
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        if (e instanceof ServerError && TERMINAL.has(e.code)) {
          this.stopped = true;
          this.setState('failed', err);
          return;
        }
        this.setState('offline', err);
        await this.pause(this.backoff.next());
        continue;
      }
      if (this.stopped) {
        conn.close();
        break;
      }
      this.backoff.reset();
      const closed = new Promise<CloseInfo>((resolve) => {
        this.conn = conn;
        // After stop(), nothing more is taken in (a frame can still arrive while the socket closes): a delivery
        // not decrypted, remembered or acknowledged stays the server's, delivered again at the next connection.
        conn.listen((f) => {
          if (!this.stopped) this.onFrame(f);
        }, resolve);
      });
      this.setState('online');
      void this.afterConnect(conn);
      const info = await closed;
      this.conn = undefined;
      if (info.error !== undefined && TERMINAL.has(info.error.code)) {
        this.stopped = true;
        this.setState('failed', info.error);
        return;
      }
      if (this.stopped) break;
      this.setState('offline', info.error ?? new TransportError(`the connection closed (${info.code})`));
      await this.pause(this.backoff.next());
    }
    this.setState('stopped');
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const cancel = setTimer(() => {
        this.wakeUp = undefined;
        resolve();
      }, ms);
      this.wakeUp = () => {
        cancel();
        this.wakeUp = undefined;
        resolve();
      };
    });
  }

  private async afterConnect(conn: Connection): Promise<void> {
    try {
      if (conn.oneTimePrekeys < PREKEY_BATCH / 4) await this.replenishPrekeys();
    } catch {
      /* retried on the next prekeys_low or connection */
    }
    await this.flush();
  }

  /** Runs `f` after every account change before it (sends, prekeys) finished. */
  private exclusive<T>(f: () => Promise<T>): Promise<T> {
    const run = this.lock.then(f, f);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private online(): Connection {
    const c = this.conn;
    if (c === undefined || c.isClosed) throw new TransportError('offline');
    return c;
  }

  // ---- prekeys, bundles, directory ---------------------------------------

  /** Generates and uploads a batch of one-time prekeys; how many the server now holds. */
  replenishPrekeys(): Promise<number> {
    return this.exclusive(async () => {
      const conn = this.online();
      const keys = this.account.newOneTimePrekeys(PREKEY_BATCH, this.rng);
      const reply = await conn.request({ type: 'publish_prekeys', signed_prekey: null, one_time_prekeys: keys });
      if (reply.type !== 'prekeys_published') throw new ProtocolError(`expected prekeys_published, got ${reply.type}`);
      return reply.one_time_prekeys;
    });
  }

  /** Fetches `user`'s bundles (verifying them) and opens a session with each new device. */
  private async openSessionsWith(conn: Connection, user: string): Promise<number> {
    const reply = await conn.request({ type: 'fetch_bundles', user_id: user });
    if (reply.type !== 'bundles' || reply.user_id !== user) throw new ProtocolError('expected bundles');
    return openSessions(this.account, user, reply.devices, this.rng);
  }

  /**
   * Opens sessions with every device of `user` not yet known (fetching and
   * verifying their bundles), e.g. to show a safety number before the first
   * message; how many were opened.
   */
  ensureSessions(user: string): Promise<number> {
    return this.exclusive(() => this.openSessionsWith(this.online(), user));
  }

  /** `GET /v1/directory` with a session token of this device. */
  directory(query: DirectoryQuery): Promise<DirectoryEntry[]> {
    return this.http.directory(query);
  }

  /** `directory_search` over the WebSocket. */
  async searchDirectory(name: string | null, specialty: string | null): Promise<DirectoryEntry[]> {
    const reply = await this.online().request({ type: 'directory_search', name, specialty });
    if (reply.type !== 'directory_results') throw new ProtocolError('expected directory_results');
    return reply.clinicians;
  }

  // ---- sending -------------------------------------------------------------

  /** Sends a text message to `to` (user ids), routine unless `options` say otherwise. */
  sendText(to: string[], text: string, messageId?: string, options: SendOptions = {}): Promise<{ messageId: string; outcome: SendOutcome }> {
    return this.send(to, 'message', { type: 'text', to, text }, messageId, options);
  }

  /** Sends a reference to an uploaded attachment. */
  sendAttachment(to: string[], file: AttachmentRef, messageId?: string, options: SendOptions = {}): Promise<{ messageId: string; outcome: SendOutcome }> {
    return this.send(to, 'message', { type: 'attachment', to, file }, messageId, options);
  }

  /**
   * Acknowledges an urgent or stat message (`acknowledge` → `acknowledged`),
   * then tells its sender's devices, everyone in the answer's `also` (the
   * message's other recipients, and the backup once the escalation was
   * released: they stop alerting too) and our own other devices, end to end
   * encrypted (`{"type":"acknowledge"}`, kind `receipt`). Online only: a
   * refusal (`not_found`: recalled or never received) rejects with its
   * {@link ServerError}. `first`: this was the first acknowledgement;
   * `also`: who else was told.
   */
  async acknowledge(sender: string, messageId: string): Promise<{ acknowledgedAt: number; first: boolean; also: string[] }> {
    const reply = await this.online().request({ type: 'acknowledge', sender, message_id: messageId });
    if (reply.type !== 'acknowledged' || reply.message_id !== messageId) throw new ProtocolError(`expected acknowledged, got ${reply.type}`);
    const me = this.account.me.user_id;
    const also = [...new Set(reply.also)].filter((u) => u !== sender && u !== me);
    const sending = this.send([sender, ...also], 'receipt', { type: 'acknowledge', message_ids: [messageId] });
    sending.catch(() => undefined); // in the outbox: it goes when it can
    return { acknowledgedAt: reply.acknowledged_at, first: reply.first, also };
  }

  /**
   * Recalls a message this user sent (`recall` → `recalled`: the server
   * deletes its undelivered copies, held escalations too), then tells every
   * device of `recipients` (the backup included) and our own others to
   * delete their copy (`{"type":"recall"}`, kind `control`). Online only;
   * `recall_window_passed` and `not_found` reject with their {@link ServerError}.
   */
  async recall(messageId: string, recipients: string[]): Promise<{ undelivered: number }> {
    const reply = await this.online().request({ type: 'recall', message_id: messageId });
    if (reply.type !== 'recalled' || reply.message_id !== messageId) throw new ProtocolError(`expected recalled, got ${reply.type}`);
    const sending = this.send(recipients, 'control', { type: 'recall', message_ids: [messageId] });
    sending.catch(() => undefined);
    return { undelivered: reply.undelivered };
  }

  /** `GET /v1/policy`. */
  policy(): Promise<PolicyJson> {
    return this.http.policy();
  }

  /**
   * Encrypts and uploads a file, then sends its reference to `to` as the CLI
   * does (`curbside attach`). The upload happens first, online or not; the
   * message then goes through the outbox like any other.
   */
  async sendFile(
    to: string[],
    source: AttachmentSource,
    name: string,
    opts: UploadOptions & { messageId?: string } = {},
  ): Promise<{ messageId: string; outcome: SendOutcome; uploaded: Uploaded }> {
    const uploaded = await uploadAttachment(this.http, source, name, this.rng, opts);
    const sent = await this.sendAttachment(to, uploaded.file, opts.messageId);
    return { ...sent, uploaded };
  }

  /** Tells `to` (the senders) that these messages were read. */
  sendReadReceipt(to: string[], messageIds: string[]): Promise<{ messageId: string; outcome: SendOutcome }> {
    return this.send(to, 'receipt', { type: 'read', message_ids: messageIds });
  }

  /**
   * Puts a message in the outbox and sends it once every message before it
   * was. Resolves `accepted` / `duplicate` when the server committed it, or
   * `queued` if the connection is down (it is resent, same id, after
   * reconnecting); a refusal rejects with its {@link ServerError} and the
   * message leaves the outbox.
   */
  async send(to: string[], kind: MessageKind, content: Content, messageId?: string, options: SendOptions = {}): Promise<{ messageId: string; outcome: SendOutcome }> {
    const id = messageId ?? newMessageId(this.rng);
    if (this.outbox.some((o) => o.messageId === id)) throw new ProtocolError('this message id is already in the outbox');
    const priority = options.priority ?? 'routine';
    if (priority !== 'routine' && kind !== 'message') throw new ProtocolError('only a message of kind message has a priority');
    if (options.escalation !== undefined && priority === 'routine') throw new ProtocolError('only an urgent or stat message escalates');
    this.outbox.push({
      messageId: id,
      to: [...to],
      kind,
      plaintext: encodeContent(content),
      queuedAt: Date.now(),
      ...(priority !== 'routine' ? { priority } : {}),
      ...(options.escalation !== undefined ? { escalation: { ...options.escalation } } : {}),
      ...(options.role !== undefined ? { role: options.role } : {}),
      ...(options.consult !== undefined ? { consult: options.consult } : {}),
    });
    const outcome = new Promise<SendOutcome>((resolve, reject) => this.waiters.set(id, { resolve, reject }));
    if (this.stateValue !== 'online') this.settle(id, 'queued');
    void this.flush();
    return { messageId: id, outcome: await outcome };
  }

  private settle(id: string, outcome: SendOutcome | Error): void {
    const w = this.waiters.get(id);
    if (w === undefined) {
      if (outcome !== 'queued') {
        if (outcome instanceof Error) this.opts.onSent?.(id, 'refused', outcome);
        else this.opts.onSent?.(id, outcome);
      }
      return;
    }
    this.waiters.delete(id);
    if (outcome instanceof Error) w.reject(outcome);
    else w.resolve(outcome);
  }

  /** Sends the outbox in order while online. */
  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.outbox.length > 0 && this.stateValue === 'online') {
        const next = this.outbox[0] as Outgoing;
        try {
          const { duplicate, acceptedAt } = await this.exclusive(() => this.sendNow(next));
          this.outbox.shift();
          this.opts.onAccepted?.(next.messageId, acceptedAt);
          this.settle(next.messageId, duplicate ? 'duplicate' : 'accepted');
        } catch (e) {
          if (isRetryable(e)) {
            this.settle(next.messageId, 'queued');
            if (e instanceof ServerError) {
              // Storage trouble or a rate limit: try again a little later on this connection.
              const wait = retryAfterMs(e.details) ?? 1000;
              setTimer(() => void this.flush(), wait);
            }
            return;
          }
          this.outbox.shift();
          this.settle(next.messageId, e instanceof Error ? e : new Error(String(e)));
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /**
   * One send of `m` to every current device of its recipients and our own
   * others (and, for an escalation, of its backup: the same plaintext,
   * encrypted now to each of the backup's current devices, which the
   * server holds); whether it was a duplicate, and when it was accepted.
   */
  private async sendNow(m: Outgoing): Promise<{ duplicate: boolean; acceptedAt: number }> {
    const conn = this.online();
    const me = this.account.me;
    const users = new Set([...m.to, me.user_id]);
    const backup = m.escalation?.backup;
    for (let attempt = 0; attempt < 4; attempt++) {
      for (const user of backup === undefined ? users : [...users, backup]) {
        if (user !== me.user_id && this.account.knownDevices(user).length === 0) await this.openSessionsWith(conn, user);
      }
      const recipients: EnvelopeJson[] = [];
      const held: EnvelopeJson[] = [];
      for (const { address, session } of this.account.sessions.values()) {
        const forBackup = address.user_id === backup && !users.has(address.user_id);
        if ((!users.has(address.user_id) && !forBackup) || addressKey(address) === addressKey(me)) continue;
        (forBackup ? held : recipients).push({
          user_id: address.user_id,
          device_id: address.device_id,
          ciphertext: toBase64(encodeMessage(session.encrypt(m.plaintext))),
        });
      }
      if (recipients.length === 0) {
        throw new ServerError('not_found', `no device to send to: ${m.to.filter((u) => u !== me.user_id).join(', ')} has no active device`);
      }
      const escalation: EscalationJson | undefined =
        m.escalation === undefined ? undefined : { after_secs: m.escalation.afterSecs, backup: m.escalation.backup, recipients: held };
      try {
        const reply = await conn.request({
          type: 'send',
          message_id: m.messageId,
          kind: m.kind,
          recipients,
          ...(m.priority !== undefined && m.priority !== 'routine' ? { priority: m.priority } : {}),
          ...(escalation !== undefined ? { escalation } : {}),
          ...(m.role !== undefined ? { role: m.role } : {}),
          ...(m.consult !== undefined ? { consult: m.consult } : {}),
        });
        if (reply.type !== 'accepted' || reply.message_id !== m.messageId) throw new ProtocolError(`unexpected reply ${reply.type}`);
        return { duplicate: reply.duplicate, acceptedAt: reply.accepted_at };
      } catch (e) {
        const stale = e instanceof ServerError && e.code === 'stale_devices' ? staleDevices(e.details) : undefined;
        if (stale === undefined || attempt === 3) throw e;
        for (const a of stale.extra) this.account.dropSession(a);
        for (const user of new Set(stale.missing.map((a) => a.user_id))) await this.openSessionsWith(conn, user);
      }
    }
    throw new ProtocolError('the device list kept changing');
  }

  // ---- receiving -------------------------------------------------------------

  private onFrame(f: ServerFrame): void {
    switch (f.type) {
      case 'deliver':
        this.onDeliver(f);
        return;
      case 'delivered': {
        const r: DeliveryReceipt = { messageId: f.message_id, recipient: f.recipient, deliveredAt: f.delivered_at };
        this.receipts.push(r);
        this.trySend({ type: 'ack', delivery_ids: [], receipt_ids: [f.receipt_id] });
        this.opts.onReceipt?.(r);
        return;
      }
      case 'prekeys_low':
        this.replenishPrekeys().catch(() => undefined);
        return;
      case 'referral_updated':
        this.opts.onReferralUpdated?.(f.referral);
        return;
      case 'policy_changed':
        this.opts.onPolicyChanged?.(f.policy);
        return;
      case 'oncall_changed':
        this.opts.onOnCallChanged?.(f.role);
        return;
      default:
        return;
    }
  }

  private onDeliver(f: Extract<ServerFrame, { type: 'deliver' }>): void {
    let content: Content | undefined;
    let error: string | undefined;
    try {
      content = decodeContent(decryptFrom(this.account, f.sender, fromBase64(f.ciphertext, 'ciphertext'), this.rng));
    } catch (e) {
      error = e instanceof CryptoError ? e.code : e instanceof ProtocolError ? 'bad_base64' : 'decryption_failed';
    }
    const fresh = this.seen.remember(`${addressKey(f.sender)}:${f.message_id}`);
    if (error === 'duplicate_message' || !fresh) {
      // A re-delivery of something already received: acknowledge it silently.
      this.trySend({ type: 'ack', delivery_ids: [f.delivery_id], receipt_ids: [] });
      return;
    }
    const received: Received = {
      deliveryId: f.delivery_id,
      messageId: f.message_id,
      sender: f.sender,
      kind: f.kind,
      content,
      error,
      sentAt: f.sent_at,
      priority: f.priority,
      escalated: f.escalated,
    };
    const handler = this.opts.onMessage;
    if (handler !== undefined) {
      this.handlerChain = this.handlerChain
        .then(() => handler(received))
        .then(() => this.ack([received.deliveryId]))
        .catch(() => undefined);
      return;
    }
    this.inbox.push(received);
  }

  private trySend(frame: Parameters<Connection['send']>[0]): void {
    try {
      this.conn?.send(frame);
    } catch {
      /* offline: it comes again on the next connection */
    }
  }

  /**
   * The next received message, waiting up to `timeoutMs`; `undefined` if none
   * came. Acknowledge it with {@link Client.ack} once stored.
   */
  nextMessage(timeoutMs: number): Promise<Received | undefined> {
    return this.inbox.next(timeoutMs);
  }

  /**
   * Acknowledges deliveries (after the caller stored them and the account):
   * the server deletes their ciphertext. Offline, nothing is sent: they come
   * again and are dropped as repeats.
   */
  ack(deliveryIds: number[]): void {
    if (deliveryIds.length > 0) this.trySend({ type: 'ack', delivery_ids: deliveryIds, receipt_ids: [] });
  }

  /** Waits until `count` delivery receipts arrived or `timeoutMs` passed. */
  async waitForReceipts(count: number, timeoutMs: number): Promise<readonly DeliveryReceipt[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.receipts.length < count && Date.now() < deadline) await sleep(20);
    return this.receipts;
  }

  /** Ids only. */
  toString(): string {
    return `Client(${this.account.toString()}, ${this.stateValue}, outbox ${this.outbox.length})`;
  }
}
