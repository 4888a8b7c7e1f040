// Every decoder on hostile bytes: random input, every truncation, trailing
// bytes, unknown versions and oversized counts are CryptoErrors, never
// another exception, and what parses re-encodes to the same bytes.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { CryptoError } from '../src/crypto/errors.js';
import { IdentityKey, IdentityKeyPair } from '../src/crypto/identity.js';
import { decodeMessage, decodePreKeyMessage, decodeRatchetMessage, encodeMessage } from '../src/crypto/message.js';
import { OneTimePreKeyPair, PreKeyBundle, SignedPreKey, SignedPreKeyPair } from '../src/crypto/prekeys.js';
import { Session } from '../src/crypto/ratchet/session.js';
import { parseHeader } from '../src/crypto/local-store.js';
import { assertCryptoError, SeededRandom, text, toHex } from './helpers.js';
import { established } from './ratchet-helpers.js';

function fixture() {
  const pair = established(1);
  const identity = pair.aliceDevice.identity;
  return {
    identityPrivate: identity.toBytes(),
    identity: identity.publicKey.toBytes(),
    signedPreKeyPrivate: pair.bobDevice.signedPreKey.toBytes(),
    signedPreKey: pair.bobDevice.signedPreKey.publicKey.toBytes(),
    oneTimePrivate: pair.bobDevice.oneTimePreKey.toBytes(),
    bundle: pair.bobDevice.bundle().toBytes(),
    prekeyMessage: encodeMessage(
      Session.initiate(identity, pair.bobDevice.bundle(), pair.rng.source).encrypt(text('x')),
    ),
    ratchetMessage: encodeMessage(pair.alice.encrypt(text('y'))),
    session: pair.bob.toBytes(),
    pair,
  };
}

const f = fixture();
const bob = f.pair.bobDevice;
const decoders: Record<string, [(b: Uint8Array) => { toBytes(): Uint8Array } | Uint8Array, Uint8Array]> = {
  'IdentityKeyPair': [(b) => IdentityKeyPair.fromBytes(b), f.identityPrivate],
  'IdentityKey': [(b) => IdentityKey.fromBytes(b), f.identity],
  'SignedPreKeyPair': [(b) => SignedPreKeyPair.fromBytes(bob.identity, b), f.signedPreKeyPrivate],
  'SignedPreKey': [(b) => SignedPreKey.fromBytes(bob.identity.publicKey, b), f.signedPreKey],
  'OneTimePreKeyPair': [(b) => OneTimePreKeyPair.fromBytes(b), f.oneTimePrivate],
  'PreKeyBundle': [(b) => PreKeyBundle.fromBytes(b), f.bundle],
  'PreKeyMessage': [(b) => encodeMessage(decodePreKeyMessage(b)), f.prekeyMessage],
  'RatchetMessage': [(b) => encodeMessage(decodeRatchetMessage(b)), f.ratchetMessage],
  'Session': [(b) => Session.fromBytes(b), f.session],
};

function encoded(v: { toBytes(): Uint8Array } | Uint8Array): Uint8Array {
  return v instanceof Uint8Array ? v : v.toBytes();
}

test('valid encodings round-trip; every truncation and any trailing byte is a decode error', () => {
  for (const [name, [decode, good]] of Object.entries(decoders)) {
    assert.equal(toHex(encoded(decode(good))), toHex(good), name);
    const messageWithCiphertext = name.endsWith('Message');
    // The messages carry a one-byte plaintext: cut by one, the ciphertext is a bare tag, which parses.
    const floor = messageWithCiphertext ? good.length - 1 : good.length;
    for (let n = 0; n < floor; n++) {
      assert.throws(() => decode(good.slice(0, n)), CryptoError, `${name} cut at ${n}`);
    }
    if (!messageWithCiphertext) assertCryptoError(() => decode(Uint8Array.from([...good, 0])), 'decode', `${name} + 1`);
  }
});

test('unknown versions and tags are refused', () => {
  for (const [name, [decode, good]] of Object.entries(decoders)) {
    if (name === 'IdentityKey' || name === 'SignedPreKey') continue; // no version byte in these two
    const bad = Uint8Array.from(good);
    bad[0] = 2;
    assertCryptoError(() => decode(bad), 'unsupported_version', name);
  }
  const wrongType = Uint8Array.from(f.ratchetMessage);
  wrongType[1] = 3;
  assertCryptoError(() => decodeMessage(wrongType), 'decode');
  assertCryptoError(() => decodePreKeyMessage(f.ratchetMessage), 'decode');
  assertCryptoError(() => decodeRatchetMessage(f.prekeyMessage), 'decode');
  const badFlag = Uint8Array.from(f.bundle);
  badFlag[1 + 128 + 100] = 2;
  assertCryptoError(() => PreKeyBundle.fromBytes(badFlag), 'decode');
  const badRole = Uint8Array.from(f.session);
  badRole[1] = 2;
  assertCryptoError(() => Session.fromBytes(badRole), 'decode');
});

test('oversized counts and ciphertexts are refused', () => {
  // The session's skipped count is its last u32 before the entries; here there are none.
  const s = Uint8Array.from(f.session);
  assert.equal(f.pair.bob.skippedKeyCount, 0);
  new DataView(s.buffer).setUint32(s.length - 4, 2001, false);
  assert.equal(assertCryptoError(() => Session.fromBytes(s), 'decode').detail, 'too_long');
  const huge = new Uint8Array(42 + (1 << 20) + 1);
  huge.set(f.ratchetMessage.subarray(0, 42));
  assert.equal(assertCryptoError(() => decodeMessage(huge), 'decode').detail, 'too_long');
  assert.equal(assertCryptoError(() => decodeMessage(huge.subarray(0, 42 + 15)), 'decode').detail, 'unexpected_end');
});

test('random bytes into every decoder throw only CryptoErrors', () => {
  const rng = new SeededRandom(7);
  const all = { ...decoders, 'Message': [decodeMessage, f.ratchetMessage] as const, 'store header': [parseHeader, f.session] as const };
  for (let i = 0; i < 600; i++) {
    for (const [name, [decode, good]] of Object.entries(all)) {
      // Random bytes, and the valid encoding with random bytes changed.
      const input = i % 2 === 0 ? rng.bytes(rng.below(400)) : Uint8Array.from(good);
      if (i % 2 === 1) for (let k = 0; k < 3; k++) input[rng.below(input.length)] = rng.below(256);
      try {
        decode(input);
      } catch (e) {
        assert.ok(e instanceof CryptoError, `${name}: ${String(e)}`);
      }
    }
  }
});
