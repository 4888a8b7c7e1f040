/**
 * Linking this browser to a clinician's account as another device (no
 * DOM): the device enrollment form (the code her other device shows, or an
 * administrator's device invite; `../client/devices.ts`), its checks and
 * the server's refusals by field; her name from the directory; and
 * {@link DeviceLinking}, the model's part for linked devices: the
 * enrollment, the Devices screen's console (`./devices.ts`), and the
 * lock-out when this device is revoked (the session stopped, the sealed
 * state erased, the locked-out screen).
 */

import type { Account } from '../client/account.js';
import type { ClientStateJSON } from '../client/client.js';
import { enrollDevice, parseDeviceCode } from '../client/devices.js';
import { DeviceHttp, HttpApi } from '../protocol/http.js';
import { ServerError } from '../protocol/errors.js';
import { DevicesConsole, type LockOutReason } from './devices.js';
import { MIN_PASSPHRASE } from './enroll-form.js';
import type { Host, Vault, VaultOpener } from './ports.js';
import type { Session } from './session.js';
import { newState, type AppState } from './state.js';

export interface DeviceEnrollForm {
  /** The device code as typed (its grouped form, or the `#invite=` link, are fine). */
  code: string;
  passphrase: string;
  confirmation: string;
}
export type DeviceField = keyof DeviceEnrollForm;
export type DeviceFieldErrors = Partial<Record<DeviceField, string>>;

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
      return { field: 'code', text: `This code has expired (a code is valid once, for a limited time): ${ASK_AGAIN}.` };
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

// ---- the model's part ------------------------------------------------------------------

/** What {@link DeviceLinking} needs from the application model. */
export interface LinkingPort {
  vaults(): VaultOpener;
  host(): Host;
  /** The unlocked session, if any. */
  session(): Session | undefined;
  /** Starts a session for the newly linked account (the main screen). */
  begin(linked: Linked): void;
  /** Ends the session as locking does (its last write committed), on a neutral screen. */
  lock(): Promise<void>;
  show(screen: 'locked_out' | 'enroll'): void;
  changed(): void;
}

export class DeviceLinking {
  private errorsValue: DeviceFieldErrors = {};
  private errorValue: string | undefined;
  private busyValue: { what: string; progress: number } | undefined;
  private lockedOutValue: { reason: LockOutReason; wiped: boolean } | undefined;
  private console: { session: Session; devices: DevicesConsole } | undefined;
  /** The enrollment screen opens on linking this browser (after a lock-out). */
  preferred = false;

  constructor(private readonly port: LinkingPort) {}

  /** The device enrollment form's problems, by field. */
  get errors(): DeviceFieldErrors {
    return this.errorsValue;
  }
  /** A problem with the whole form (the connection, the server). */
  get error(): string | undefined {
    return this.errorValue;
  }
  /** The key derivation and the enrollment, with their progress from 0 to 1. */
  get busy(): { what: string; progress: number } | undefined {
    return this.busyValue;
  }
  /** Why this browser was locked out, and whether its sealed state was erased. */
  get lockedOut(): { reason: LockOutReason; wiped: boolean } | undefined {
    return this.lockedOutValue;
  }

  /** Enrolls this browser as another device of the clinician whose other device showed the code. Whether it succeeded. */
  async enroll(form: DeviceEnrollForm): Promise<boolean> {
    this.errorValue = undefined;
    const r = await linkThisBrowser(form, this.port.vaults(), this.port.host(), (what, progress) => {
      this.busyValue = { what, progress };
      this.port.changed();
    });
    this.busyValue = undefined;
    this.errorsValue = 'errors' in r ? r.errors : {};
    this.errorValue = 'errors' in r ? r.error : undefined;
    if ('linked' in r) {
      this.lockedOutValue = undefined;
      this.port.begin(r.linked);
    }
    this.port.changed();
    return 'linked' in r;
  }

  /** The Devices screen's model, while unlocked (one per session). */
  get devices(): DevicesConsole | undefined {
    const s = this.port.session();
    if (this.console?.session !== s) {
      this.console?.devices.stop();
      this.console = undefined;
    }
    if (s === undefined) return undefined;
    this.console ??= {
      session: s,
      devices: new DevicesConsole(s.client.http, s.account.me, this.port.host().origin, () => this.port.changed(), (r) => void this.lockOut(r), () => this.port.session() === s),
    };
    return this.console.devices;
  }

  /** This device was revoked (or the account deactivated): the session ends, then the sealed state is erased. */
  async lockOut(reason: LockOutReason): Promise<void> {
    if (this.port.session() === undefined) return;
    this.console?.devices.stop();
    this.console = undefined;
    await this.port.lock(); // the session's last write lands before the erasure
    let wiped = true;
    await this.port.vaults().wipe().catch(() => (wiped = false));
    this.lockedOutValue = { reason, wiped };
    this.port.show('locked_out');
  }

  /** From the locked-out screen to the enrollment form (linking this browser again, unless the account is gone). */
  enrollAgain(): void {
    this.preferred = this.lockedOutValue?.reason !== 'deactivated';
    this.lockedOutValue = undefined;
    this.port.show('enroll');
  }
}
