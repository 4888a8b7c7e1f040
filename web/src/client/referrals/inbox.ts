/**
 * The referrals one clinician sees: the server's envelopes (from
 * `GET /v1/referrals` and the `referral_updated` pushes) joined with the
 * decrypted content (`referral`: the FHIR Bundle and attachments;
 * `referral_reason`: why it was declined or cancelled).
 *
 * Content is bound to its envelope: a `referral` counts only if it is the
 * message the envelope names (`message_id`) and came from the referring
 * clinician; a reason only if it is the envelope's `reason_message_id` and
 * came from the other party (or from oneself, on another device). Content
 * may arrive before its envelope (the CLI sends it first): it waits.
 *
 * No DOM; state is JSON for the sealed store (it holds PHI: never log it).
 */

import type { AttachmentRef } from '../content.js';
import type { Received } from '../client.js';
import {
  ehrBundle,
  formatTimeMs,
  parseReferralBundle,
  patientDisplayName,
  type JsonObject,
  type Practitioner,
  type Priority,
  type ReceivedBundle,
  type Status,
} from './fhir.js';
import { allowedTransitions, parseEnvelope, type ReferralEnvelope, type Transition } from './lifecycle.js';

/** What a list shows of the patient. */
export interface PatientSummary {
  readonly name: string;
  readonly birthDate: string | undefined;
  readonly sex: string | undefined;
  /** `system|value` of each identifier (MRNs). */
  readonly identifiers: readonly { system: string; value: string }[];
}

export interface ReferralItem {
  readonly id: string;
  readonly status: Status;
  readonly priority: Priority;
  readonly specialty: string;
  /** `in`: sent to me; `out`: sent by me. */
  readonly direction: 'in' | 'out';
  /**
   * The two clinicians by user id, with the NPI and name the Bundle gives
   * (written by the referring client from the directory): a view shows the
   * directory's name for the user id, as the CLI does.
   */
  readonly referring: Practitioner;
  readonly receiving: Practitioner;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** Undefined until the content arrived (or if it could not be read: `contentError`). */
  readonly patient: PatientSummary | undefined;
  readonly note: string | undefined;
  readonly attachments: readonly AttachmentRef[];
  /** Why it was declined or cancelled, decrypted. */
  readonly reason: string | undefined;
  /** What I may do now. */
  readonly allowed: readonly Transition[];
  readonly contentError: string | undefined;
}

interface StoredContent {
  messageId: string;
  sender: string;
  referralId: string;
  bundle: string;
  attachments: AttachmentRef[];
}
interface StoredReason {
  messageId: string;
  sender: string;
  referralId: string;
  reason: string;
}

export interface ReferralInboxJSON {
  envelopes: ReferralEnvelope[];
  contents: StoredContent[];
  reasons: StoredReason[];
}

export type InboxEvent =
  | { type: 'created' | 'changed'; item: ReferralItem; from?: Status }
  | { type: 'content'; item: ReferralItem }
  | { type: 'reason'; item: ReferralItem };

export class ReferralInbox {
  private readonly envelopes = new Map<string, ReferralEnvelope>();
  /** Candidate contents and reasons by message id (bound to an envelope when it names them). */
  private readonly contents = new Map<string, StoredContent>();
  private readonly reasons = new Map<string, StoredReason>();
  private readonly listeners: ((e: InboxEvent) => void)[] = [];

  constructor(
    readonly me: string,
    state?: ReferralInboxJSON,
  ) {
    for (const e of state?.envelopes ?? []) this.envelopes.set(e.referral_id, e);
    for (const c of state?.contents ?? []) this.contents.set(c.messageId, c);
    for (const r of state?.reasons ?? []) this.reasons.set(r.messageId, r);
  }

  toJSON(): ReferralInboxJSON {
    return { envelopes: [...this.envelopes.values()], contents: [...this.contents.values()], reasons: [...this.reasons.values()] };
  }

  /** Called on every change (a view re-renders; a test waits). */
  onChange(f: (e: InboxEvent) => void): () => void {
    this.listeners.push(f);
    return () => {
      const i = this.listeners.indexOf(f);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  private emit(e: InboxEvent): void {
    for (const f of [...this.listeners]) f(e);
  }

  /**
   * An envelope from the server (`referral_updated`'s `referral`, or a list
   * or transition answer); an older one than known is ignored. Returns the
   * item if it changed.
   */
  applyEnvelope(raw: unknown): ReferralItem | undefined {
    const env = parseEnvelope(raw);
    if (env.referring !== this.me && env.receiving !== this.me) return undefined;
    const known = this.envelopes.get(env.referral_id);
    if (known !== undefined && (known.updated_at > env.updated_at || (known.updated_at === env.updated_at && known.status === env.status))) {
      return undefined;
    }
    this.envelopes.set(env.referral_id, env);
    const item = this.item(env.referral_id) as ReferralItem;
    this.emit(known === undefined ? { type: 'created', item } : { type: 'changed', item, from: known.status });
    return item;
  }

  /** The server's whole list (`ReferralApi.list()`), e.g. after reconnecting. */
  applyList(list: readonly unknown[]): void {
    for (const r of list) this.applyEnvelope(r);
  }

  /**
   * A received message: keeps `referral` and `referral_reason` content
   * (returns true: store the inbox, then acknowledge), ignores anything else.
   */
  applyMessage(m: Pick<Received, 'messageId' | 'sender' | 'content'>): boolean {
    const c = m.content;
    if (c?.type === 'referral') {
      if (!this.contents.has(m.messageId)) {
        this.contents.set(m.messageId, { messageId: m.messageId, sender: m.sender.user_id, referralId: c.referral_id, bundle: c.bundle, attachments: [...c.attachments] });
        const item = this.item(c.referral_id);
        if (item?.patient !== undefined) this.emit({ type: 'content', item });
      }
      return true;
    }
    if (c?.type === 'referral_reason') {
      if (!this.reasons.has(m.messageId)) {
        this.reasons.set(m.messageId, { messageId: m.messageId, sender: m.sender.user_id, referralId: c.referral_id, reason: c.reason });
        const item = this.item(c.referral_id);
        if (item?.reason !== undefined) this.emit({ type: 'reason', item });
      }
      return true;
    }
    return false;
  }

  /**
   * Keeps content one sent oneself (the sending device gets no copy of its
   * own message): after `ReferralApi.create` and a decline or cancel.
   */
  recordSent(messageId: string, content: { type: 'referral'; referral_id: string; bundle: string; attachments: AttachmentRef[] } | { type: 'referral_reason'; referral_id: string; reason: string }): void {
    this.applyMessage({ messageId, sender: { user_id: this.me, device_id: 0 }, content });
  }

  private boundContent(env: ReferralEnvelope): StoredContent | undefined {
    const c = this.contents.get(env.message_id);
    return c !== undefined && c.referralId === env.referral_id && c.sender === env.referring ? c : undefined;
  }

  private boundReason(env: ReferralEnvelope): StoredReason | undefined {
    if (env.reason_message_id === null) return undefined;
    const r = this.reasons.get(env.reason_message_id);
    // declined: the receiving clinician's; cancelled: the referring one's.
    const author = env.status === 'cancelled' ? env.referring : env.receiving;
    return r !== undefined && r.referralId === env.referral_id && r.sender === author ? r : undefined;
  }

  /** The decrypted Bundle of a referral, if it arrived (and reads as one). */
  bundleOf(id: string): ReceivedBundle | undefined {
    const env = this.envelopes.get(id);
    const c = env && this.boundContent(env);
    if (c === undefined) return undefined;
    try {
      return parseReferralBundle(c.bundle);
    } catch {
      return undefined;
    }
  }

  /** One referral as a list shows it. */
  item(id: string): ReferralItem | undefined {
    const env = this.envelopes.get(id);
    if (env === undefined) return undefined;
    const c = this.boundContent(env);
    let bundle: ReceivedBundle | undefined;
    let contentError: string | undefined;
    if (c !== undefined) {
      try {
        bundle = parseReferralBundle(c.bundle);
      } catch (e) {
        contentError = `The referral's content could not be read (${e instanceof Error ? e.message : 'not a FHIR Bundle'}): ask the referring clinician to send it again.`;
      }
    }
    const who = (userId: string): Practitioner => bundle?.practitioners.find((p) => p.userId === userId) ?? { userId };
    return {
      id,
      status: env.status,
      priority: env.priority,
      specialty: env.specialty,
      direction: env.receiving === this.me ? 'in' : 'out',
      referring: who(env.referring),
      receiving: who(env.receiving),
      createdAt: env.created_at,
      updatedAt: env.updated_at,
      patient: bundle && summary(bundle.patient),
      note: bundle?.note,
      attachments: c?.attachments ?? [],
      reason: this.boundReason(env)?.reason,
      allowed: allowedTransitions(env, this.me),
      contentError,
    };
  }

  /** Every referral, newest change first (as `refer list`). */
  list(filter: { status?: Status; direction?: 'in' | 'out' } = {}): ReferralItem[] {
    return [...this.envelopes.keys()]
      .map((id) => this.item(id) as ReferralItem)
      .filter((i) => (filter.status === undefined || i.status === filter.status) && (filter.direction === undefined || i.direction === filter.direction))
      .sort((a, b) => b.updatedAt - a.updatedAt || (a.id < b.id ? -1 : 1));
  }

  /**
   * The FHIR R4 transaction Bundle for an EHR, as `refer export` builds it:
   * the stored content (patient, note, clinicians) and the current envelope
   * (status, priority, specialty, parties), the reason as the Task's
   * `statusReason`. `directory` fills in clinicians the content does not
   * name with NPI and name. Undefined until the content arrived.
   */
  exportBundle(id: string, nowMs: number = Date.now(), directory: readonly { user_id: string; npi: string; display_name: string }[] = []): JsonObject | undefined {
    const env = this.envelopes.get(id);
    const bundle = this.bundleOf(id);
    if (env === undefined || bundle === undefined) return undefined;
    const named = (userId: string): Practitioner => {
      const stored = bundle.practitioners.find((p) => p.userId === userId);
      const listed = directory.find((d) => d.user_id === userId);
      return {
        userId,
        npi: stored?.npi ?? (listed?.npi === '' ? undefined : listed?.npi),
        name: stored?.name ?? listed?.display_name,
      };
    };
    return ehrBundle(
      bundle.patient,
      {
        referralId: env.referral_id,
        status: env.status,
        priority: env.priority,
        specialty: env.specialty,
        requester: named(env.referring),
        performer: named(env.receiving),
        note: bundle.note,
        statusReason: this.boundReason(env)?.reason,
        authoredOn: bundle.authoredOn ?? formatTimeMs(env.created_at),
        lastModified: formatTimeMs(env.updated_at),
      },
      formatTimeMs(nowMs),
    );
  }
}

function summary(p: JsonObject): PatientSummary {
  const ids = Array.isArray(p['identifier']) ? p['identifier'] : [];
  return {
    name: patientDisplayName(p),
    birthDate: typeof p['birthDate'] === 'string' ? p['birthDate'] : undefined,
    sex: typeof p['gender'] === 'string' ? p['gender'] : undefined,
    identifiers: ids.flatMap((i) =>
      typeof i === 'object' && i !== null && !Array.isArray(i) && typeof i['system'] === 'string' && typeof i['value'] === 'string'
        ? [{ system: i['system'], value: i['value'] }]
        : [],
    ),
  };
}
