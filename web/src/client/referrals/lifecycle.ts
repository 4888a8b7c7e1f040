/**
 * The referral lifecycle through the server (PROTOCOL.md "Referrals";
 * `server/src/http/referrals.rs`) as `curbside refer` drives it:
 *
 * - create: the `referral` content (the FHIR Bundle and attachments) sent
 *   end to end encrypted, kind `referral`, to the receiving clinician's
 *   devices and one's own others ({@link Client.send}); then
 *   `POST /v1/referrals` registers the envelope naming that message;
 * - decline / cancel: the reason sent encrypted (`referral_reason`) to the
 *   other party, then the transition naming that message;
 * - accept / complete: the transition alone.
 *
 * The server sees and pushes (`referral_updated`, to every current device of
 * both parties) only the envelope: parties, specialty, priority, status and
 * the message ids.
 */

import { ProtocolError } from '../../protocol/errors.js';
import type { Client } from '../client.js';
import type { BuiltReferral } from './form.js';
import type { ReferralInbox } from './inbox.js';
import { PRIORITIES, STATUSES, type Priority, type Status } from './fhir.js';

export type Transition = 'accept' | 'decline' | 'cancel' | 'complete';
export const TRANSITIONS: readonly Transition[] = ['accept', 'decline', 'cancel', 'complete'];

/** A referral as the server knows it (`protocol::referral::Referral`): no PHI. */
export interface ReferralEnvelope {
  readonly referral_id: string;
  readonly referring: string;
  readonly receiving: string;
  readonly specialty: string;
  readonly priority: Priority;
  readonly status: Status;
  readonly message_id: string;
  readonly reason_message_id: string | null;
  readonly created_at: number;
  readonly updated_at: number;
}

/** Reads an envelope (an HTTP answer or a `referral_updated` frame's `referral`). */
export function parseEnvelope(v: unknown): ReferralEnvelope {
  if (typeof v !== 'object' || v === null) throw new ProtocolError('referral: not an object');
  const o = v as Record<string, unknown>;
  const str = (k: string): string => {
    const s = o[k];
    if (typeof s !== 'string') throw new ProtocolError(`referral: ${k} is not a string`);
    return s;
  };
  const num = (k: string): number => {
    const n = o[k];
    if (!Number.isSafeInteger(n)) throw new ProtocolError(`referral: ${k} is not an integer`);
    return n as number;
  };
  const priority = str('priority') as Priority;
  const status = str('status') as Status;
  if (!PRIORITIES.includes(priority)) throw new ProtocolError('referral: unknown priority');
  if (!STATUSES.includes(status)) throw new ProtocolError('referral: unknown status');
  const reason = o['reason_message_id'];
  if (reason !== null && reason !== undefined && typeof reason !== 'string') throw new ProtocolError('referral: reason_message_id');
  return {
    referral_id: str('referral_id'),
    referring: str('referring'),
    receiving: str('receiving'),
    specialty: str('specialty'),
    priority,
    status,
    message_id: str('message_id'),
    reason_message_id: typeof reason === 'string' ? reason : null,
    created_at: num('created_at'),
    updated_at: num('updated_at'),
  };
}

/** The status a transition leads to from `from`, if allowed there (`Transition::apply`). */
export function applyTransition(t: Transition, from: Status): Status | undefined {
  if (from === 'requested') return t === 'accept' ? 'accepted' : t === 'decline' ? 'declined' : t === 'cancel' ? 'cancelled' : undefined;
  if (from === 'accepted' && t === 'complete') return 'completed';
  return undefined;
}

/** Who may make it: cancel is the referring clinician's, the others the receiving one's. */
export function transitionParty(t: Transition): 'referring' | 'receiving' {
  return t === 'cancel' ? 'referring' : 'receiving';
}

export const needsReason = (t: Transition): boolean => t === 'decline' || t === 'cancel';

/** The transitions `me` may make on `r` now. */
export function allowedTransitions(r: Pick<ReferralEnvelope, 'referring' | 'receiving' | 'status'>, me: string): Transition[] {
  return TRANSITIONS.filter((t) => {
    const party = transitionParty(t) === 'referring' ? r.referring : r.receiving;
    return party === me && applyTransition(t, r.status) !== undefined;
  });
}

/** Thrown before anything is sent when a transition cannot be made; `message` says what to do. */
export class ReferralError extends Error {
  constructor(
    readonly code: 'offline' | 'reason_required' | 'not_allowed' | 'not_registered',
    message: string,
    /** `not_registered`: the message that carries the content (pass it to {@link ReferralApi.register}). */
    readonly messageId?: string,
    /** What the server or the network said. */
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'ReferralError';
  }
}

/**
 * The referral endpoints and the encrypted content, over a started
 * {@link Client}. With an `inbox`, what one sends (content, reasons) and the
 * server's answers are recorded in it too.
 */
export class ReferralApi {
  constructor(
    private readonly client: Client,
    private readonly inbox?: ReferralInbox,
  ) {}

  private record(env: ReferralEnvelope): ReferralEnvelope {
    this.inbox?.applyEnvelope(env);
    return env;
  }

  private get me(): string {
    return this.client.account.me.user_id;
  }

  private requireOnline(what: string): void {
    if (this.client.state !== 'online') {
      throw new ReferralError('offline', `Not connected: the referral was not ${what}. Check the network and try again once connected.`);
    }
  }

  /**
   * Sends the referral's content, then registers its envelope (the order of
   * `refer create`: the receiver's devices hold the content before the
   * server announces the referral).
   */
  async create(built: BuiltReferral): Promise<ReferralEnvelope> {
    this.requireOnline('sent');
    const { messageId } = await this.client.send([built.to], 'referral', built.content);
    this.inbox?.recordSent(messageId, built.content);
    try {
      return await this.register(built, messageId);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new ReferralError(
        'not_registered',
        `The referral's content was sent, but the server did not record the referral (${why}). Try again: register it with the same message, so it is not sent twice.`,
        messageId,
        e,
      );
    }
  }

  /**
   * `POST /v1/referrals`: the envelope of a referral whose content went out
   * as `messageId` (what {@link create} does after sending; call it again
   * after a `not_registered` error).
   */
  async register(built: BuiltReferral, messageId: string): Promise<ReferralEnvelope> {
    const r = await this.client.http.json('POST', '/v1/referrals', {
      referral_id: built.referralId,
      to: built.to,
      specialty: built.specialty,
      priority: built.priority,
      message_id: messageId,
    });
    return this.record(parseEnvelope(r));
  }

  /** `GET /v1/referrals/{id}`. */
  async get(id: string): Promise<ReferralEnvelope> {
    return parseEnvelope(await this.client.http.json('GET', `/v1/referrals/${encodeURIComponent(id)}`));
  }

  /** `GET /v1/referrals?status=&direction=in|out`: one's referrals, newest change first. */
  async list(filter: { status?: Status; direction?: 'in' | 'out' } = {}): Promise<ReferralEnvelope[]> {
    const q: string[] = [];
    if (filter.status !== undefined) q.push(`status=${filter.status}`);
    if (filter.direction !== undefined) q.push(`direction=${filter.direction}`);
    const r = await this.client.http.json('GET', `/v1/referrals${q.length ? `?${q.join('&')}` : ''}`);
    if (!Array.isArray(r)) throw new ProtocolError('referrals: not a list');
    return r.map(parseEnvelope);
  }

  /**
   * Takes the server's list as the truth into the inbox: `referral_updated`
   * is best effort (PROTOCOL.md), so call this whenever the client comes
   * online (`onState('online')`).
   */
  async sync(): Promise<ReferralEnvelope[]> {
    const list = await this.list();
    this.inbox?.applyList(list);
    return list;
  }

  accept(id: string): Promise<ReferralEnvelope> {
    return this.transition(id, 'accept');
  }

  complete(id: string): Promise<ReferralEnvelope> {
    return this.transition(id, 'complete');
  }

  /** Declines (receiving clinician); the reason goes end to end encrypted to the referring one. */
  decline(id: string, reason: string): Promise<ReferralEnvelope> {
    return this.transition(id, 'decline', reason);
  }

  /** Withdraws (referring clinician); the reason goes end to end encrypted to the receiving one. */
  cancel(id: string, reason: string): Promise<ReferralEnvelope> {
    return this.transition(id, 'cancel', reason);
  }

  /** Any transition; checks party and state first, so a refused one sends no reason. */
  async transition(id: string, t: Transition, reason?: string): Promise<ReferralEnvelope> {
    let reasonMessageId: string | null = null;
    if (needsReason(t)) {
      const why = reason?.trim() ?? '';
      if (why === '') {
        throw new ReferralError('reason_required', `Say why you ${t === 'decline' ? 'decline' : 'cancel'} the referral: the reason is sent end to end encrypted to the other clinician.`);
      }
      this.requireOnline(t === 'decline' ? 'declined' : 'cancelled');
      const current = await this.get(id);
      if (!allowedTransitions(current, this.me).includes(t)) {
        throw new ReferralError(
          'not_allowed',
          transitionParty(t) === 'referring' && current.referring !== this.me
            ? 'Only the referring clinician may cancel this referral.'
            : transitionParty(t) === 'receiving' && current.receiving !== this.me
              ? 'Only the receiving clinician may do this.'
              : `This referral is ${current.status} already: it cannot be ${t === 'decline' ? 'declined' : 'cancelled'} now.`,
        );
      }
      const other = current.referring === this.me ? current.receiving : current.referring;
      const content = { type: 'referral_reason', referral_id: id, reason: why } as const;
      const sent = await this.client.send([other], 'referral', content);
      this.inbox?.recordSent(sent.messageId, content);
      reasonMessageId = sent.messageId;
    }
    const r = await this.client.http.json('POST', `/v1/referrals/${encodeURIComponent(id)}/${t}`, { reason_message_id: reasonMessageId });
    return this.record(parseEnvelope(r));
  }
}
