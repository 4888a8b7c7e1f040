/**
 * Trust in a colleague's keys, as the CLI has it (`curbside verify`,
 * `key_set_fingerprint`): the safety number over both users' identity keys
 * (ours: this device's and our other devices' from our sessions; theirs:
 * every device we have a session with), and a fingerprint of their key set
 * pinned when the user confirms the number. Later, another key set is
 * `changed`: the view shows a red banner and asks before sending.
 */

import encodeQR from 'qr';

import type { Account } from '../client/account.js';
import { compareBytes, concat, toHex } from '../crypto/bytes.js';
import { SafetyNumber } from '../crypto/fingerprint.js';
import type { IdentityKey } from '../crypto/identity.js';
import { sha256 } from '../crypto/primitives.js';

export type Trust = 'unverified' | 'verified' | 'changed';

/** The identity keys of `user`'s devices we have sessions with. */
export function identityKeysOf(account: Account, user: string): IdentityKey[] {
  const out: IdentityKey[] = [];
  for (const { address, session } of account.sessions.values()) if (address.user_id === user) out.push(session.remoteIdentity);
  return out;
}

/** SHA-256 (hex) of the sorted encodings of the keys: the CLI's `key_set_fingerprint`. */
export function keySetFingerprint(keys: readonly IdentityKey[]): string {
  return toHex(sha256(concat(...keys.map((k) => k.toBytes()).sort(compareBytes))));
}

/** How far the colleague's current keys are trusted, given the fingerprint pinned (if any). */
export function trustOf(account: Account, user: string, pinned: string | null): Trust {
  if (pinned === null) return 'unverified';
  return keySetFingerprint(identityKeysOf(account, user)) === pinned ? 'verified' : 'changed';
}

/** The safety number with `user`, or `undefined` while none of their keys is known. */
export function safetyNumber(account: Account, user: string): SafetyNumber | undefined {
  const theirs = identityKeysOf(account, user);
  if (theirs.length === 0) return undefined;
  const me = account.me.user_id;
  const mine = [account.identity.publicKey, ...identityKeysOf(account, me)];
  return SafetyNumber.compute(me, mine, user, theirs);
}

/** The QR code of the 60 digits (numeric mode), as rows of dark (true) and light modules, quiet zone excluded. */
export function qrModules(digits: string): boolean[][] {
  return encodeQR(digits, 'raw', { ecc: 'medium' });
}
