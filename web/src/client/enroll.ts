/**
 * Enrollment with an invite (PROTOCOL.md, "Enrollment"; `enroll` in
 * `client/src/client/mod.rs`): a new identity, signed prekey 1 and 100
 * one-time prekeys, the proof of possession over the enrollment transcript,
 * and `POST /v1/enroll`.
 */

import type { RandomSource } from '../crypto/primitives.js';
import { systemRandom } from '../crypto/primitives.js';
import { toBase64 } from '../protocol/base64.js';
import { HttpApi, type EnrollResponseJson } from '../protocol/http.js';
import type { FetchLike } from '../protocol/platform.js';
import { enrollmentTranscript, enrollPurposeOf } from '../protocol/transcript.js';
import { Account, type ServerInfo } from './account.js';

/** A new user's professional details (a clinician needs all three; an admin the name only). */
export interface UserDetails {
  displayName: string;
  npi?: string;
  specialty?: string;
}

export interface EnrollOptions {
  fetch?: FetchLike;
  rng?: RandomSource;
}

/** Enrolls a new device with an invite (or the bootstrap token); the account, with its address, and the server's answer. */
export async function enroll(
  server: ServerInfo,
  invite: string,
  details: UserDetails,
  opts: EnrollOptions = {},
): Promise<{ account: Account; response: EnrollResponseJson }> {
  const rng = opts.rng ?? systemRandom;
  const account = Account.generate(server, rng);
  const identityKey = account.identity.publicKey.toBytes();
  const signature = account.identity.sign(enrollmentTranscript(enrollPurposeOf(invite), server.serverName, invite, identityKey));
  const api = new HttpApi({ url: server.url, ...(opts.fetch ? { fetch: opts.fetch } : {}) });
  const response = await api.enroll({
    invite,
    display_name: details.displayName,
    npi: details.npi ?? null,
    specialty: details.specialty ?? null,
    identity_key: toBase64(identityKey),
    signature: toBase64(signature),
    signed_prekey: toBase64(account.signedPrekey.publicKey.toBytes()),
    one_time_prekeys: [...account.oneTimePrekeys.values()].map((k) => {
      const p = k.publicKey;
      return { id: p.id, public_key: toBase64(p.publicKey) };
    }),
  });
  account.address = { user_id: response.user_id, device_id: response.device_id };
  return { account, response };
}
