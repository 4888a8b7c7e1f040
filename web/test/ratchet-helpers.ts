// Devices and sessions for the ratchet tests.

import assert from 'node:assert/strict';

import { CryptoError } from '../src/crypto/errors.js';
import { IdentityKeyPair } from '../src/crypto/identity.js';
import { decodeMessage, encodeMessage, type Message } from '../src/crypto/message.js';
import { OneTimePreKeyPair, PreKeyBundle, SignedPreKeyPair } from '../src/crypto/prekeys.js';
import type { RandomSource } from '../src/crypto/primitives.js';
import { Session } from '../src/crypto/ratchet/session.js';
import { SeededRandom, text, toHex } from './helpers.js';

/** A device that published a signed prekey (id 1) and one one-time prekey (id 100). */
export class Device {
  readonly identity: IdentityKeyPair;
  readonly signedPreKey: SignedPreKeyPair;
  readonly oneTimePreKey: OneTimePreKeyPair;

  constructor(rng: RandomSource) {
    this.identity = IdentityKeyPair.generate(rng);
    this.signedPreKey = SignedPreKeyPair.generate(this.identity, 1, 0n, rng);
    this.oneTimePreKey = OneTimePreKeyPair.generate(100, rng);
  }

  bundle(withOneTime = true): PreKeyBundle {
    return PreKeyBundle.create(
      this.identity.publicKey,
      this.signedPreKey.publicKey,
      withOneTime ? this.oneTimePreKey.publicKey : undefined,
    );
  }

  accept(m: Message, rng: RandomSource): { session: Session; plaintext: Uint8Array } {
    assert.equal(m.kind, 'prekey');
    if (m.kind !== 'prekey') throw new Error('unreachable');
    const otk = m.prekey.oneTimePreKeyId === undefined ? undefined : this.oneTimePreKey;
    return Session.accept(this.identity, this.signedPreKey, otk, m, rng);
  }
}

export interface Pair {
  rng: SeededRandom;
  aliceDevice: Device;
  bobDevice: Device;
  alice: Session;
  bob: Session;
}

/** Alice and Bob after one round trip (both have done a DH ratchet step). */
export function established(seed: number): Pair {
  const rng = new SeededRandom(seed);
  const aliceDevice = new Device(rng.source);
  const bobDevice = new Device(rng.source);
  const alice = Session.initiate(aliceDevice.identity, bobDevice.bundle(), rng.source);
  const { session: bob, plaintext } = bobDevice.accept(alice.encrypt(text('hello')), rng.source);
  assert.equal(Buffer.from(plaintext).toString(), 'hello');
  assert.equal(Buffer.from(alice.decrypt(bob.encrypt(text('hi')), rng.source)).toString(), 'hi');
  return { rng, aliceDevice, bobDevice, alice, bob };
}

/** Parses wire bytes and decrypts them: any refusal, at parse or decryption, is thrown. */
export function receiveWire(session: Session, wire: Uint8Array, rng: RandomSource): Uint8Array {
  return session.decrypt(decodeMessage(wire), rng);
}

/** Asserts that `wire` is refused with a CryptoError and that the session is byte-for-byte unchanged. */
export function assertRefusedUnchanged(session: Session, wire: Uint8Array, rng: RandomSource, note: string): CryptoError {
  const before = toHex(session.toBytes());
  let thrown: unknown;
  try {
    receiveWire(session, wire, rng);
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown instanceof CryptoError, `${note}: accepted or failed oddly (${String(thrown)})`);
  assert.equal(toHex(session.toBytes()), before, `${note}: session changed by a refused message`);
  return thrown;
}

export function wireOf(m: Message): Uint8Array {
  return encodeMessage(m);
}
