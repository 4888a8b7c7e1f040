// Enrolling in the browser without NPI or specialty (issue 17), in real
// headless Chromium against a real `curbside serve` and the real CLI's
// invites: a compliance officer's link (`#invite=…&role=compliance_officer`,
// as the admin console writes it) opens the form with "I am a compliance
// officer" checked and no NPI asked, and enrolls (the Audit button); the
// same link pasted into the Invite field checks it too; a clinician's
// invite tried as an officer is refused by the server, the error on the
// NPI field (shown again, focused), and then enrolls a clinician with the
// same invite (it was not used). axe-core on the officer's form at
// 1440×900 and 390×844, and on the refusal (screenshots
// web-enroll-officer-*.png, web-enroll-officer-refused-*.png).

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import type { BrowserContext, Page } from 'playwright-core';

import { npi } from '../live-helpers.js';
import { seriousViolations } from './checks.js';
import { browserMissing, cleanup, Cli, DESKTOP, launchProfile, PHONE, SCREENSHOTS, startWebServer, type WebServer } from './world.js';

const missing = browserMissing();
if (missing !== undefined) {
  console.error(`\n*** ${missing} ***\n`);
  test('enrolling without NPI in the browser', (t) => {
    assert.notEqual(process.env['CI'], 'true', missing);
    t.skip(missing);
  });
} else {
  enrollRoles();
}

function enrollRoles(): void {
  const PASS = 'sealed under a long passphrase 42';
  let server: WebServer;
  let cli: Cli;
  const contexts: BrowserContext[] = [];
  const dirs: string[] = [];
  const violations: string[] = [];
  const pageErrors: string[] = [];
  const OFFICER_BOX = 'I am a compliance officer';

  const open = async (): Promise<Page> => {
    const p = await launchProfile();
    contexts.push(p.context);
    dirs.push(p.profileDir);
    p.page.on('pageerror', (e) => pageErrors.push(e.message));
    p.page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) pageErrors.push(`CSP: ${m.text()}`);
    });
    return p.page;
  };
  const officerInvite = async (): Promise<string> => {
    const out = await cli.run(['admin', 'invite', '--profile', cli.profile('admin'), '--role', 'compliance_officer']);
    const m = /cbs_inv_[A-Za-z0-9_-]+/.exec(out);
    assert.ok(m, out);
    return m[0];
  };
  const passphrase = async (p: Page): Promise<void> => {
    await p.getByLabel('Passphrase', { exact: true }).fill(PASS);
    await p.getByLabel('Passphrase again').fill(PASS);
  };
  const enrolled = async (p: Page): Promise<void> => {
    await p.getByRole('button', { name: 'Enroll this browser' }).click();
    await p.locator('button.lock, .form-error:not(:empty), .field-error:not(:empty)').first().waitFor({ timeout: 90_000 });
    assert.deepEqual(await p.locator('.form-error:not(:empty), .field-error:not(:empty)').allInnerTexts(), [], 'the enrollment is refused');
    await p.getByRole('button', { name: 'Lock' }).waitFor({ timeout: 90_000 });
  };

  const shoot = async (page: Page, screen: string): Promise<void> => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    for (const [size, viewport] of [['1440', DESKTOP], ['390', PHONE]] as const) {
      await page.setViewportSize(viewport);
      await page.waitForTimeout(150);
      for (const v of await seriousViolations(page)) violations.push(`${screen} form at ${size}: ${v.impact} ${v.id} (${v.help}) at ${v.targets.join(', ')}`);
      await page.screenshot({ path: join(SCREENSHOTS, `web-enroll-${screen}-${size}.png`), fullPage: true });
    }
    await page.setViewportSize(DESKTOP);
  };

  before(async () => {
    server = await startWebServer();
    cli = new Cli(server);
    await cli.bootstrap();
  });

  after(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await server?.stop();
    if (cli) cleanup(cli.dir);
    for (const d of dirs) cleanup(d);
  });

  test('an officer’s link (&role=compliance_officer, as `curbside admin invite` prints it): the box checked, no NPI or specialty asked; enrolled, they see Audit', async () => {
    const page = await open();
    const out = await cli.run(['admin', 'invite', '--profile', cli.profile('admin'), '--role', 'compliance_officer']);
    const link = /Enroll in the browser: (https:\/\/\S+#invite=cbs_inv_[A-Za-z0-9_-]+&role=compliance_officer) /.exec(out)?.[1];
    assert.ok(link, `the CLI prints the officer's link with its role: ${out}`);
    assert.ok(link.startsWith(`${server.url}/`), `${link} is this server's address`);
    await page.goto(link);
    await page.getByRole('heading', { name: 'Enroll this browser' }).waitFor();
    assert.equal(await page.getByLabel(OFFICER_BOX).isChecked(), true);
    assert.match(await page.getByLabel('Invite').inputValue(), /^cbs_inv_[A-Za-z0-9_-]+$/, 'the token, without the role');
    assert.equal(await page.getByLabel('NPI').isVisible(), false);
    assert.equal(await page.getByLabel('Specialty').isVisible(), false);
    await page.getByLabel('Full name').fill('Olive Officer');
    await passphrase(page);
    await shoot(page, 'officer');
    await enrolled(page);
    await page.getByRole('button', { name: 'Audit' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Admin' }).isVisible(), false);
    assert.match(await cli.run(['admin', 'users', '--profile', cli.profile('admin'), '--json']), /Olive Officer/);
  });

  test('the officer’s link pasted into the Invite field checks the box; unchecking it asks NPI and specialty again', async () => {
    const page = await open();
    await page.goto(`${server.url}/`);
    await page.getByLabel('Invite').fill(`${server.url}/#invite=${await officerInvite()}&role=compliance_officer`);
    assert.equal(await page.getByLabel(OFFICER_BOX).isChecked(), true);
    await page.getByLabel(OFFICER_BOX).uncheck();
    await page.getByLabel('NPI').waitFor();
    await page.getByLabel(OFFICER_BOX).check();
    await page.getByLabel('NPI').waitFor({ state: 'hidden' });
    await page.getByLabel('Full name').fill('Oscar Officer');
    await passphrase(page);
    await enrolled(page);
    await page.getByRole('button', { name: 'Audit' }).waitFor();
  });

  test('a clinician’s invite tried as an officer: refused, the error on the NPI field; with NPI and specialty the same invite enrolls', async () => {
    const page = await open();
    await page.goto(`${server.url}/`);
    const invite = await cli.invite(); // a clinician's
    await page.getByLabel('Invite').fill(invite);
    await page.getByLabel(OFFICER_BOX).check();
    await page.getByLabel('Full name').fill('Dr. Nadia Nwosu');
    await passphrase(page);
    await page.getByRole('button', { name: 'Enroll this browser' }).click();
    const npiField = page.getByLabel('NPI');
    await npiField.waitFor({ timeout: 90_000 });
    assert.equal(await page.getByLabel(OFFICER_BOX).isChecked(), false, 'the box unchecked: NPI and specialty asked');
    assert.equal(await npiField.getAttribute('aria-invalid'), 'true');
    const described = ((await npiField.getAttribute('aria-describedby')) ?? '').split(' ').pop() as string;
    assert.match(await page.locator(`[id="${described}"]`).innerText(), /^This invite is for a clinician, not a compliance officer: enter your 10-digit NPI and your specialty/);
    assert.ok(await npiField.evaluate((el) => el === document.activeElement), 'focus on the NPI');
    assert.equal(await page.locator('.form-error:not(:empty)').count(), 0, 'no form-wide error');
    await shoot(page, 'officer-refused');
    await npiField.fill(npi('923456789'));
    await page.getByLabel('Specialty').fill('Nephrology');
    await enrolled(page);
    assert.equal(await page.getByRole('button', { name: 'Audit' }).isVisible(), false, 'a clinician has no Audit button');
    const users = await cli.run(['admin', 'users', '--profile', cli.profile('admin'), '--json']);
    assert.match(users, /Dr\. Nadia Nwosu/);
    assert.match(users, new RegExp(npi('923456789')));
  });

  test('no serious or critical axe violation; no page error', () => {
    assert.deepEqual(violations, []);
    assert.deepEqual(pageErrors, []);
  });
}
