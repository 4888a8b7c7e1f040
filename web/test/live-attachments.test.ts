// Attachments between the web client and the Rust CLI through a real
// `curbside serve`: a ~300 KB file (five chunks) from the web client, which
// the CLI downloads byte for byte; a file from `curbside attach`, which the
// web client downloads and verifies; one-shot streams and single-body
// uploads; and blobs tampered with on the server's disk, or references with
// a wrong digest, key or size, refused before any plaintext is returned (by
// the CLI too).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { attachmentStream, Client, downloadAttachment, enroll, uploadAttachment, type AttachmentRef, type Received } from '../src/client/index.js';
import { CHUNK_SIZE } from '../src/crypto/attachment.js';
import { CryptoError } from '../src/crypto/errors.js';
import { fromBase64, ServerError, TransportError, type ByteStream, type FetchLike } from '../src/protocol/index.js';
import { binaryMissing, cli, httpsFetch, npi, startServer, tempDir, userIdIn, wsFactory, type Server } from './live-helpers.js';

const missing = binaryMissing();
if (missing !== undefined) {
  console.error(`\n*** ${missing} ***\n`);
  test('live attachments with the curbside binary', (t) => {
    assert.notEqual(process.env['CI'], 'true', missing);
    t.skip(missing);
  });
} else {
  live();
}

async function collect(stream: ByteStream): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const p of stream as unknown as ReadableStream<Uint8Array>) parts.push(p);
  return Buffer.concat(parts);
}

function flip(bytes: Uint8Array, offset: number): void {
  bytes[offset] = (bytes[offset] as number) ^ 0x01;
}

const isCrypto = (code: string) => (e: unknown): boolean => {
  assert.ok(e instanceof CryptoError, String(e));
  assert.equal(e.code, code, e.message);
  return true;
};

function live(): void {
  let server: Server;
  let profiles: string;
  let alice: Client;
  let aliceId: string;
  let bobId: string;
  const bob = (): string => join(profiles, 'bob');
  const admin = (): string => join(profiles, 'admin');
  const blobPath = (id: string): string => join(server.dataDir, 'attachments', id);

  const invite = async (): Promise<string> => {
    const m = /cbs_inv_[A-Za-z0-9_-]+/.exec(await cli(['admin', 'invite', '--profile', admin()]));
    assert.ok(m);
    return m[0];
  };
  /** The next message that is not a read receipt, acknowledged. */
  const nextFile = async (): Promise<{ r: Received; file: AttachmentRef }> => {
    for (;;) {
      const r = await alice.nextMessage(10_000);
      assert.ok(r, 'no message came');
      alice.ack([r.deliveryId]);
      if (r.kind === 'receipt') continue;
      assert.equal(r.content?.type, 'attachment', JSON.stringify(r.content));
      if (r.content?.type !== 'attachment') throw new Error('unreachable');
      return { r, file: r.content.file };
    }
  };

  before(async () => {
    server = await startServer();
    profiles = tempDir();
    const opts = { '--server': server.address, '--cert': server.certPath };
    const where = Object.entries(opts).flat();
    await cli(['enroll', '--profile', admin(), '--invite', server.token, '--name', 'Admin', ...where]);
    bobId = userIdIn(
      await cli(['enroll', '--profile', bob(), '--invite', await invite(), '--name', 'Dr. Bob Brennan', '--npi', npi('123456789'), '--specialty', 'Dermatology', ...where]),
    );
    const { account, response } = await enroll(
      { url: server.url, serverName: 'localhost' },
      await invite(),
      { displayName: 'Dr. Alice Adeyemi', npi: npi('323456789'), specialty: 'Internal Medicine' },
      { fetch: httpsFetch(server.certPem) },
    );
    aliceId = response.user_id;
    for (const u of [aliceId, bobId]) await cli(['admin', 'verify', '--profile', admin(), u]);
    alice = new Client(account, { webSocket: wsFactory(server.certPem), fetch: httpsFetch(server.certPem) });
    alice.start();
    await alice.waitOnline();
  });

  after(async () => {
    alice?.stop();
    await server?.stop();
    if (profiles) rmSync(profiles, { recursive: true, force: true });
  });

  test('web → CLI: a 300 KB Blob, streamed up, downloaded by curbside download byte for byte', async () => {
    const data = randomBytes(300_000); // four full chunks and a partial one
    const sent = await alice.sendFile([bobId], new Blob([data]), 'scan-300k.bin');
    assert.equal(sent.outcome, 'accepted');
    const { file, blobSize } = sent.uploaded;
    // The reference as the Rust client writes it: hex id, base64 32-byte key and digest, plaintext size.
    assert.match(file.attachment_id, /^[0-9a-f]{32}$/);
    assert.equal(fromBase64(file.key).length, 32);
    assert.equal(fromBase64(file.digest).length, 32);
    assert.deepEqual(Object.keys(file).sort(), ['attachment_id', 'digest', 'key', 'name', 'size']);
    assert.equal(file.size, data.length);
    assert.equal(blobSize, 9 + data.length + 16 * (Math.floor(data.length / CHUNK_SIZE) + 1));
    assert.equal(readFileSync(blobPath(file.attachment_id)).length, blobSize);
    assert.ok(!readFileSync(blobPath(file.attachment_id)).includes(data.subarray(0, 64)));

    assert.match(await cli(['sync', '--profile', bob(), '--wait', '1']), /scan-300k\.bin/);
    const out = join(profiles, 'from-web.bin');
    assert.match(await cli(['download', '--profile', bob(), sent.messageId, '--out', out]), /300000 bytes/);
    assert.ok(readFileSync(out).equals(data));

    // The web client reads its own upload back too.
    assert.ok(Buffer.from(await downloadAttachment(alice.http, file)).equals(data));
  });

  test('web → CLI: a one-shot stream and a single-body upload; a blob flipped on disk is refused by the CLI', async () => {
    const data = randomBytes(3 * CHUNK_SIZE); // exactly three chunks: the last is empty
    const stream = new Blob([data]).stream() as unknown as ByteStream;
    const a = await alice.sendFile([bobId], stream, 'three-chunks.bin');
    const b = await alice.sendFile([bobId], data, 'single-body.bin', { streamUpload: false });
    assert.equal(a.uploaded.file.size, data.length);
    assert.notEqual(a.uploaded.file.key, b.uploaded.file.key);
    await cli(['sync', '--profile', bob(), '--wait', '1']);
    const out = join(profiles, 'three.bin');
    await cli(['download', '--profile', bob(), a.messageId, '--out', out]);
    assert.ok(readFileSync(out).equals(data));

    const path = blobPath(b.uploaded.file.attachment_id);
    const blob = readFileSync(path);
    flip(blob, 9 + 70_000);
    writeFileSync(path, blob);
    const bad = join(profiles, 'tampered.bin');
    await assert.rejects(cli(['download', '--profile', bob(), b.messageId, '--out', bad]), /does not verify/);
    assert.ok(!readdirSync(profiles).includes('tampered.bin'));
  });

  test('where fetch will not stream a request (Chrome over HTTP/1.1), the upload is sent again as one Blob', async () => {
    const bodies: string[] = [];
    const inner = httpsFetch(server.certPem);
    const chromeOverHttp1: FetchLike = async (url, init) => {
      const b = init.body;
      bodies.push(b === undefined ? 'none' : typeof b === 'string' ? 'text' : b instanceof Uint8Array ? 'bytes' : 'size' in b ? 'blob' : 'stream');
      if (init.duplex === 'half') throw new TypeError('Failed to fetch'); // net::ERR_H2_OR_QUIC_REQUIRED
      return inner(url, init);
    };
    const browser = new Client(alice.account, { webSocket: wsFactory(server.certPem), fetch: chromeOverHttp1 });
    const data = randomBytes(100_000);
    const { file } = await uploadAttachment(browser.http, new Blob([data]), 'fallback.bin', (n) => randomBytes(n));
    assert.deepEqual(bodies.filter((b) => b !== 'text' && b !== 'none'), ['stream', 'blob']);
    assert.ok(Buffer.from(await downloadAttachment(alice.http, file)).equals(data));
    // Asked to stream, it does not fall back.
    await assert.rejects(uploadAttachment(browser.http, data, 'x', (n) => randomBytes(n), { streamUpload: true }), TransportError);
  });

  let fromCli: AttachmentRef;
  let fromCliData: Buffer;

  test('CLI → web: curbside attach, downloaded and verified by the web client', async () => {
    fromCliData = randomBytes(200_000);
    const path = join(profiles, 'referral-letter.pdf');
    writeFileSync(path, fromCliData);
    assert.match(await cli(['attach', '--profile', bob(), '--to', aliceId, path]), /Sent referral-letter\.pdf \(200000 bytes/);
    const { r, file } = await nextFile();
    assert.equal(r.sender.user_id, bobId);
    assert.equal(file.name, 'referral-letter.pdf');
    assert.equal(file.size, fromCliData.length);
    fromCli = file;

    assert.ok(Buffer.from(await downloadAttachment(alice.http, file)).equals(fromCliData));
    const asBlob = await downloadAttachment(alice.http, file, { as: 'blob' });
    assert.ok(asBlob instanceof Blob);
    assert.ok(Buffer.from(await asBlob.arrayBuffer()).equals(fromCliData));
    assert.ok((await collect(await attachmentStream(alice.http, file))).equals(fromCliData));
  });

  test('a wrong digest, key or size, or a blob altered on the server, is refused before any plaintext', async () => {
    const digest = fromBase64(fromCli.digest);
    flip(digest, 0);
    const otherDigest = Buffer.from(digest).toString('base64');
    await assert.rejects(downloadAttachment(alice.http, { ...fromCli, digest: otherDigest }), isCrypto('digest_mismatch'));
    await assert.rejects(downloadAttachment(alice.http, { ...fromCli, key: Buffer.alloc(32, 1).toString('base64') }), isCrypto('decryption_failed'));
    await assert.rejects(downloadAttachment(alice.http, { ...fromCli, key: Buffer.alloc(16).toString('base64') }), isCrypto('invalid_key'));
    await assert.rejects(downloadAttachment(alice.http, { ...fromCli, size: fromCli.size - 1 }), isCrypto('decryption_failed'));
    await assert.rejects(downloadAttachment(alice.http, { ...fromCli, size: fromCli.size + 1 }), isCrypto('truncated'));
    await assert.rejects(downloadAttachment(alice.http, { ...fromCli, attachment_id: '../../v1/directory' }), /not an attachment id/);
    await assert.rejects(
      downloadAttachment(alice.http, { ...fromCli, attachment_id: '0'.repeat(32) }),
      (e: unknown) => e instanceof ServerError && e.code === 'not_found',
    );

    // One byte flipped in the blob on the server's disk: in a middle chunk, then in the last.
    const path = blobPath(fromCli.attachment_id);
    const original = readFileSync(path);
    for (const [offset, code] of [[9 + CHUNK_SIZE + 100, 'decryption_failed'], [original.length - 1, 'truncated']] as const) {
      const tampered = Buffer.from(original);
      flip(tampered, offset);
      writeFileSync(path, tampered);
      await assert.rejects(downloadAttachment(alice.http, fromCli), isCrypto(code));
      await assert.rejects(collect(await attachmentStream(alice.http, fromCli)), isCrypto(code));
    }
    // Cut at a chunk boundary on disk: the server's answer ends early (its length is the stored one), refused either way.
    writeFileSync(path, original.subarray(0, 9 + 2 * (CHUNK_SIZE + 16)));
    await assert.rejects(
      downloadAttachment(alice.http, fromCli),
      (e: unknown) => e instanceof TransportError || (e instanceof CryptoError && e.code === 'truncated'),
    );
    writeFileSync(path, original);
    assert.ok(Buffer.from(await downloadAttachment(alice.http, fromCli)).equals(fromCliData));
  });
}
