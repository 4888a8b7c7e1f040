/**
 * One authenticated WebSocket connection (PROTOCOL.md, "Connection and
 * authentication"; `client/src/connection.rs`): `hello` → `auth` (the
 * device's signature over the transcript) → `auth_ok`; then requests are
 * matched to their replies by `id`, and everything else (deliveries,
 * receipts, `prekeys_low`, referral updates, errors without an id) goes to
 * the listener, in order.
 */

import type { IdentityKeyPair } from '../crypto/identity.js';
import { fromBase64, toBase64 } from './base64.js';
import { ProtocolError, ServerError, TransportError } from './errors.js';
import {
  parseServerFrame,
  type Address,
  type ClientFrame,
  type RequestFrame,
  type ServerFrame,
} from './frames.js';
import { defaultWebSocket, setTimer, WS_OPEN, type WebSocketFactory, type WebSocketLike } from './platform.js';
import { AuthPurpose, authTranscript } from './transcript.js';

/** The protocol version this client speaks. */
export const PROTOCOL_VERSION = 1;
/** How long a request waits for its reply, as the Rust client. */
export const REQUEST_TIMEOUT_MS = 30_000;

export interface ConnectOptions {
  /** The server's base URL, `https://host:port` (or `wss://…`); `/v1/ws` is appended. */
  readonly url: string;
  /** The server's configured name: checked against `hello` and signed. */
  readonly serverName: string;
  readonly address: Address;
  readonly identity: IdentityKeyPair;
  readonly webSocket?: WebSocketFactory;
  readonly requestTimeoutMs?: number;
}

/** Why a connection ended: the close frame and the `error` the server sent before it, if any. */
export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
  readonly error: ServerError | undefined;
}

type Pending = { resolve: (f: ServerFrame) => void; reject: (e: Error) => void; cancel: () => void };

/** The WebSocket URL for a base URL. */
export function webSocketUrl(base: string): string {
  const trimmed = base.replace(/\/+$/, '');
  if (trimmed.startsWith('https://')) return `wss://${trimmed.slice(8)}/v1/ws`;
  if (trimmed.startsWith('wss://')) return `${trimmed}/v1/ws`;
  throw new ProtocolError('the server URL must be https:// or wss://');
}

/** An authenticated connection. */
export class Connection {
  private readonly pending = new Map<string, Pending>();
  private buffered: ServerFrame[] = [];
  private listener: ((f: ServerFrame) => void) | undefined;
  private closeListener: ((info: CloseInfo) => void) | undefined;
  private closeInfo: CloseInfo | undefined;
  private lastError: ServerError | undefined;
  private nextId = 1;

  private constructor(
    private readonly ws: WebSocketLike,
    private readonly timeoutMs: number,
    /** One-time prekeys the server holds for this device, at login. */
    readonly oneTimePrekeys: number,
    /** `max_frame_bytes` from `hello`. */
    readonly maxFrameBytes: number,
  ) {}

  /** Connects, authenticates and resolves once `auth_ok` arrived; an `error` instead rejects with it. */
  static connect(opts: ConnectOptions): Promise<Connection> {
    const factory = opts.webSocket ?? defaultWebSocket();
    return new Promise((resolve, reject) => {
      let ws: WebSocketLike;
      try {
        ws = factory(webSocketUrl(opts.url));
      } catch (e) {
        reject(new TransportError(`cannot open the WebSocket: ${describe(e)}`));
        return;
      }
      let stage: 'hello' | 'auth_ok' | 'done' = 'hello';
      let conn: Connection | undefined;
      let maxFrame = 0;
      let failure: Error | undefined;
      const fail = (e: Error): void => {
        if (stage === 'done') return;
        stage = 'done';
        failure = e;
        reject(e);
        try {
          ws.close(1000);
        } catch {
          /* already closing */
        }
      };
      const cancelDeadline = setTimer(() => fail(new TransportError('no auth_ok in time')), opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS);
      ws.onerror = () => {
        /* a close event follows */
      };
      ws.onclose = (ev) => {
        cancelDeadline();
        if (conn !== undefined) conn.closed(ev.code, ev.reason);
        else if (failure === undefined) fail(new TransportError(`the connection closed (${ev.code}) before auth_ok`));
      };
      ws.onmessage = (ev) => {
        if (conn !== undefined) {
          conn.receive(ev.data);
          return;
        }
        if (stage === 'done') return;
        let frame: ServerFrame;
        try {
          if (typeof ev.data !== 'string') throw new ProtocolError('the server sent a binary message');
          frame = parseServerFrame(ev.data);
        } catch (e) {
          fail(e instanceof Error ? e : new ProtocolError(String(e)));
          return;
        }
        if (frame.type === 'error') {
          fail(new ServerError(frame.code, frame.message, frame.details));
          return;
        }
        if (stage === 'hello') {
          if (frame.type !== 'hello') return fail(new ProtocolError(`expected hello, got ${frame.type}`));
          if (!frame.versions.includes(PROTOCOL_VERSION)) {
            return fail(new ProtocolError(`the server speaks versions ${frame.versions.join(', ')}, this client ${PROTOCOL_VERSION}`));
          }
          if (frame.server_name !== opts.serverName) {
            return fail(new ProtocolError(`the server calls itself ${JSON.stringify(frame.server_name)}, expected ${JSON.stringify(opts.serverName)}`));
          }
          let signature: Uint8Array;
          try {
            const challenge = fromBase64(frame.challenge, 'hello.challenge');
            const signed = authTranscript(AuthPurpose.WebSocket, opts.serverName, opts.address.user_id, opts.address.device_id, challenge);
            signature = opts.identity.sign(signed);
          } catch (e) {
            return fail(e instanceof Error ? e : new ProtocolError(String(e)));
          }
          maxFrame = frame.max_frame_bytes;
          stage = 'auth_ok';
          const auth: ClientFrame = {
            type: 'auth',
            version: PROTOCOL_VERSION,
            user_id: opts.address.user_id,
            device_id: opts.address.device_id,
            signature: toBase64(signature),
          };
          ws.send(JSON.stringify(auth));
          return;
        }
        if (frame.type !== 'auth_ok') return fail(new ProtocolError(`expected auth_ok, got ${frame.type}`));
        if (frame.user_id !== opts.address.user_id || frame.device_id !== opts.address.device_id) {
          return fail(new ProtocolError('auth_ok names another device'));
        }
        stage = 'done';
        cancelDeadline();
        conn = new Connection(ws, opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS, frame.one_time_prekeys, maxFrame);
        resolve(conn);
      };
    });
  }

  /** Whether the connection is gone. */
  get isClosed(): boolean {
    return this.closeInfo !== undefined || this.ws.readyState !== WS_OPEN;
  }

  /**
   * Starts handing pushed frames to `onFrame` (those that came before are
   * handed at once, in order) and the end of the connection to `onClose`.
   */
  listen(onFrame: (f: ServerFrame) => void, onClose: (info: CloseInfo) => void): void {
    this.listener = onFrame;
    this.closeListener = onClose;
    const early = this.buffered;
    this.buffered = [];
    for (const f of early) onFrame(f);
    if (this.closeInfo !== undefined) onClose(this.closeInfo);
  }

  /** Sends a request with a fresh id and resolves with its reply; an `error` reply rejects with a {@link ServerError}. */
  request(frame: RequestFrame): Promise<ServerFrame> {
    return new Promise((resolve, reject) => {
      if (this.isClosed) {
        reject(new TransportError('the connection is closed'));
        return;
      }
      const id = `r${this.nextId++}`;
      const cancel = setTimer(() => {
        if (this.pending.delete(id)) reject(new TransportError(`no reply to ${frame.type} in time`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, cancel });
      try {
        this.ws.send(JSON.stringify({ ...frame, id }));
      } catch (e) {
        this.pending.delete(id);
        cancel();
        reject(new TransportError(`send failed: ${describe(e)}`));
      }
    });
  }

  /** Sends a frame that has no reply (`ack`). */
  send(frame: ClientFrame): void {
    if (this.isClosed) throw new TransportError('the connection is closed');
    this.ws.send(JSON.stringify(frame));
  }

  /** Closes the connection (normal closure). */
  close(): void {
    try {
      this.ws.close(1000);
    } catch {
      /* already closed */
    }
  }

  private receive(data: unknown): void {
    let frame: ServerFrame;
    try {
      if (typeof data !== 'string') throw new ProtocolError('binary message');
      frame = parseServerFrame(data);
    } catch {
      // An unreadable frame is skipped, as the Rust client does; nothing of it is logged.
      return;
    }
    const id = 'id' in frame ? frame.id : undefined;
    const waiter = id === undefined || frame.type === 'hello' ? undefined : this.pending.get(id);
    if (waiter !== undefined && id !== undefined) {
      this.pending.delete(id);
      waiter.cancel();
      if (frame.type === 'error') waiter.reject(new ServerError(frame.code, frame.message, frame.details));
      else waiter.resolve(frame);
      return;
    }
    if (frame.type === 'error') this.lastError = new ServerError(frame.code, frame.message, frame.details);
    if (this.listener !== undefined) this.listener(frame);
    else this.buffered.push(frame);
  }

  private closed(code: number, reason: string): void {
    if (this.closeInfo !== undefined) return;
    this.closeInfo = { code, reason, error: this.lastError };
    const err = new TransportError(`the connection closed (${code})`);
    for (const p of this.pending.values()) {
      p.cancel();
      p.reject(err);
    }
    this.pending.clear();
    this.closeListener?.(this.closeInfo);
  }
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
