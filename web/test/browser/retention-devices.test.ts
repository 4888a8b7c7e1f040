// The organisation's retention policy on a clinician's second linked web
// device (issue 18: "every client purges older messages and attachments
// … clients show the policy in effect"), in real headless Chromium against
// a real `curbside serve`, on SQLite and PostgreSQL. Dr. Bob Brennan
// enrolls a browser, then links a second browser with the code its Devices
// screen shows. Dr. Dan Dube (the web protocol client in Node) sends Bob a
// note and an image while the second browser is locked; their queue rows
// for that device are backdated by two days on the server's database (as
// if sent then: the server stamps a message's time, so this is how a
// message gets old without the test waiting), then a fresh note. The
// second browser, unlocked, shows all three, the image decrypted. An
// administrator sets a retention of one day (`curbside admin retention
// --days 1`: PUT /v1/admin/retention, audited); the second browser, told by
// `policy_changed`, purges the two-day-old note and image (the decrypted
// image's blob: URL revoked, so the file has left memory), keeps the fresh
// note, says the policy in the conversation and in Settings, and after a
// reload and unlock the purged ones stay gone. The first browser shows the
// policy too and keeps its copies (they reached it at once: not old).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import type { BrowserContext, Page } from 'playwright-core';

import { Client, enroll } from '../../src/client/index.js';
import { WEB_DIR } from '../helpers.js';
import { httpsFetch, npi, wsFactory } from '../live-helpers.js';
import { seriousViolations } from './checks.js';
import { backends, browserMissing, cleanup, Cli, DESKTOP, launchProfile, PHONE, skippedTest, startWebServer, type Backend, type WebServer } from './world.js';

const missing = browserMissing();
if (missing !== undefined) {
  skippedTest('retention on a second linked browser', missing);
} else {
  for (const b of backends()) {
    if (b.missing !== undefined) skippedTest(`retention on a second linked browser, on ${b.backend}`, b.missing);
    else retention(b.backend);
  }
}

function retention(backend: Backend): void {
  const PASS = 'retention passphrase, long 16';
  const BOB = 'Dr. Bob Brennan';
  const DAN = 'Dr. Dan Dube';
  const TWO_DAYS_MS = 2 * 86_400_000;
  let server: WebServer;
  let cli: Cli;
  const profiles: { context: BrowserContext; page: Page; profileDir: string }[] = [];
  let first: Page;
  let second: Page;
  let dan: Client;
  let bobId: string;
  const violations: string[] = [];
  const pageErrors: string[] = [];

  const open = async (name: string): Promise<Page> => {
    const p = await launchProfile();
    profiles.push(p);
    p.page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
    p.page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) pageErrors.push(`${name}: CSP: ${m.text()}`);
    });
    return p.page;
  };
  const item = (p: Page, text: string) => p.locator('main.conversation .messages .message', { hasText: text });
  const image = (p: Page) => p.getByRole('img', { name: 'Image old-wound.png' });
  const lastLine = (out: string): string => out.trim().split('\n').pop() ?? ''; // SQLite prints the PRAGMA's value first
  const queuedForSecond = async (): Promise<number> => Number(lastLine(await server.sql(`SELECT count(*) FROM queue WHERE recipient_user = '${bobId}' AND recipient_device = 2`)));
  const unlock = async (p: Page): Promise<void> => {
    await p.getByLabel('Passphrase').fill(PASS);
    await p.getByRole('button', { name: 'Unlock' }).click();
    await p.getByRole('button', { name: 'Lock' }).waitFor({ timeout: 60_000 });
  };
  const openDan = async (p: Page): Promise<void> => {
    const conv = p.locator('nav button.conv-item', { hasText: DAN });
    await conv.waitFor({ timeout: 20_000 });
    await conv.click();
    await p.getByRole('heading', { name: DAN, level: 2 }).waitFor();
  };
  const axe = async (p: Page, screen: string): Promise<void> => {
    for (const [size, viewport] of [['1440', DESKTOP], ['390', PHONE]] as const) {
      await p.setViewportSize(viewport);
      await p.waitForTimeout(150);
      for (const v of await seriousViolations(p)) violations.push(`${screen} at ${size}: ${v.impact} ${v.id} (${v.help}) at ${v.targets.join(', ')}`);
    }
    await p.setViewportSize(DESKTOP);
  };

  describe(`retention on a second linked browser, on ${backend}`, () => {
    before(async () => {
      server = await startWebServer({ backend });
      cli = new Cli(server);
      await cli.bootstrap();
      first = await open('first browser');
      await first.goto(`${server.url}/#invite=${await cli.invite()}`);
      await first.getByLabel('Full name').fill(BOB);
      await first.getByLabel('NPI').fill(npi('423456789'));
      await first.getByLabel('Specialty').fill('Dermatology');
      await first.getByLabel('Passphrase', { exact: true }).fill(PASS);
      await first.getByLabel('Passphrase again').fill(PASS);
      await first.getByRole('button', { name: 'Enroll this browser' }).click();
      await first.getByRole('button', { name: 'Lock' }).waitFor({ timeout: 120_000 });
      bobId = await cli.userId(BOB);
      await cli.verifyUser(bobId);
      const { account } = await enroll({ url: `https://${server.address}`, serverName: 'localhost' }, await cli.invite(), { displayName: DAN, npi: npi('623456789'), specialty: 'Plastic surgery' }, { fetch: httpsFetch(server.certPem) });
      await cli.verifyUser(account.me.user_id);
      dan = new Client(account, { webSocket: wsFactory(server.certPem), fetch: httpsFetch(server.certPem) });
      dan.start();
      await dan.waitOnline();
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

    test('Bob links a second browser with the code his first browser’s Devices screen shows', async () => {
      await first.getByRole('button', { name: 'Settings' }).click();
      await first.getByRole('dialog', { name: 'Settings' }).getByRole('button', { name: 'Linked devices' }).click();
      await first.getByRole('heading', { name: 'Linked devices' }).waitFor();
      await first.getByRole('button', { name: 'Link a new device' }).click();
      const code = (await first.locator('.device-code-panel .device-code').getAttribute('data-code')) ?? '';
      assert.match(code, /^cbs_dev_/);
      second = await open('second browser');
      await second.goto(`${server.url}/#invite=${code}`);
      assert.equal(await second.getByLabel('Device code').inputValue(), code);
      await second.getByLabel('Passphrase', { exact: true }).fill(PASS);
      await second.getByLabel('Passphrase again').fill(PASS);
      await second.getByRole('button', { name: 'Link this browser' }).click();
      await second.getByRole('button', { name: 'Lock' }).waitFor({ timeout: 120_000 });
      await second.locator('.me', { hasText: BOB }).waitFor({ timeout: 20_000 });
      await first.getByText('Device 2 is linked', { exact: false }).waitFor({ timeout: 20_000 });
      await first.getByRole('button', { name: 'Back to messages' }).click();
    });

    test('a note and an image two days old (their queue rows backdated while the second browser was locked) and a fresh note reach it', async () => {
      await second.getByRole('button', { name: 'Lock' }).click();
      await second.getByRole('button', { name: 'Unlock' }).waitFor();
      await dan.sendText([bobId], 'Two-day-old wound review note');
      const png = readFileSync(join(WEB_DIR, 'public', 'icons', 'icon-192.png'));
      await dan.sendFile([bobId], png, 'old-wound.png');
      assert.equal(await queuedForSecond(), 2, 'both wait for the second browser');
      await server.sql(`UPDATE queue SET sent_at = sent_at - ${TWO_DAYS_MS} WHERE recipient_user = '${bobId}' AND recipient_device = 2`);
      await dan.sendText([bobId], 'Fresh note from today');
      await unlock(second);
      await openDan(second);
      await item(second, 'Two-day-old wound review note').waitFor({ timeout: 20_000 });
      await item(second, 'Fresh note from today').waitFor({ timeout: 20_000 });
      await image(second).waitFor({ timeout: 20_000 });
      await second.waitForFunction(() => [...document.querySelectorAll('img')].some((i) => i.alt === 'Image old-wound.png' && i.complete && i.naturalWidth === 192));
      assert.equal(await queuedForSecond(), 0, 'all delivered to it');
      assert.equal(await second.locator('main.conversation .policy-words').innerText(), '', 'no limit yet: nothing said in the conversation');
      await openDan(first);
      await item(first, 'Two-day-old wound review note').waitFor({ timeout: 20_000 });
    });

    test('the administrator sets a retention of one day: the second browser purges the old note and image (the decrypted file leaves memory), keeps today’s, shows the policy; after a reload it stays so', async () => {
      const blobUrl = (await image(second).getAttribute('src')) ?? '';
      assert.match(blobUrl, /^blob:/);
      // Whether the decrypted image is still in memory: a fresh <img> loads its blob: URL only while it is not revoked.
      const loads = (url: string): Promise<string> =>
        second.evaluate((u) => new Promise<string>((resolve) => Object.assign(new Image(), { onload: () => resolve('in memory'), onerror: () => resolve('revoked'), src: u })), url);
      assert.equal(await loads(blobUrl), 'in memory', 'the check sees a live one');
      const out = await cli.run(['admin', 'retention', '--profile', cli.profile('admin'), '--days', '1']);
      assert.match(out, /recorded in the audit log/);
      await item(second, 'Two-day-old wound review note').waitFor({ state: 'detached', timeout: 20_000 });
      await image(second).waitFor({ state: 'detached', timeout: 20_000 });
      assert.equal(await second.getByText('old-wound.png').count(), 0, 'the file’s reference is gone too');
      await item(second, 'Fresh note from today').waitFor();
      const words = "Messages are deleted after 1 day (your organisation's policy).";
      await second.locator('main.conversation .policy-words').getByText(words).waitFor();
      assert.equal(await loads(blobUrl), 'revoked', 'the decrypted image is no longer in memory');
      await second.getByRole('button', { name: 'Settings' }).click();
      const settings = second.getByRole('dialog', { name: 'Settings' });
      await settings.locator('.policy-words').getByText(words).waitFor();
      await axe(second, 'retention settings');
      await settings.getByRole('button', { name: 'Close' }).click();
      await axe(second, 'retention conversation');

      // The first browser: the policy is said; its copies reached it at once, so they are kept.
      await first.locator('main.conversation .policy-words').getByText(words).waitFor({ timeout: 20_000 });
      await item(first, 'Two-day-old wound review note').waitFor();

      await second.reload();
      await unlock(second);
      await openDan(second);
      await item(second, 'Fresh note from today').waitFor({ timeout: 20_000 });
      assert.equal(await item(second, 'Two-day-old wound review note').count(), 0);
      assert.equal(await second.getByText('old-wound.png').count(), 0);
      await second.locator('main.conversation .policy-words').getByText(words).waitFor();
    });

    test('axe-core: no serious or critical violation; no page error or CSP refusal', () => {
      assert.deepEqual(violations, []);
      assert.deepEqual(pageErrors, []);
    });
  });
}
