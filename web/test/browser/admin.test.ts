// The administrator's console in the browser (issue 17), on SQLite and PostgreSQL, in real headless
// Chromium against a real `curbside serve`: the first administrator enrolls
// in browser A with the bootstrap token from the server's output (no NPI, no
// specialty), issues a clinician invite; browser B opens the invite link and
// enrolls as Dr. Xavier Xu; the admin sees him pending with his NPI's check
// digit valid and verifies him, and a CLI clinician (enrolled with another
// invite from the console) then finds him in the directory; a device invite
// is issued for him; the admin grants the compliance officer role to the CLI
// clinician, revokes a second CLI clinician's device (the CLI then fails
// with device_revoked) and deactivates him; each result says it was
// audited, and `curbside audit query` as the new officer lists the entries.
// axe-core at 1440×900 and 390×844 (screenshots: SCREENSHOTS in world.ts,
// copies in /tmp/admin-*.png).

import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import type { BrowserContext, Page } from 'playwright-core';

import { npi } from '../live-helpers.js';
import { seriousViolations } from './checks.js';
import { backends, browserMissing, cleanup, Cli, DESKTOP, launchProfile, PHONE, SCREENSHOTS, skippedTest, startWebServer, type Backend, type WebServer } from './world.js';

const missing = browserMissing();
if (missing !== undefined) {
  skippedTest('the admin console in the browser', missing);
} else {
  for (const b of backends()) {
    if (b.missing !== undefined) skippedTest(`the admin console in the browser, on ${b.backend}`, b.missing);
    else describe(`the admin console in the browser, on ${b.backend}`, () => admin(b.backend));
  }
}

function admin(backend: Backend): void {
  const PASS = 'sealed under a long passphrase 42';
  const ADMIN = 'Ada Admin';
  const XAVIER = 'Dr. Xavier Xu';
  const CAROL = 'Dr. Carol Chen';
  const DAVE = 'Dr. Dave Diaz';
  let server: WebServer;
  let cli: Cli;
  const contexts: BrowserContext[] = [];
  const dirs: string[] = [];
  let page: Page;
  const violations: string[] = [];
  const pageErrors: string[] = [];

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
  const enrollIn = async (p: Page, name: string, nine?: string): Promise<void> => {
    await p.getByLabel('Full name').fill(name);
    if (nine !== undefined) {
      await p.getByLabel('NPI').fill(npi(nine));
      await p.getByLabel('Specialty').fill('Nephrology');
    }
    await p.getByLabel('Passphrase', { exact: true }).fill(PASS);
    await p.getByLabel('Passphrase again').fill(PASS);
    await p.getByRole('button', { name: 'Enroll this browser' }).click();
    await p.getByRole('button', { name: 'Lock' }).waitFor({ timeout: 90_000 });
  };
  const status = () => page.locator('.admin-status');
  const row = (name: string) => page.locator('tr', { has: page.locator('th', { hasText: name }) });
  const issueInvite = async (role: 'clinician' | 'compliance_officer' = 'clinician'): Promise<string> => {
    const field = page.locator('.invite-link');
    const previous = (await field.count()) > 0 ? await field.inputValue() : '';
    await page.getByLabel('Role').selectOption(role);
    await page.getByRole('button', { name: 'Issue invite' }).click();
    await status().getByText(`Invite for a ${role === 'clinician' ? 'clinician' : 'compliance officer'} issued — recorded in the audit log.`, { exact: false }).waitFor();
    let link = previous;
    for (let i = 0; i < 50 && link === previous; i++) {
      link = await field.inputValue();
      if (link === previous) await page.waitForTimeout(100);
    }
    const m = /#invite=(cbs_inv_[A-Za-z0-9_-]+)$/.exec(link);
    assert.ok(m, `an invite link: ${link}`);
    assert.ok(link.startsWith(server.url), link);
    return m[1] as string;
  };
  const cliEnroll = async (profile: string, name: string, nine: string): Promise<void> => {
    await cli.run(['enroll', '--profile', cli.profile(profile), '--invite', await issueInvite(), '--name', name, '--npi', npi(nine), '--specialty', 'Cardiology', ...cli.where()]);
  };
  const shoot = async (screen: string, scrollTo?: string): Promise<void> => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    for (const [size, viewport] of [['1440', DESKTOP], ['390', PHONE]] as const) {
      await page.setViewportSize(viewport);
      if (scrollTo !== undefined) await page.locator(scrollTo).scrollIntoViewIfNeeded();
      await page.waitForTimeout(150);
      for (const v of await seriousViolations(page)) violations.push(`${screen} at ${size}: ${v.impact} ${v.id} (${v.help}) at ${v.targets.join(', ')}`);
      const path = join(SCREENSHOTS, `web-admin-${screen}-${size}.png`);
      await page.screenshot({ path, fullPage: true });
      copyFileSync(path, `/tmp/admin-${screen}-${size}.png`);
    }
    await page.setViewportSize(DESKTOP);
  };

  before(async () => {
    server = await startWebServer({ backend });
    cli = new Cli(server);
    page = await open();
    await page.goto(server.url);
  });

  after(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await server?.stop();
    if (cli) cleanup(cli.dir);
    for (const d of dirs) cleanup(d);
  });

  test('the first administrator enrolls in the browser with the bootstrap token, without NPI or specialty; only they see Admin', async () => {
    await page.getByLabel('Invite').fill(server.token);
    await enrollIn(page, ADMIN);
    await page.getByRole('button', { name: 'Admin' }).click();
    await page.getByRole('heading', { name: 'Administration' }).waitFor();
    await row(ADMIN).getByText('Administrator').waitFor();
  });

  test('an invite link opened in browser B enrolls Dr. Xavier Xu; the admin sees him pending with a valid check digit and verifies him', async () => {
    const invite = await issueInvite();
    assert.equal(await page.locator('.invite-panel svg.qr').count(), 1, 'the invite has a QR code');
    await shoot('invite');
    const b = await open();
    await b.goto(`${server.url}/#invite=${invite}`);
    await enrollIn(b, XAVIER, '423456789');
    assert.equal(await b.getByRole('button', { name: 'Admin' }).isVisible(), false, 'a clinician has no Admin button');
    await page.getByRole('button', { name: 'Reload' }).click();
    const x = row(XAVIER);
    await x.getByText('Pending verification').waitFor();
    await x.getByText('check digit valid').waitFor();
    assert.equal(await page.locator('tbody tr').first().locator('th').innerText(), XAVIER, 'pending clinicians first');
    await shoot('users', '#admin-users-title');
    await x.getByRole('button', { name: `Verify: ${XAVIER}` }).click();
    await status().getByText(`Verified ${XAVIER} — recorded in the audit log.`).waitFor();
    await x.getByText('Verified', { exact: true }).waitFor();
    // A CLI clinician, enrolled with an invite from the console and verified there, finds him.
    await cliEnroll('carol', CAROL, '523456789');
    await page.getByRole('button', { name: 'Reload' }).click();
    await row(CAROL).getByRole('button', { name: `Verify: ${CAROL}` }).click();
    await status().getByText(`Verified ${CAROL} — recorded in the audit log.`).waitFor();
    const found = await cli.run(['directory', '--profile', cli.profile('carol'), '--name', 'Xavier']);
    assert.match(found, /Xavier Xu/);
  });

  test('a device invite for a locked-out clinician is shown as a link and a QR code', async () => {
    await row(XAVIER).getByRole('button', { name: `Device invite: ${XAVIER}` }).click();
    await status().getByText(`Device invite for ${XAVIER} issued — recorded in the audit log.`, { exact: false }).waitFor();
    assert.match(await page.locator('.invite-link').inputValue(), /#invite=cbs_dev_[A-Za-z0-9_-]+$/);
    await page.getByText(`Device invite for ${XAVIER}`, { exact: true }).waitFor();
  });

  test('grant compliance officer, revoke a device (the CLI then fails with device_revoked), deactivate; each audited, as `curbside audit query` lists', async () => {
    await row(CAROL).getByRole('button', { name: `Grant compliance officer: ${CAROL}` }).click();
    await status().getByText(`Granted compliance officer to ${CAROL} — recorded in the audit log.`).waitFor();
    await row(CAROL).getByText('Clinician, Compliance officer').waitFor();

    await cliEnroll('dave', DAVE, '623456789');
    await page.getByRole('button', { name: 'Reload' }).click();
    await row(DAVE).getByRole('button', { name: 'Revoke device 1' }).click();
    const dialog = page.getByRole('dialog', { name: `Revoke device 1 of ${DAVE}?` });
    await dialog.waitFor();
    await shoot('revoke-dialog');
    await dialog.getByRole('button', { name: 'Revoke device' }).click();
    await status().getByText(`Revoked device 1 of ${DAVE} — recorded in the audit log.`).waitFor();
    await assert.rejects(cli.run(['inbox', '--profile', cli.profile('dave'), '--wait', '1']), /device_revoked/);

    await row(DAVE).getByRole('button', { name: `Deactivate: ${DAVE}` }).click();
    const confirm = page.getByRole('dialog', { name: `Deactivate ${DAVE}?` });
    await confirm.getByText(`${DAVE} will lose access`).waitFor();
    await confirm.getByRole('button', { name: `Deactivate ${DAVE}` }).click();
    await status().getByText(`Deactivated ${DAVE} (0 devices revoked) — recorded in the audit log.`).waitFor();
    await row(DAVE).getByText('Deactivated').waitFor();
    await shoot('after', 'tbody tr:last-child');

    const log = await cli.run(['audit', 'query', '--profile', cli.profile('carol'), '--json', '--limit', '1000']);
    const actions = log.split('\n').filter((l) => l.trim().startsWith('{')).map((l) => (JSON.parse(l) as { entry?: { action?: string; actor_role?: string } }).entry);
    for (const a of ['user.verified', 'invite.created', 'role.granted', 'device.revoked', 'user.deactivated']) {
      assert.ok(actions.some((e) => e?.action === a && e.actor_role === 'admin'), `${a} by the admin in the audit log: ${log.slice(0, 600)}`);
    }
  });

  test('axe-core: no serious or critical violation on the admin screens; no page error or CSP refusal', () => {
    assert.deepEqual(violations, []);
    assert.deepEqual(pageErrors, []);
  });
}
