// Every Wycheproof case of the primitives the construction uses, through the
// core's own wrappers (primitives.ts): X25519 (low-order keys refused),
// ChaCha20-Poly1305, XChaCha20-Poly1305, Ed25519 (strict), HKDF-SHA256,
// HMAC-SHA256. A file that yields no case, or not all it declares, fails.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';

import {
  aeadOpen,
  aeadSeal,
  ed25519Verify,
  hkdfSha256,
  hmacSha256,
  x25519Agree,
  xaeadOpen,
  xaeadSeal,
} from '../src/crypto/primitives.js';
import { assertCryptoError, hex, readJson, toHex, WEB_VECTORS, WYCHEPROOF } from './helpers.js';

type Expect = 'valid' | 'invalid' | 'acceptable';
interface File<T> {
  algorithm: string;
  numberOfTests: number;
  testGroups: T[];
}

function load<T>(path: string, algorithm: string): File<T> {
  const file = readJson(path) as File<T>;
  assert.equal(file.algorithm, algorithm);
  return file;
}

function report(name: string, file: File<unknown>, ran: number): void {
  console.log(`wycheproof ${name}: ${ran} vectors run (file declares ${file.numberOfTests})`);
  assert.ok(ran > 0, `${name} yielded no vectors`);
  assert.equal(ran, file.numberOfTests, `${name}: not every vector was run`);
}

test('wycheproof x25519: every shared secret, the low-order keys refused', () => {
  interface T { tcId: number; flags: string[]; public: string; private: string; shared: string; result: Expect }
  const file = load<{ tests: T[] }>(join(WYCHEPROOF, 'x25519_test.json'), 'XDH');
  let ran = 0;
  let refused = 0;
  for (const t of file.testGroups.flatMap((g) => g.tests)) {
    ran++;
    if (/^0+$/.test(t.shared)) {
      assert.ok(t.flags.includes('ZeroSharedSecret'), `tc ${t.tcId}`);
      assertCryptoError(() => x25519Agree(hex(t.private), hex(t.public)), 'non_contributory', `tc ${t.tcId}`);
      refused++;
    } else {
      assert.notEqual(t.result, 'invalid', `tc ${t.tcId}`);
      assert.equal(toHex(x25519Agree(hex(t.private), hex(t.public))), t.shared, `tc ${t.tcId}`);
    }
  }
  console.log(`wycheproof x25519: ${refused} low-order cases refused as non-contributory`);
  assert.equal(refused, 31);
  report('x25519_test.json', file, ran);
});

interface AeadTest { tcId: number; key: string; iv: string; aad: string; msg: string; ct: string; tag: string; result: Expect }

function runAead(
  path: string,
  algorithm: string,
  nonceLen: number,
  seal: typeof aeadSeal,
  open: typeof aeadOpen,
): void {
  const file = load<{ tests: AeadTest[] }>(path, algorithm);
  let ran = 0;
  for (const t of file.testGroups.flatMap((g) => g.tests)) {
    ran++;
    const [key, nonce, aad, msg] = [hex(t.key), hex(t.iv), hex(t.aad), hex(t.msg)];
    const sealed = hex(t.ct + t.tag);
    if (nonce.length !== nonceLen) {
      assert.equal(t.result, 'invalid', `tc ${t.tcId}`);
      assertCryptoError(() => open(key, nonce, aad, sealed), 'decryption_failed', `tc ${t.tcId}`);
      continue;
    }
    if (t.result === 'valid') {
      assert.equal(toHex(seal(key, nonce, aad, msg)), toHex(sealed), `tc ${t.tcId}`);
      assert.equal(toHex(open(key, nonce, aad, sealed)), t.msg, `tc ${t.tcId}`);
    } else {
      assert.equal(t.result, 'invalid', `tc ${t.tcId}`);
      assertCryptoError(() => open(key, nonce, aad, sealed), 'decryption_failed', `tc ${t.tcId}`);
    }
  }
  report(path.split('/').at(-1) as string, file, ran);
}

test('wycheproof chacha20_poly1305', () => {
  runAead(join(WYCHEPROOF, 'chacha20_poly1305_test.json'), 'CHACHA20-POLY1305', 12, aeadSeal, aeadOpen);
});

test('wycheproof xchacha20_poly1305', () => {
  runAead(join(WEB_VECTORS, 'wycheproof', 'xchacha20_poly1305_test.json'), 'XCHACHA20-POLY1305', 24, xaeadSeal, xaeadOpen);
});

test('wycheproof ed25519: strict verification, as ring does', () => {
  interface T { tcId: number; msg: string; sig: string; result: Expect }
  const file = load<{ publicKey: { pk: string }; tests: T[] }>(join(WYCHEPROOF, 'ed25519_test.json'), 'EDDSA');
  let ran = 0;
  for (const g of file.testGroups) {
    for (const t of g.tests) {
      ran++;
      const verify = () => ed25519Verify(hex(g.publicKey.pk), hex(t.msg), hex(t.sig));
      if (t.result === 'valid') verify();
      else {
        assert.equal(t.result, 'invalid', `tc ${t.tcId}`);
        assertCryptoError(verify, 'bad_signature', `tc ${t.tcId}`);
      }
    }
  }
  report('ed25519_test.json', file, ran);
});

test('wycheproof hkdf_sha256', () => {
  interface T { tcId: number; ikm: string; salt: string; info: string; size: number; okm: string; result: Expect }
  const file = load<{ tests: T[] }>(join(WYCHEPROOF, 'hkdf_sha256_test.json'), 'HKDF-SHA-256');
  let ran = 0;
  for (const t of file.testGroups.flatMap((g) => g.tests)) {
    ran++;
    const derive = () => hkdfSha256(hex(t.salt), hex(t.ikm), hex(t.info), t.size);
    if (t.result === 'valid') assert.equal(toHex(derive()), t.okm, `tc ${t.tcId}`);
    else assertCryptoError(derive, 'invalid_length', `tc ${t.tcId}`);
  }
  report('hkdf_sha256_test.json', file, ran);
});

test('wycheproof hmac_sha256 (full and truncated tags)', () => {
  interface T { tcId: number; key: string; msg: string; tag: string; result: Expect }
  const file = load<{ tagSize: number; tests: T[] }>(join(WYCHEPROOF, 'hmac_sha256_test.json'), 'HMACSHA256');
  let ran = 0;
  for (const g of file.testGroups) {
    for (const t of g.tests) {
      ran++;
      const mac = hmacSha256(hex(t.key), hex(t.msg)).slice(0, g.tagSize / 8);
      assert.equal(toHex(mac) === t.tag, t.result === 'valid', `tc ${t.tcId}`);
    }
  }
  report('hmac_sha256_test.json', file, ran);
});
