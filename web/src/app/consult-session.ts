/**
 * Curbside consults in an unlocked session (over `./consults.ts`): the
 * opt-in (`PUT /v1/consults/opt-in`, one's own specialty; `GET` read at
 * each connection and visit, so that it is the user's, not the device's), asking (`POST
 * /v1/consults`, then the question end to end encrypted to every device of
 * the clinicians the server chose, `consult` in the `send`), answering (to
 * the asker, and to everyone asked when the asker shares answers), closing
 * (`POST …/close`, then `consult_closed` to everyone asked), the server's
 * list folded in at each connection and whenever the screen is shown.
 * A question's images are encrypted and uploaded first (the attachment
 * machinery of a conversation's files, `../client/attachments.ts`), so that
 * nothing is posted if one cannot be; their references go in the question
 * to everyone asked, and each is decrypted on demand for the views.
 * Refusals say what to do next (`too_many_consults`, `not_found`, a file
 * too large).
 */

import { downloadAttachment, uploadAttachment } from '../client/attachments.js';
import type { Client, Received } from '../client/client.js';
import { CONSULT_MAX_ATTACHMENTS, type AttachmentRef } from '../client/content.js';
import { OnCallApi } from '../client/oncall.js';
import { systemRandom } from '../crypto/primitives.js';
import { ServerError } from '../protocol/errors.js';
import type { BlobLike } from '../protocol/platform.js';
import { applyConsult, consultFileKey, consultPeople, consultsOf, consultViews, mergeServer, openAsked, purgeConsults, recordAsked, type ConsultView } from './consults.js';
import type { AppState } from './state.js';
import { mimeOf } from './views.js';

/** A file picked for a consult question. */
export interface ConsultFile {
  readonly blob: Blob;
  readonly name: string;
}

export { CONSULT_MAX_ATTACHMENTS };

export interface ConsultHost {
  readonly client: Client;
  readonly state: AppState;
  persist(): Promise<void>;
  changed(): void;
  lookUp(user: string): void;
  nameOf(user: string): string;
  notify(title: string, body: string, tag: string): void;
}

export interface ConsultOutcome {
  readonly ok: boolean;
  readonly text: string;
}

export class SessionConsults {
  private readonly api: OnCallApi;
  /** Decrypted files by {@link consultFileKey}, while unlocked (our own question's: the files we picked). */
  private readonly files = new Map<string, Promise<Blob>>();
  /** Counts the opt-in changes made here (a read begun before one is not applied). */
  private optInChanges = 0;

  constructor(private readonly host: ConsultHost) {
    this.api = new OnCallApi(host.client.http);
  }

  private get me(): string {
    return this.host.state.me.userId;
  }

  private store(): void {
    void this.host.persist().catch(() => undefined);
    this.host.changed();
  }

  /** The consults asked and received, open first (names, never ids). */
  get list(): ConsultView[] {
    for (const u of consultPeople(this.host.state)) this.host.lookUp(u);
    return consultViews(this.host.state, (u) => this.host.nameOf(u));
  }

  /** The open consults this user was asked (the top bar's count). */
  get toAnswer(): number {
    return this.list.filter((c) => c.canAnswer && !c.answers.some((a) => a.mine)).length;
  }

  /** This user's specialty (the one they may answer consults for). */
  get specialty(): string {
    return this.host.state.me.specialty;
  }

  /**
   * Whether this user answers consults of their specialty: as the server
   * has it (read at each connection and each visit of the Consults screen,
   * so a change from another device or before a fresh login shows), or as
   * last set or read here until then.
   */
  get optedIn(): boolean {
    const own = this.specialty.trim().toLowerCase();
    return consultsOf(this.host.state).optedIn.some((s) => own === '' || s.trim().toLowerCase() === own);
  }

  /** A received message: consult content is kept (whether it was consult content). */
  apply(r: Received): boolean {
    const effect = applyConsult(this.host.state, r);
    if (effect === 'question') this.host.notify('Curbside consult', 'A colleague asked you a curbside consult', 'curbside-consult');
    if (effect === 'answer') this.host.notify('Curbside consult', 'Your consult has a new answer', 'curbside-consult');
    const t = r.content?.type;
    return t === 'consult' || t === 'consult_answer' || t === 'consult_closed';
  }

  /** Reads the server's list (closed ones, fan-out, recipients) and this user's opt-in. */
  async sync(): Promise<void> {
    await Promise.all([
      this.api.consults().then(
        (list) => mergeServer(this.host.state, list) && this.store(),
        () => undefined, // read again at the next connection or visit
      ),
      this.readOptIn(),
    ]);
  }

  /** The server's opt-in for this user, unless a change from here is on its way (its answer is the truth then). */
  private async readOptIn(): Promise<void> {
    const asked = this.optInChanges;
    let now: string[];
    try {
      now = await this.api.optedIn();
    } catch {
      return; // offline, or a server without the read (405): the last known stays
    }
    if (asked !== this.optInChanges) return;
    const kept = consultsOf(this.host.state);
    if (JSON.stringify(kept.optedIn) === JSON.stringify(now)) return;
    kept.optedIn = now;
    this.store();
  }

  /** Answers consults of one's specialty, or stops. */
  async setOptIn(on: boolean): Promise<ConsultOutcome> {
    const specialty = this.specialty;
    if (on && specialty === '') return { ok: false, text: 'Only verified clinicians with a specialty answer consults: an administrator verifies you first.' };
    this.optInChanges++;
    try {
      const now = await this.api.optIn(on ? [specialty] : []);
      consultsOf(this.host.state).optedIn = now;
      this.store();
      return { ok: true, text: on ? `You now receive ${specialty} consults from colleagues.` : 'You no longer receive consults.' };
    } catch (e) {
      const code = e instanceof ServerError ? e.code : undefined;
      if (code === 'forbidden') return { ok: false, text: 'Only verified clinicians answer consults: ask an administrator to verify you, then try again.' };
      if (code === 'invalid_request') return { ok: false, text: `You can answer consults of your own specialty only (${specialty || 'none on record'}).` };
      return { ok: false, text: 'The setting could not be saved: check your connection and try again.' };
    }
  }

  /**
   * Asks a specialty: the server chooses who (verified, opted in); the
   * question, with its images (at most {@link CONSULT_MAX_ATTACHMENTS}),
   * goes end to end encrypted to them. The images are uploaded before the
   * consult is posted: if one cannot be, nothing is posted.
   */
  async ask(specialty: string, text: string, shareAnswers: boolean, images: readonly ConsultFile[] = []): Promise<ConsultOutcome> {
    const s = specialty.trim();
    const q = text.trim();
    if (s === '') return { ok: false, text: 'Choose the specialty to ask, such as Dermatology.' };
    if (q === '') return { ok: false, text: 'Write your question first.' };
    if (images.length > CONSULT_MAX_ATTACHMENTS) return { ok: false, text: `A consult takes at most ${CONSULT_MAX_ATTACHMENTS} images: remove ${images.length - CONSULT_MAX_ATTACHMENTS}, then ask again.` };
    const notImage = images.find((f) => !f.blob.type.startsWith('image/') && mimeOf(f.name) === 'application/octet-stream');
    if (notImage !== undefined) return { ok: false, text: `${notImage.name} is not an image: attach photos or screenshots only (PNG, JPEG, …), or send the file in a colleague's conversation.` };
    if (this.host.client.state !== 'online') return { ok: false, text: 'Asking a consult needs the connection: try again once Curbside shows Online.' };
    const refs: AttachmentRef[] = [];
    for (const [i, f] of images.entries()) {
      const name = f.name.replace(/^.*[\\/]/, '') || `image-${i + 1}`;
      try {
        refs.push((await uploadAttachment(this.host.client.http, f.blob as unknown as BlobLike, name, systemRandom)).file);
      } catch (e) {
        const code = e instanceof ServerError ? e.code : (e as { code?: unknown } | null)?.code;
        if (code === 'payload_too_large' || code === 'too_large') return { ok: false, text: `${name} is too large for the server (or your attachment storage is full): choose a smaller image, then ask again. Nothing was posted.` };
        return { ok: false, text: `${name} could not be uploaded: check your connection and ask again. Nothing was posted.` };
      }
    }
    let consult;
    try {
      consult = await this.api.postConsult(s, shareAnswers);
    } catch (e) {
      const code = e instanceof ServerError ? e.code : undefined;
      if (code === 'too_many_consults') {
        return { ok: false, text: `You have ${Math.max(openAsked(this.host.state), 1)} consults open, the most your organisation allows: close one you no longer need (Close, below), then ask again.` };
      }
      if (code === 'not_found') return { ok: false, text: `No verified ${s} clinician answers consults yet: check the specialty as the directory writes it, or write to a colleague by name (Find a colleague).` };
      return { ok: false, text: 'The consult could not be posted: check your connection and try again.' };
    }
    recordAsked(this.host.state, consult, q, Date.now(), refs);
    images.forEach((f, i) => this.files.set(consultFileKey(consult.consult_id, i), Promise.resolve(new Blob([f.blob], { type: mimeOf(refs[i]?.name ?? f.name) }))));
    this.store();
    try {
      await this.host.client.send([...consult.recipients], 'message', { type: 'consult', consult_id: consult.consult_id, specialty: consult.specialty, text: q, attachments: refs }, undefined, { consult: consult.consult_id });
    } catch {
      return { ok: false, text: `The consult was posted but the question could not be sent: close it (Close, below) and ask again.` };
    }
    const withImages = refs.length === 0 ? '' : `, with ${refs.length === 1 ? 'its image' : `its ${refs.length} images`},`;
    return { ok: true, text: `Sent${withImages} to ${consult.fan_out} ${consult.specialty} clinician${consult.fan_out === 1 ? '' : 's'} who answer consults. Their answers come here${shareAnswers ? ' and go to everyone asked' : ''}.` };
  }

  /** A consult's file (`ConsultFileView.key`), downloaded and decrypted here (every chunk, the digest and the size verified). */
  file(key: string): Promise<Blob> {
    const cached = this.files.get(key);
    if (cached !== undefined) return cached;
    const cut = key.lastIndexOf(':');
    const ref = consultsOf(this.host.state).items[key.slice(0, cut)]?.attachments?.[Number(key.slice(cut + 1))];
    if (cut < 0 || ref === undefined) return Promise.reject(new Error('no such file'));
    const p = downloadAttachment(this.host.client.http, ref, { as: 'blob' }).then((b) => new Blob([b as Blob], { type: mimeOf(ref.name) }));
    this.files.set(key, p);
    p.catch(() => this.files.delete(key));
    return p;
  }

  /** The organisation's retention: older consults go with their files (references and decrypted copies), older answers go; whether anything did. */
  retain(now: number): boolean {
    const { files, changed } = purgeConsults(this.host.state, now);
    if (!changed) return false;
    for (const k of files) this.files.delete(k);
    this.store();
    return true;
  }

  /** Answers a consult we were asked: to its asker (and everyone asked, if shared). */
  async answer(id: string, text: string): Promise<ConsultOutcome> {
    const a = text.trim();
    const record = consultsOf(this.host.state).items[id];
    if (record === undefined) return { ok: false, text: 'This consult is not on this device.' };
    if (a === '') return { ok: false, text: 'Write your answer first.' };
    if (this.host.client.state !== 'online') return { ok: false, text: 'Answering needs the connection: try again once Curbside shows Online.' };
    await this.sync();
    if (record.closed) return { ok: false, text: `${this.host.nameOf(record.asker)} closed this consult: no more answers are taken.` };
    const to = [record.asker, ...(record.shareAnswers ? record.recipients.filter((u) => u !== this.me && u !== record.asker) : [])];
    try {
      await this.host.client.send(to, 'message', { type: 'consult_answer', consult_id: id, text: a }, undefined, { consult: id });
    } catch (e) {
      const code = e instanceof ServerError ? e.code : undefined;
      if (code === 'invalid_request') {
        record.closed = true;
        this.store();
        return { ok: false, text: `${this.host.nameOf(record.asker)} closed this consult: no more answers are taken.` };
      }
      if (code === 'not_found') return { ok: false, text: 'The server does not list you among those asked: the consult may have expired.' };
      return { ok: false, text: 'The answer could not be sent: check your connection and try again.' };
    }
    record.answers.push({ from: this.me, text: a, at: Date.now() });
    this.store();
    return { ok: true, text: `Answered: ${this.host.nameOf(record.asker)}${to.length > 1 ? ' and everyone asked' : ''} can read it.` };
  }

  /** Closes a consult we asked: no more answers; everyone asked stops showing it as open. */
  async close(id: string): Promise<ConsultOutcome> {
    const record = consultsOf(this.host.state).items[id];
    if (record === undefined || record.asker !== this.me) return { ok: false, text: 'Only the clinician who asked a consult closes it.' };
    try {
      await this.api.closeConsult(id);
    } catch (e) {
      if (e instanceof ServerError && e.code === 'not_found') {
        record.closed = true;
        this.store();
        return { ok: true, text: 'The server no longer has this consult: it is closed here.' };
      }
      return { ok: false, text: 'The consult could not be closed: check your connection and try again.' };
    }
    record.closed = true;
    this.store();
    const recipients = record.recipients.filter((u) => u !== this.me);
    if (recipients.length > 0) {
      const sending = this.host.client.send(recipients, 'control', { type: 'consult_closed', consult_id: id });
      sending.catch(() => undefined); // in the outbox: it goes when it can
    }
    return { ok: true, text: 'Closed: no more answers are taken, and everyone asked is told.' };
  }
}
