// crypto/tests/vectors/curbside/safety-number-v1.txt, and the properties of safety numbers.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';

import { SafetyNumber } from '../src/crypto/fingerprint.js';
import { IdentityKeyPair } from '../src/crypto/identity.js';
import { CURBSIDE_VECTORS, readText, SeededRandom } from './helpers.js';

function fixedIdentity(seedByte: number, agreementByte: number): IdentityKeyPair {
  return IdentityKeyPair.fromBytes(
    Uint8Array.from([1, ...new Array<number>(32).fill(seedByte), ...new Array<number>(32).fill(agreementByte)]),
  );
}

test('the published safety number is reproduced', () => {
  // Inputs (SECURITY.md, "Published vectors"): identities from the private
  // encodings 0x01 ‖ 0x11×32 ‖ 0x22×32 and 0x01 ‖ 0x33×32 ‖ 0x44×32, one
  // device each, user ids "npi:1234567893" and "npi:1245319599".
  const a = fixedIdentity(0x11, 0x22);
  const b = fixedIdentity(0x33, 0x44);
  const n = SafetyNumber.compute('npi:1234567893', [a.publicKey], 'npi:1245319599', [b.publicKey]);
  const published = readText(join(CURBSIDE_VECTORS, 'safety-number-v1.txt')).trim();
  assert.match(published, /^[0-9]{60}$/);
  assert.equal(n.digits, published);
  assert.equal(SafetyNumber.compute('npi:1245319599', [b.publicKey], 'npi:1234567893', [a.publicKey]).digits, published);
});

test('both users see the same number whatever the order, shown as 12 groups in 3 lines', () => {
  const rng = new SeededRandom(1).source;
  const [a1, a2, b1] = [0, 1, 2].map(() => IdentityKeyPair.generate(rng).publicKey);
  assert.ok(a1 && a2 && b1);
  const n1 = SafetyNumber.compute('alice', [a1, a2], 'bob', [b1]);
  const n2 = SafetyNumber.compute('bob', [b1], 'alice', [a2, a1, a2]);
  assert.equal(n1.digits, n2.digits, 'order and duplicates do not matter');
  assert.match(n1.digits, /^[0-9]{60}$/);
  assert.equal(n1.groups().length, 12);
  assert.equal(n1.toString().split('\n').length, 3);
  assert.ok(n2.matches(n1.toString()));
  assert.ok(n2.matches(n1.digits));
});

test('any changed key, added device or user id changes the number; typos do not match', () => {
  const rng = new SeededRandom(2).source;
  const [a, b, mallory] = [0, 1, 2].map(() => IdentityKeyPair.generate(rng).publicKey);
  assert.ok(a && b && mallory);
  const real = SafetyNumber.compute('alice', [a], 'bob', [b]);
  for (const other of [
    SafetyNumber.compute('alice', [a], 'bob', [mallory]),
    SafetyNumber.compute('alice', [a], 'bob', [b, mallory]),
    SafetyNumber.compute('alice', [a], 'bob2', [b]),
  ]) {
    assert.notEqual(real.digits, other.digits);
    assert.ok(!real.matches(other.digits));
  }
  const last = real.digits.at(-1) === '0' ? '1' : '0';
  assert.ok(!real.matches(real.digits.slice(0, 59) + last));
  assert.ok(!real.matches(real.digits.slice(0, 59)));
});
