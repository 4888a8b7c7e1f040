/**
 * Device identities (SECURITY.md, "Device identity"): an Ed25519 signing key
 * and an X25519 agreement key whose public half the Ed25519 key signs.
 *
 * ```text
 * IdentityKey (public, 128)   = IKs_pub(32) ‖ IKa_pub(32) ‖ Sig(IKs, "Curbside v1 identity agreement key" ‖ IKa_pub)(64)
 * IdentityKeyPair (private, 65) = 0x01 ‖ Ed25519 seed(32) ‖ X25519 secret(32, as drawn, not clamped)
 * ```
 *
 * Every {@link IdentityKey} has a verified signature: its only constructors
 * verify it.
 */

import { concat, equalBytes, Reader, u8, wipe } from './bytes.js';
import { CryptoError } from './errors.js';
import { IDENTITY_SIGNATURE } from './labels.js';
import {
  drawRandom,
  ed25519PublicKey,
  ed25519Sign,
  ed25519Verify,
  KEY_LEN,
  SIGNATURE_LEN,
  x25519Agree,
  x25519PublicKey,
  type RandomSource,
} from './primitives.js';

const FORMAT_VERSION = 1;

/** The public identity of one device. */
export class IdentityKey {
  /** Encoded length: Ed25519 key, X25519 key, signature. */
  static readonly ENCODED_LEN = KEY_LEN + KEY_LEN + SIGNATURE_LEN;

  private constructor(
    /** The Ed25519 key that authenticates the device. */
    readonly signingKey: Uint8Array,
    /** The X25519 identity key used in X3DH. */
    readonly agreementKey: Uint8Array,
    /** The Ed25519 signature over the X25519 key. */
    readonly signature: Uint8Array,
  ) {}

  /** Builds an identity from its parts, verifying the signature (`bad_signature`). */
  static fromParts(signingKey: Uint8Array, agreementKey: Uint8Array, signature: Uint8Array): IdentityKey {
    if (signingKey.length !== KEY_LEN || agreementKey.length !== KEY_LEN) throw new CryptoError('invalid_key');
    ed25519Verify(signingKey, concat(IDENTITY_SIGNATURE, agreementKey), signature);
    return new IdentityKey(Uint8Array.from(signingKey), Uint8Array.from(agreementKey), Uint8Array.from(signature));
  }

  /** Reads one identity from `r` (verifying it). */
  static read(r: Reader): IdentityKey {
    const signing = r.take(KEY_LEN);
    const agreement = r.take(KEY_LEN);
    const signature = r.take(SIGNATURE_LEN);
    return IdentityKey.fromParts(signing, agreement, signature);
  }

  /** Parses the 128-byte encoding; a flipped bit anywhere is `bad_signature`, a wrong length `decode`. */
  static fromBytes(bytes: Uint8Array): IdentityKey {
    const r = new Reader(bytes);
    const key = IdentityKey.read(r);
    r.finish();
    return key;
  }

  /** Ed25519 key ‖ X25519 key ‖ signature. */
  toBytes(): Uint8Array {
    return concat(this.signingKey, this.agreementKey, this.signature);
  }

  /** The 64 bytes that name the device in associated data and safety numbers: Ed25519 key ‖ X25519 key. */
  keyBytes(): Uint8Array {
    return concat(this.signingKey, this.agreementKey);
  }

  /** Verifies a signature by the device's Ed25519 key over `message` (which must begin with its context's label). */
  verify(message: Uint8Array, signature: Uint8Array): void {
    ed25519Verify(this.signingKey, message, signature);
  }

  /** Same device keys (the signature is deterministic, so the whole encoding is equal too). */
  equals(other: IdentityKey): boolean {
    return equalBytes(this.toBytes(), other.toBytes());
  }
}

/** A device's private identity. */
export class IdentityKeyPair {
  private constructor(
    private readonly seed: Uint8Array,
    private readonly agreementSecret: Uint8Array,
    /** The public identity. */
    readonly publicKey: IdentityKey,
  ) {}

  /** A new identity: an Ed25519 seed, then an X25519 key, 32 bytes each from `rng`, in that order. */
  static generate(rng: RandomSource): IdentityKeyPair {
    const seed = drawRandom(rng, KEY_LEN);
    const agreement = drawRandom(rng, KEY_LEN);
    return IdentityKeyPair.fromSecrets(seed, agreement);
  }

  private static fromSecrets(seed: Uint8Array, agreementSecret: Uint8Array): IdentityKeyPair {
    const signing = ed25519PublicKey(seed);
    const agreement = x25519PublicKey(agreementSecret);
    const signature = ed25519Sign(seed, concat(IDENTITY_SIGNATURE, agreement));
    return new IdentityKeyPair(seed, agreementSecret, IdentityKey.fromParts(signing, agreement, signature));
  }

  /** Parses the private encoding `0x01 ‖ seed(32) ‖ X25519 secret(32)`. */
  static fromBytes(bytes: Uint8Array): IdentityKeyPair {
    const r = new Reader(bytes);
    r.version(FORMAT_VERSION);
    const seed = r.take(KEY_LEN);
    const agreement = r.take(KEY_LEN);
    r.finish();
    return IdentityKeyPair.fromSecrets(seed, agreement);
  }

  /** The private encoding. Store it only sealed (see `local-store.ts`). */
  toBytes(): Uint8Array {
    return concat(u8(FORMAT_VERSION), this.seed, this.agreementSecret);
  }

  /** Signs `message`, which must begin with a domain-separation label of its own. */
  sign(message: Uint8Array): Uint8Array {
    return ed25519Sign(this.seed, message);
  }

  /** X25519(identity secret, theirs), refusing low-order keys. */
  agree(theirs: Uint8Array): Uint8Array {
    return x25519Agree(this.agreementSecret, theirs);
  }

  /** Overwrites the secret bytes (best effort); the pair is unusable afterwards. */
  wipe(): void {
    wipe(this.seed, this.agreementSecret);
  }
}
