/**
 * Linked devices (no DOM): this browser linked as another device of a
 * clinician who already has one (the device code her other device shows,
 * `../client/devices.ts`), and the Devices screen's model: her devices
 * (this browser marked), a code for a new device (grouped for typing, a QR
 * code of the `#invite=` link, its expiry; the list watched until the new
 * device appears), and revocation. Ids are shown as device numbers only
 * (`Device 3`): the server gives no names, labels or last-seen times.
 */

import type { Account } from '../client/account.js';
import type { ClientStateJSON } from '../client/client.js';
import { enrollDevice, issueDeviceCode, listDevices, parseDeviceCode, revokeDevice, type DeviceInfo, type DevicesApi } from '../client/devices.js';
import { DeviceHttp, HttpApi } from '../protocol/http.js';
import { ServerError } from '../protocol/errors.js';
import { MIN_PASSPHRASE } from './enroll-form.js';
import type { Host, Vault, VaultOpener } from './ports.js';
import { newState, type AppState } from './state.js';
import { qrModules } from './trust.js';

// ---- enrolling this browser as another device -------------------------------------

export interface DeviceEnrollForm {
  /** The device code as typed (its grouped form, or the `#invite=` link, are fine). */
  code: string;
  passphrase: string;
  confirmation: string;
}
export type DeviceField = keyof DeviceEnrollForm;
export type DeviceFieldErrors = Partial<Record<DeviceField, string>>;

/** How long a code issued here is valid (the server clamps to 60 s … 30 days). */
export const CODE_LIFETIME_MINUTES = 15;

const ASK_AGAIN = 'on your other device, choose “Link a new device” again (in the terminal: curbside devices add) and enter the new code';

/** The code in what was typed: a pasted `#invite=` link gives its code; spaces and line breaks go. */
function codeOf(typed: string): string {
  const m = /#(?:.*&)?invite=([A-Za-z0-9_-]+)/.exec(typed);
  return (m?.[1] ?? typed).replace(/\s+/g, '');
}

/** The form's problems, by field, before anything is sent. */
export function checkDeviceEnrollForm(f: DeviceEnrollForm): DeviceFieldErrors {
  const e: DeviceFieldErrors = {};
  const code = codeOf(f.code);
  if (code === '') e.code = 'Enter the device code your other device shows (it starts with cbs_dev_).';
  else if (/^cbs_(inv|boot)_/.test(code)) {
    e.code = 'This is an invite for a new account, not a device code: choose “I’m new to Curbside” above, or get a device code from your other device.';
  } else {
    try {
      parseDeviceCode(code);
    } catch {
      e.code = 'This is not a device code: it starts with cbs_dev_ — copy it again from your other device (spaces are fine).';
    }
  }
  if (f.passphrase.length < MIN_PASSPHRASE) e.passphrase = `Choose a passphrase of at least ${MIN_PASSPHRASE} characters for this browser (a few words is best).`;
  if (f.confirmation !== f.passphrase) e.confirmation = 'The two passphrases differ: type the same one again.';
  return e;
}

/** The server's refusal of a device enrollment, on the field it concerns (or the whole form), with what to do. */
export function deviceEnrollProblem(e: unknown): { field?: DeviceField; text: string } {
  switch (e instanceof ServerError ? e.code : undefined) {
    case 'invalid_invite':
      return { field: 'code', text: `The server does not know this code, or it was already used. Check it for a typo (capitals matter), or ${ASK_AGAIN}.` };
    case 'invite_expired':
      return { field: 'code', text: `This code has expired (codes are valid once, for ${CODE_LIFETIME_MINUTES} minutes): ${ASK_AGAIN}.` };
    case 'user_deactivated':
      return { field: 'code', text: 'The account this code is for was deactivated: contact your administrator.' };
    case 'auth_failed':
      return { text: 'The server refused this browser’s proof of enrollment: reload the page and try again (the code was not used).' };
    case 'rate_limited':
      return { text: 'Too many attempts: wait a minute and try again (the code was not used).' };
    default:
      return { text: 'Linking failed: check your connection and try again (the code was not used).' };
  }
}

/** The server's name, as it announces it (the enrollment proof signs it). */
export async function serverNameOf(host: Host): Promise<string> {
  const api = new HttpApi({ url: host.origin });
  const hello = (await api.json('GET', '/v1/auth/challenge').catch(() => null)) as { server_name?: unknown } | null;
  return typeof hello?.server_name === 'string' ? hello.server_name : host.hostname;
}

/** A linked browser's new session: its vault (open), account, client state and application state, sealed. */
export interface Linked {
  readonly vault: Vault;
  readonly account: Account;
  readonly client: ClientStateJSON;
  readonly state: AppState;
}

/**
 * Checks the form, derives the store key, enrolls this browser with the
 * code as a new device of the code's user, takes her name, NPI and
 * specialty from the directory (roles from the enrollment's answer) and
 * seals the new account. A refusal: the problems by field, or for the
 * whole form (the vault closed, nothing written).
 */
export async function linkThisBrowser(
  form: DeviceEnrollForm,
  vaults: VaultOpener,
  host: Host,
  progress: (what: string, fraction: number) => void,
): Promise<{ linked: Linked } | { errors: DeviceFieldErrors; error?: string }> {
  const errors = checkDeviceEnrollForm(form);
  if (Object.keys(errors).length > 0) return { errors };
  let vault: Vault | undefined;
  try {
    progress('Protecting this device with your passphrase…', 0);
    vault = await vaults.create(form.passphrase, (f) => progress('Protecting this device with your passphrase…', f));
    progress('Linking this browser to your account…', 1);
    const serverName = await serverNameOf(host);
    const { account, response } = await enrollDevice({ url: host.origin, serverName }, codeOf(form.code));
    const state = newState({ userId: response.user_id, name: '', npi: '', specialty: '', roles: response.roles });
    await fillOwnProfile(new DeviceHttp(new HttpApi({ url: host.origin }), serverName, account.me, account.identity), state).catch(() => undefined);
    const client: ClientStateJSON = { outbox: [], seen: [] };
    await vault.write({ account: account.toJSON(), client, state });
    return { linked: { vault, account, client, state } };
  } catch (e) {
    vault?.close();
    const p = deviceEnrollProblem(e);
    return p.field !== undefined ? { errors: { [p.field]: p.text } } : { errors: {}, error: p.text };
  }
}

/** The user's own name, NPI and specialty from the directory (a linked device was given none); whether found. */
export async function fillOwnProfile(http: Pick<DeviceHttp, 'directory'>, state: AppState): Promise<boolean> {
  const me = state.me.userId;
  const entry = (await http.directory({ user_id: me })).find((d) => d.user_id === me);
  if (entry === undefined) return false;
  state.me.name = entry.display_name;
  state.me.npi = entry.npi;
  state.me.specialty = entry.specialty;
  return true;
}

// ---- the Devices screen --------------------------------------------------------------

/** Why this browser can no longer use the account (the locked-out screen). */
export type LockOutReason = 'revoked' | 'self' | 'deactivated';

export interface DeviceRow {
  readonly id: number;
  /** `This browser` or `Device 3`. */
  readonly name: string;
  readonly thisDevice: boolean;
  readonly active: boolean;
  /** `Enrolled 2 Dec 2025, 17:27` (and `revoked …`). */
  readonly detail: string;
}

export interface CodeView {
  /** The code itself, as entered. */
  readonly code: string;
  /** The code in groups of four after its `cbs_dev_` prefix. */
  readonly groups: readonly string[];
  /** The enrollment link the QR code holds (`#invite=` opens the form with the code filled in). */
  readonly link: string;
  readonly qr: readonly (readonly boolean[])[];
  readonly expires: string;
  readonly expiresAt: number;
}

export interface DeviceOutcome {
  readonly ok: boolean;
  readonly text: string;
}

/** What the Devices screen needs from the session: authenticated JSON requests. */
export type DevicesHttp = DevicesApi;

function at(ms: number): string {
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** Words for a devices call's error, with what to do next. */
export function explainDevices(e: unknown): string {
  switch (e instanceof ServerError ? e.code : (e as { code?: unknown } | null)?.code) {
    case 'not_found':
      return 'The server does not have this device (it may have been revoked already): reload the list.';
    case 'forbidden':
      return 'The server refused: a device can only be linked to your own account.';
    case 'user_deactivated':
      return 'Your account was deactivated: contact your administrator.';
    case 'rate_limited':
      return 'Too many requests: wait a minute and try again.';
    default:
      return 'The server could not be reached: check your connection and try again.';
  }
}

export class DevicesConsole {
  private devicesValue: DeviceInfo[] = [];
  private loadedValue = false;
  private errorValue: string | undefined;
  private codeValue: CodeView | undefined;
  private before = new Set<number>();
  private watch: ReturnType<typeof setInterval> | undefined;
  private outcomeValue: DeviceOutcome | undefined;

  constructor(
    private readonly http: DevicesHttp,
    private readonly me: { user_id: string; device_id: number },
    private readonly origin: string,
    private readonly changed: () => void,
    /** This browser was revoked (found out here, or by revoking itself). */
    private readonly lockedOut: (reason: LockOutReason) => void,
  ) {}

  get loaded(): boolean {
    return this.loadedValue;
  }
  get error(): string | undefined {
    return this.errorValue;
  }
  /** The code shown for a new device, until it is used or expires. */
  get code(): CodeView | undefined {
    if (this.codeValue !== undefined && this.codeValue.expiresAt <= Date.now()) this.codeValue = undefined;
    return this.codeValue;
  }
  /** The last action's result (linked, revoked, refused). */
  get outcome(): DeviceOutcome | undefined {
    return this.outcomeValue;
  }

  /** Active devices, this browser first, then by number. */
  get active(): DeviceRow[] {
    return this.devicesValue
      .filter((d) => d.revokedAt === undefined)
      .map((d) => this.row(d))
      .sort((a, b) => Number(b.thisDevice) - Number(a.thisDevice) || a.id - b.id);
  }
  /** Revoked devices, the latest first. */
  get revoked(): DeviceRow[] {
    return this.devicesValue
      .filter((d) => d.revokedAt !== undefined)
      .sort((a, b) => (b.revokedAt ?? 0) - (a.revokedAt ?? 0))
      .map((d) => this.row(d));
  }

  private row(d: DeviceInfo): DeviceRow {
    const thisDevice = d.deviceId === this.me.device_id;
    return {
      id: d.deviceId,
      name: thisDevice ? 'This browser' : `Device ${d.deviceId}`,
      thisDevice,
      active: d.revokedAt === undefined,
      detail: `${thisDevice ? `Device ${d.deviceId}, enrolled` : 'Enrolled'} ${at(d.createdAt)}${d.revokedAt === undefined ? '' : `, revoked ${at(d.revokedAt)}`}`,
    };
  }

  /** A device number's name as the screen shows it. */
  nameOf(id: number): string {
    return id === this.me.device_id ? 'This browser' : `Device ${id}`;
  }

  private refused(e: unknown): boolean {
    if (e instanceof ServerError && e.code === 'device_revoked') {
      this.stop();
      this.lockedOut('revoked');
      return true;
    }
    return false;
  }

  async refresh(): Promise<void> {
    try {
      this.devicesValue = await listDevices(this.http);
      this.loadedValue = true;
      this.errorValue = undefined;
      const added = this.devicesValue.find((d) => d.revokedAt === undefined && !this.before.has(d.deviceId));
      if (this.codeValue !== undefined && added !== undefined) {
        this.codeValue = undefined;
        this.outcomeValue = { ok: true, text: `Device ${added.deviceId} is linked: it now receives your messages, and what you send from it shows here as sent by you.` };
        this.stopWatching();
      }
    } catch (e) {
      if (this.refused(e)) return;
      this.errorValue = `Your devices could not be listed. ${explainDevices(e)}`;
    }
    this.changed();
  }

  /** Issues a one-time code for a new device and watches the list until it enrolls. */
  async link(): Promise<void> {
    try {
      if (!this.loadedValue) await this.refresh();
      this.before = new Set(this.devicesValue.map((d) => d.deviceId));
      const c = await issueDeviceCode(this.http, this.me.user_id, CODE_LIFETIME_MINUTES * 60);
      const link = `${this.origin}/#invite=${c.code}`;
      this.codeValue = {
        code: c.code,
        groups: c.display.split(' ').slice(1),
        link,
        qr: qrModules(link),
        expires: `Valid once, until ${new Date(c.expiresAt).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })} (${Math.max(1, Math.round((c.expiresAt - Date.now()) / 60_000))} minutes).`,
        expiresAt: c.expiresAt,
      };
      this.outcomeValue = undefined;
      this.startWatching();
    } catch (e) {
      if (this.refused(e)) return;
      this.outcomeValue = { ok: false, text: `No code was issued. ${explainDevices(e)}` };
    }
    this.changed();
  }

  /** Revokes one of the user's devices (this browser too: it is then locked out and erased). */
  async revoke(id: number): Promise<void> {
    const name = this.nameOf(id);
    try {
      await revokeDevice(this.http, id);
    } catch (e) {
      if (this.refused(e)) return;
      this.outcomeValue = { ok: false, text: `${name} was not revoked. ${explainDevices(e)}` };
      this.changed();
      return;
    }
    if (id === this.me.device_id) {
      this.stop();
      this.lockedOut('self');
      return;
    }
    this.outcomeValue = { ok: true, text: `${name} is revoked: it no longer receives your messages, and it cannot connect again.` };
    await this.refresh();
  }

  /** Whether the screen is shown (the list is watched only then, while a code waits). */
  setShown(shown: boolean): void {
    if (!shown) this.stopWatching();
    else if (this.codeValue !== undefined) this.startWatching();
  }

  private startWatching(): void {
    this.stopWatching();
    this.watch = setInterval(() => {
      if (this.code === undefined) {
        this.stopWatching();
        this.changed();
      } else void this.refresh();
    }, 2000);
  }

  private stopWatching(): void {
    if (this.watch !== undefined) clearInterval(this.watch);
    this.watch = undefined;
  }

  /** At lock: no more requests. */
  stop(): void {
    this.stopWatching();
  }
}
