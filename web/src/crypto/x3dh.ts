/**
 * X3DH (Signal's X3DH specification, revision 1) with Curbside's labels
 * (SECURITY.md, "X3DH"). A is the initiator, B the responder.
 *
 * ```text
 * DH1 = X25519(IKa_A, SPK_B)   DH2 = X25519(EK_A, IKa_B)
 * DH3 = X25519(EK_A, SPK_B)    DH4 = X25519(EK_A, OPK_B)   (only if a one-time prekey was used)
 * SK  = HKDF(salt = 0x00 × 32, ikm = 0xFF × 32 ‖ DH1 ‖ DH2 ‖ DH3 [‖ DH4], info = "Curbside v1 X3DH", L = 32)
 * AD  = "Curbside v1 session AD" ‖ IKs_pub_A ‖ IKa_pub_A ‖ IKs_pub_B ‖ IKa_pub_B
 * ```
 *
 * Every DH refuses an all-zero output (`non_contributory`).
 */

import { concat } from './bytes.js';
import type { IdentityKey, IdentityKeyPair } from './identity.js';
import { ASSOCIATED_DATA, X3DH_F, X3DH_INFO, X3DH_SALT } from './labels.js';
import type { OneTimePreKeyPair, PreKeyBundle, SignedPreKeyPair } from './prekeys.js';
import { hkdfSha256, x25519Agree } from './primitives.js';

function derive(dhs: Uint8Array[]): Uint8Array {
  return hkdfSha256(X3DH_SALT, concat(X3DH_F, ...dhs), X3DH_INFO, 32);
}

/** The session associated data, initiator first. */
export function associatedData(initiator: IdentityKey, responder: IdentityKey): Uint8Array {
  return concat(ASSOCIATED_DATA, initiator.keyBytes(), responder.keyBytes());
}

/** Initiator side: our identity, our ephemeral secret and the (verified) bundle. */
export function x3dhInitiate(ours: IdentityKeyPair, ephemeralSecret: Uint8Array, bundle: PreKeyBundle): Uint8Array {
  const spk = bundle.signedPreKey.publicKey;
  const dhs = [
    ours.agree(spk),
    x25519Agree(ephemeralSecret, bundle.identity.agreementKey),
    x25519Agree(ephemeralSecret, spk),
  ];
  if (bundle.oneTimePreKey !== undefined) dhs.push(x25519Agree(ephemeralSecret, bundle.oneTimePreKey.publicKey));
  return derive(dhs);
}

/** Responder side: our identity and prekeys, the initiator's identity and ephemeral public key. */
export function x3dhRespond(
  ours: IdentityKeyPair,
  signedPreKey: SignedPreKeyPair,
  oneTimePreKey: OneTimePreKeyPair | undefined,
  theirIdentity: IdentityKey,
  theirEphemeral: Uint8Array,
): Uint8Array {
  const dhs = [
    signedPreKey.agree(theirIdentity.agreementKey),
    ours.agree(theirEphemeral),
    signedPreKey.agree(theirEphemeral),
  ];
  if (oneTimePreKey !== undefined) dhs.push(oneTimePreKey.agree(theirEphemeral));
  return derive(dhs);
}
