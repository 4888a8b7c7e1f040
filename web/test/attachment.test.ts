// Chunked attachments: round trips at chunk boundaries in pieces of any size
// and through web streams; truncation at every chunk boundary, reordering,
// duplication, wrong key or digest, header tampering and bit flips refused.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  AttachmentDecryptor,
  AttachmentEncryptor,
  chunkNonce,
  CHUNK_SIZE,
  decryptAttachment,
  decryptingTransformer,
  encryptAttachment,
  encryptingTransformer,
  type AttachmentInfo,
} from '../src/crypto/attachment.js';
import { concat } from '../src/crypto/bytes.js';
import { sha256 } from '../src/crypto/primitives.js';
import { assertCryptoError, SeededRandom, toHex } from './helpers.js';

const SEALED = CHUNK_SIZE + 16;

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const part of stream) parts.push(part);
  return concat(...parts);
}
const HEADER = 9;

function decryptInPieces(blob: Uint8Array, info: AttachmentInfo, rng: SeededRandom): Uint8Array {
  const d = new AttachmentDecryptor(info.key, info.digest);
  const out: Uint8Array[] = [];
  let offset = 0;
  while (offset < blob.length) {
    const n = 1 + rng.below(3 * CHUNK_SIZE);
    out.push(d.update(blob.subarray(offset, offset + n)));
    offset += n;
  }
  out.push(d.finish());
  return concat(...out);
}

test('nonce layout: 0x000000 ‖ u64(i) ‖ last', () => {
  assert.equal(toHex(chunkNonce(1, true)), '000000000000000000000101');
  assert.equal(toHex(chunkNonce(0x0102, false)), '000000000000000000010200');
});

test('round trips at chunk boundaries, in pieces of any size', () => {
  const rng = new SeededRandom(1);
  for (const size of [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE, 3 * CHUNK_SIZE + 17]) {
    const plaintext = rng.bytes(size);
    // The sender writes in random pieces too.
    const e = new AttachmentEncryptor(rng.bytes(32));
    const parts: Uint8Array[] = [];
    for (let offset = 0; offset < size; ) {
      const n = 1 + rng.below(2 * CHUNK_SIZE);
      parts.push(e.update(plaintext.subarray(offset, offset + n)));
      offset += n;
    }
    const { tail, info } = e.finish();
    const blob = concat(...parts, tail);
    const chunks = Math.floor(size / CHUNK_SIZE) + 1;
    assert.equal(blob.length, HEADER + size + 16 * chunks, `size ${size}`);
    assert.equal(info.ciphertextLen, blob.length);
    assert.equal(info.plaintextLen, size);
    assert.equal(toHex(info.digest), toHex(sha256(blob)));
    assert.equal(toHex(blob.subarray(0, HEADER)), '434241540100010000');
    assert.equal(toHex(decryptInPieces(blob, info, rng)), toHex(plaintext), `size ${size}`);
    assert.equal(toHex(decryptAttachment(blob, info.key, info.digest)), toHex(plaintext));
  }
});

test('web streams: a TransformStream each way', async () => {
  const rng = new SeededRandom(2);
  const plaintext = rng.bytes(2 * CHUNK_SIZE + 5);
  let info: AttachmentInfo | undefined;
  const source = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < plaintext.length; i += 10_000) controller.enqueue(plaintext.slice(i, i + 10_000));
      controller.close();
    },
  });
  const encrypted = source.pipeThrough(new TransformStream(encryptingTransformer(rng.bytes(32), (i) => (info = i))));
  const blob = await collect(encrypted);
  assert.ok(info !== undefined);
  const decrypted = new Blob([blob]).stream().pipeThrough(new TransformStream(decryptingTransformer(info.key, info.digest)));
  assert.equal(toHex(await collect(decrypted)), toHex(plaintext));
  // A stream cut at a chunk boundary errors.
  const cut = new Blob([blob.subarray(0, HEADER + SEALED)]).stream();
  await assert.rejects(collect(cut.pipeThrough(new TransformStream(decryptingTransformer(info.key, info.digest)))), {
    code: 'truncated',
  });
});

test('truncation anywhere, including exactly at every chunk boundary, is refused', () => {
  const rng = new SeededRandom(3);
  const { blob, info } = encryptAttachment(rng.bytes(3 * CHUNK_SIZE + 100), rng.source);
  const boundaries = [0, 4, HEADER, HEADER + 1, HEADER + 15];
  for (let k = 1; k <= 3; k++) boundaries.push(HEADER + k * SEALED, HEADER + k * SEALED - 1, HEADER + k * SEALED + 10);
  boundaries.push(blob.length - 1);
  for (const at of boundaries) {
    assert.throws(() => decryptAttachment(blob.slice(0, at), info.key, info.digest), `cut at ${at}`);
  }
  // Without a digest, the chunk structure alone still catches a cut at a boundary.
  for (let k = 1; k <= 3; k++) {
    const d = new AttachmentDecryptor(info.key);
    d.update(blob.slice(0, HEADER + k * SEALED));
    assertCryptoError(() => d.finish(), 'truncated', `boundary ${k}`);
  }
});

test('reordered, duplicated or dropped chunks, a wrong key or digest, a changed header are refused', () => {
  const rng = new SeededRandom(4);
  const { blob, info } = encryptAttachment(rng.bytes(3 * CHUNK_SIZE + 100), rng.source);
  const header = blob.subarray(0, HEADER);
  const chunk = (k: number) => blob.subarray(HEADER + k * SEALED, Math.min(blob.length, HEADER + (k + 1) * SEALED));
  const open = (b: Uint8Array) => new AttachmentDecryptor(info.key).update(b);
  assertCryptoError(() => open(concat(header, chunk(1), chunk(0), chunk(2), chunk(3))), 'decryption_failed');
  assertCryptoError(() => open(concat(header, chunk(0), chunk(0), chunk(1))), 'decryption_failed');
  assertCryptoError(() => open(concat(header, chunk(0), chunk(2))), 'decryption_failed');
  assertCryptoError(() => decryptAttachment(blob, rng.bytes(32), info.digest), 'decryption_failed');
  assertCryptoError(() => decryptAttachment(blob, info.key, rng.bytes(32)), 'digest_mismatch');
  const version = Uint8Array.from(blob);
  version[4] = 2;
  assertCryptoError(() => decryptAttachment(version, info.key, info.digest), 'unsupported_version');
  const magic = Uint8Array.from(blob);
  magic[0] = 0;
  assertCryptoError(() => decryptAttachment(magic, info.key, info.digest), 'decode');
  const size = Uint8Array.from(blob);
  size[8] = 1; // another chunk size: the header is the AD, so the first chunk fails
  assertCryptoError(() => decryptAttachment(size, info.key, info.digest), 'decryption_failed');
  const tiny = Uint8Array.from(blob);
  tiny.set([0, 0, 0, 1], 5); // chunk size 1: out of range
  assertCryptoError(() => decryptAttachment(tiny, info.key, info.digest), 'decode');
});

test('any flipped bit is refused', () => {
  const rng = new SeededRandom(5);
  const { blob, info } = encryptAttachment(rng.bytes(CHUNK_SIZE + 300), rng.source);
  for (let n = 0; n < 300; n++) {
    const i = n < HEADER ? n : rng.below(blob.length);
    const forged = Uint8Array.from(blob);
    forged[i] = (forged[i] as number) ^ (1 << rng.below(8));
    assert.throws(() => decryptAttachment(forged, info.key, info.digest), `byte ${i}`);
  }
});
