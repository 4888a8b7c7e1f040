/**
 * The HTTP APIs of PROTOCOL.md ("HTTP APIs"): enrollment, session tokens by
 * the device-signature challenge (`GET /v1/auth/challenge`, `POST
 * /v1/auth/session`, purpose 2) and the directory. Errors are the JSON
 * `{"code","message"}` bodies, as {@link ServerError}s. Tokens stay in memory.
 */

import type { IdentityKeyPair } from '../crypto/identity.js';
import { fromBase64, toBase64 } from './base64.js';
import { ProtocolError, ServerError, TransportError } from './errors.js';
import { directoryEntry, parsePolicy, type Address, type PolicyJson, type DirectoryEntry, type OneTimePrekeyJson } from './frames.js';
import { defaultFetch, type FetchLike, type FetchResponse, type RequestBody } from './platform.js';
import { AuthPurpose, authTranscript } from './transcript.js';

export interface EnrollRequestJson {
  invite: string;
  display_name: string;
  npi: string | null;
  specialty: string | null;
  identity_key: string;
  signature: string;
  signed_prekey: string;
  one_time_prekeys: OneTimePrekeyJson[];
}

export interface EnrollResponseJson {
  user_id: string;
  device_id: number;
  roles: string[];
  verified: boolean;
}

/** Filters of `GET /v1/directory` (each optional; combined with AND). */
export interface DirectoryQuery {
  name?: string;
  specialty?: string;
  npi?: string;
  user_id?: string;
}

export interface HttpOptions {
  /** `https://host:port`. */
  readonly url: string;
  readonly fetch?: FetchLike;
}

/** Unauthenticated HTTP requests, and the answer's checks. */
export class HttpApi {
  private readonly base: string;
  private readonly fetchFn: FetchLike;

  constructor(opts: HttpOptions) {
    this.base = opts.url.replace(/\/+$/, '');
    this.fetchFn = opts.fetch ?? defaultFetch();
  }

  /** A JSON request; an error status rejects with the body's code. */
  async json(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown, token?: string): Promise<unknown> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
    let response;
    try {
      response = await this.fetchFn(`${this.base}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (e) {
      throw new TransportError(`${method} ${path.split('?')[0] ?? path}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const text = await response.text();
    if (!response.ok) throw errorOf(response.status, text);
    if (text === '') return null;
    try {
      return JSON.parse(text);
    } catch {
      throw new ProtocolError(`${path}: the answer is not JSON`);
    }
  }

  /**
   * A binary request (attachments): `body` is sent as
   * `application/octet-stream` (a stream with `duplex: 'half'`); an error
   * status rejects with the body's code, a success resolves with the
   * response unread.
   */
  async binary(method: 'GET' | 'POST', path: string, token: string, body?: RequestBody, stream = false): Promise<FetchResponse> {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/octet-stream';
    let response;
    try {
      response = await this.fetchFn(`${this.base}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
        ...(stream ? { duplex: 'half' as const } : {}),
      });
    } catch (e) {
      throw new TransportError(`${method} ${path}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (!response.ok) throw errorOf(response.status, await response.text());
    return response;
  }

  /** `POST /v1/enroll`. */
  async enroll(request: EnrollRequestJson): Promise<EnrollResponseJson> {
    const r = (await this.json('POST', '/v1/enroll', request)) as Partial<EnrollResponseJson> | null;
    if (r === null || typeof r.user_id !== 'string' || typeof r.device_id !== 'number') {
      throw new ProtocolError('enroll: unexpected answer');
    }
    return { user_id: r.user_id, device_id: r.device_id, roles: Array.isArray(r.roles) ? r.roles : [], verified: r.verified === true };
  }

  /** `GET /v1/auth/challenge` then `POST /v1/auth/session`: a session token for this device. */
  async login(serverName: string, address: Address, identity: IdentityKeyPair): Promise<SessionToken> {
    const c = (await this.json('GET', '/v1/auth/challenge')) as { challenge?: unknown; server_name?: unknown } | null;
    if (c === null || typeof c.challenge !== 'string' || typeof c.server_name !== 'string') {
      throw new ProtocolError('auth/challenge: unexpected answer');
    }
    if (c.server_name !== serverName) {
      throw new ProtocolError(`the server calls itself ${JSON.stringify(c.server_name)}, expected ${JSON.stringify(serverName)}`);
    }
    const challenge = fromBase64(c.challenge, 'challenge');
    const signature = identity.sign(authTranscript(AuthPurpose.HttpSession, serverName, address.user_id, address.device_id, challenge));
    const s = (await this.json('POST', '/v1/auth/session', {
      user_id: address.user_id,
      device_id: address.device_id,
      challenge: c.challenge,
      signature: toBase64(signature),
    })) as { token?: unknown; idle_timeout_secs?: unknown; max_lifetime_secs?: unknown } | null;
    if (s === null || typeof s.token !== 'string') throw new ProtocolError('auth/session: unexpected answer');
    return {
      token: s.token,
      idleTimeoutSecs: typeof s.idle_timeout_secs === 'number' ? s.idle_timeout_secs : 0,
      maxLifetimeSecs: typeof s.max_lifetime_secs === 'number' ? s.max_lifetime_secs : 0,
    };
  }
}

/** The error of an HTTP answer: the `{"code","message"}` body, or the status alone. */
function errorOf(status: number, text: string): ServerError {
  let code = 'internal';
  let message = `HTTP ${status}`;
  try {
    const parsed = JSON.parse(text) as { code?: unknown; message?: unknown };
    if (typeof parsed.code === 'string') code = parsed.code;
    if (typeof parsed.message === 'string') message = parsed.message;
  } catch {
    /* not the error format (431, 414): keep the status */
  }
  return new ServerError(code, message, undefined, status);
}

/** What `POST /v1/attachments` answers. */
export interface AttachmentStoredJson {
  attachment_id: string;
  size: number;
  expires_at: number;
}

/** A session token (never logged, never persisted). */
export interface SessionToken {
  readonly token: string;
  readonly idleTimeoutSecs: number;
  readonly maxLifetimeSecs: number;
}

/** Authenticated HTTP for one device: logs in on first use and again once the token expired. */
export class DeviceHttp {
  private token: SessionToken | undefined;

  constructor(
    readonly api: HttpApi,
    private readonly serverName: string,
    private readonly address: Address,
    private readonly identity: IdentityKeyPair,
  ) {}

  /** A JSON request with the session token; `token_expired` logs in again once. */
  async json(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      if (this.token === undefined) this.token = await this.api.login(this.serverName, this.address, this.identity);
      try {
        return await this.api.json(method, path, body, this.token.token);
      } catch (e) {
        if (e instanceof ServerError && e.code === 'token_expired' && attempt === 0) {
          this.token = undefined;
          continue;
        }
        throw e;
      }
    }
  }

  /** The session token, logging in if there is none. */
  private async currentToken(): Promise<string> {
    if (this.token === undefined) this.token = await this.api.login(this.serverName, this.address, this.identity);
    return this.token.token;
  }

  /**
   * A binary request with the session token. `token_expired` logs in again
   * and repeats it once, unless the body is a stream (already consumed).
   */
  private async binary(method: 'GET' | 'POST', path: string, body?: RequestBody, stream = false): Promise<FetchResponse> {
    for (let attempt = 0; ; attempt++) {
      const token = await this.currentToken();
      try {
        return await this.api.binary(method, path, token, body, stream);
      } catch (e) {
        if (e instanceof ServerError && e.code === 'token_expired' && attempt === 0 && !stream) {
          this.token = undefined;
          continue;
        }
        throw e;
      }
    }
  }

  /** `POST /v1/attachments`: uploads an encrypted blob (`stream`: `body` is a stream, sent with `duplex: 'half'`). */
  async uploadAttachment(body: RequestBody, stream = false): Promise<AttachmentStoredJson> {
    const response = await this.binary('POST', '/v1/attachments', body, stream);
    let r: Partial<AttachmentStoredJson> | null;
    try {
      r = JSON.parse(await response.text()) as Partial<AttachmentStoredJson> | null;
    } catch {
      throw new ProtocolError('/v1/attachments: the answer is not JSON');
    }
    if (r === null || typeof r.attachment_id !== 'string' || !Number.isSafeInteger(r.size) || typeof r.expires_at !== 'number') {
      throw new ProtocolError('/v1/attachments: unexpected answer');
    }
    return { attachment_id: r.attachment_id, size: r.size as number, expires_at: r.expires_at };
  }

  /** `GET /v1/attachments/{id}`: the response, its body (the blob) unread. `id` must be 32 lowercase hex digits. */
  async downloadAttachment(id: string): Promise<FetchResponse> {
    if (!/^[0-9a-f]{32}$/.test(id)) throw new ProtocolError('not an attachment id (32 lowercase hex digits)');
    return this.binary('GET', `/v1/attachments/${id}`);
  }

  /** `GET /v1/directory`: verified clinicians matching every filter given. */
  async directory(query: DirectoryQuery): Promise<DirectoryEntry[]> {
    const params: string[] = [];
    for (const k of ['name', 'specialty', 'npi', 'user_id'] as const) {
      const v = query[k];
      if (v !== undefined) params.push(`${k}=${encodeURIComponent(v)}`);
    }
    const r = await this.json('GET', `/v1/directory${params.length ? `?${params.join('&')}` : ''}`);
    if (!Array.isArray(r)) throw new ProtocolError('directory: not a list');
    return r.map(directoryEntry);
  }

  /** `GET /v1/policy`: the organisation's retention and recall window. */
  async policy(): Promise<PolicyJson> {
    return parsePolicy(await this.json('GET', '/v1/policy'));
  }

  /** `PUT /v1/admin/retention` (administrators): `null` for no limit, else at least 60 s; the new policy. */
  async setRetention(retentionSecs: number | null): Promise<PolicyJson> {
    return parsePolicy(await this.json('PUT', '/v1/admin/retention', { retention_secs: retentionSecs }));
  }

  /** Forgets the token (lock, logout). */
  forget(): void {
    this.token = undefined;
  }
}
