// An on-call role held by two clinicians, in the browser (issue 18), on
// SQLite and PostgreSQL against a real `curbside serve`: Dr. Alice Adeyemi
// (cardiology) and Dr. Carol Chen (dermatology) in two browsers, Dr. Dan
// Diaz (dermatology) on the web protocol client in Node, the administrator
// and Dr. Fran Fields on the CLI. "On-call dermatology" is scheduled for
// Carol and Dan while Carol's browser is locked: at her unlock it says
// "You now hold On-call dermatology (until …).". In order:
// - Alice writes to the role: both holders receive it; the content names
//   the role (`role: {role_id, name}`, read by Dan's client) and Carol's
//   browser shows "to On-call dermatology" beside Alice's name. Alice
//   recalls it from the role's thread: Carol's browser shows "Message
//   recalled" and Dan's client receives the recall too (every holder's
//   devices are told, not only the first holder's).
// - Alice attaches a photo in the role's thread while her page reads a
//   stale list of holders (Carol only, the answer of GET /v1/oncall
//   rewritten once): the send names the role, is refused holders_changed,
//   and goes again under the same message id to both holders, the file
//   uploaded once; Carol's browser shows it decrypted, Dan's client
//   decrypts the same bytes.
// - Hand-offs told plainly: Carol's browser locked while the administrator
//   hands the role to Dan alone; at her unlock (a new connection) "On-call
//   dermatology is now held by Dr. Dan Diaz.". Then, online, the role is
//   handed back to her: the server's oncall_changed frame makes her browser
//   say "You now hold On-call dermatology (until …)." at once.
// - The consult opt-in is the user's, not the device's: Fran opts in from
//   her CLI; a browser linked to her account as a new device shows the
//   Consults screen's box ticked; turned off from the CLI, the screen shows
//   it off when visited again.
// Screenshots (SQLite run): web-oncall-to-role-*, web-oncall-file-*,
// web-oncall-handoff-notice-*.

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import type { BrowserContext, Page } from 'playwright-core';

import { Client, downloadAttachment, enroll, type Received } from '../../src/client/index.js';
import { httpsFetch, npi, png, wsFactory } from '../live-helpers.js';
import { seriousViolations } from './checks.js';
import { backends, browserMissing, cleanup, Cli, DESKTOP, launchProfile, PHONE, SCREENSHOTS, skippedTest, startWebServer, type Backend, type WebServer } from './world.js';

const missing = browserMissing();
if (missing !== undefined) {
  skippedTest('an on-call role held by two, in the browser', missing);
} else {
  for (const b of backends()) {
    if (b.missing !== undefined) skippedTest(`an on-call role held by two, in the browser, on ${b.backend}`, b.missing);
    else holders(b.backend);
  }
}

function holders(backend: Backend): void {
  const PASS = 'on-call holders passphrase 16+';
  const ALICE = 'Dr. Alice Adeyemi';
  const CAROL = 'Dr. Carol Chen';
  const DAN = 'Dr. Dan Diaz';
  const ROLE = 'On-call dermatology';
  let server: WebServer;
  let cli: Cli;
  const profiles: { context: BrowserContext; page: Page; profileDir: string }[] = [];
  let alice: Page;
  let carol: Page;
  let dan: Client;
  let roleId = '';
  const violations: string[] = [];
  const pageErrors: string[] = [];
  const frames = new Map<Page, Record<string, unknown>[]>();
  const admin = () => cli.profile('admin');

  const open = async (name: string): Promise<Page> => {
    const p = await launchProfile();
    profiles.push(p);
    const page = p.page;
    page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) pageErrors.push(`${name}: CSP: ${m.text()}`);
    });
    const sent: Record<string, unknown>[] = [];
    frames.set(page, sent);
    page.on('websocket', (ws) => ws.on('framesent', (f) => void sent.push(JSON.parse(String(f.payload)) as Record<string, unknown>)));
    return page;
  };
  const enrollBrowser = async (page: Page, name: string, nine: string, specialty: string): Promise<void> => {
    await page.goto(`${server.url}/#invite=${await cli.invite()}`);
    await page.getByLabel('Full name').fill(name);
    await page.getByLabel('NPI').fill(npi(nine));
    await page.getByLabel('Specialty').fill(specialty);
    await page.getByLabel('Passphrase', { exact: true }).fill(PASS);
    await page.getByLabel('Passphrase again').fill(PASS);
    await page.getByRole('button', { name: 'Enroll this browser' }).click();
    await page.getByRole('button', { name: 'Lock' }).waitFor({ timeout: 120_000 });
    await page.getByText('Online').waitFor({ timeout: 20_000 });
  };
  /** The next message with content of `type` (others acknowledged and skipped), or undefined after `ms`. */
  const next = async (c: Client, type: string, ms = 20_000): Promise<Received | undefined> => {
    const end = Date.now() + ms;
    for (;;) {
      const r = await c.nextMessage(Math.max(1, end - Date.now()));
      if (r === undefined) return undefined;
      c.ack([r.deliveryId]);
      if (r.content?.type === type) return r;
    }
  };
  /** axe at both sizes; on SQLite the screenshots web-<name>-<size>.png. */
  const shoot = async (page: Page, name: string, show?: () => Promise<void>): Promise<void> => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    for (const [size, viewport] of [['1440', DESKTOP], ['390', PHONE]] as const) {
      await page.setViewportSize(viewport);
      if (show) await show();
      await page.waitForTimeout(200);
      for (const v of await seriousViolations(page)) violations.push(`${name} at ${size}: ${v.impact} ${v.id} (${v.help}) at ${v.targets.join(', ')}`);
      if (backend === 'sqlite') await page.screenshot({ path: join(SCREENSHOTS, `web-${name}-${size}.png`) });
    }
    await page.setViewportSize(DESKTOP);
  };
  const thread = (page: Page) => page.locator('main.oncall-thread');
  const sends = (page: Page) => (frames.get(page) ?? []).filter((f) => f['type'] === 'send' && f['role'] === roleId);
  const openRole = async (page: Page): Promise<void> => {
    await page.getByLabel('Find a colleague').fill('dermatology');
    await page.getByLabel('Find a colleague').press('Enter');
    await page.locator('.results').getByRole('button', { name: new RegExp(`^${ROLE} — now: `) }).click();
    await thread(page).getByRole('heading', { name: ROLE, level: 2 }).waitFor();
  };
  const unlock = async (page: Page): Promise<void> => {
    await page.getByRole('heading', { name: 'Unlock Curbside' }).waitFor();
    await page.getByLabel('Passphrase').fill(PASS);
    await page.getByRole('button', { name: 'Unlock' }).click();
    await page.getByRole('button', { name: 'Lock' }).waitFor({ timeout: 60_000 });
  };

  describe(`an on-call role held by two, in the browser, on ${backend}`, () => {
    let carolId = '';
    let danId = '';

    before(async () => {
      server = await startWebServer({ backend });
      cli = new Cli(server);
      await cli.bootstrap();
      alice = await open('alice');
      await enrollBrowser(alice, ALICE, '323456789', 'Cardiology');
      carol = await open('carol');
      await enrollBrowser(carol, CAROL, '423456789', 'Dermatology');
      await cli.verifyUser(await cli.userId(ALICE));
      carolId = await cli.userId(CAROL);
      await cli.verifyUser(carolId);
      const { account } = await enroll({ url: `https://${server.address}`, serverName: 'localhost' }, await cli.invite(), { displayName: DAN, npi: npi('523456789'), specialty: 'Dermatology' }, { fetch: httpsFetch(server.certPem) });
      danId = account.me.user_id;
      await cli.verifyUser(danId);
      dan = new Client(account, { webSocket: wsFactory(server.certPem), fetch: httpsFetch(server.certPem) });
      dan.start();
      await dan.waitOnline();
      await cli.run(['oncall', 'create', '--profile', admin(), '--name', ROLE, '--specialty', 'Dermatology']);
    });

    after(async () => {
      dan?.stop();
      for (const p of profiles) {
        await p.context.close().catch(() => undefined);
        cleanup(p.profileDir);
      }
      await server?.stop();
      if (cli) cleanup(cli.dir);
    });

    test('a shift scheduled while Carol’s browser was locked is told at her unlock: “You now hold On-call dermatology (until …)”', async () => {
      await carol.getByRole('button', { name: 'Lock' }).click();
      await cli.run(['oncall', 'schedule', '--profile', admin(), ROLE, '--clinician', carolId, '--from', 'now', '--until', '+12h']);
      await cli.run(['oncall', 'schedule', '--profile', admin(), ROLE, '--clinician', danId, '--from', 'now', '--until', '+12h']);
      await unlock(carol);
      await carol.locator('.notice').getByText(new RegExp(`^You now hold ${ROLE} \\(until .+\\)\\.$`)).waitFor({ timeout: 20_000 });
      await carol.locator('.notice').getByRole('button', { name: 'Dismiss' }).click();
    });

    test('a message to the role reaches both holders, named “to On-call dermatology”; its recall reaches both', async () => {
      await openRole(alice);
      await thread(alice).getByText(new RegExp(`^Now on call: (${CAROL}|${DAN}) .*(${CAROL}|${DAN})`)).waitFor();
      const box = thread(alice).getByRole('textbox', { name: 'Message' });
      await box.fill('Bay 4, forearm rash: who can see her?');
      await box.press('Enter');
      await thread(alice).getByText(new RegExp(`^Sent to (${CAROL} and ${DAN}|${DAN} and ${CAROL}), who hold ${ROLE} now\\.$`)).waitFor();
      const send = (frames.get(alice) ?? []).find((f) => f['type'] === 'send' && typeof f['role'] === 'string');
      assert.ok(send !== undefined, 'the send names the role');
      roleId = String(send['role']);
      const ids = new Set((send['recipients'] as { user_id: string }[]).map((r) => r.user_id));
      assert.ok(ids.has(carolId) && ids.has(danId), 'encrypted to both holders');

      const atDan = await next(dan, 'text');
      assert.ok(atDan?.content?.type === 'text' && atDan.content.text.startsWith('Bay 4'));
      assert.deepEqual(atDan.content.role, { role_id: roleId, name: ROLE }, 'the content names the role');
      await carol.locator('nav').getByRole('button', { name: new RegExp(ALICE) }).first().click({ timeout: 20_000 });
      const atCarol = carol.locator('main.conversation .message', { hasText: 'Bay 4, forearm rash' });
      await atCarol.locator('.meta').getByText(`to ${ROLE}`, { exact: true }).waitFor({ timeout: 20_000 });
      assert.equal(await atCarol.locator('.meta .sender').innerText(), ALICE);
      await shoot(carol, 'oncall-to-role');

      const mine = thread(alice).locator('.message', { hasText: 'Bay 4, forearm rash' });
      await mine.getByRole('button', { name: /^Recall your message/ }).click();
      const dialog = alice.getByRole('dialog', { name: 'Recall this message?' });
      await dialog.getByText(new RegExp(`the devices of (${CAROL} and ${DAN}|${DAN} and ${CAROL}) to delete`)).waitFor();
      await dialog.getByRole('button', { name: 'Recall message' }).click();
      await thread(alice).getByText(/^Recalled: /).waitFor();
      await carol.locator('main.conversation .message.recalled').getByText('Message recalled').waitFor({ timeout: 20_000 });
      assert.equal(await carol.locator('main.conversation .message', { hasText: 'Bay 4, forearm rash' }).count(), 0, 'Carol’s copy is gone');
      const recall = await next(dan, 'recall');
      assert.ok(recall?.content?.type === 'recall' && recall.content.message_ids.includes(String(send['message_id'])), 'Dan’s devices are told too');
    });

    test('a file to the role: with a stale list of holders it is refused holders_changed and resent, same id, to both; uploaded once; both decrypt it', async () => {
      // Alice's page reads the holders once as they were before Dan's shift (Carol only).
      let rewritten = 0;
      await alice.route(`${server.url}/v1/oncall`, async (route) => {
        const response = await route.fetch();
        const roles = (await response.json()) as { holders: { user_id: string }[] }[];
        if (rewritten++ === 0) for (const r of roles) r.holders = r.holders.filter((h) => h.user_id !== danId);
        await route.fulfill({ response, json: roles });
      });
      let uploads = 0;
      // Stored uploads (Chromium may first try a streamed body, which it sends only over HTTP/2, then the same as one blob).
      alice.on('response', (r) => void (r.url().endsWith('/v1/attachments') && r.request().method() === 'POST' && r.ok() && uploads++));
      const before = sends(alice).length;
      const photo = png(96, 64);
      const chooser = alice.waitForEvent('filechooser');
      await thread(alice).getByRole('button', { name: 'Attach a file' }).click();
      await (await chooser).setFiles({ name: 'forearm.png', mimeType: 'image/png', buffer: Buffer.from(photo) });
      await thread(alice).getByText(new RegExp(`^forearm\\.png: Sent to (${CAROL} and ${DAN}|${DAN} and ${CAROL}), who hold ${ROLE} now\\.$`)).waitFor({ timeout: 30_000 });
      await alice.unroute(`${server.url}/v1/oncall`);
      assert.ok(rewritten >= 2, 'the roles were read again after the refusal');
      const [refused, resent] = sends(alice).slice(before);
      assert.ok(refused !== undefined && resent !== undefined, 'sent twice');
      assert.equal(resent['message_id'], refused['message_id'], 'the same message id');
      assert.deepEqual([...new Set((refused['recipients'] as { user_id: string }[]).map((r) => r.user_id))].filter((u) => u !== undefined).includes(danId), false, 'the first to the stale holders');
      assert.ok((resent['recipients'] as { user_id: string }[]).some((r) => r.user_id === danId), 'again, to the holders now');
      assert.equal(uploads, 1, 'the file was stored once');

      const atDan = await next(dan, 'attachment');
      assert.ok(atDan?.content?.type === 'attachment');
      assert.equal(atDan.messageId, resent['message_id']);
      assert.deepEqual(atDan.content.role, { role_id: roleId, name: ROLE });
      assert.deepEqual(await downloadAttachment(dan.http, atDan.content.file), photo, 'Dan decrypts the bytes Alice picked');
      await carol.waitForFunction(() => [...document.querySelectorAll('main.conversation img')].some((i) => (i as HTMLImageElement).alt === 'Image forearm.png' && (i as HTMLImageElement).naturalWidth === 96), undefined, { timeout: 20_000 });
      await thread(alice).locator('.message', { hasText: 'forearm.png' }).getByText(/^To .* on call$/).waitFor();
      await shoot(alice, 'oncall-file');
      const download = carol.waitForEvent('download');
      await carol.locator('main.conversation').getByRole('link', { name: /^Download forearm\.png/ }).click();
      assert.deepEqual(new Uint8Array(readFileSync((await (await download).path()) ?? '')), photo);
    });

    test('a hand-off while Carol’s browser was locked is told at her unlock, by name', async () => {
      await carol.getByRole('button', { name: 'Lock' }).click();
      await cli.run(['oncall', 'handoff', '--profile', admin(), ROLE, '--to', danId]);
      await unlock(carol);
      await carol.locator('.notice').getByText(`${ROLE} is now held by ${DAN}.`, { exact: true }).waitFor({ timeout: 20_000 });
      assert.ok(!/u[0-9a-f]{24}|o[0-9a-f]{24}/.test(await carol.locator('.notice').innerText()), 'names, never ids');
    });

    test('a hand-off while Carol is online is told at once (the server’s oncall_changed): “You now hold On-call dermatology (until …)”', async () => {
      await carol.locator('.notice').getByRole('button', { name: 'Dismiss' }).click();
      await cli.run(['oncall', 'handoff', '--profile', admin(), ROLE, '--to', carolId]);
      await carol.locator('.notice').getByText(new RegExp(`^You now hold ${ROLE} \\(until .+\\)\\.$`)).waitFor({ timeout: 10_000 });
      await shoot(carol, 'oncall-handoff-notice');
    });

    test('the consult opt-in is the user’s: set from the CLI, a newly linked browser shows it; turned off there, it shows off', async () => {
      const FRAN = 'Dr. Fran Fields';
      const fran = cli.profile('fran');
      await cli.clinician('fran', FRAN, '823456789', 'Dermatology');
      await cli.run(['consult', 'optin', '--profile', fran]);
      const code = /cbs_dev_[A-Za-z0-9_-]+/.exec(await cli.run(['devices', 'add', '--profile', fran]))?.[0];
      assert.ok(code !== undefined);
      const p = await open('fran');
      const reads: number[] = []; // GET /v1/consults/opt-in's statuses (a server without it answers 405)
      p.on('response', (r) => void (r.url().endsWith('/v1/consults/opt-in') && r.request().method() === 'GET' && reads.push(r.status())));
      await p.goto(server.url);
      await p.getByLabel('I already use Curbside on another device').check();
      await p.getByLabel('Device code').fill(code);
      await p.getByLabel('Passphrase', { exact: true }).fill(PASS);
      await p.getByLabel('Passphrase again').fill(PASS);
      await p.getByRole('button', { name: 'Link this browser' }).click();
      await p.getByRole('button', { name: 'Lock' }).waitFor({ timeout: 90_000 });
      await p.getByText('Online').waitFor({ timeout: 20_000 });
      const top = (name: string) => p.locator('header.topbar').getByRole('button', { name: new RegExp(`^${name}( \\(|$)`) });
      await top('Consults').click();
      const box = p.locator('#consults-main').getByLabel('Answer Dermatology consults from colleagues');
      await p
        .waitForFunction(() => (document.querySelector('#consults-main input[type=checkbox]') as HTMLInputElement | null)?.checked === true, undefined, { timeout: 20_000 })
        .catch(() => undefined);
      assert.equal(await box.isChecked(), true, `opted in from the CLI: ticked on this new device (GET /v1/consults/opt-in answered ${reads.join(', ') || 'nothing'})`);
      await cli.run(['consult', 'optin', '--profile', fran, '--off']);
      await top('Messages').click();
      await top('Consults').click();
      await p.waitForFunction(() => (document.querySelector('#consults-main input[type=checkbox]') as HTMLInputElement | null)?.checked === false, undefined, { timeout: 20_000 });
    });

    test('no serious accessibility violations, page errors or CSP reports', () => {
      assert.deepEqual(violations, []);
      assert.deepEqual(pageErrors, []);
    });
  });
}
