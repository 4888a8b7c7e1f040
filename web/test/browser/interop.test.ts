// Issue 16, live: the browser application in real headless Chromium and Dr.
// Dan Dalton on the Rust CLI converse both ways through a real `curbside
// serve`, with the page's WebSocket passing through the test
// (`page.routeWebSocket`), which reads every frame and forwards it unchanged
// (it never answers anything itself). In order: the browser writes first
// (its `send` carries a PreKeyMessage, 0x01 0x02) and the CLI shows it with
// the browser user's name, then replies; the server's `deliver` frames of
// three CLI messages are handed to the page in the order 3, 1, 2 (the
// browser decrypts all three and acknowledges them: the CLI sees them
// delivered); the browser's own `send` of a message is lost on a dropped
// connection while two more wait in its outbox (it has one send in flight
// at a time, so the server always accepts its messages in order): the
// resend is a fresh ciphertext, the ratchet counter skips, and the CLI
// decrypts all three. Attachments both ways are in app.test.ts.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import type { BrowserContext, Page, WebSocketRoute } from 'playwright-core';

import { npi } from '../live-helpers.js';
import { browserMissing, cleanup, Cli, launchProfile, startWebServer, type WebServer } from './world.js';

const missing = browserMissing();
if (missing !== undefined) {
  console.error(`\n*** ${missing} ***\n`);
  test('the browser and the CLI converse both ways', (t) => {
    assert.notEqual(process.env['CI'], 'true', missing);
    t.skip(missing);
  });
} else {
  interop();
}

interface SendFrame {
  type: 'send';
  id: string;
  message_id: string;
  kind: string;
  recipients: { user_id: string; device_id: number; ciphertext: string }[];
}
interface DeliverFrame {
  type: 'deliver';
  delivery_id: number;
  kind: string;
  sender: { user_id: string };
}

/** A ratchet ciphertext's type byte (1: RatchetMessage, 2: PreKeyMessage) and, for a RatchetMessage, its counter n (SECURITY.md). */
function ratchetHeader(b64: string): { type: number; n?: number } {
  const b = Buffer.from(b64, 'base64');
  assert.equal(b[0], 1, 'format version 1');
  return b[1] === 1 ? { type: 1, n: b.readUInt32BE(2 + 32 + 4) } : { type: b[1] as number };
}

function interop(): void {
  const PASS = 'interop passphrase, long enough 16';
  const ALICE = 'Dr. Alice Abara';
  const DAN = 'Dr. Dan Dalton';
  let server: WebServer;
  let cli: Cli;
  let context: BrowserContext;
  let page: Page;
  let profileDir: string;
  let aliceId: string;
  let danId: string;
  const dan = (): string => cli.profile('dan');
  const pageErrors: string[] = [];
  const routes: WebSocketRoute[] = [];
  // What the route saw, and what it holds back.
  const sends: SendFrame[] = [];
  const acked = new Set<number>();
  let holdNextSend = false;
  const heldSends: string[] = [];
  let holdDelivers = false;
  const heldDelivers: { frame: DeliverFrame; raw: string }[] = [];
  let releaseDelivers: (order: number[]) => void = () => undefined;

  const theirText = (text: string) => page.locator('.message.theirs .text', { hasText: text });
  const mine = (text: string) => page.locator('.message.mine', { hasText: text });
  const composer = () => page.getByRole('textbox', { name: 'Message' });
  const history = async (): Promise<{ direction?: string; content: { text?: string }; status?: string }[]> => {
    const out = await cli.run(['history', '--profile', dan(), '--with', aliceId, '--json']);
    return out.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { content: { text?: string }; status?: string });
  };

  before(async () => {
    server = await startWebServer();
    cli = new Cli(server);
    await cli.bootstrap();
    danId = await cli.clinician('dan', DAN, '423456789', 'Nephrology');
    ({ context, page, profileDir } = await launchProfile());
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.routeWebSocket(/\/v1\/ws$/, (ws) => {
      const toServer = ws.connectToServer();
      routes.push(ws);
      ws.onMessage((m) => {
        const text = typeof m === 'string' ? m : m.toString('utf8');
        const f = JSON.parse(text) as { type: string; delivery_ids?: number[] };
        if (f.type === 'ack') for (const id of f.delivery_ids ?? []) acked.add(id);
        if (f.type === 'send') {
          const s = f as SendFrame;
          sends.push(s);
          if (holdNextSend && s.kind === 'message') {
            holdNextSend = false;
            heldSends.push(text);
            return; // lost with the connection this test drops
          }
        }
        toServer.send(m);
      });
      toServer.onMessage((m) => {
        const text = typeof m === 'string' ? m : m.toString('utf8');
        const f = JSON.parse(text) as DeliverFrame;
        if (holdDelivers && f.type === 'deliver' && f.kind === 'message' && f.sender.user_id === danId) {
          heldDelivers.push({ frame: f, raw: text });
          if (heldDelivers.length === 3) releaseDelivers([2, 0, 1]);
          return;
        }
        ws.send(m);
      });
      // No onClose handlers: Playwright then closes each side when the other closes.
    });
  });

  after(async () => {
    await context?.close().catch(() => undefined);
    await server?.stop();
    if (cli) cleanup(cli.dir);
    if (profileDir) cleanup(profileDir);
  });

  test('enrolls the browser through the UI', async () => {
    await page.goto(`${server.url}/#invite=${await cli.invite()}`);
    await page.getByLabel('Full name').fill(ALICE);
    await page.getByLabel('NPI').fill(npi('523456789'));
    await page.getByLabel('Specialty').fill('Geriatrics');
    await page.getByLabel('Passphrase', { exact: true }).fill(PASS);
    await page.getByLabel('Passphrase again').fill(PASS);
    await page.getByRole('button', { name: 'Enroll this browser' }).click();
    await page.getByRole('button', { name: 'Lock' }).waitFor({ timeout: 90_000 });
    await page.getByText('Online').waitFor({ timeout: 20_000 });
    aliceId = await cli.userId(ALICE);
    await cli.verifyUser(aliceId);
  });

  test('browser → CLI first: a prekey message, shown by `curbside sync` with the browser user’s name; the CLI’s reply shown in the browser', async () => {
    await page.getByLabel('Find a colleague').fill('nephrology');
    await page.getByLabel('Find a colleague').press('Enter');
    await page.getByRole('button', { name: /Dr\. Dan Dalton/ }).click();
    await page.getByRole('heading', { name: DAN, level: 2 }).waitFor();
    await composer().fill('Dan, a first word from the browser');
    await composer().press('Enter');
    await mine('Dan, a first word').locator('.status', { hasText: 'Sent' }).waitFor({ timeout: 20_000 });

    const first = sends.find((s) => s.kind === 'message');
    assert.ok(first, 'the route saw the send');
    const toDan = first.recipients.filter((r) => r.user_id === danId);
    assert.equal(toDan.length, 1, "one ciphertext for Dan's one device");
    assert.equal(ratchetHeader(toDan[0]?.ciphertext ?? '').type, 2, 'the first message is a PreKeyMessage (0x01 0x02)');

    const sync = await cli.run(['sync', '--profile', dan(), '--wait', '2']);
    assert.match(sync, /Dan, a first word from the browser/);
    assert.ok(sync.includes(ALICE), `the CLI names the sender: ${sync}`);
    assert.ok(!sync.includes(aliceId), 'by name, not id');

    await cli.run(['send', '--profile', dan(), '--to', aliceId, 'Alice, the CLI answers']);
    await theirText('Alice, the CLI answers').waitFor({ timeout: 20_000 });
    assert.equal(await page.locator('.message.theirs .sender').first().innerText(), DAN);
  });

  test('CLI → browser out of order: the server’s deliver frames handed over as 3, 1, 2; all three decrypted, acknowledged, delivered on the CLI', async () => {
    const texts = ['Out of order one', 'Out of order two', 'Out of order three'];
    const released = new Promise<number[]>((resolve) => {
      releaseDelivers = (order) => {
        holdDelivers = false;
        const ids = order.map((i) => heldDelivers[i] as { frame: DeliverFrame; raw: string });
        for (const r of routes.slice(-1)) for (const d of ids) r.send(d.raw);
        resolve(ids.map((d) => d.frame.delivery_id));
      };
    });
    holdDelivers = true;
    for (const t of texts) await cli.run(['send', '--profile', dan(), '--to', aliceId, t]);
    const order = await Promise.race([released, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`held ${heldDelivers.length} of 3 deliveries`)), 20_000))]);
    assert.ok((order[0] as number) > (order[1] as number) && (order[1] as number) < (order[2] as number), `handed over as 3, 1, 2: ${order.join(', ')}`);

    for (const t of texts) await theirText(t).waitFor({ timeout: 15_000 });
    assert.equal(await page.getByText('could not be decrypted').count(), 0, 'nothing failed to decrypt');
    const shown = (await page.locator('.message.theirs .text').allInnerTexts()).filter((t) => t.startsWith('Out of order'));
    assert.deepEqual([...shown].sort(), [...texts].sort(), 'each shown once');
    for (let i = 0; i < 50 && !order.every((id) => acked.has(id)); i++) await page.waitForTimeout(100);
    assert.ok(order.every((id) => acked.has(id)), `the page acknowledged deliveries ${order.join(', ')} (acked: ${[...acked].join(', ')})`);

    await cli.run(['sync', '--profile', dan(), '--wait', '1']);
    const statuses = (await history()).filter((m) => texts.includes(m.content.text ?? '')).map((m) => m.status);
    assert.equal(statuses.length, 3);
    assert.ok(statuses.every((s) => s === 'delivered' || s === 'read'), `delivered on the CLI: ${statuses.join(', ')}`);
  });

  test('browser → CLI across a lost send: one send in flight at a time; the lost one resent with a fresh ciphertext (the counter skips); the CLI decrypts all three', async (t) => {
    const texts = ['Lost and resent one', 'Lost and resent two', 'Lost and resent three'];
    const before = sends.length;
    holdNextSend = true;
    for (const text of texts) {
      await composer().fill(text);
      await composer().press('Enter');
    }
    for (let i = 0; i < 50 && heldSends.length === 0; i++) await page.waitForTimeout(100);
    assert.equal(heldSends.length, 1, 'the first send was held');
    await page.waitForTimeout(1500);
    // While message 1 waits for its `accepted`, messages 2 and 3 stay in the outbox: the server cannot accept 3 before 1.
    assert.equal(sends.length - before, 1, 'one send in flight: the client waits for accepted before the next');
    const held = JSON.parse(heldSends[0] as string) as SendFrame;

    // The connection drops (the held frame is lost with it); the client reconnects and resends.
    for (const r of routes.splice(0)) await r.close({ code: 1006, reason: 'lost' }).catch(() => undefined);
    for (const text of texts) await mine(text).locator('.status', { hasText: /Sent|Delivered|Read/ }).waitFor({ timeout: 30_000 });
    const after = sends.slice(before + 1).filter((s) => s.kind === 'message');
    assert.deepEqual(after.map((s) => s.message_id).slice(0, 3), [held.message_id, ...after.slice(1, 3).map((s) => s.message_id)], 'the lost message resent first, same message_id');
    const n = (s: SendFrame | undefined): number | undefined => ratchetHeader(s?.recipients.find((r) => r.user_id === danId)?.ciphertext ?? '').n;
    t.diagnostic(`Dan's counters: lost n=${n(held)}, then sent n=${after.slice(0, 3).map(n).join(', ')}`);
    assert.ok((n(after[0]) as number) > (n(held) as number), 'the resend is a new ciphertext further along the chain');

    const sync = await cli.run(['sync', '--profile', dan(), '--wait', '2']);
    for (const text of texts) assert.equal(sync.split(text).length - 1, 1, `once on the CLI: ${text}\n${sync}`);
    const inHistory = (await history()).map((m) => m.content.text).filter((x) => x?.startsWith('Lost and resent'));
    assert.deepEqual(inHistory, texts, 'in send order in the history');
  });

  test('no script error on the page', () => {
    assert.deepEqual(pageErrors, []);
  });
}
