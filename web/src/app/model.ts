/**
 * The application model (no DOM): which screen (enroll, unlock, main), the
 * enrollment and the unlock with their key-derivation progress, the lock
 * (on demand and after idle: the key, the state and the client dropped
 * from memory, the connection stopped), the selected conversation, and
 * everything the main screen shows, from the unlocked {@link Session}. It
 * emits change events; the views subscribe and call its methods.
 */

import { Account } from '../client/account.js';
import type { ClientStateJSON } from '../client/client.js';
import { enroll } from '../client/enroll.js';
import { HttpApi } from '../protocol/http.js';
import { ServerError } from '../protocol/errors.js';
import { checkEnrollForm, enrollProfile, enrollRefusal, type EnrollForm, type FieldErrors } from './enroll-form.js';
import { AdminConsole } from './admin.js';
import { sessionCompliance, type ComplianceConsole } from './compliance.js';
import { DeviceLinking } from './device-link.js';
import { Emitter } from './events.js';
import type { Host, Vault, VaultOpener } from './ports.js';
import type { SessionReferrals } from './referrals.js';
import { explain } from './explain.js';
import { Session, type SendResult } from './session.js';
import { durationWords, newState, stateFromJSON } from './state.js';
import { messageViews, personView, previewOf, timerWords, type Clinician, type ConversationSummary, type LinkState, type MessageView, type PersonView, type SafetyView } from './views.js';

/** `elsewhere`: the account is open in another tab of this browser; `locked_out`: this device was revoked (`./device-link.ts`). */
export type Screen = 'loading' | 'enroll' | 'unlock' | 'main' | 'elsewhere' | 'locked_out';

/** Idle-lock choices (minutes). */
export const IDLE_LOCK_CHOICES = [1, 5, 15, 30, 60] as const;

export const WRONG_PASSPHRASE = 'Wrong passphrase — try again';

export class AppModel {
  private readonly emitter = new Emitter();
  private screenValue: Screen = 'loading';
  private session: Session | undefined;
  private adminValue: AdminConsole | undefined;
  private complianceValue: ComplianceConsole | undefined;
  private busyValue: { what: string; progress: number } | undefined;
  private fieldErrors: FieldErrors = {};
  private errorValue: string | undefined;
  private noticeValue: string | undefined;
  private selectedValue: string | undefined;
  private visible = true;
  private lastActivity = Date.now();
  private idleTimer: ReturnType<typeof setInterval> | undefined;
  /** Linked devices (`./device-link.ts`): this browser linked with a code, the Devices screen, the lock-out when revoked. */
  readonly linking = new DeviceLinking({ vaults: () => this.vaults, host: () => this.host, session: () => this.session, changed: () => this.changed(), lock: () => this.lock('loading'),
    begin: (l) => this.begin(new Session(l.vault, l.account, l.client, l.state, this.sessionEvents())), show: (screen) => void ((this.screenValue = screen), this.changed()) });
  /** Called while the page is hidden for a new message (never any content) or a referral's news (`./referral-notices.ts`; `tag`: one per referral). */
  onNotify: ((title: string, body: string, tag?: string) => void) | undefined;

  constructor(
    private readonly vaults: VaultOpener,
    private readonly host: Host,
  ) {}

  subscribe(listener: () => void): () => void {
    return this.emitter.subscribe(listener);
  }

  private changed(): void {
    this.emitter.emit();
  }

  /** Decides the first screen: unlock if this browser holds an account, else enroll. */
  async start(): Promise<void> {
    if (!(await this.host.claimTab())) {
      this.screenValue = 'elsewhere';
      this.changed();
      return;
    }
    this.screenValue = (await this.vaults.exists()) ? 'unlock' : 'enroll';
    this.changed();
  }

  get screen(): Screen {
    return this.screenValue;
  }
  /** A long operation (deriving the key, enrolling) and its progress from 0 to 1. */
  get busy(): { what: string; progress: number } | undefined {
    return this.busyValue;
  }
  /** The enrollment form's problems, by field. */
  get errors(): FieldErrors {
    return this.fieldErrors;
  }
  /** A screen-wide error (the unlock's wrong passphrase, the server's refusal). */
  get error(): string | undefined {
    return this.errorValue;
  }
  /** A passing message on the main screen (a problem, and what to do). */
  get notice(): string | undefined {
    return this.noticeValue;
  }
  dismissNotice(): void {
    this.noticeValue = undefined;
    this.changed();
  }

  private progress(what: string): (fraction: number) => void {
    return (fraction) => {
      this.busyValue = { what, progress: fraction };
      this.changed();
    };
  }

  // ---- enroll, unlock, lock -----------------------------------------------------

  /** Checks the form, derives the store key, enrolls with the invite and seals the new account. Whether it succeeded. */
  async enroll(form: EnrollForm): Promise<boolean> {
    this.fieldErrors = checkEnrollForm(form);
    this.errorValue = undefined;
    if (Object.keys(this.fieldErrors).length > 0) {
      this.changed();
      return false;
    }
    const onProgress = this.progress('Protecting this device with your passphrase…');
    onProgress(0);
    let vault: Vault | undefined;
    try {
      vault = await this.vaults.create(form.passphrase, onProgress);
      this.busyValue = { what: 'Enrolling with the server…', progress: 1 };
      this.changed();
      const api = new HttpApi({ url: this.host.origin });
      const hello = (await api.json('GET', '/v1/auth/challenge').catch(() => null)) as { server_name?: unknown } | null;
      const serverName = typeof hello?.server_name === 'string' ? hello.server_name : this.host.hostname;
      const { invite, displayName, npi, specialty } = enrollProfile(form);
      const { account, response } = await enroll({ url: this.host.origin, serverName }, invite, { displayName, npi, specialty });
      const state = newState({ userId: account.me.user_id, name: displayName, npi, specialty, roles: response.roles });
      const client: ClientStateJSON = { outbox: [], seen: [] };
      await vault.write({ account: account.toJSON(), client, state });
      this.begin(new Session(vault, account, client, state, this.sessionEvents()));
      return true;
    } catch (e) {
      vault?.close();
      const refusal = enrollRefusal(e instanceof ServerError ? e.code : undefined, e instanceof Error ? e.message : '', form.officer === true);
      this.fieldErrors = refusal.fields ?? {};
      this.errorValue = refusal.error;
      return false;
    } finally {
      this.busyValue = undefined;
      this.changed();
    }
  }

  /** Derives the key from the passphrase (once) and opens the sealed state. Whether it opened. */
  async unlock(passphrase: string): Promise<boolean> {
    this.errorValue = undefined;
    try {
      const vault = await this.vaults.unlock(passphrase, this.progress('Unlocking…'));
      if (vault === 'wrong_passphrase') {
        this.errorValue = WRONG_PASSPHRASE;
        return false;
      }
      if (vault === 'empty') {
        this.screenValue = 'enroll';
        return false;
      }
      let session: Session;
      try {
        const account = Account.fromJSON(await vault.read('account'));
        const client = ((await vault.read('client')) as ClientStateJSON | undefined) ?? { outbox: [], seen: [] };
        const state = stateFromJSON(await vault.read('state'));
        session = new Session(vault, account, client, state, this.sessionEvents());
      } catch (e) {
        vault.close();
        throw e;
      }
      this.begin(session);
      return true;
    } catch {
      this.errorValue = 'The data on this device could not be read: reload the page and try again.';
      return false;
    } finally {
      this.busyValue = undefined;
      this.changed();
    }
  }

  private sessionEvents(): ConstructorParameters<typeof Session>[4] {
    return {
      lockedOut: (reason) => void this.linking.lockOut(reason),
      changed: () => this.changed(),
      arrived: () => {
        if (!this.visible) this.onNotify?.('Curbside', 'New secure message');
      },
      notify: (title, body, tag) => {
        if (!this.visible) this.onNotify?.(title, body, tag);
      },
      alert: (title, body) => this.onNotify?.(title, body, 'curbside-urgent'), // an open urgent message: even while the page is shown
      problem: (text) => {
        this.noticeValue = text;
        this.changed();
      },
      oncall: (text) => ((this.noticeValue = text), this.changed(), this.onNotify?.('Curbside on-call', text, 'curbside-oncall')), // a hand-off: told even while the page is shown, as an urgent message
    };
  }

  private begin(session: Session): void {
    this.session = session;
    this.screenValue = 'main';
    this.lastActivity = Date.now();
    session.start();
    this.idleTimer = setInterval(() => this.checkIdle(), 5000);
    session.setOpen(this.selectedValue, this.visible);
    this.changed();
  }

  /** Locks now: the key, the state and the client leave memory; the connection stops (`then`: the screen shown meanwhile). */
  async lock(then: 'unlock' | 'loading' = 'unlock'): Promise<void> {
    const s = this.session;
    if (s === undefined) return;
    this.session = undefined;
    this.adminValue = undefined;
    this.complianceValue = undefined;
    if (this.idleTimer !== undefined) clearInterval(this.idleTimer);
    this.selectedValue = undefined;
    this.noticeValue = undefined;
    this.screenValue = then;
    this.changed();
    await s.stop();
  }

  /** The user did something (resets the idle timer). */
  touch(): void {
    this.lastActivity = Date.now();
  }

  private checkIdle(): void {
    const s = this.session;
    if (s === undefined) return;
    if (Date.now() - this.lastActivity >= s.state.settings.idleLockMinutes * 60_000) void this.lock();
  }

  get idleLockMinutes(): number {
    return this.session?.state.settings.idleLockMinutes ?? 5;
  }

  setIdleLockMinutes(minutes: number): void {
    const s = this.session;
    if (s === undefined || !Number.isFinite(minutes) || minutes < 1) return;
    s.state.settings.idleLockMinutes = minutes;
    void s.persist().catch(() => undefined);
    this.changed();
  }

  /** Whether the page is visible (read receipts and notifications depend on it). */
  setVisible(visible: boolean): void {
    this.visible = visible;
    if (visible) this.checkIdle();
    this.session?.setOpen(this.selectedValue, visible);
  }

  // ---- the main screen ---------------------------------------------------------

  private get s(): Session {
    if (this.session === undefined) throw new Error('locked');
    return this.session;
  }

  get me(): PersonView | undefined {
    return this.session ? personView(this.session.state, this.session.me) : undefined;
  }

  /** The administrator's console (`./admin.ts`), while unlocked, for a user with the admin role. */
  get admin(): AdminConsole | undefined {
    const s = this.session;
    if (s === undefined || !(s.state.me.roles ?? []).includes('admin')) return undefined;
    this.adminValue ??= new AdminConsole(s.client.http, this.host.origin, s.me, () => this.changed());
    return this.adminValue;
  }

  /** The compliance officer's console (`./compliance.ts`), while unlocked, for a user with the compliance_officer role. */
  get compliance(): ComplianceConsole | undefined {
    const s = this.session;
    if (s === undefined || !(s.state.me.roles ?? []).includes('compliance_officer')) return undefined;
    this.complianceValue ??= sessionCompliance(s, () => this.changed());
    return this.complianceValue;
  }

  /** Referrals (`./referrals.ts`) and care teams (`./teams.ts`; a team's conversation key is `team:…`, `isTeamKey`), while unlocked. */
  get referrals(): SessionReferrals | undefined {
    return this.session?.referrals;
  }
  get teams(): Session['teams'] | undefined {
    return this.session?.teams;
  }
  /** On-call roles (`./oncall-session.ts`; a role's thread key is `oncall:…`, `isRoleKey`) and curbside consults (`./consult-session.ts`), while unlocked. */
  get oncall(): Session['oncall'] | undefined {
    return this.session?.oncall;
  }
  get consults(): Session['consults'] | undefined {
    return this.session?.consults;
  }
  /** Urgent messages, recall and the retention policy (`./urgent-session.ts`), while unlocked. */
  get urgent(): Session['urgent'] | undefined {
    return this.session?.urgent;
  }

  get link(): LinkState {
    return this.session?.linkState ?? 'offline';
  }

  /** Conversations, the latest first. */
  get conversations(): ConversationSummary[] {
    const s = this.session;
    if (s === undefined) return [];
    const out = Object.values(s.state.conversations).map((c) => {
      const last = messageViews(s.state, { ...c, messages: c.messages.slice(-1) })[0];
      return {
        person: personView(s.state, c.peer),
        unread: c.unread,
        lastAt: last?.at,
        preview: previewOf(last?.body),
        trust: s.trust(c.peer),
        timer: c.timer,
      };
    });
    return out.sort((a, b) => (b.lastAt ?? Number.MAX_SAFE_INTEGER) - (a.lastAt ?? Number.MAX_SAFE_INTEGER));
  }

  /** The conversation shown (its key), if any. */
  get selected(): string | undefined {
    return this.selectedValue;
  }

  /** Shows a conversation (or none): its messages are then read, and receipts sent while the page is visible. */
  select(key: string | undefined): void {
    this.selectedValue = key;
    this.session?.setOpen(key, this.visible);
    this.changed();
  }

  person(key: string): PersonView {
    return personView(this.s.state, key);
  }

  messages(key: string): MessageView[] {
    const c = this.s.state.conversations[key];
    return c === undefined ? [] : messageViews(this.s.state, c);
  }

  /** The conversation's timer: seconds, a sentence, and the duration in words (`5 minutes`). */
  timer(key: string): { seconds: number | null; words: string; duration: string } {
    const seconds = this.s.state.conversations[key]?.timer ?? null;
    return { seconds, words: timerWords(seconds), duration: seconds === null ? 'off' : durationWords(seconds) };
  }

  trust(key: string): ConversationSummary['trust'] {
    return this.s.trust(key);
  }

  search(query: string): Promise<Clinician[]> {
    return this.s.search(query).catch((e: unknown) => {
      throw new Error(`The directory could not be searched: ${explain(e)}`);
    });
  }

  startWith(c: Clinician): void {
    this.s.startWith(c);
    this.select(c.key);
  }

  sendText(key: string, text: string, confirmed = false): Promise<SendResult> {
    return this.s.sendText(key, text, confirmed);
  }

  sendFile(key: string, file: Blob, name: string, confirmed = false): Promise<SendResult> {
    return this.s.sendFile(key, file, name, confirmed);
  }

  /** Sends a refused message again (`'confirm'`: ask first, the colleague's keys changed). */
  retry(key: string, messageKey: string, confirmed = false): Promise<SendResult> {
    return this.s.retry(key, messageKey, confirmed);
  }

  setTimer(key: string, seconds: number | null): Promise<SendResult> {
    return this.s.setTimer(key, seconds);
  }

  safety(key: string): Promise<SafetyView | undefined> {
    return this.s.safety(key);
  }

  confirmSafety(key: string): Promise<void> {
    return this.s.confirmSafety(key);
  }

  /** A file of the conversation, decrypted (its type from its name, for image previews). */
  file(key: string, messageKey: string): Promise<Blob> {
    return this.s.file(key, messageKey);
  }
}
