/**
 * What a device signs (PROTOCOL.md, "Connection and authentication" and
 * "Enrollment"; `protocol/src/auth.rs`). Integers big-endian.
 *
 * ```text
 * auth       = "Curbside v1 auth" ‖ u8(purpose) ‖ u16(len(server_name)) ‖ server_name
 *              ‖ u16(len(user_id)) ‖ user_id ‖ u32(device_id) ‖ challenge(32)
 * enrollment = "Curbside v1 device enrollment" ‖ u8(purpose) ‖ u16(len(server_name)) ‖ server_name
 *              ‖ SHA-256(invite)(32) ‖ identity_key(128)
 * ```
 */

import { concat, u32, u8, utf8 } from '../crypto/bytes.js';
import { sha256 } from '../crypto/primitives.js';
import { ProtocolError } from './errors.js';

export const AUTH_LABEL = 'Curbside v1 auth';
export const ENROLL_LABEL = 'Curbside v1 device enrollment';
export const CHALLENGE_LEN = 32;
/** The prefix of a device invite; every other invite (and the bootstrap token) enrolls a new user. */
export const DEVICE_INVITE_PREFIX = 'cbs_dev_';

/** 1: a WebSocket login; 2: an HTTP session token. */
export const AuthPurpose = { WebSocket: 1, HttpSession: 2 } as const;
export type AuthPurpose = (typeof AuthPurpose)[keyof typeof AuthPurpose];

/** 1: a new user's first device; 2: another device of a user. */
export type EnrollPurpose = 1 | 2;

/** The purpose an invite serves, read from its prefix. */
export function enrollPurposeOf(invite: string): EnrollPurpose {
  return invite.startsWith(DEVICE_INVITE_PREFIX) ? 2 : 1;
}

function u16Prefixed(text: string): Uint8Array {
  const bytes = utf8(text);
  if (bytes.length > 0xffff) throw new ProtocolError('field longer than 65535 bytes');
  return concat(new Uint8Array([bytes.length >>> 8, bytes.length & 0xff]), bytes);
}

/** The authentication transcript. */
export function authTranscript(
  purpose: AuthPurpose,
  serverName: string,
  userId: string,
  deviceId: number,
  challenge: Uint8Array,
): Uint8Array {
  if (challenge.length !== CHALLENGE_LEN) throw new ProtocolError('challenge is not 32 bytes');
  return concat(utf8(AUTH_LABEL), u8(purpose), u16Prefixed(serverName), u16Prefixed(userId), u32(deviceId), challenge);
}

/** The enrollment proof of possession's signed bytes. */
export function enrollmentTranscript(
  purpose: EnrollPurpose,
  serverName: string,
  invite: string,
  identityKey: Uint8Array,
): Uint8Array {
  return concat(utf8(ENROLL_LABEL), u8(purpose), u16Prefixed(serverName), sha256(utf8(invite)), identityKey);
}
