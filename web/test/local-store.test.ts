// crypto/tests/vectors/curbside/argon2id-store-v1.hex reproduced byte for
// byte; Argon2id with our production parameters (p = 4) against the RFC 9106
// reference implementation; the sealed format's refusals.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';

import { argon2id } from '@noble/hashes/argon2.js';

import { concat } from '../src/crypto/bytes.js';
import { INSECURE_FOR_TESTS, HEADER_LEN, PREFIX_LEN, RECOMMENDED, StoreKey, parseHeader } from '../src/crypto/local-store.js';
import { xaeadOpen } from '../src/crypto/primitives.js';
import { assertCryptoError, CURBSIDE_VECTORS, hex, readText, ReplayRandom, SeededRandom, text, toHex } from './helpers.js';

const published = hex(readText(join(CURBSIDE_VECTORS, 'argon2id-store-v1.hex')).trim());

test('the published sealed store is reproduced byte for byte and opens', () => {
  // Inputs (SECURITY.md, "Published vectors"): passphrase "password", salt
  // "somesaltsomesalt", m = 64 KiB, t = 1, p = 1, context "ctx", plaintext
  // "pinned"; the nonce is the file's bytes 33..57.
  assert.equal(published.length, PREFIX_LEN + 'pinned'.length + 16);
  const key = StoreKey.derive(text('password'), text('somesaltsomesalt'), INSECURE_FOR_TESTS);
  assert.equal(Buffer.from(key.open(text('ctx'), published)).toString(), 'pinned');
  const nonce = published.slice(HEADER_LEN, PREFIX_LEN);
  const sealed = key.seal(text('ctx'), text('pinned'), new ReplayRandom([nonce]).source);
  assert.equal(toHex(sealed), toHex(published));
  // A later run derives the same key from the header alone.
  const again = StoreKey.deriveFor(text('password'), published);
  assert.equal(Buffer.from(again.open(text('ctx'), published)).toString(), 'pinned');
  assert.deepEqual(parseHeader(published).params, INSECURE_FOR_TESTS);
});

test('Argon2id reproduces RFC 9106 §5.3 (p = 4, with secret and associated data)', () => {
  const tag = argon2id(new Uint8Array(32).fill(1), new Uint8Array(16).fill(2), {
    t: 3,
    m: 32,
    p: 4,
    key: new Uint8Array(8).fill(3),
    personalization: new Uint8Array(12).fill(4),
    dkLen: 32,
  });
  assert.equal(toHex(tag), '0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659');
});

test('the store key with the production parameters (m = 64 MiB, t = 3, p = 4) matches the reference implementation', () => {
  // Computed with the RFC 9106 reference implementation (Debian's argon2
  // 0~20171227): echo -n 'correct horse battery staple' |
  //   argon2 curbside-salt-16 -id -t 3 -k 65536 -p 4 -l 32 -r
  assert.deepEqual(RECOMMENDED, { mCostKib: 65536, tCost: 3, pCost: 4 });
  const key = StoreKey.derive(text('correct horse battery staple'), text('curbside-salt-16'), RECOMMENDED);
  const expected = hex('47a752b863ccd75b14f8b38fb6c83c26f12660f20cc85d065eaae305f499d8a1');
  // The key stays inside StoreKey: seal with it, open with the expected key by hand.
  const sealed = key.seal(text('c'), text('x'), new SeededRandom(5).source);
  const prefix = sealed.slice(0, PREFIX_LEN);
  const opened = xaeadOpen(expected, prefix.slice(HEADER_LEN), concat(prefix, text('c')), sealed.slice(PREFIX_LEN));
  assert.equal(Buffer.from(opened).toString(), 'x');
});

test('the async derivation gives the same key as the blocking one', async () => {
  const salt = text('somesaltsomesalt');
  const key = await StoreKey.deriveAsync(text('password'), salt, INSECURE_FOR_TESTS);
  assert.equal(Buffer.from(key.open(text('ctx'), published)).toString(), 'pinned');
});

test('wrong passphrase, wrong context and every modified byte are refused', () => {
  const rng = new SeededRandom(2).source;
  const key = StoreKey.create(text('passphrase'), INSECURE_FOR_TESTS, rng);
  const sealed = key.seal(text('identity'), text('secret'), rng);
  assert.ok(!Buffer.from(sealed).includes('secret'));
  const wrong = StoreKey.deriveFor(text('Passphrase'), sealed);
  assertCryptoError(() => wrong.open(text('identity'), sealed), 'wrong_passphrase_or_corrupt');
  assertCryptoError(() => key.open(text('history'), sealed), 'wrong_passphrase_or_corrupt');
  for (let i = HEADER_LEN; i < sealed.length; i++) {
    const forged = Uint8Array.from(sealed);
    forged[i] = (forged[i] as number) ^ 0x80;
    assertCryptoError(() => key.open(text('identity'), forged), 'wrong_passphrase_or_corrupt', `byte ${i}`);
  }
  const salt = Uint8Array.from(sealed);
  salt[20] = (salt[20] as number) ^ 1;
  assertCryptoError(() => key.open(text('identity'), salt), 'store_key_mismatch');
  const params = Uint8Array.from(sealed);
  params[12] = (params[12] as number) ^ 2; // t 1 -> 3: valid, not this key's
  assertCryptoError(() => key.open(text('identity'), params), 'store_key_mismatch');
  params[12] = 0; // t = 0
  assertCryptoError(() => key.open(text('identity'), params), 'invalid_kdf_params');
  assertCryptoError(() => key.open(text('identity'), sealed.slice(0, HEADER_LEN + 30)), 'decode');
  assertCryptoError(() => key.open(text('identity'), text('not a store')), 'decode');
  const version = Uint8Array.from(sealed);
  version[4] = 2;
  assertCryptoError(() => key.open(text('identity'), version), 'unsupported_version');
});

test('parameters read from a sealed blob are bounded before any derivation', () => {
  const rng = new SeededRandom(3).source;
  const key = StoreKey.create(text('p'), INSECURE_FOR_TESTS, rng);
  const sealed = key.seal(text('c'), text('x'), rng);
  const huge = Uint8Array.from(sealed);
  new DataView(huge.buffer).setUint32(5, 4 << 20, false); // 4 GiB
  assertCryptoError(() => StoreKey.deriveFor(text('p'), huge), 'invalid_kdf_params');
  for (const bad of [
    { mCostKib: 64, tCost: 0, pCost: 1 },
    { mCostKib: 64, tCost: 65, pCost: 1 },
    { mCostKib: 64, tCost: 1, pCost: 65 },
    { mCostKib: 31, tCost: 1, pCost: 4 },
    { mCostKib: 2 * 1024 * 1024 + 1, tCost: 1, pCost: 1 },
  ]) {
    assertCryptoError(() => StoreKey.derive(text('p'), new Uint8Array(16), bad), 'invalid_kdf_params', JSON.stringify(bad));
  }
});
