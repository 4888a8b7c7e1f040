/**
 * On-call roles and curbside consults over HTTP (PROTOCOL.md, "On-call
 * roles" and "Curbside consults"; `client/src/api.rs`): the roles with
 * their holders now and their shifts, an administrator's new role and
 * shift, a hand-off; the consult opt-in, a new consult (the server chooses
 * its recipients), the consults one asked or was asked, closing one. The
 * answers are checked loosely and typed; sending to a role or on a consult
 * is {@link Client.send} with `role` or `consult` in its options.
 */

import { ProtocolError } from '../protocol/errors.js';
import type { DirectoryEntry } from '../protocol/frames.js';
import type { DeviceHttp } from '../protocol/http.js';

export interface ShiftJson {
  readonly shift_id: number;
  readonly user_id: string;
  readonly display_name: string;
  readonly starts_at: number;
  readonly ends_at: number;
}

export interface OnCallRoleJson {
  readonly role_id: string;
  readonly name: string;
  readonly specialty: string | null;
  /** Who holds it now (directory entries). */
  readonly holders: readonly DirectoryEntry[];
  /** The current and future shifts (at most 50). */
  readonly shifts: readonly ShiftJson[];
}

export interface ConsultJson {
  readonly consult_id: string;
  readonly asker: string;
  readonly specialty: string;
  readonly share_answers: boolean;
  /** How many clinicians the question went to. */
  readonly fan_out: number;
  readonly status: 'open' | 'closed';
  readonly created_at: number;
  /** For the asker (and for everyone when answers are shared): who was asked. */
  readonly recipients: readonly string[];
  /** How many recipients answered. */
  readonly answered: number;
}

type Json = Record<string, unknown>;

function object(v: unknown, what: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ProtocolError(`${what}: expected an object`);
  return v as Json;
}

function str(o: Json, k: string, what: string): string {
  const v = o[k];
  if (typeof v !== 'string') throw new ProtocolError(`${what}.${k}: expected a string`);
  return v;
}

function int(o: Json, k: string, what: string): number {
  const v = o[k];
  if (!Number.isSafeInteger(v)) throw new ProtocolError(`${what}.${k}: expected an integer`);
  return v as number;
}

function list(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) throw new ProtocolError(`${what}: expected an array`);
  return v;
}

function entry(v: unknown): DirectoryEntry {
  const o = object(v, 'holder');
  str(o, 'user_id', 'holder');
  str(o, 'display_name', 'holder');
  return o as unknown as DirectoryEntry;
}

export function parseRole(v: unknown): OnCallRoleJson {
  const o = object(v, 'role');
  const specialty = o['specialty'];
  return {
    role_id: str(o, 'role_id', 'role'),
    name: str(o, 'name', 'role'),
    specialty: typeof specialty === 'string' ? specialty : null,
    holders: list(o['holders'], 'role.holders').map(entry),
    shifts: list(o['shifts'], 'role.shifts').map((s) => {
      const x = object(s, 'shift');
      return {
        shift_id: int(x, 'shift_id', 'shift'),
        user_id: str(x, 'user_id', 'shift'),
        display_name: str(x, 'display_name', 'shift'),
        starts_at: int(x, 'starts_at', 'shift'),
        ends_at: int(x, 'ends_at', 'shift'),
      };
    }),
  };
}

export function parseConsult(v: unknown): ConsultJson {
  const o = object(v, 'consult');
  const status = o['status'];
  if (status !== 'open' && status !== 'closed') throw new ProtocolError('consult.status: expected open or closed');
  return {
    consult_id: str(o, 'consult_id', 'consult'),
    asker: str(o, 'asker', 'consult'),
    specialty: str(o, 'specialty', 'consult'),
    share_answers: o['share_answers'] === true,
    fan_out: int(o, 'fan_out', 'consult'),
    status,
    created_at: int(o, 'created_at', 'consult'),
    recipients: list(o['recipients'] ?? [], 'consult.recipients').filter((u): u is string => typeof u === 'string'),
    answered: Number.isSafeInteger(o['answered']) ? (o['answered'] as number) : 0,
  };
}

/** The on-call and consult endpoints, with this device's session token. */
export class OnCallApi {
  constructor(private readonly http: DeviceHttp) {}

  /** `GET /v1/oncall`: every role, who holds it now, its current and future shifts. */
  async roles(): Promise<OnCallRoleJson[]> {
    return list(await this.http.json('GET', '/v1/oncall'), 'roles').map(parseRole);
  }

  /** `POST /v1/admin/oncall` (administrators): names are unique (`conflict`). */
  async createRole(name: string, specialty: string | null): Promise<OnCallRoleJson> {
    return parseRole(await this.http.json('POST', '/v1/admin/oncall', { name, specialty }));
  }

  /** `POST /v1/admin/oncall/{role}/shifts` (administrators): a verified clinician, times in ms, at most 31 days. */
  async scheduleShift(roleId: string, userId: string, startsAt: number, endsAt: number): Promise<number> {
    const o = object(await this.http.json('POST', `/v1/admin/oncall/${encodeURIComponent(roleId)}/shifts`, { user_id: userId, starts_at: startsAt, ends_at: endsAt }), 'scheduled');
    return int(o, 'shift_id', 'scheduled');
  }

  /** `POST /v1/oncall/{role}/handoff` (the holder now, or an administrator): `to` holds it from now on. */
  async handOff(roleId: string, to: string, until: number | null = null): Promise<OnCallRoleJson> {
    return parseRole(await this.http.json('POST', `/v1/oncall/${encodeURIComponent(roleId)}/handoff`, { to, until }));
  }

  /** `PUT /v1/consults/opt-in` (verified clinicians; one's own specialty, or none). */
  async optIn(specialties: string[]): Promise<string[]> {
    const o = object(await this.http.json('PUT', '/v1/consults/opt-in', { specialties }), 'opt-in');
    return list(o['specialties'], 'opt-in.specialties').filter((s): s is string => typeof s === 'string');
  }

  /** `GET /v1/consults/opt-in`: the specialties this user answers consults for, as the server has them (set from any device). */
  async optedIn(): Promise<string[]> {
    const o = object(await this.http.json('GET', '/v1/consults/opt-in'), 'opt-in');
    return list(o['specialties'], 'opt-in.specialties').filter((s): s is string => typeof s === 'string');
  }

  /** `POST /v1/consults`: the server chooses the recipients (`not_found`: nobody answers that specialty; `too_many_consults`). */
  async postConsult(specialty: string, shareAnswers: boolean): Promise<ConsultJson> {
    return parseConsult(await this.http.json('POST', '/v1/consults', { specialty, share_answers: shareAnswers }));
  }

  /** `GET /v1/consults`: those one asked or was asked, newest first. */
  async consults(): Promise<ConsultJson[]> {
    return list(await this.http.json('GET', '/v1/consults'), 'consults').map(parseConsult);
  }

  /** `POST /v1/consults/{id}/close` (its asker). */
  async closeConsult(consultId: string): Promise<void> {
    await this.http.json('POST', `/v1/consults/${encodeURIComponent(consultId)}/close`);
  }
}
