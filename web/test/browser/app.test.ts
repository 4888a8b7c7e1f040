// The clinicians' browser application in real headless Chromium, against a
// real `curbside serve` (serving this checkout's web/public) and real peers:
// Dr. Bob Brennan on the Rust CLI and Dr. Carol Chen on the web protocol
// client in Node. In order: enrollment through the UI; the CLI's first
// (prekey) message shown with Bob's name, the reply with Enter, statuses
// up to read, Carol found in the directory and written to first (the
// browser's prekey message); attachments both ways; lock and unlock
// (wrong passphrase), reload; the safety number against `curbside
// verify`, Confirm, then Bob's new device: the red banner and the warning
// before sending; axe-core on every screen at 390×844 and 1440×900 (with
// screenshots in docs/screenshots); and last, the profile's files hold
// nothing in clear (with a control that the search can fail). Screenshots:
// see SCREENSHOTS in world.ts.

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import type { BrowserContext, Page, WebSocket, WebSocketRoute } from 'playwright-core';

import { Client, enroll, type Received } from '../../src/client/index.js';
import { toBase64 } from '../../src/protocol/index.js';
import { WEB_DIR } from '../helpers.js';
import { httpsFetch, npi, wsFactory } from '../live-helpers.js';
import { cacheEntries, findInProfile, seriousViolations, tabThrough, textNeedles, writeUnsealed, type Needle } from './checks.js';
import { browserMissing, cleanup, Cli, DESKTOP, launchProfile, PHONE, SCREENSHOTS, startWebServer, type WebServer } from './world.js';

const missing = browserMissing();
if (missing !== undefined) {
  console.error(`\n*** ${missing} ***\n`);
  test('the browser application in Chromium', (t) => {
    assert.notEqual(process.env['CI'], 'true', missing);
    t.skip(missing);
  });
} else {
  browser();
}

function browser(): void {
  const PASS = 'sealed under a long passphrase 42';
  const ALICE = 'Dr. Alice Adeyemi';
  const BOB = 'Dr. Bob Brennan';
  const CAROL = 'Dr. Carol Chen';
  const MARKER = `marker-${Math.random().toString(36).slice(2)}-stays-sealed`;
  const DRAFT = `draft-${Math.random().toString(36).slice(2)}-never-sent`;
  let server: WebServer;
  let cli: Cli;
  let context: BrowserContext;
  let page: Page;
  let profileDir: string;
  let bobId: string;
  let aliceId: string;
  let carol: Client;
  let carolKey = '';
  const bob = (): string => cli.profile('bob');
  const violations: string[] = [];
  const sockets: WebSocket[] = [];
  const pageErrors: string[] = [];
  const routed: WebSocketRoute[] = [];
  let cut = false;

  const shot = async (name: string): Promise<void> => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, `web-${name}.png`), fullPage: name.startsWith('enroll') });
  };
  /** axe at both sizes (and screenshots), the page left at the desktop size. */
  const audit = async (screen: string, phone?: () => Promise<void>): Promise<void> => {
    for (const [size, viewport] of [['1440', DESKTOP], ['390', PHONE]] as const) {
      await page.setViewportSize(viewport);
      if (size === '390' && phone) await phone();
      await page.waitForTimeout(100);
      for (const v of await seriousViolations(page)) violations.push(`${screen} at ${size}: ${v.impact} ${v.id} (${v.help}) at ${v.targets.join(', ')}`);
      await shot(`${screen}-${size}`);
    }
    await page.setViewportSize(DESKTOP);
  };
  const conversationWith = (name: string) => page.locator('nav').getByRole('button', { name: new RegExp(name) });
  const theirText = (text: string) => page.locator('.message.theirs .text', { hasText: text });
  const mine = (text: string) => page.locator('.message.mine', { hasText: text });
  const composer = () => page.getByRole('textbox', { name: 'Message' });
  const nextNonReceipt = async (c: Client): Promise<Received> => {
    for (;;) {
      const r = await c.nextMessage(15_000);
      assert.ok(r, 'a message came');
      c.ack([r.deliveryId]);
      if (r.kind !== 'receipt') return r;
    }
  };

  before(async () => {
    server = await startWebServer();
    cli = new Cli(server);
    await cli.bootstrap();
    bobId = await cli.clinician('bob', BOB, '123456789', 'Dermatology');
    // Carol: the web protocol client in Node (the test knows her attachment's key).
    const { account } = await enroll({ url: `https://${server.address}`, serverName: 'localhost' }, await cli.invite(), { displayName: CAROL, npi: npi('223456789'), specialty: 'Cardiology' }, { fetch: httpsFetch(server.certPem) });
    await cli.verifyUser(account.me.user_id);
    carol = new Client(account, { webSocket: wsFactory(server.certPem), fetch: httpsFetch(server.certPem) });
    carol.start();
    ({ context, page, profileDir } = await launchProfile());
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) pageErrors.push(`CSP: ${m.text()}`);
    });
    page.on('websocket', (ws) => sockets.push(ws));
    // The WebSocket passes through the test, which can cut it (and refuse new ones) to play a lost network.
    await page.routeWebSocket(/\/v1\/ws$/, (ws) => {
      if (cut) {
        ws.close({ code: 1006, reason: 'offline' });
        return;
      }
      ws.connectToServer();
      routed.push(ws);
    });
  });

  after(async () => {
    carol?.stop();
    await context?.close().catch(() => undefined);
    await server?.stop();
    if (cli) cleanup(cli.dir);
    if (profileDir) cleanup(profileDir);
  });

  test('enrolls through the UI with the invite from the link, with field errors first', async () => {
    const invite = await cli.invite();
    await page.goto(`${server.url}/#invite=${invite}`);
    await page.getByRole('heading', { name: 'Enroll this browser' }).waitFor();
    assert.equal(await page.getByLabel('Invite').inputValue(), invite, 'the invite comes from the fragment');
    await page.getByRole('button', { name: 'Enroll this browser' }).click();
    await page.getByText('Enter your full name as colleagues know it.').waitFor();
    await page.getByLabel('NPI').fill('1234567890');
    await page.getByRole('button', { name: 'Enroll this browser' }).click();
    await page.getByText("This NPI's check digit is wrong: check it for a typo.").waitFor();
    assert.equal(await page.getByLabel('Full name').getAttribute('aria-invalid'), 'true');
    await audit('enroll');

    await page.getByLabel('Full name').fill(ALICE);
    await page.getByLabel('NPI').fill(npi('323456789'));
    await page.getByLabel('Specialty').fill('Internal Medicine');
    await page.getByLabel('Passphrase', { exact: true }).fill(PASS);
    await page.getByLabel('Passphrase again').fill(PASS);
    // The server's refusal of an invite it does not know says what to do.
    await page.getByLabel('Invite').fill('cbs_inv_NotAnInviteTheServerIssued');
    await page.getByRole('button', { name: 'Enroll this browser' }).click();
    await page.getByText('This invite is unknown or was already used: ask your administrator for a new one.').waitFor({ timeout: 60_000 });
    await page.getByLabel('Invite').fill(invite);
    await page.getByRole('button', { name: 'Enroll this browser' }).click();
    await page.getByRole('button', { name: 'Lock' }).waitFor({ timeout: 90_000 });
    assert.ok(!page.url().includes('invite='), 'the spent invite left the address bar');
    await page.getByText('Online').waitFor({ timeout: 20_000 });
    aliceId = await cli.userId(ALICE);
    await cli.verifyUser(aliceId);
  });

  test('CLI → browser: the first (prekey) message with the sender’s name; the reply with Enter reaches the CLI; delivered, read', async () => {
    await cli.run(['send', '--profile', bob(), '--to', aliceId, `Hello Alice, from the CLI ${MARKER}`]);
    const item = conversationWith(BOB);
    await item.waitFor({ timeout: 20_000 });
    assert.match(await item.innerText(), /Dermatology/);
    assert.match(await item.innerText(), /1\s*unread/);
    await item.click();
    await theirText(`Hello Alice, from the CLI ${MARKER}`).waitFor();
    assert.equal(await page.locator('.message.theirs .sender').first().innerText(), BOB, 'the sender by name, not id');
    assert.ok(!(await page.locator('body').innerText()).includes(bobId), 'no user id on screen');

    await composer().fill('Hi Bob, from the browser.');
    await composer().press('Shift+Enter');
    await composer().pressSequentially('Second line.');
    await composer().press('Enter');
    await mine('Second line.').locator('.status', { hasText: 'Sent' }).waitFor({ timeout: 15_000 });
    assert.equal(await composer().inputValue(), '', 'the composer is cleared');
    const sync = await cli.run(['sync', '--profile', bob(), '--wait', '2']);
    assert.match(sync, /Hi Bob, from the browser\.\nSecond line\./);
    await mine('Second line.').locator('.status', { hasText: 'Read' }).waitFor({ timeout: 15_000 });

    // The browser's read receipt for Bob's message reached the CLI.
    await cli.run(['sync', '--profile', bob(), '--wait', '1']);
    const history = await cli.run(['history', '--profile', bob(), '--with', aliceId, '--json']);
    const first = history.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { content: { text?: string }; status: string }).find((m) => m.content.text?.includes('from the CLI'));
    assert.equal(first?.status, 'read', history);
  });

  test('directory search by specialty; the browser writes first (its prekey message) and Carol answers', async () => {
    await page.getByLabel('Find a colleague').fill('cardiology');
    await page.getByLabel('Find a colleague').press('Enter');
    await page.getByRole('button', { name: /Dr\. Carol Chen/ }).click();
    await page.getByRole('heading', { name: CAROL, level: 2 }).waitFor();
    await composer().fill('Carol, a first message from the browser');
    await composer().press('Enter');
    const got = await nextNonReceipt(carol);
    assert.equal(got.content?.type === 'text' ? got.content.text : undefined, 'Carol, a first message from the browser');
    assert.equal(got.sender.user_id, aliceId);
    await carol.sendText([aliceId], 'Received, Alice');
    await theirText('Received, Alice').waitFor({ timeout: 15_000 });
    await mine('Carol, a first message').locator('.status', { hasText: /Delivered|Read/ }).waitFor({ timeout: 15_000 });
  });

  test('attachments: the CLI’s image shown as a decrypted preview, Carol’s too; the browser’s file downloaded by the CLI, byte for byte', async () => {
    const png = join(cli.dir, 'wound-photo.png');
    writeFileSync(png, readFileSync(join(WEB_DIR, 'public', 'icons', 'icon-192.png')));
    await cli.run(['attach', '--profile', bob(), '--to', aliceId, png]);
    const photo = {
      bytes: readFileSync(png),
      name: 'ecg-strip.png',
    };
    const sent = await carol.sendFile([aliceId], photo.bytes, photo.name);
    carolKey = sent.uploaded.file.key;
    await conversationWith(BOB).click();
    const img = page.getByRole('img', { name: 'Image wound-photo.png' });
    await img.waitFor({ timeout: 20_000 });
    await page.waitForFunction(() => [...document.querySelectorAll('img')].some((i) => i.alt === 'Image wound-photo.png' && i.complete && i.naturalWidth === 192));
    assert.match((await img.getAttribute('src')) ?? '', /^blob:/);

    const note = join(cli.dir, 'referral-note.txt');
    const content = `Referral note for Bob\n${'x'.repeat(70_000)}\nend`;
    writeFileSync(note, content);
    await page.locator('.composer input[type=file]:not([capture])').setInputFiles(note);
    await mine('referral-note.txt').locator('.status', { hasText: 'Sent' }).waitFor({ timeout: 20_000 });
    await cli.run(['sync', '--profile', bob(), '--wait', '2']);
    const history = await cli.run(['history', '--profile', bob(), '--with', aliceId, '--json']);
    const ref = history.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { message_id: string; content: { name?: string } }).find((m) => m.content.name === 'referral-note.txt');
    assert.ok(ref, history);
    const out = join(cli.dir, 'downloaded.txt');
    await cli.run(['download', '--profile', bob(), ref.message_id, '--out', out]);
    assert.equal(readFileSync(out, 'utf8'), content);

    // Dropped onto the conversation, and the camera button's input.
    const dropped = await page.evaluateHandle(`(() => { const dt = new DataTransfer(); dt.items.add(new File(['dropped onto the conversation'], 'dropped.txt', { type: 'text/plain' })); return dt; })()`);
    await page.dispatchEvent('main.conversation', 'drop', { dataTransfer: dropped });
    await mine('dropped.txt').locator('.status', { hasText: /Sent|Delivered|Read/ }).waitFor({ timeout: 20_000 });
    const camera = page.locator('.composer input[capture]');
    assert.equal(await camera.getAttribute('accept'), 'image/*');
    assert.equal(await camera.getAttribute('capture'), 'environment');
    assert.equal(await page.getByRole('button', { name: 'Take a photo' }).count(), 1);

    await conversationWith(CAROL).click();
    await page.waitForFunction(() => [...document.querySelectorAll('img')].some((i) => i.alt === 'Image ecg-strip.png' && i.complete && i.naturalWidth === 192));
    await conversationWith(BOB).click();
    await audit('main', async () => {
      await page.getByRole('button', { name: 'Back' }).waitFor();
    });
    // A phone shows one pane at a time: Back leads to the list.
    await page.setViewportSize(PHONE);
    await page.getByRole('button', { name: 'Back' }).click();
    assert.equal(await composer().isVisible(), false, 'the conversation pane is hidden on a phone');
    assert.match(await page.evaluate('document.activeElement.innerText'), /Dr\. Bob Brennan/, 'the focus returns to the conversation left');
    await conversationWith(CAROL).waitFor();
    for (const v of await seriousViolations(page)) violations.push(`list at 390: ${v.impact} ${v.id} at ${v.targets.join(', ')}`);
    await shot('list-390');
    await page.setViewportSize(DESKTOP);
    await conversationWith(BOB).click();
  });

  test('keyboard: every control is reached with Tab, each with a name and a visible focus ring; Enter opens a conversation', async () => {
    await page.locator('body').focus();
    const reached: string[] = [];
    for (const f of await tabThrough(page, 40)) {
      assert.ok(f.name !== '', `a focusable control without a name (after ${reached.join(' → ')})`);
      assert.ok(!f.outline.startsWith('none') && f.outline !== 'solid 0px', `${f.name}: the focus is visible (${f.outline})`);
      reached.push(f.name);
    }
    for (const name of ['Settings', 'Lock', 'Find a colleague', 'Search', BOB, CAROL, 'Disappearing messages', 'Safety number', 'Message', 'Attach a file', 'Take a photo', 'Send']) {
      assert.ok(reached.some((r) => r.startsWith(name)), `${name} is reached with Tab: ${reached.join(' → ')}`);
    }
    await conversationWith(CAROL).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: CAROL, level: 2 }).waitFor();
    assert.equal(await page.evaluate('document.activeElement.tagName'), 'TEXTAREA', 'the composer has the focus');
  });

  test('lock on demand, a wrong passphrase says so, unlock; after a reload the conversation is still there', async () => {
    await page.getByRole('button', { name: 'Lock' }).click();
    await page.getByRole('heading', { name: 'Unlock Curbside' }).waitFor();
    assert.equal(await page.locator('.message').count(), 0, 'nothing of the conversation is left on screen');
    for (let i = 0; i < 50 && !sockets.every((ws) => ws.isClosed()); i++) await page.waitForTimeout(100);
    assert.ok(sockets.length > 0 && sockets.every((ws) => ws.isClosed()), 'locked: the connection is closed');
    await page.getByLabel('Passphrase').fill('not the passphrase at all');
    // Argon2id (64 MiB, t=3, p=4) takes a moment: its progress shows (recorded as the page updates it).
    await page.evaluate(() => {
      const w = window as unknown as { maxProgress: number };
      w.maxProgress = 0;
      new MutationObserver(() => {
        const bar = document.querySelector('progress');
        if (bar && !bar.closest<HTMLElement>('.progress')?.hidden) w.maxProgress = Math.max(w.maxProgress, bar.value);
      }).observe(document.body, { subtree: true, attributes: true, childList: true });
    });
    await page.getByRole('button', { name: 'Unlock' }).click();
    await page.getByText('Wrong passphrase — try again').waitFor({ timeout: 60_000 });
    assert.ok((await page.evaluate(() => (window as unknown as { maxProgress: number }).maxProgress)) > 50, 'the key derivation showed its progress');
    await audit('unlock');
    await page.getByLabel('Passphrase').fill(PASS);
    await page.getByRole('button', { name: 'Unlock' }).click();
    await page.getByRole('button', { name: 'Lock' }).waitFor({ timeout: 60_000 });

    // A draft left in the composer at a reload: the browser must not keep it for session restore.
    await conversationWith(BOB).click();
    await composer().fill(DRAFT);
    await page.reload();
    await page.getByRole('heading', { name: 'Unlock Curbside' }).waitFor();
    await page.getByLabel('Passphrase').fill(PASS);
    await page.getByRole('button', { name: 'Unlock' }).click();
    await conversationWith(BOB).click({ timeout: 60_000 });
    await theirText(`Hello Alice, from the CLI ${MARKER}`).waitFor();
    await mine('Second line.').locator('.status', { hasText: 'Read' }).waitFor();
    await page.getByText('Online').waitFor({ timeout: 20_000 });

    // A second tab does not open the same account (both would advance the same ratchets).
    const second = await context.newPage();
    await second.goto(`${server.url}/`);
    await second.getByRole('heading', { name: 'Open in another tab' }).waitFor({ timeout: 15_000 });
    await second.close();
  });

  test('disappearing messages with the CLI: its timer applies here (messages after it go), and the browser turns it off for both', async () => {
    await conversationWith(BOB).click();
    await cli.run(['timer', '--profile', bob(), '--with', aliceId, '--seconds', '3']);
    await page.locator('.notice-line', { hasText: 'Messages disappear 3 seconds after they are sent' }).waitFor({ timeout: 15_000 });
    assert.equal(await page.getByLabel('Disappearing messages').inputValue(), '3');
    await cli.run(['send', '--profile', bob(), '--to', aliceId, 'This one disappears']);
    await theirText('This one disappears').waitFor({ timeout: 15_000 });
    await theirText('This one disappears').waitFor({ state: 'detached', timeout: 15_000 });
    assert.equal(await theirText(`Hello Alice, from the CLI ${MARKER}`).count(), 1, 'messages from before the timer stay');
    await page.getByLabel('Disappearing messages').selectOption('off');
    await page.locator('.notice-line', { hasText: 'Disappearing messages off' }).waitFor();
    assert.match(await cli.run(['sync', '--profile', bob(), '--wait', '2']), /disappearing messages off/i);
  });

  test('a message while the page is hidden: a notification without content, and no read receipt until it is seen', async () => {
    await conversationWith(BOB).click();
    await page.evaluate(`(() => {
      window.__notes = [];
      window.Notification = class { static permission = 'granted'; static requestPermission() { return Promise.resolve('granted'); }
        constructor(title, options) { window.__notes.push({ title, body: options && options.body }); } close() {} };
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
      document.dispatchEvent(new Event('visibilitychange'));
    })()`);
    await cli.run(['send', '--profile', bob(), '--to', aliceId, 'Sent while you were away']);
    // Polled with evaluate (CDP): waitForFunction evaluates its predicate with eval in the page, which the CSP refuses once it polls.
    for (const end = Date.now() + 15_000; ((await page.evaluate('window.__notes.length')) as number) === 0; await page.waitForTimeout(50)) {
      if (Date.now() > end) throw new Error('timed out waiting for the notification');
    }
    assert.deepEqual(await page.evaluate('window.__notes'), [{ title: 'Curbside', body: 'New secure message' }]);
    await cli.run(['sync', '--profile', bob(), '--wait', '1']);
    const status = async (): Promise<string | undefined> =>
      (await cli.run(['history', '--profile', bob(), '--with', aliceId, '--json']))
        .split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { content: { text?: string }; status: string })
        .find((m) => m.content.text === 'Sent while you were away')?.status;
    assert.equal(await status(), 'delivered', 'not read while hidden');
    await page.evaluate(`(() => { Object.defineProperty(document, 'hidden', { configurable: true, get: () => false }); document.dispatchEvent(new Event('visibilitychange')); })()`);
    await page.waitForTimeout(500);
    await cli.run(['sync', '--profile', bob(), '--wait', '1']);
    assert.equal(await status(), 'read', 'read once the page is seen');
  });

  test('offline: the indicator says so, a message is queued, and goes (same id) once the connection is back', async () => {
    await conversationWith(BOB).click();
    cut = true;
    for (const ws of routed.splice(0)) await ws.close({ code: 1006, reason: 'offline' }).catch(() => undefined);
    await page.locator('.link', { hasText: /Reconnecting|Offline/ }).waitFor({ timeout: 20_000 });
    await composer().fill('Written while offline');
    await composer().press('Enter');
    await mine('Written while offline').locator('.status', { hasText: 'Queued' }).waitFor();
    await page.getByText('Offline: the message is queued').waitFor();
    cut = false;
    await page.locator('.link', { hasText: 'Online' }).waitFor({ timeout: 30_000 });
    await mine('Written while offline').locator('.status', { hasText: /Sent|Delivered/ }).waitFor({ timeout: 15_000 });
    await page.getByText('Offline: the message is queued').waitFor({ state: 'detached' });
    const sync = await cli.run(['sync', '--profile', bob(), '--wait', '2']);
    assert.equal(sync.split('Written while offline').length - 1, 1, sync);
  });

  test('the safety number: 60 digits in 12 groups, as `curbside verify` prints it; Confirm; then Bob’s new device: red banner, warning before sending', async () => {
    await conversationWith(BOB).click();
    await page.getByRole('button', { name: 'Safety number' }).click();
    const dialog = page.getByRole('dialog', { name: `Safety number with ${BOB}` });
    const groups = dialog.locator('.safety-digits .group');
    await groups.first().waitFor();
    const shown = await groups.allInnerTexts();
    assert.equal(shown.length, 12);
    assert.ok(shown.every((g) => /^\d{5}$/.test(g)));
    const verify = await cli.run(['verify', '--profile', bob(), '--with', ALICE]);
    const cliDigits = verify.split('\n').filter((l) => /^(\d{5} ){5}\d{5}$/.test(l.trim())).join('').replace(/\s/g, '');
    assert.equal(shown.join(''), cliDigits, verify);
    assert.equal(await dialog.locator('svg.qr path').count(), 1, 'the QR code');
    await shot('safety-1440');
    const axe = await seriousViolations(page);
    for (const v of axe) violations.push(`safety dialog: ${v.impact} ${v.id} at ${v.targets.join(', ')}`);
    await dialog.getByRole('button', { name: 'Confirm: the numbers match' }).click();
    await dialog.getByText(/^Verified:/).waitFor();
    await dialog.getByRole('button', { name: 'Close' }).click();
    await page.locator('.conversation-header .subtitle', { hasText: '✓ Verified' }).waitFor();

    // Bob enrolls a new device: his key set changes.
    const invite = /cbs_dev_[A-Za-z0-9_-]+/.exec(await cli.run(['devices', 'add', '--profile', bob()]))?.[0];
    assert.ok(invite);
    await cli.run(['enroll', '--profile', cli.profile('bob2'), '--invite', invite, ...cli.where()]);
    await cli.run(['send', '--profile', cli.profile('bob2'), '--to', aliceId, '--allow-unverified', 'Now on my new phone']);
    await theirText('Now on my new phone').waitFor({ timeout: 20_000 });
    const banner = page.locator('.banner');
    await banner.getByText(`${BOB}'s keys changed since you verified them.`).waitFor();
    await audit('keys-changed', async () => undefined);

    await composer().fill('Is this really you?');
    await composer().press('Enter');
    const warning = page.getByRole('dialog', { name: `${BOB}'s keys changed` });
    await warning.waitFor();
    await warning.getByRole('button', { name: 'Send anyway' }).click();
    await mine('Is this really you?').locator('.status', { hasText: /Sent|Delivered/ }).waitFor({ timeout: 15_000 });
    assert.match(await cli.run(['sync', '--profile', cli.profile('bob2'), '--wait', '2']), /Is this really you\?/);
  });

  test('a refused message says why and what to do, and can be sent again (Carol was deactivated)', async () => {
    await cli.run(['admin', 'deactivate', '--profile', cli.profile('admin'), '--yes', carol.account.me.user_id]);
    await conversationWith(CAROL).click();
    await composer().fill('Are you still there?');
    await composer().press('Enter');
    const failed = mine('Are you still there?');
    await failed.locator('.status', { hasText: 'Not sent' }).waitFor({ timeout: 20_000 });
    assert.equal(await failed.locator('.message-error').innerText(), "This colleague's account was deactivated: they no longer receive messages.");
    await failed.getByRole('button', { name: 'Send again' }).click();
    await page.getByText('It was not sent again: see the message for why.').waitFor({ timeout: 20_000 });
    assert.equal(await mine('Are you still there?').count(), 1, 'the message is there once');
  });

  test('the idle lock: set to 1 minute in Settings, the page locks itself after a minute without activity', async () => {
    await page.clock.install();
    await page.reload();
    await page.getByLabel('Passphrase').fill(PASS);
    await page.getByRole('button', { name: 'Unlock' }).click();
    await page.getByRole('button', { name: 'Settings' }).click({ timeout: 60_000 });
    const settings = page.getByRole('dialog', { name: 'Settings' });
    await settings.getByLabel('Lock after inactivity').selectOption('1');
    for (const v of await seriousViolations(page)) violations.push(`settings: ${v.impact} ${v.id} at ${v.targets.join(', ')}`);
    await settings.getByRole('button', { name: 'Close' }).click();
    await page.clock.fastForward('00:30');
    assert.equal(await page.getByRole('button', { name: 'Lock' }).count(), 1, 'not locked after 30 s');
    await page.clock.fastForward('00:40');
    await page.getByRole('heading', { name: 'Unlock Curbside' }).waitFor({ timeout: 10_000 });
  });

  test('no serious or critical accessibility violation on any screen (axe-core, 390×844 and 1440×900); no script error, nothing the CSP refused', () => {
    assert.deepEqual(violations, []);
    assert.deepEqual(pageErrors, []);
  });

  test('the profile’s storage holds nothing in clear (IndexedDB, Local Storage, Service Worker, Cache Storage), and the search can fail', async (t) => {
    // The service worker's cache holds the application's own files, and only them.
    const cached = await cacheEntries(page);
    assert.ok(cached.length > 0, 'the service worker cached the application');
    for (const entry of cached) {
      assert.match(entry, /^curbside-static-v\d+ \/(|index\.html|app\.css|assets\/app\.js|manifest\.webmanifest|icons\/icon(-192|-512)?\.(svg|png))$/, `cached: ${entry}`);
    }

    // The application opens without the network, from the service worker's cache.
    await context.setOffline(true);
    await page.reload();
    await page.getByRole('heading', { name: 'Unlock Curbside' }).waitFor({ timeout: 15_000 });
    await context.setOffline(false);

    // The control: a marker written unsealed, to Local Storage and to IndexedDB, must be found.
    const control = `control-${Math.random().toString(36).slice(2)}-unsealed`;
    await writeUnsealed(page, control);
    await context.close();

    const needles: Needle[] = [
      ...textNeedles('the marker message', MARKER),
      ...textNeedles('a message text', 'Hi Bob, from the browser.'),
      ...textNeedles('a draft in the composer at a reload', DRAFT),
      ...textNeedles("the colleague's name", BOB),
      ...textNeedles("the other colleague's name", CAROL),
      ...textNeedles("the user's own name", ALICE),
      ...textNeedles("a colleague's user id", bobId),
      ...textNeedles("the other colleague's user id", carol.account.me.user_id),
      ...textNeedles("the user's own id", aliceId),
      ...textNeedles("the key of Carol's attachment (base64)", carolKey),
      { what: "the key of Carol's attachment (raw)", bytes: Buffer.from(carolKey, 'base64') },
      ...textNeedles("Carol's identity key (base64)", toBase64(carol.account.identity.publicKey.toBytes())),
      { what: "Carol's identity signing key (raw)", bytes: Buffer.from(carol.account.identity.publicKey.signingKey) },
    ];
    const { hits, read, areas, paths } = findInProfile(profileDir, [...needles, ...textNeedles('control', control), ...textNeedles('control idb', `${control}-idb`)]);
    t.diagnostic(`${read} files read; storage areas: ${[...areas].sort().join(', ')}`);
    assert.ok(read > 20, `the profile's files were read (${read})`);
    assert.ok([...areas].some((a) => a.includes('IndexedDB')), `IndexedDB was among them: ${[...areas].join(', ')}`);
    assert.ok(paths.some((p) => p.includes('Service Worker/CacheStorage')), 'the service worker cached the static files (Cache Storage was read too)');
    assert.ok(hits.some((h) => h.startsWith('control (')), `the control marker written unsealed to Local Storage is found: the search works (${hits.join('; ')})`);
    assert.ok(hits.some((h) => h.startsWith('control idb')), `the control marker written unsealed to IndexedDB is found (${hits.join('; ')})`);
    const leaks = hits.filter((h) => !h.startsWith('control'));
    assert.deepEqual(leaks, [], 'nothing readable in the profile');
  });
}
