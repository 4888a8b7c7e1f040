// The web client's protocol layer against a real `curbside serve` and the
// real Rust CLI: enrollment with invites, WebSocket and HTTP authentication,
// conversations both ways (the first prekey message in each direction,
// replies, messages sent while the receiver was offline, out-of-order
// delivery), delivery and read receipts, the outbox across a dropped
// connection, duplicates, the directory, and the CLI's history showing the
// web client's messages.

import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { Account, Client, enroll, type ClientStateJSON, type Received } from '../src/client/index.js';
import { encodeMessage } from '../src/crypto/message.js';
import { Connection, DeviceHttp, HttpApi, ServerError, toBase64 } from '../src/protocol/index.js';
import { binaryMissing, cli, httpsFetch, npi, startServer, tempDir, userIdIn, wsFactory, type Server } from './live-helpers.js';

const missing = binaryMissing();
if (missing !== undefined) {
  console.error(`\n*** ${missing} ***\n`);
  test('live interop with the curbside binary', (t) => {
    assert.notEqual(process.env['CI'], 'true', missing);
    t.skip(missing);
  });
} else {
  live();
}

function live(): void {
  let server: Server;
  let profiles: string;
  const clients: Client[] = [];
  let alice: Client;
  let aliceId: string;
  let bobId: string;
  let carolId: string;
  const bob = (): string => join(profiles, 'bob');
  const carol = (): string => join(profiles, 'carol');
  const admin = (): string => join(profiles, 'admin');

  const options = (): { webSocket: ReturnType<typeof wsFactory>; fetch: ReturnType<typeof httpsFetch> } => ({
    webSocket: wsFactory(server.certPem),
    fetch: httpsFetch(server.certPem),
  });
  const invite = async (): Promise<string> => {
    const out = await cli(['admin', 'invite', '--profile', admin()]);
    const m = /cbs_inv_[A-Za-z0-9_-]+/.exec(out);
    assert.ok(m, out);
    return m[0];
  };
  const enrollCli = async (dir: string, name: string, nine: string, specialty: string): Promise<string> => {
    const out = await cli([
      'enroll', '--profile', dir, '--invite', await invite(), '--name', name, '--npi', npi(nine),
      '--specialty', specialty, '--server', server.address, '--cert', server.certPath,
    ]);
    return userIdIn(out);
  };
  const texts = (rs: (Received | undefined)[]): string[] =>
    rs.map((r) => (r?.content?.type === 'text' ? r.content.text : `<${r?.content?.type ?? r?.error}>`));
  /** The next message that is not a read receipt, acknowledged. */
  const nextNonReceipt = async (c: Client): Promise<Received | undefined> => {
    for (;;) {
      const r = await c.nextMessage(10_000);
      if (r === undefined) return undefined;
      c.ack([r.deliveryId]);
      if (r.kind !== 'receipt') return r;
    }
  };

  before(async () => {
    server = await startServer();
    profiles = tempDir();
    await cli(['enroll', '--profile', admin(), '--invite', server.token, '--name', 'Admin', '--server', server.address, '--cert', server.certPath]);
    bobId = await enrollCli(bob(), 'Dr. Bob Brennan', '123456789', 'Dermatology');
    carolId = await enrollCli(carol(), 'Dr. Carol Chen', '223456789', 'Cardiology');
  });

  after(async () => {
    for (const c of clients) c.stop();
    await server?.stop();
    if (profiles) rmSync(profiles, { recursive: true, force: true });
  });

  test('enrolls with an invite as the Rust client does, and logs in over HTTPS and the WebSocket', async () => {
    const { account, response } = await enroll(
      { url: server.url, serverName: 'localhost' },
      await invite(),
      { displayName: 'Dr. Alice Adeyemi', npi: npi('323456789'), specialty: 'Internal Medicine' },
      { fetch: options().fetch },
    );
    assert.deepEqual(response.roles, ['clinician']);
    assert.equal(response.verified, false);
    assert.equal(account.oneTimePrekeys.size, 100);
    aliceId = response.user_id;
    for (const u of [aliceId, bobId, carolId]) await cli(['admin', 'verify', '--profile', admin(), u]);

    // The account survives its JSON form (the sealed store's input).
    const restored = Account.fromJSON(JSON.parse(JSON.stringify(account.toJSON())));
    assert.deepEqual(restored.toJSON(), account.toJSON());
    assert.ok(!String(restored).includes(toBase64(account.identity.toBytes())));

    // HTTP: a session token from the challenge (purpose 2), then the directory.
    const http = new DeviceHttp(new HttpApi({ url: server.url, fetch: options().fetch }), 'localhost', account.me, account.identity);
    const found = await http.directory({ name: 'bob' });
    assert.deepEqual(found.map((e) => e.user_id), [bobId]);
    assert.equal(found[0]?.specialty, 'Dermatology');
    assert.deepEqual((await http.directory({ npi: npi('223456789') })).map((e) => e.display_name), ['Dr. Carol Chen']);

    // A wrong signature (another device's identity) is refused with auth_failed.
    const other = Account.generate({ url: server.url, serverName: 'localhost' }, (n) => new Uint8Array(n).fill(7));
    await assert.rejects(
      Connection.connect({ url: server.url, serverName: 'localhost', address: account.me, identity: other.identity, webSocket: options().webSocket }),
      (e: unknown) => e instanceof ServerError && e.code === 'auth_failed',
    );

    alice = new Client(restored, options());
    clients.push(alice);
    alice.start();
    await alice.waitOnline();
    assert.deepEqual((await alice.searchDirectory(null, 'cardiology')).map((e) => e.user_id), [carolId]);
    assert.ok((await alice.replenishPrekeys()) >= 100);
  });

  test('CLI → web: the first prekey message, the reply, and the CLI history', async () => {
    await cli(['send', '--profile', bob(), '--to', aliceId, 'Hello Alice, from the CLI']);
    const first = await nextNonReceipt(alice);
    assert.deepEqual(texts([first]), ['Hello Alice, from the CLI']);
    assert.equal(first?.sender.user_id, bobId);
    assert.equal(first?.kind, 'message');

    const reply = await alice.sendText([bobId], 'Hi Bob, from the web client');
    assert.equal(reply.outcome, 'accepted');
    const inbox = await cli(['inbox', '--profile', bob(), '--wait', '2']);
    assert.match(inbox, /Hi Bob, from the web client/);
    // Bob's device acknowledged: a delivery receipt; its inbox also sent a read receipt.
    const receipts = await alice.waitForReceipts(1, 10_000);
    assert.ok(receipts.some((r) => r.messageId === reply.messageId && r.recipient.user_id === bobId));
    const read = await alice.nextMessage(10_000);
    assert.equal(read?.kind, 'receipt');
    assert.deepEqual(read?.content, { type: 'read', message_ids: [reply.messageId] });
    if (read) alice.ack([read.deliveryId]);

    const history = await cli(['history', '--profile', bob(), '--with', aliceId]);
    assert.match(history, /Hello Alice, from the CLI/);
    assert.match(history, /Hi Bob, from the web client/);
  });

  test('web → CLI: the first prekey message, the reply, and out-of-order delivery', async () => {
    const first = await alice.sendText([carolId], 'Carol, a first message from the web');
    assert.equal(first.outcome, 'accepted');
    assert.match(await cli(['inbox', '--profile', carol(), '--wait', '2']), /Carol, a first message from the web/);
    await cli(['send', '--profile', carol(), '--to', aliceId, 'Received, Alice']);
    assert.deepEqual(texts([await nextNonReceipt(alice)]), ['Received, Alice']);

    // Two messages encrypted in order, delivered in reverse: Carol's ratchet takes the skipped key.
    alice.stop();
    const account = alice.account;
    const [addr] = [...account.sessions.values()].filter((s) => s.address.user_id === carolId);
    assert.ok(addr);
    const enc = (text: string): string =>
      toBase64(encodeMessage(addr.session.encrypt(new TextEncoder().encode(JSON.stringify({ type: 'text', to: [carolId], text })))));
    const c1 = enc('out of order: one');
    const c2 = enc('out of order: two');
    const conn = await Connection.connect({ url: server.url, serverName: 'localhost', address: account.me, identity: account.identity, webSocket: options().webSocket });
    const recipient = { user_id: carolId, device_id: addr.address.device_id };
    for (const [id, ct] of [['ooo2', c2], ['ooo1', c1]] as const) {
      const r = await conn.request({ type: 'send', message_id: id, kind: 'message', recipients: [{ ...recipient, ciphertext: ct }] });
      assert.equal(r.type, 'accepted');
    }
    conn.close();
    const inbox = await cli(['inbox', '--profile', carol(), '--wait', '2']);
    const two = inbox.indexOf('out of order: two');
    const one = inbox.indexOf('out of order: one');
    assert.ok(two >= 0 && one > two, inbox);
    const history = await cli(['history', '--profile', carol(), '--with', aliceId]);
    for (const t of ['Carol, a first message from the web', 'Received, Alice', 'out of order: one', 'out of order: two']) {
      assert.match(history, new RegExp(t));
    }
  });

  test('messages sent while the web client is offline arrive after a restart from its saved state', async () => {
    const saved = JSON.stringify({ account: alice.account.toJSON(), state: alice.stateJSON() });
    await cli(['send', '--profile', bob(), '--to', aliceId, 'while you were away: 1']);
    await cli(['send', '--profile', bob(), '--to', aliceId, 'while you were away: 2']);
    const s = JSON.parse(saved) as { account: unknown; state: ClientStateJSON };
    alice = new Client(Account.fromJSON(s.account), { ...options(), state: s.state });
    clients.push(alice);
    alice.start();
    await alice.waitOnline();
    assert.deepEqual(texts([await nextNonReceipt(alice), await nextNonReceipt(alice)]), ['while you were away: 1', 'while you were away: 2']);
  });

  test('the outbox: queued while offline, resent under the same id on reconnection; a resend is a duplicate', async () => {
    alice.stop();
    const sent: string[] = [];
    const account = alice.account;
    alice = new Client(account, { ...options(), onSent: (id, outcome) => sent.push(`${id}:${outcome}`) });
    clients.push(alice);
    const queued = await alice.sendText([bobId], 'typed while offline', 'web-outbox-1');
    assert.equal(queued.outcome, 'queued');
    assert.equal(alice.pending.length, 1);
    alice.start();
    await alice.waitOnline();
    for (let i = 0; i < 100 && sent.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(sent, ['web-outbox-1:accepted']);
    assert.equal(alice.pending.length, 0);

    // The connection drops and comes back by itself (backoff); the same id again is a duplicate.
    alice.dropConnection();
    await new Promise((r) => setTimeout(r, 50));
    await alice.waitOnline();
    assert.equal((await alice.sendText([bobId], 'typed while offline', 'web-outbox-1')).outcome, 'duplicate');
    const inbox = await cli(['inbox', '--profile', bob(), '--wait', '2']);
    assert.equal(inbox.split('typed while offline').length - 1, 1, inbox);
  });
}
