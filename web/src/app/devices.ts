/**
 * The Devices screen's model (no DOM; linking this browser itself is
 * `./device-link.ts`): the clinician's devices
 * (this browser marked), a code for a new device (grouped for typing, a QR
 * code of the `#invite=` link, its expiry; the list watched until the new
 * device appears), and revocation. Ids are shown as device numbers only
 * (`Device 3`): the server gives no names, labels or last-seen times.
 */

import { issueDeviceCode, listDevices, revokeDevice, type DeviceInfo, type DevicesApi } from '../client/devices.js';
import { ServerError } from '../protocol/errors.js';
import { qrModules } from './trust.js';

/** How long a code issued here is valid (the server clamps to 60 s … 30 days). */
export const CODE_LIFETIME_MINUTES = 15;

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
    /** Whether its session is still the model's (after a lock, the watch stops). */
    private readonly alive: () => boolean = () => true,
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
      if (!this.alive()) this.stopWatching();
      else if (this.code === undefined) {
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
