// Linked devices against a real `curbside serve` and the CLI: a CLI
// clinician approves the web client as her second device with a device
// code; a colleague's message reaches both devices; the web device's sent
// message reaches the CLI device as her own; the web device issues a code
// a new CLI device enrolls with; the web device revokes that one; and the
// CLI revokes the web device, which then fails with device_revoked.

import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import {
  Client,
  displayDeviceCode,
  enrollDevice,
  issueDeviceCode,
  listDevices,
  parseDeviceCode,
  revokeDevice,
  type Received,
} from '../src/client/index.js';
import { ServerError } from '../src/protocol/index.js';
import { binaryMissing, cli, httpsFetch, npi, startServer, tempDir, userIdIn, wsFactory, type Server } from './live-helpers.js';

const missing = binaryMissing();
if (missing !== undefined) {
  console.error(`\n*** ${missing} ***\n`);
  test('live linked devices with the curbside binary', (t) => {
    assert.notEqual(process.env['CI'], 'true', missing);
    t.skip(missing);
  });
} else {
  live();
}

test('a device code reads in groups and parses back from its display form', () => {
  const code = 'cbs_dev_AbCd-_12efGH';
  assert.equal(displayDeviceCode(code), 'cbs_dev_ AbCd -_12 efGH');
  assert.equal(parseDeviceCode(`  ${displayDeviceCode(code)}\n`), code);
  assert.throws(() => parseDeviceCode('cbs_inv_abcd'), /not a device code/);
});

function live(): void {
  let server: Server;
  let profiles: string;
  let web: Client;
  let aliceId: string;
  let bobId: string;
  const alice = (): string => join(profiles, 'alice');
  const alice3 = (): string => join(profiles, 'alice3');
  const bob = (): string => join(profiles, 'bob');
  const admin = (): string => join(profiles, 'admin');
  const fetch = (): ReturnType<typeof httpsFetch> => httpsFetch(server.certPem);
  const invite = async (): Promise<string> => {
    const m = /cbs_inv_[A-Za-z0-9_-]+/.exec(await cli(['admin', 'invite', '--profile', admin()]));
    assert.ok(m);
    return m[0];
  };
  const enrollCli = async (dir: string, inv: string, name: string, nine?: string): Promise<string> =>
    userIdIn(
      await cli([
        'enroll', '--profile', dir, '--invite', inv, '--name', name,
        ...(nine ? ['--npi', npi(nine), '--specialty', 'Cardiology'] : []),
        '--server', server.address, '--cert', server.certPath,
      ]),
    );
  const nextText = async (c: Client): Promise<Received> => {
    for (;;) {
      const r = await c.nextMessage(10_000);
      assert.ok(r, 'no message arrived');
      c.ack([r.deliveryId]);
      if (r.content?.type === 'text') return r;
    }
  };

  before(async () => {
    server = await startServer();
    profiles = tempDir();
    await cli(['enroll', '--profile', admin(), '--invite', server.token, '--name', 'Admin', '--server', server.address, '--cert', server.certPath]);
    aliceId = await enrollCli(alice(), await invite(), 'Dr. Alice Adeyemi', '123456789');
    bobId = await enrollCli(bob(), await invite(), 'Dr. Bob Brennan', '223456789');
    for (const u of [aliceId, bobId]) await cli(['admin', 'verify', '--profile', admin(), u]);
  });

  after(async () => {
    web?.stop();
    await server?.stop();
    if (profiles) rmSync(profiles, { recursive: true, force: true });
  });

  test('the CLI device approves the web client as her second device; messages reach both, and her own reach each other', async () => {
    const out = await cli(['devices', 'add', '--profile', alice()]);
    const m = /cbs_dev_[A-Za-z0-9_-]+/.exec(out);
    assert.ok(m, 'devices add printed no code');
    // Typed from its display form on the new device.
    const { account, response } = await enrollDevice({ url: server.url, serverName: 'localhost' }, displayDeviceCode(m[0]), { fetch: fetch() });
    assert.equal(response.user_id, aliceId);
    assert.equal(response.device_id, 2);
    web = new Client(account, { webSocket: wsFactory(server.certPem), fetch: fetch() });
    web.start();
    await web.waitOnline();
    const devices = await listDevices(web.http);
    assert.deepEqual(devices.map((d) => [d.deviceId, d.revokedAt]), [[1, undefined], [2, undefined]]);
    // The code was single use.
    await assert.rejects(enrollDevice({ url: server.url, serverName: 'localhost' }, m[0], { fetch: fetch() }), ServerError);

    await cli(['send', '--profile', bob(), '--to', aliceId, 'Hello Alice, on all your devices']);
    const got = await nextText(web);
    assert.equal(got.sender.user_id, bobId);
    assert.equal(got.content?.type === 'text' && got.content.text, 'Hello Alice, on all your devices');
    assert.match(await cli(['inbox', '--profile', alice(), '--wait', '1']), /Hello Alice, on all your devices/);

    const sent = await web.sendText([bobId], 'Sent from my web device');
    assert.equal(sent.outcome, 'accepted');
    assert.match(await cli(['inbox', '--profile', bob(), '--wait', '1']), /Sent from my web device/);
    await cli(['inbox', '--profile', alice(), '--wait', '1']);
    const hist = (await cli(['history', '--profile', alice(), '--with', bobId, '--json']))
      .split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { message_id: string; from: string });
    const mine = hist.find((h) => h.message_id === sent.messageId);
    assert.ok(mine, JSON.stringify(hist));
    assert.equal(mine.from, aliceId);

    // And the CLI device's sent message reaches the web device as her own.
    await cli(['send', '--profile', alice(), '--to', bobId, 'Sent from my CLI device']);
    const own = await nextText(web);
    assert.deepEqual([own.sender.user_id, own.sender.device_id], [aliceId, 1]);
    assert.ok(own.content?.type === 'text' && own.content.text === 'Sent from my CLI device' && own.content.to.includes(bobId));
  });

  test('the web device issues a code, a new CLI device enrolls with it, and the web device revokes it', async () => {
    const code = await issueDeviceCode(web.http, aliceId);
    assert.match(code.code, /^cbs_dev_/);
    assert.ok(code.expiresAt > Date.now());
    assert.equal(await enrollCli(alice3(), code.code, ''), aliceId);
    assert.deepEqual((await listDevices(web.http)).map((d) => d.deviceId), [1, 2, 3]);
    await cli(['send', '--profile', bob(), '--to', aliceId, 'Three devices now']);
    assert.match(await cli(['inbox', '--profile', alice3(), '--wait', '1']), /Three devices now/);
    assert.equal((await nextText(web)).content?.type === 'text', true);

    await revokeDevice(web.http, 3);
    const listed = await listDevices(web.http);
    assert.ok(typeof listed.find((d) => d.deviceId === 3)?.revokedAt === 'number');
    await assert.rejects(cli(['inbox', '--profile', alice3(), '--wait', '1']), /revoked/);
  });

  test('the CLI revokes the web device: it fails with device_revoked, over the WebSocket and HTTP', async () => {
    await cli(['devices', 'revoke', '--profile', alice(), '2']);
    const deadline = Date.now() + 10_000;
    while (web.state !== 'failed' && Date.now() < deadline) {
      if (web.state === 'online') web.dropConnection();
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(web.state, 'failed');
    assert.ok(web.error instanceof ServerError && web.error.code === 'device_revoked', String(web.error));
    web.http.forget();
    await assert.rejects(listDevices(web.http), (e: unknown) => e instanceof ServerError && e.code === 'device_revoked');
  });
}
