/**
 * Referrals in the application model (no DOM): the {@link ReferralInbox}
 * kept in the sealed `state` record (`state.referrals`), fed by the
 * client's `referral_updated` pushes and the received `referral` /
 * `referral_reason` messages, synced with the server's list each time the
 * client comes online; the actions (create, accept, decline, cancel,
 * complete); parties shown by the directory's names (never the Bundle's
 * claims, never ids).
 */

import { downloadAttachment, uploadAttachment } from '../client/attachments.js';
import type { Client, Received } from '../client/client.js';
import type { AttachmentRef } from '../client/content.js';
import {
  buildReferral,
  newReferralId,
  ReferralApi,
  ReferralError,
  ReferralInbox,
  type AdministrativeSex,
  type FieldError,
  type Priority,
  type ReferralItem,
  type Status,
  type Transition,
} from '../client/referrals/index.js';
import { systemRandom } from '../crypto/primitives.js';
import type { BlobLike } from '../protocol/platform.js';
import { watchReferrals } from './referral-notices.js';
import type { AppState } from './state.js';
import { mimeOf, personView, type Clinician } from './views.js';

export type { FieldError, Priority, Status as ReferralStatus, Transition };

/** What a view shows of a referral: names from the directory, never ids. */
export interface ReferralView {
  readonly id: string;
  /** The short id (file names, the CLI's `refer show`). */
  readonly shortId: string;
  readonly status: Status;
  readonly priority: Priority;
  readonly specialty: string;
  readonly direction: 'in' | 'out';
  readonly fromName: string;
  readonly toName: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly patient: { name: string; birthDate?: string | undefined; sex?: string | undefined; identifiers: readonly { system: string; value: string }[] } | undefined;
  readonly note: string | undefined;
  readonly attachments: readonly { index: number; name: string; size: number }[];
  readonly reason: string | undefined;
  readonly allowed: readonly Transition[];
  readonly contentError: string | undefined;
}

/** The "New referral" form, as the view collects it. */
export interface ReferralFormInput {
  family: string;
  given: string;
  birthDate: string;
  sex: AdministrativeSex | '';
  mrnSystem: string;
  mrnValue: string;
  reason: string;
  note: string;
  priority: string;
  specialty: string;
  to: Clinician | undefined;
  files: readonly { blob: Blob; name: string }[];
}

export type CreateResult = { ok: true; id: string } | { ok: false; errors: FieldError[] } | { ok: false; problem: string };

export interface ReferralHost {
  readonly client: Client;
  readonly state: AppState;
  persist(): Promise<void>;
  changed(): void;
  lookUp(user: string): void;
  search(query: string): Promise<Clinician[]>;
  /** A referral's news worth a notification (`./referral-notices.ts`: names and priority only, never the patient). */
  notify?(title: string, body: string, tag: string): void;
}

function words(e: unknown): string {
  if (e instanceof ReferralError) return e.message;
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'not_found') return 'The server does not know this referral or colleague: reload the referrals and try again.';
  if (code === 'conflict' || code === 'invalid_transition') return 'This referral changed meanwhile: look at its new status, then try again.';
  return 'The server could not be reached: check your connection and try again.';
}

export class SessionReferrals {
  readonly inbox: ReferralInbox;
  readonly api: ReferralApi;
  private readonly files = new Map<string, Promise<Blob>>();

  constructor(private readonly host: ReferralHost) {
    this.inbox = new ReferralInbox(host.state.me.userId, host.state.referrals);
    this.api = new ReferralApi(host.client, this.inbox);
    this.inbox.onChange(() => {
      this.save();
      host.changed();
    });
    if (host.notify !== undefined) watchReferrals(this.inbox, host, host.notify);
  }

  /** Writes the inbox into the sealed state (call before each persist). */
  save(): void {
    this.host.state.referrals = this.inbox.toJSON();
  }

  private store(): void {
    this.save();
    void this.host.persist().catch(() => undefined);
  }

  /** A received message: referral content is kept (true: it was one). */
  applyMessage(r: Received): boolean {
    const kept = this.inbox.applyMessage(r);
    if (kept) {
      this.save();
      this.host.changed();
    }
    return kept;
  }

  /** `referral_updated` (best effort). */
  onUpdated(raw: Record<string, unknown>): void {
    try {
      if (this.inbox.applyEnvelope(raw) !== undefined) this.store();
    } catch {
      // A malformed push: the next sync brings the truth.
    }
  }

  /** The server's list as the truth (each time the client comes online). */
  async sync(): Promise<void> {
    try {
      await this.api.sync();
      this.store();
      this.host.changed();
    } catch {
      // Offline again: the next time online syncs.
    }
  }

  private name(user: string): string {
    this.host.lookUp(user);
    return personView(this.host.state, user).name;
  }

  private view(i: ReferralItem): ReferralView {
    return {
      id: i.id,
      shortId: i.id.slice(0, 9),
      status: i.status,
      priority: i.priority,
      specialty: i.specialty,
      direction: i.direction,
      fromName: this.name(i.referring.userId),
      toName: this.name(i.receiving.userId),
      createdAt: i.createdAt,
      updatedAt: i.updatedAt,
      patient: i.patient && { name: i.patient.name, birthDate: i.patient.birthDate, sex: i.patient.sex, identifiers: i.patient.identifiers },
      note: i.note,
      attachments: i.attachments.map((a, index) => ({ index, name: a.name, size: a.size })),
      reason: i.reason,
      allowed: i.allowed,
      contentError: i.contentError,
    };
  }

  list(): ReferralView[] {
    return this.inbox.list().map((i) => this.view(i));
  }

  /** Referrals sent to me still waiting for my answer. */
  get toAnswer(): number {
    return this.inbox.list({ direction: 'in', status: 'requested' }).length;
  }

  get(id: string): ReferralView | undefined {
    const i = this.inbox.item(id);
    return i && this.view(i);
  }

  /** Makes a transition; `undefined` if done, else what to tell the user. */
  async transition(id: string, t: Transition, reason?: string): Promise<string | undefined> {
    try {
      await this.api.transition(id, t, reason);
      this.store();
      this.host.changed();
      return undefined;
    } catch (e) {
      return words(e);
    }
  }

  /** Validates (field by field), uploads the files, sends the content and registers the referral. */
  async create(f: ReferralFormInput): Promise<CreateResult> {
    const me = this.host.state.me;
    const given = f.given.trim().split(/\s+/).filter((g) => g !== '');
    const identifiers = f.mrnSystem.trim() === '' && f.mrnValue.trim() === '' ? [] : [{ system: f.mrnSystem, value: f.mrnValue, type: 'MR' as const }];
    const referralId = newReferralId(systemRandom);
    const input = (attachments: AttachmentRef[]) => ({
      patient: { family: f.family, given, birthDate: f.birthDate, sex: f.sex === '' ? undefined : f.sex, identifiers },
      reason: f.reason,
      note: f.note,
      priority: f.priority,
      specialty: f.specialty,
      from: { user_id: me.userId, display_name: me.name, npi: me.npi, specialty: me.specialty },
      to: f.to && { user_id: f.to.key, display_name: f.to.name, npi: f.to.npi, specialty: f.to.specialty },
      attachments,
      referralId,
    });
    const first = buildReferral(input([]));
    if (!first.ok) return first;
    if (this.host.client.state !== 'online') return { ok: false, problem: 'Not connected: the referral was not sent. Check the network and try again once connected.' };
    const refs: AttachmentRef[] = [];
    for (const file of f.files) {
      try {
        refs.push((await uploadAttachment(this.host.client.http, file.blob as unknown as BlobLike, file.name.replace(/^.*[\\/]/, '') || 'file', systemRandom)).file);
      } catch {
        return { ok: false, problem: `${file.name} could not be uploaded: check your connection and try again (nothing was sent).` };
      }
    }
    const built = buildReferral(input(refs));
    if (!built.ok) return built;
    try {
      await this.api.create(built.referral);
    } catch (e) {
      return { ok: false, problem: words(e) };
    }
    this.store();
    this.host.changed();
    return { ok: true, id: built.referral.referralId };
  }

  /** Clinicians of the directory by name, kept to a specialty if given. */
  async clinicians(query: string, specialty: string): Promise<Clinician[]> {
    const found = await this.host.search(query);
    const s = specialty.trim().toLowerCase();
    return s === '' ? found : found.filter((c) => c.specialty.toLowerCase() === s);
  }

  /** A referral's attachment, downloaded and decrypted. */
  file(id: string, index: number): Promise<Blob> {
    const key = `${id}:${index}`;
    const cached = this.files.get(key);
    if (cached !== undefined) return cached;
    const ref = this.inbox.item(id)?.attachments[index];
    if (ref === undefined) return Promise.reject(new Error('no such file'));
    const p = downloadAttachment(this.host.client.http, ref, { as: 'blob' }).then((b) => new Blob([b as Blob], { type: mimeOf(ref.name) }));
    this.files.set(key, p);
    p.catch(() => this.files.delete(key));
    return p;
  }

  /** The FHIR R4 transaction Bundle for an EHR, as JSON text (`refer export`). */
  exportJson(id: string): string | undefined {
    const b = this.inbox.exportBundle(id, Date.now());
    return b === undefined ? undefined : `${JSON.stringify(b, null, 2)}\n`;
  }
}
