// Linked devices in the browser application (issue 17), in real headless
// Chromium against a real `curbside serve` (SQLite, and PostgreSQL with
// CURBSIDE_TEST_POSTGRES_URL) and real CLI clinicians. Dr. Alice Adeyemi
// uses the CLI; `curbside devices add` gives a code the browser enrolls
// with as her second device (an invite and a mistyped code refused first,
// on the code field). Dr. Carol Chen (CLI) writes to Alice: both her CLI
// device and the browser receive it; the browser replies: Carol reads it
// and Alice's CLI device has it as her own sent message; what Alice sends
// from the CLI shows in the browser as hers. The browser's Devices screen
// lists her devices and issues a code (grouped, with a QR code of its
// link); a second browser profile opens that link, is refused the CLI's
// spent code, and links as her third device; the first browser revokes it:
// the second shows the locked-out screen with its sealed state erased, and
// `curbside devices list` agrees. Last, the CLI revokes the first browser,
// which is locked out and erased too. axe-core at 390×844 and 1440×900;
// screenshots web-devices-*.png (see SCREENSHOTS in world.ts; on SQLite).

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import type { BrowserContext, Page } from 'playwright-core';

import { seriousViolations } from './checks.js';
import { backends, browserMissing, cleanup, Cli, DESKTOP, launchProfile, PHONE, SCREENSHOTS, skippedTest, startWebServer, type Backend, type WebServer } from './world.js';

const missing = browserMissing();
if (missing !== undefined) {
  skippedTest('linked devices in the browser', missing);
} else {
  for (const b of backends()) {
    if (b.missing !== undefined) skippedTest(`linked devices in the browser on ${b.backend}`, b.missing);
    else describe(`linked devices in the browser on ${b.backend}`, () => devices(b.backend));
  }
}

const PASS = 'my second device, sealed 2025';
const ALICE = 'Dr. Alice Adeyemi';
const CAROL = 'Dr. Carol Chen';

/** The records in the app's sealed IndexedDB store. */
async function sealedRecords(page: Page): Promise<number> {
  return (await page.evaluate(`new Promise((resolve, reject) => {
    const r = indexedDB.open('curbside');
    r.onerror = () => reject(r.error);
    r.onsuccess = () => {
      const db = r.result;
      if (!db.objectStoreNames.contains('sealed')) { db.close(); resolve(0); return; }
      const q = db.transaction('sealed', 'readonly').objectStore('sealed').count();
      q.onsuccess = () => { db.close(); resolve(q.result); };
      q.onerror = () => reject(q.error);
    };
  })`)) as number;
}

function devices(backend: Backend): void {
  let server: WebServer;
  let cli: Cli;
  let a: { context: BrowserContext; page: Page; profileDir: string };
  let b: { context: BrowserContext; page: Page; profileDir: string } | undefined;
  let aliceId: string;
  let carolId: string;
  let firstCode = '';
  const violations: string[] = [];
  const pageErrors: string[] = [];
  const shots = backend === 'sqlite' ? SCREENSHOTS : join(tmpdir(), 'curbside-web-screenshots-pg');
  const alice = (): string => cli.profile('alice');
  const carol = (): string => cli.profile('carol');
  const page = (): Page => a.page;

  /** axe at both sizes, and the screenshots (`show`: scrolled into view first, the app scrolling inside its panes). */
  const audit = async (p: Page, screen: string, show?: string): Promise<void> => {
    mkdirSync(shots, { recursive: true });
    for (const [size, viewport] of [['1440', DESKTOP], ['390', PHONE]] as const) {
      await p.setViewportSize(viewport);
      await p.waitForTimeout(150);
      if (show !== undefined) await p.locator(show).first().scrollIntoViewIfNeeded();
      for (const v of await seriousViolations(p)) violations.push(`${screen} at ${size}: ${v.impact} ${v.id} (${v.help}) at ${v.targets.join(', ')}`);
      await p.screenshot({ path: join(shots, `web-devices-${screen}-${size}.png`), fullPage: true });
    }
    await p.setViewportSize(DESKTOP);
  };
  const watch = (p: Page, who: string): void => {
    p.on('pageerror', (e) => pageErrors.push(`${who}: ${e.message}`));
    p.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) pageErrors.push(`${who} CSP: ${m.text()}`);
    });
  };
  const codeFrom = (out: string): string => {
    const m = /cbs_dev_[A-Za-z0-9_-]+/.exec(out);
    assert.ok(m, `no device code in: ${out}`);
    return m[0];
  };
  const fieldError = (p: Page, label: string) => p.locator('.field', { has: p.getByLabel(label, { exact: true }) }).locator('.field-error');
  const link = async (p: Page, code: string): Promise<void> => {
    await p.getByLabel('Device code').fill(code);
    await p.getByLabel('Passphrase', { exact: true }).fill(PASS);
    await p.getByLabel('Passphrase again').fill(PASS);
    await p.getByRole('button', { name: 'Link this browser' }).click();
  };
  /** `curbside devices list` on Alice's CLI device: `device 2  enrolled …  REVOKED …` lines, as [number, revoked]. */
  const cliDevices = async (): Promise<[number, boolean][]> =>
    (await cli.run(['devices', 'list', '--profile', alice()]))
      .split('\n')
      .map((l) => /^device (\d+)\b(.*)$/.exec(l.trim()))
      .filter((m) => m !== null)
      .map((m) => [Number(m[1]), /\bREVOKED\b/.test(m[2] ?? '')]);
  const openDevices = async (p: Page): Promise<void> => {
    await p.getByRole('button', { name: 'Settings' }).click();
    await p.getByRole('dialog', { name: 'Settings' }).getByRole('button', { name: 'Linked devices' }).click();
    await p.getByRole('heading', { name: 'Linked devices' }).waitFor();
  };
  const deviceItem = (p: Page, name: string) => p.locator('.device-list').first().locator('li.device', { has: p.locator('.device-name', { hasText: name }) });

  before(async () => {
    server = await startWebServer({ backend });
    cli = new Cli(server);
    await cli.bootstrap();
    aliceId = await cli.clinician('alice', ALICE, '123456789', 'Cardiology');
    carolId = await cli.clinician('carol', CAROL, '223456789', 'Dermatology');
    a = await launchProfile();
    watch(a.page, 'browser');
  });

  after(async () => {
    await a?.context.close().catch(() => undefined);
    await b?.context.close().catch(() => undefined);
    await server?.stop();
    if (cli) cleanup(cli.dir);
    if (a) cleanup(a.profileDir);
    if (b) cleanup(b.profileDir);
  });

  test('the browser enrolls as Alice’s second device with the code her CLI shows (an invite and a typo refused on the code field)', async () => {
    firstCode = codeFrom(await cli.run(['devices', 'add', '--profile', alice()]));
    const p = page();
    await p.goto(server.url);
    await p.getByLabel('I already use Curbside on another device').check();
    assert.equal(await p.getByLabel('Full name').count(), 0, 'no name asked: it comes from the server');
    assert.equal(await p.getByLabel('NPI').count(), 0);
    // Typed as the CLI's groups would be read out: spaces do not matter.
    const spaced = `cbs_dev_ ${(firstCode.slice('cbs_dev_'.length).match(/.{1,4}/g) ?? []).join(' ')}`;
    await p.getByLabel('Device code').fill(spaced);
    await p.getByLabel('Passphrase', { exact: true }).fill(PASS);
    await p.getByLabel('Passphrase again').fill(PASS);
    await audit(p, 'enroll');

    await link(p, await cli.invite());
    assert.match(await fieldError(p, 'Device code').innerText(), /invite for a new account, not a device code/);
    assert.equal(await p.getByLabel('Device code').getAttribute('aria-invalid'), 'true');

    // One character wrong: the server does not know it (after the key derivation).
    const last = firstCode.slice(-1);
    const typo = `${firstCode.slice(0, -1)}${last === 'A' ? 'B' : 'A'}`;
    await link(p, typo);
    await fieldError(p, 'Device code').getByText(/does not know this code, or it was already used\. Check it for a typo/).waitFor({ timeout: 90_000 });
    await audit(p, 'enroll-error');

    await link(p, spaced);
    await p.getByRole('button', { name: 'Lock' }).waitFor({ timeout: 90_000 });
    await p.getByText('Online').waitFor({ timeout: 20_000 });
    await p.locator('.me', { hasText: ALICE }).waitFor({ timeout: 10_000 });
    assert.equal(await sealedRecords(p), 3, 'account, client and state sealed');
    assert.deepEqual(await cliDevices(), [[1, false], [2, false]]);
  });

  test('Carol’s message reaches both of Alice’s devices; the browser’s reply reaches Carol and is Alice’s own on her CLI; her CLI message is hers in the browser', async () => {
    const p = page();
    await cli.run(['send', '--profile', carol(), '--to', aliceId, 'Alice, can you see the new ECG?']);
    const conv = p.locator('nav').getByRole('button', { name: new RegExp(CAROL) });
    await conv.waitFor({ timeout: 20_000 });
    await conv.click();
    await p.locator('.message.theirs .text', { hasText: 'Alice, can you see the new ECG?' }).waitFor({ timeout: 20_000 });
    assert.match(await cli.run(['inbox', '--profile', alice(), '--wait', '1']), /Alice, can you see the new ECG\?/);

    await p.getByRole('textbox', { name: 'Message' }).fill('Yes — from my browser: sinus rhythm.');
    await p.getByRole('textbox', { name: 'Message' }).press('Enter');
    await p.locator('.message.mine', { hasText: 'Yes — from my browser' }).locator('.status', { hasText: /Sent|Delivered|Read/ }).waitFor({ timeout: 20_000 });
    assert.match(await cli.run(['inbox', '--profile', carol(), '--wait', '1']), /Yes — from my browser: sinus rhythm\./);
    await cli.run(['inbox', '--profile', alice(), '--wait', '1']);
    const hist = (await cli.run(['history', '--profile', alice(), '--with', carolId, '--json']))
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { from: string; text?: string; body?: string });
    const own = hist.find((h) => JSON.stringify(h).includes('from my browser: sinus rhythm'));
    assert.ok(own, `not in Alice's CLI history: ${JSON.stringify(hist)}`);
    assert.equal(own.from, aliceId, 'her CLI has it as sent by her');

    await cli.run(['send', '--profile', alice(), '--to', carolId, 'And from my terminal: thanks.']);
    await p.locator('.message.mine', { hasText: 'And from my terminal: thanks.' }).waitFor({ timeout: 20_000 });
    assert.equal(await p.locator('.message.theirs', { hasText: 'And from my terminal' }).count(), 0);
  });

  test('the Devices screen lists her devices and links a second browser with its code (the spent CLI code refused); the first browser revokes it: locked out and erased', async () => {
    const p = page();
    await openDevices(p);
    await deviceItem(p, 'This browser').locator('.chip', { hasText: 'this device' }).waitFor();
    await deviceItem(p, 'Device 1').waitFor();
    assert.match(await deviceItem(p, 'This browser').innerText(), /Device 2, enrolled/);
    await audit(p, 'list');
    // Revoking this browser from here warns apart (signed out and erased); cancelled.
    await deviceItem(p, 'This browser').getByRole('button', { name: 'Revoke this browser' }).click();
    const self = p.getByRole('dialog', { name: 'Revoke this browser?' });
    await self.locator('.warning', { hasText: 'its keys and every message stored in it are erased now' }).waitFor();
    await self.getByText('Your other devices keep working', { exact: false }).waitFor();
    await self.getByRole('button', { name: 'Cancel' }).click();
    await self.waitFor({ state: 'detached' });
    assert.equal(await sealedRecords(p), 3, 'nothing erased on Cancel');

    await p.getByRole('button', { name: 'Link a new device' }).click();
    const panel = p.locator('.device-code-panel');
    await panel.waitFor();
    const code = (await panel.locator('.device-code').getAttribute('data-code')) ?? '';
    assert.match(code, /^cbs_dev_[A-Za-z0-9_-]+$/);
    const groups = await panel.locator('.code-group').allInnerTexts();
    assert.equal(`cbs_dev_${groups.join('')}`, code, 'the groups are the code');
    assert.ok(groups.slice(0, -1).every((g) => g.length === 4));
    assert.equal(await panel.locator('svg.qr path').count(), 1, 'the QR code');
    await panel.getByText(/^Valid once, until .+ \(15 minutes\)\./).waitFor();
    assert.equal(await p.getByRole('button', { name: 'Issue another code' }).count(), 1);
    await audit(p, 'code', '.device-code-panel h4');

    b = await launchProfile();
    watch(b.page, 'second browser');
    const q = b.page;
    // The QR code's link: the form opens on linking, the code filled in.
    await q.goto(`${server.url}/#invite=${code}`);
    assert.equal(await q.getByLabel('I already use Curbside on another device').isChecked(), true);
    assert.equal(await q.getByLabel('Device code').inputValue(), code);
    // The CLI's code was spent by the first browser.
    await link(q, firstCode);
    await fieldError(q, 'Device code').getByText(/does not know this code, or it was already used/).waitFor({ timeout: 90_000 });
    await link(q, code);
    await q.getByRole('button', { name: 'Lock' }).waitFor({ timeout: 90_000 });
    await q.locator('.me', { hasText: ALICE }).waitFor({ timeout: 20_000 });

    // The first browser saw it arrive.
    await p.getByText('Device 3 is linked', { exact: false }).waitFor({ timeout: 20_000 });
    await deviceItem(p, 'Device 3').waitFor();
    assert.equal(await panel.count(), 0, 'the spent code is no longer shown');
    assert.deepEqual(await cliDevices(), [[1, false], [2, false], [3, false]]);

    await deviceItem(p, 'Device 3').getByRole('button', { name: 'Revoke Device 3' }).click();
    const dialog = p.getByRole('dialog', { name: 'Revoke Device 3?' });
    await dialog.waitFor();
    for (const v of await seriousViolations(p)) violations.push(`revoke dialog: ${v.impact} ${v.id} at ${v.targets.join(', ')}`);
    await p.screenshot({ path: join(shots, 'web-devices-revoke-dialog-1440.png') });
    await dialog.getByRole('button', { name: 'Revoke Device 3' }).click();
    await p.getByText('Device 3 is revoked: it no longer receives your messages', { exact: false }).waitFor({ timeout: 20_000 });
    await p.locator('.devices-revoked li.device', { hasText: 'Device 3' }).waitFor();

    await q.getByRole('heading', { name: 'This browser is no longer linked to your account' }).waitFor({ timeout: 20_000 });
    await q.getByText('Your keys and the messages stored in this browser have been erased from it.').waitFor();
    assert.equal(await sealedRecords(q), 0, 'the second browser’s sealed state is erased');
    assert.equal(await q.title(), 'Signed out — Curbside');
    await audit(q, 'locked-out');
    await q.reload();
    await q.getByRole('heading', { name: 'Enroll this browser' }).waitFor({ timeout: 20_000 });

    assert.deepEqual(await cliDevices(), [[1, false], [2, false], [3, true]], 'the CLI confirms: device 3 revoked');
  });

  test('the CLI revokes the browser: it shows the locked-out screen, erased, and offers to link again', async () => {
    const p = page();
    await p.getByRole('button', { name: 'Back to messages' }).click();
    await cli.run(['devices', 'revoke', '--profile', alice(), '2']);
    await p.getByRole('heading', { name: 'This browser is no longer linked to your account' }).waitFor({ timeout: 20_000 });
    await p.getByText('It was revoked, from another of your devices or by an administrator', { exact: false }).waitFor();
    assert.equal(await sealedRecords(p), 0, 'the sealed state is erased');
    await p.getByRole('button', { name: 'Link this browser again' }).click();
    assert.equal(await p.getByLabel('I already use Curbside on another device').isChecked(), true);
    assert.deepEqual(await cliDevices(), [[1, false], [2, true], [3, true]]);
  });

  test('no serious or critical accessibility violation (axe-core, 390×844 and 1440×900); no script error, nothing the CSP refused', () => {
    assert.deepEqual(violations, []);
    assert.deepEqual(pageErrors, []);
  });
}
