/**
 * The administrator's console (no DOM): invites (a link and its QR code),
 * the users with their NPI's check digit, roles, verification and devices,
 * and the actions PROTOCOL.md's admin endpoints make (verify, grant the
 * compliance officer role, revoke a device, a device invite for a
 * locked-out clinician, deactivate). The server records each in the audit
 * log; the console says so. Users are named, never shown by id (ids are in
 * a details line only).
 */

import { npiValid } from './enroll-form.js';
import { durationWords } from './state.js';
import { qrModules } from './trust.js';

/** What the console needs from the session: authenticated JSON requests. */
export interface AdminHttp {
  json(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<unknown>;
}

export type InviteRole = 'clinician' | 'compliance_officer';

export interface AdminDevice {
  readonly id: number;
  readonly label: string;
  readonly active: boolean;
}

export interface AdminUser {
  readonly key: string;
  readonly name: string;
  readonly npi: string;
  /** The NPI's check digit (Luhn over 80840 and the first nine digits); `undefined` without an NPI. */
  readonly npiValid: boolean | undefined;
  readonly specialty: string;
  readonly roles: string[];
  readonly verified: boolean;
  readonly deactivated: boolean;
  readonly pending: boolean;
  readonly devices: AdminDevice[];
  readonly isMe: boolean;
  readonly isOfficer: boolean;
  readonly isClinician: boolean;
}

export interface InviteView {
  readonly title: string;
  readonly link: string;
  readonly expires: string;
  readonly qr: boolean[][];
}

/** The retention policy as the console shows it. */
export interface RetentionView {
  /** Whole days, or `null` for no limit. */
  readonly days: number | null;
  /** The policy in words ("Messages are deleted after 30 days"). */
  readonly words: string;
}

export interface AdminOutcome {
  readonly ok: boolean;
  readonly text: string;
  readonly details?: string;
}

const ROLE_WORDS: Record<string, string> = { clinician: 'Clinician', compliance_officer: 'Compliance officer', admin: 'Administrator' };

interface UserJson {
  user_id: string;
  display_name: string;
  npi?: string | null;
  specialty?: string | null;
  roles?: string[];
  verified?: boolean;
  devices?: { device_id: number; created_at: number; revoked_at?: number | null }[];
  deactivated_at?: number | null;
}

/** Words for an admin call's error, with what to do next. */
export function explainAdmin(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  switch (code) {
    case 'forbidden':
      return 'The server refused: this needs the administrator role (an administrator cannot deactivate their own account). Ask another administrator.';
    case 'not_found':
      return 'The server no longer has this user or device: reload the list and try again.';
    case 'conflict':
      return 'This was already done: reload the list to see the current state.';
    case 'user_deactivated':
      return 'This account was deactivated: invite the clinician again as a new user.';
    case 'auth_failed':
    case 'device_revoked':
      return 'The server did not accept this device: enroll again with a device invite from another administrator.';
    default:
      return 'The server could not be reached: check your connection and try again.';
  }
}

function dayWords(ms: number): string {
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export class AdminConsole {
  private usersValue: AdminUser[] = [];
  private loadedValue = false;
  private errorValue: string | undefined;
  private retentionValue: RetentionView | undefined;

  constructor(
    private readonly http: AdminHttp,
    private readonly origin: string,
    private readonly me: string,
    private readonly changed: () => void,
  ) {}

  get loaded(): boolean {
    return this.loadedValue;
  }
  get error(): string | undefined {
    return this.errorValue;
  }
  /** Pending clinicians first, then by name; deactivated accounts last. */
  get users(): AdminUser[] {
    return this.usersValue;
  }

  user(key: string): AdminUser | undefined {
    return this.usersValue.find((u) => u.key === key);
  }

  async refresh(): Promise<void> {
    try {
      const list = (await this.http.json('GET', '/v1/admin/users')) as UserJson[];
      this.usersValue = list.map((u) => this.view(u)).sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
      this.loadedValue = true;
      this.errorValue = undefined;
    } catch (e) {
      this.errorValue = `The users could not be listed. ${explainAdmin(e)}`;
    }
    this.changed();
  }

  private view(u: UserJson): AdminUser {
    const roles = u.roles ?? [];
    const npi = u.npi ?? '';
    const clinician = roles.includes('clinician');
    const deactivated = typeof u.deactivated_at === 'number';
    return {
      key: u.user_id,
      name: u.display_name || '(no name)',
      npi,
      npiValid: npi === '' ? undefined : npiValid(npi),
      specialty: u.specialty ?? '',
      roles: roles.map((r) => ROLE_WORDS[r] ?? r),
      verified: u.verified === true,
      deactivated,
      pending: clinician && u.verified !== true && !deactivated,
      devices: (u.devices ?? []).map((d) => ({
        id: d.device_id,
        label: `Device ${d.device_id}, enrolled ${dayWords(d.created_at)}${typeof d.revoked_at === 'number' ? `, revoked ${dayWords(d.revoked_at)}` : ''}`,
        active: typeof d.revoked_at !== 'number',
      })),
      isMe: u.user_id === this.me,
      isOfficer: roles.includes('compliance_officer'),
      isClinician: clinician,
    };
  }

  private name(key: string): string {
    return this.user(key)?.name ?? 'this user';
  }

  /** `role`: a new user's invite that is not a clinician's says so (`&role=`), so the enrollment form asks no NPI or specialty. */
  private link(invite: string, title: string, expiresAt: number, role?: InviteRole): InviteView {
    const link = `${this.origin}/#invite=${invite}${role !== undefined && role !== 'clinician' ? `&role=${role}` : ''}`;
    return { title, link, expires: `Valid once, until ${dayWords(expiresAt)}.`, qr: qrModules(link) };
  }

  /** The organisation's retention policy, once read ({@link loadRetention}). */
  get retention(): RetentionView | undefined {
    return this.retentionValue;
  }

  private setRetentionView(p: { retention_secs?: unknown; changed_at?: unknown }): void {
    const secs = typeof p.retention_secs === 'number' ? p.retention_secs : null;
    const changed = typeof p.changed_at === 'number' ? ` Last changed ${dayWords(p.changed_at)}.` : '';
    this.retentionValue = {
      days: secs === null ? null : Math.max(1, Math.round(secs / 86_400)),
      words: `${secs === null ? 'No limit: messages are kept until their conversation timer (if any) deletes them.' : `Messages are deleted after ${durationWords(secs)}, on the server and on every clinician's devices.`}${changed}`,
    };
  }

  async loadRetention(): Promise<void> {
    try {
      this.setRetentionView((await this.http.json('GET', '/v1/policy')) as { retention_secs?: unknown });
    } catch (e) {
      this.errorValue = `The retention policy could not be read. ${explainAdmin(e)}`;
    }
    this.changed();
  }

  /** Sets the maximum message lifespan (`days`, or `null` for no limit); the server audits it (`retention.changed`). */
  async setRetention(days: number | null): Promise<AdminOutcome> {
    if (days !== null && (!Number.isInteger(days) || days < 1 || days > 36_500)) return { ok: false, text: 'Enter a whole number of days from 1 to 36500, or choose No limit.' };
    try {
      const p = (await this.http.json('PUT', '/v1/admin/retention', { retention_secs: days === null ? null : days * 86_400 })) as { retention_secs?: unknown };
      this.setRetentionView(p);
      this.changed();
      return { ok: true, text: `${days === null ? 'Retention limit removed' : `Retention set to ${durationWords(days * 86_400)}`} — recorded in the audit log (retention changed). Devices online apply it now, the others when they next connect.` };
    } catch (e) {
      return { ok: false, text: `The retention policy was not changed. ${(e as { code?: unknown }).code === 'invalid_request' ? 'The server refused the value: choose at least 1 day.' : explainAdmin(e)}` };
    }
  }

  /** A one-time invite for a new user; `hours` until it expires. */
  async invite(role: InviteRole, hours: number): Promise<{ invite?: InviteView; outcome: AdminOutcome }> {
    try {
      const r = (await this.http.json('POST', '/v1/admin/invites', { target: { for: 'new_user', role }, expires_in_secs: Math.round(hours * 3600) })) as { invite: string; expires_at: number };
      const who = role === 'clinician' ? 'a clinician' : 'a compliance officer';
      return {
        invite: this.link(r.invite, `Invite for ${who}`, r.expires_at, role),
        outcome: { ok: true, text: `Invite for ${who} issued — recorded in the audit log. Send the link to the person by a channel you trust.` },
      };
    } catch (e) {
      return { outcome: { ok: false, text: `The invite was not issued. ${explainAdmin(e)}` } };
    }
  }

  private async act(key: string, what: string, path: string, body: unknown, done: (name: string) => string): Promise<AdminOutcome> {
    const name = this.name(key);
    try {
      await this.http.json('POST', path, body);
      const outcome = { ok: true, text: `${done(name)} — recorded in the audit log.`, details: `User ${key}` };
      await this.refresh();
      return outcome;
    } catch (e) {
      return { ok: false, text: `${what} ${name} failed. ${explainAdmin(e)}`, details: `User ${key}` };
    }
  }

  verify(key: string): Promise<AdminOutcome> {
    return this.act(key, 'Verifying', `/v1/admin/users/${encodeURIComponent(key)}/verify`, undefined, (n) => `Verified ${n}`);
  }

  grantOfficer(key: string): Promise<AdminOutcome> {
    return this.act(key, 'Granting the compliance officer role to', `/v1/admin/users/${encodeURIComponent(key)}/roles`, { role: 'compliance_officer' }, (n) => `Granted compliance officer to ${n}`);
  }

  revokeDevice(key: string, device: number): Promise<AdminOutcome> {
    return this.act(key, `Revoking device ${device} of`, `/v1/admin/users/${encodeURIComponent(key)}/devices/${device}/revoke`, undefined, (n) => `Revoked device ${device} of ${n}`);
  }

  async deactivate(key: string): Promise<AdminOutcome> {
    const name = this.name(key);
    try {
      const r = (await this.http.json('POST', `/v1/admin/users/${encodeURIComponent(key)}/deactivate`)) as { devices_revoked?: number[]; messages_dropped?: number };
      const n = r.devices_revoked?.length ?? 0;
      await this.refresh();
      return { ok: true, text: `Deactivated ${name} (${n} device${n === 1 ? '' : 's'} revoked) — recorded in the audit log.`, details: `User ${key}` };
    } catch (e) {
      return { ok: false, text: `Deactivating ${name} failed. ${explainAdmin(e)}`, details: `User ${key}` };
    }
  }

  /** A device invite for a clinician who lost their devices. */
  async deviceInvite(key: string, hours = 72): Promise<{ invite?: InviteView; outcome: AdminOutcome }> {
    const name = this.name(key);
    try {
      const r = (await this.http.json('POST', '/v1/admin/invites', { target: { for: 'new_device', user_id: key }, expires_in_secs: Math.round(hours * 3600) })) as { invite: string; expires_at: number };
      return {
        invite: this.link(r.invite, `Device invite for ${name}`, r.expires_at),
        outcome: { ok: true, text: `Device invite for ${name} issued — recorded in the audit log. Give it to ${name} in person or by a channel you trust.`, details: `User ${key}` },
      };
    } catch (e) {
      return { outcome: { ok: false, text: `The device invite for ${name} was not issued. ${explainAdmin(e)}`, details: `User ${key}` } };
    }
  }
}

function rank(u: AdminUser): number {
  if (u.deactivated) return 3;
  if (u.pending) return 0;
  return u.isMe ? 1 : 2;
}
