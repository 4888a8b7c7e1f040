/**
 * The ratchet sessions with other devices (`client/src/client/sessions.rs`,
 * `receive.rs`): opened from their prekey bundles, both signatures verified
 * before use; accepted from a peer's prekey message; and the routing of an
 * incoming message (SECURITY.md, "Routing a prekey message").
 */

import { CryptoError } from '../crypto/errors.js';
import { IdentityKey } from '../crypto/identity.js';
import { decodeMessage, type PreKeyMessage } from '../crypto/message.js';
import { PreKeyBundle, SignedPreKey } from '../crypto/prekeys.js';
import type { RandomSource } from '../crypto/primitives.js';
import { Session } from '../crypto/ratchet/session.js';
import { fromBase64 } from '../protocol/base64.js';
import type { Address, DeviceBundleJson } from '../protocol/frames.js';
import type { Account } from './account.js';

/**
 * Opens an X3DH session with every device in `devices` (a `bundles` reply
 * for `user`) we have none with; sessions with devices no longer listed
 * (revoked) are dropped. A bundle whose signatures fail throws before any
 * session changes. Returns how many were opened.
 */
export function openSessions(account: Account, user: string, devices: DeviceBundleJson[], rng: RandomSource): number {
  const me = account.me;
  const bundles: { address: Address; bundle: PreKeyBundle }[] = [];
  for (const d of devices) {
    const address = { user_id: user, device_id: d.device_id };
    if ((user === me.user_id && d.device_id === me.device_id) || account.session(address) !== undefined) continue;
    const identity = IdentityKey.fromBytes(fromBase64(d.identity_key, 'identity_key'));
    const signed = SignedPreKey.fromBytes(identity, fromBase64(d.signed_prekey, 'signed_prekey'));
    const otk = d.one_time_prekey;
    const bundle = PreKeyBundle.create(
      identity,
      signed,
      otk === null ? undefined : { id: otk.id, publicKey: fromBase64(otk.public_key, 'one_time_prekey') },
    );
    bundles.push({ address, bundle });
  }
  const current = new Set(devices.map((d) => d.device_id));
  for (const { address } of [...account.sessions.values()]) {
    if (address.user_id === user && !current.has(address.device_id)) account.dropSession(address);
  }
  for (const { address, bundle } of bundles) account.setSession(address, Session.initiate(account.identity, bundle, rng));
  return bundles.length;
}

/**
 * Accepts the session a peer device started (its first message, or a new
 * session replacing ours) with the signed prekey (current or previous) and
 * the one-time prekey it names; the one-time prekey is deleted only on success.
 */
export function acceptSession(account: Account, sender: Address, message: PreKeyMessage, rng: RandomSource): Uint8Array {
  const fields = message.prekey;
  const spk = [account.signedPrekey, account.previousSignedPrekey].find((k) => k !== undefined && k.id === fields.signedPreKeyId);
  if (spk === undefined) throw new CryptoError('signed_prekey_mismatch', undefined, `id ${fields.signedPreKeyId}`);
  let otk;
  if (fields.oneTimePreKeyId !== undefined) {
    otk = account.oneTimePrekeys.get(fields.oneTimePreKeyId);
    if (otk === undefined) throw new CryptoError('one_time_prekey_mismatch');
  }
  const { session, plaintext } = Session.accept(account.identity, spk, otk, message, rng);
  if (fields.oneTimePreKeyId !== undefined) account.oneTimePrekeys.delete(fields.oneTimePreKeyId);
  account.setSession(sender, session);
  return plaintext;
}

/**
 * Decrypts a delivered ciphertext: an existing session with the sender
 * first (a prekey message too, which it takes only from its own peer);
 * if that fails on a prekey message, a new session is accepted. A
 * ratchet message is only ever given to the existing session. On any error
 * every session is unchanged.
 */
export function decryptFrom(account: Account, sender: Address, ciphertext: Uint8Array, rng: RandomSource): Uint8Array {
  const message = decodeMessage(ciphertext);
  const existing = account.session(sender);
  if (existing !== undefined) {
    try {
      return existing.decrypt(message, rng);
    } catch (e) {
      if (message.kind !== 'prekey') throw e;
      // The peer started a new session: accept it below.
    }
  }
  if (message.kind !== 'prekey') throw new CryptoError('decryption_failed');
  return acceptSession(account, sender, message, rng);
}
