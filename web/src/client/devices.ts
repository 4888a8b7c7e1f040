/**
 * Linked devices (PROTOCOL.md, HTTP API: `POST /v1/devices/invites`,
 * `GET /v1/devices`, `POST /v1/devices/{id}/revoke`; the CLI's `curbside
 * devices add | list | revoke`). A device the clinician already has issues
 * a one-time device invite (`cbs_dev_…`) for its own user: that invite is
 * the code, shown on one device and entered on the other, which enrolls
 * with it (the proof signs enrollment purpose 2). The new device is one
 * more device of the same user: every message to her, and every message
 * she sends from any device, reaches all her active devices.
 *
 * The code is a secret granting a device on the account until it is used
 * or expires: show it only to the clinician, never log it.
 */

import { DEVICE_INVITE_PREFIX } from '../protocol/transcript.js';
import { ProtocolError } from '../protocol/errors.js';
import type { DeviceHttp } from '../protocol/http.js';

/** What these calls need: the device's authenticated JSON requests. */
export type DevicesApi = Pick<DeviceHttp, 'json'>;
import type { ServerInfo } from './account.js';
import { enroll, type EnrollOptions } from './enroll.js';
import type { Account } from './account.js';
import type { EnrollResponseJson } from '../protocol/http.js';

/** A device code to show on the approving device. */
export interface DeviceCode {
  /** The code itself (the device invite), as entered. */
  readonly code: string;
  /** The same code in groups of four after its prefix, easier to read out and type. */
  readonly display: string;
  /** When it expires (ms since the epoch). */
  readonly expiresAt: number;
}

/** One of the user's devices, as `GET /v1/devices` lists them. */
export interface DeviceInfo {
  readonly deviceId: number;
  /** Enrolled at (ms). */
  readonly createdAt: number;
  /** Revoked at (ms), if revoked. */
  readonly revokedAt: number | undefined;
}

/** `cbs_dev_abcdefgh…` → `cbs_dev_ abcd efgh …`. */
export function displayDeviceCode(code: string): string {
  if (!code.startsWith(DEVICE_INVITE_PREFIX)) return code;
  const rest = code.slice(DEVICE_INVITE_PREFIX.length);
  return `${DEVICE_INVITE_PREFIX} ${(rest.match(/.{1,4}/g) ?? []).join(' ')}`;
}

/** A code as typed or pasted (spaces and line breaks of its display form removed); throws if it is not a device code. */
export function parseDeviceCode(typed: string): string {
  const code = typed.replace(/\s+/g, '');
  if (!code.startsWith(DEVICE_INVITE_PREFIX) || code.length <= DEVICE_INVITE_PREFIX.length || !/^[A-Za-z0-9_-]+$/.test(code)) {
    throw new ProtocolError(`this is not a device code: it starts with ${DEVICE_INVITE_PREFIX}; copy it again from your other device`);
  }
  return code;
}

/**
 * On a device the clinician already has: issues a one-time code for a new
 * device of her own account (`expiresInSecs`: the server's default if
 * omitted; it clamps to its limits).
 */
export async function issueDeviceCode(http: DevicesApi, userId: string, expiresInSecs?: number): Promise<DeviceCode> {
  const r = (await http.json('POST', '/v1/devices/invites', {
    target: { for: 'new_device', user_id: userId },
    expires_in_secs: expiresInSecs ?? null,
  })) as { invite?: unknown; expires_at?: unknown } | null;
  if (r === null || typeof r.invite !== 'string' || typeof r.expires_at !== 'number') {
    throw new ProtocolError('devices/invites: unexpected answer');
  }
  return { code: r.invite, display: displayDeviceCode(r.invite), expiresAt: r.expires_at };
}

/**
 * On the new device: enrolls with the code from the other device. The
 * account is a new device of the same user (same user id, a new device id);
 * no name or NPI is sent (the account has them).
 */
export function enrollDevice(
  server: ServerInfo,
  typedCode: string,
  opts: EnrollOptions = {},
): Promise<{ account: Account; response: EnrollResponseJson }> {
  return enroll(server, parseDeviceCode(typedCode), { displayName: '' }, opts);
}

/** `GET /v1/devices`: every device of this user, revoked ones included. */
export async function listDevices(http: DevicesApi): Promise<DeviceInfo[]> {
  const r = await http.json('GET', '/v1/devices');
  if (!Array.isArray(r)) throw new ProtocolError('devices: not a list');
  return r.map((d: unknown) => {
    const o = (d ?? {}) as Record<string, unknown>;
    const id = o['device_id'];
    const created = o['created_at'];
    const revoked = o['revoked_at'];
    if (!Number.isSafeInteger(id) || typeof created !== 'number' || !(revoked === null || revoked === undefined || typeof revoked === 'number')) {
      throw new ProtocolError('devices: unexpected entry');
    }
    return { deviceId: id as number, createdAt: created, revokedAt: (revoked ?? undefined) as number | undefined };
  });
}

/** `POST /v1/devices/{id}/revoke`: revokes one of this user's devices; it receives nothing further. */
export async function revokeDevice(http: DevicesApi, deviceId: number): Promise<void> {
  if (!Number.isSafeInteger(deviceId) || deviceId < 0) throw new ProtocolError('not a device number');
  await http.json('POST', `/v1/devices/${deviceId}/revoke`);
}
