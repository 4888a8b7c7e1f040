/**
 * Signed prekeys, one-time prekeys and bundles (SECURITY.md, "Prekeys and
 * bundles"):
 *
 * ```text
 * SignedPreKey (public, 100)    = u32(id) ‖ SPK_pub(32) ‖ Sig(IKs, "Curbside v1 signed prekey" ‖ u32(id) ‖ SPK_pub)(64)
 * SignedPreKeyPair (private, 45) = 0x01 ‖ u32(id) ‖ u64(created_at, seconds) ‖ X25519 secret(32)
 * OneTimePreKeyPair (private, 37) = 0x01 ‖ u32(id) ‖ X25519 secret(32)
 * PreKeyBundle                  = 0x01 ‖ IdentityKey(128) ‖ SignedPreKey(100) ‖ flag(1) [‖ u32(otk id) ‖ OPK_pub(32)]
 * ```
 *
 * The signed prekey's signature is not stored in its private encoding: Ed25519
 * is deterministic, so it is recomputed on load.
 */

import { concat, flag, Reader, u32, u64, u8 } from './bytes.js';
import { CryptoError } from './errors.js';
import { IdentityKey, type IdentityKeyPair } from './identity.js';
import { SIGNED_PREKEY_SIGNATURE } from './labels.js';
import { drawRandom, KEY_LEN, SIGNATURE_LEN, x25519Agree, x25519PublicKey, type RandomSource } from './primitives.js';

const FORMAT_VERSION = 1;

function signedPreKeyInput(id: number, publicKey: Uint8Array): Uint8Array {
  return concat(SIGNED_PREKEY_SIGNATURE, u32(id), publicKey);
}

/** The public, signed half of a signed prekey; its signature was verified against its owner. */
export class SignedPreKey {
  static readonly ENCODED_LEN = 4 + KEY_LEN + SIGNATURE_LEN;

  private constructor(
    readonly id: number,
    readonly publicKey: Uint8Array,
    readonly signature: Uint8Array,
  ) {}

  /** Verifies `signature` with `owner`'s Ed25519 key (`bad_signature`). */
  static create(owner: IdentityKey, id: number, publicKey: Uint8Array, signature: Uint8Array): SignedPreKey {
    if (publicKey.length !== KEY_LEN) throw new CryptoError('invalid_key');
    owner.verify(signedPreKeyInput(id, publicKey), signature);
    return new SignedPreKey(id, Uint8Array.from(publicKey), Uint8Array.from(signature));
  }

  static read(r: Reader, owner: IdentityKey): SignedPreKey {
    const id = r.u32();
    const publicKey = r.take(KEY_LEN);
    const signature = r.take(SIGNATURE_LEN);
    return SignedPreKey.create(owner, id, publicKey, signature);
  }

  /** Parses the 100-byte encoding, verifying it with `owner`'s key. */
  static fromBytes(owner: IdentityKey, bytes: Uint8Array): SignedPreKey {
    const r = new Reader(bytes);
    const key = SignedPreKey.read(r, owner);
    r.finish();
    return key;
  }

  /** u32(id) ‖ public key ‖ signature, as the server relays it. */
  toBytes(): Uint8Array {
    return concat(u32(this.id), this.publicKey, this.signature);
  }
}

/** A signed prekey with its private half. */
export class SignedPreKeyPair {
  private constructor(
    private readonly secretKey: Uint8Array,
    readonly publicKey: SignedPreKey,
    /** Seconds since the epoch, kept for rotation. */
    readonly createdAt: bigint,
  ) {}

  /** A new signed prekey: 32 bytes from `rng`, signed by `identity`. */
  static generate(identity: IdentityKeyPair, id: number, createdAt: bigint, rng: RandomSource): SignedPreKeyPair {
    return SignedPreKeyPair.fromSecret(identity, id, createdAt, drawRandom(rng, KEY_LEN));
  }

  private static fromSecret(identity: IdentityKeyPair, id: number, createdAt: bigint, secret: Uint8Array): SignedPreKeyPair {
    const publicKey = x25519PublicKey(secret);
    const signature = identity.sign(signedPreKeyInput(id, publicKey));
    return new SignedPreKeyPair(secret, SignedPreKey.create(identity.publicKey, id, publicKey, signature), createdAt);
  }

  /** Parses the private encoding for the identity that owns it. */
  static fromBytes(identity: IdentityKeyPair, bytes: Uint8Array): SignedPreKeyPair {
    const r = new Reader(bytes);
    r.version(FORMAT_VERSION);
    const id = r.u32();
    const createdAt = r.u64();
    const secret = r.take(KEY_LEN);
    r.finish();
    return SignedPreKeyPair.fromSecret(identity, id, createdAt, secret);
  }

  get id(): number {
    return this.publicKey.id;
  }

  /** 0x01 ‖ u32(id) ‖ u64(created_at) ‖ secret. Store it only sealed. */
  toBytes(): Uint8Array {
    return concat(u8(FORMAT_VERSION), u32(this.publicKey.id), u64(this.createdAt), this.secretKey);
  }

  /** X25519(prekey secret, theirs). */
  agree(theirs: Uint8Array): Uint8Array {
    return x25519Agree(this.secretKey, theirs);
  }

  /** The secret bytes: the responder's first ratchet key is its signed prekey. */
  secretBytes(): Uint8Array {
    return Uint8Array.from(this.secretKey);
  }
}

/** The public half of a one-time prekey. */
export interface OneTimePreKey {
  readonly id: number;
  readonly publicKey: Uint8Array;
}

/** A one-time prekey with its private half. */
export class OneTimePreKeyPair {
  private constructor(
    readonly id: number,
    private readonly secretKey: Uint8Array,
  ) {}

  /** A new one-time prekey: 32 bytes from `rng`. */
  static generate(id: number, rng: RandomSource): OneTimePreKeyPair {
    u32(id);
    return new OneTimePreKeyPair(id, drawRandom(rng, KEY_LEN));
  }

  /** `count` one-time prekeys with consecutive ids from `firstId` (wrapping at 2^32). */
  static generateBatch(firstId: number, count: number, rng: RandomSource): OneTimePreKeyPair[] {
    const out: OneTimePreKeyPair[] = [];
    for (let i = 0; i < count; i++) out.push(OneTimePreKeyPair.generate((firstId + i) >>> 0, rng));
    return out;
  }

  /** Parses `0x01 ‖ u32(id) ‖ secret(32)`. */
  static fromBytes(bytes: Uint8Array): OneTimePreKeyPair {
    const r = new Reader(bytes);
    r.version(FORMAT_VERSION);
    const id = r.u32();
    const secret = r.take(KEY_LEN);
    r.finish();
    return new OneTimePreKeyPair(id, secret);
  }

  /** The public half, for upload. */
  get publicKey(): OneTimePreKey {
    return { id: this.id, publicKey: x25519PublicKey(this.secretKey) };
  }

  /** 0x01 ‖ u32(id) ‖ secret. Store it only sealed. */
  toBytes(): Uint8Array {
    return concat(u8(FORMAT_VERSION), u32(this.id), this.secretKey);
  }

  /** X25519(one-time secret, theirs). */
  agree(theirs: Uint8Array): Uint8Array {
    return x25519Agree(this.secretKey, theirs);
  }
}

/** What an initiator needs to start a session with a device; both signatures verified. */
export class PreKeyBundle {
  private constructor(
    readonly identity: IdentityKey,
    readonly signedPreKey: SignedPreKey,
    readonly oneTimePreKey: OneTimePreKey | undefined,
  ) {}

  /** Assembles a bundle, checking that the signed prekey was signed by `identity`. */
  static create(identity: IdentityKey, signedPreKey: SignedPreKey, oneTimePreKey?: OneTimePreKey): PreKeyBundle {
    const spk = SignedPreKey.create(identity, signedPreKey.id, signedPreKey.publicKey, signedPreKey.signature);
    if (oneTimePreKey !== undefined) {
      u32(oneTimePreKey.id);
      if (oneTimePreKey.publicKey.length !== KEY_LEN) throw new CryptoError('invalid_key');
    }
    const otk = oneTimePreKey && { id: oneTimePreKey.id, publicKey: Uint8Array.from(oneTimePreKey.publicKey) };
    return new PreKeyBundle(identity, spk, otk);
  }

  /** Parses and verifies the bundle encoding. */
  static fromBytes(bytes: Uint8Array): PreKeyBundle {
    const r = new Reader(bytes);
    r.version(FORMAT_VERSION);
    const identity = IdentityKey.read(r);
    const signedPreKey = SignedPreKey.read(r, identity);
    let oneTime: OneTimePreKey | undefined;
    if (r.flag()) oneTime = { id: r.u32(), publicKey: r.take(KEY_LEN) };
    r.finish();
    return new PreKeyBundle(identity, signedPreKey, oneTime);
  }

  /** 0x01 ‖ identity ‖ signed prekey ‖ flag [‖ u32(otk id) ‖ otk]. */
  toBytes(): Uint8Array {
    const otk = this.oneTimePreKey;
    return concat(
      u8(FORMAT_VERSION),
      this.identity.toBytes(),
      this.signedPreKey.toBytes(),
      flag(otk !== undefined),
      ...(otk === undefined ? [] : [u32(otk.id), otk.publicKey]),
    );
  }
}
