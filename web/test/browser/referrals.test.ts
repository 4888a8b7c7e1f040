// Referrals in the browser application (issue 17), on SQLite and PostgreSQL, in real headless
// Chromium against a real `curbside serve` and a CLI clinician: a referral
// made in the browser's form (a field error first, then fixed), accepted and
// completed by the CLI, each transition seen live; one made by the CLI to
// the browser user, shown with its patient and accepted in the browser (the
// CLI lists it so); one declined from the browser with a reason `refer
// show` reads, and one cancelled so; the downloaded Bundle is valid FHIR R4
// and the attachment downloads decrypted; while the page is hidden,
// notifications for a referral received (the referrer and the priority,
// never the patient) and for one sent answered (accepted, completed), and
// the Referrals button's count of those to answer; axe-core on the
// inbox, the detail, the form and the badge at 1440×900 and 390×844 (screenshots: see
// SCREENSHOTS in world.ts; copies in /tmp/refui-*.png).

import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import type { BrowserContext, Page } from 'playwright-core';

import { fhirR4Problems } from '../referrals-fhir.js';
import { seriousViolations } from './checks.js';
import { backends, browserMissing, cleanup, Cli, DESKTOP, launchProfile, PHONE, SCREENSHOTS, skippedTest, startWebServer, type Backend, type WebServer } from './world.js';

const missing = browserMissing();
if (missing !== undefined) {
  skippedTest('referrals in the browser', missing);
} else {
  for (const b of backends()) {
    if (b.missing !== undefined) skippedTest(`referrals in the browser, on ${b.backend}`, b.missing);
    else describe(`referrals in the browser, on ${b.backend}`, () => referrals(b.backend));
  }
}

function referrals(backend: Backend): void {
  const PASS = 'sealed under a long passphrase 42';
  const ALICE = 'Dr. Alice Adeyemi';
  const BOB = 'Dr. Bob Brennan';
  let server: WebServer;
  let cli: Cli;
  let context: BrowserContext;
  let page: Page;
  let profileDir: string;
  let aliceId: string;
  let bobId: string;
  const violations: string[] = [];
  const pageErrors: string[] = [];
  const bob = (): string => cli.profile('bob');
  const bobSync = (): Promise<string> => cli.run(['sync', '--profile', bob(), '--wait', '1']);

  const audit = async (screen: string, phone?: () => Promise<void>): Promise<void> => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    for (const [size, viewport] of [['1440', DESKTOP], ['390', PHONE]] as const) {
      await page.setViewportSize(viewport);
      if (size === '390' && phone) await phone();
      await page.waitForTimeout(150);
      for (const v of await seriousViolations(page)) violations.push(`${screen} at ${size}: ${v.impact} ${v.id} (${v.help}) at ${v.targets.join(', ')}`);
      const path = join(SCREENSHOTS, `web-referral-${screen}-${size}.png`);
      await page.screenshot({ path, fullPage: true });
      copyFileSync(path, `/tmp/refui-${screen}-${size}.png`);
    }
    await page.setViewportSize(DESKTOP);
  };
  const item = (id: string) => page.locator(`button[data-referral="${id}"]`);
  const detail = () => page.locator('.ref-detail');

  before(async () => {
    server = await startWebServer({ backend });
    cli = new Cli(server);
    await cli.bootstrap();
    bobId = await cli.clinician('bob', BOB, '123456789', 'Dermatology');
    ({ context, page, profileDir } = await launchProfile());
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) pageErrors.push(`CSP: ${m.text()}`);
    });
    const invite = await cli.invite();
    await page.goto(`${server.url}/#invite=${invite}`);
    await page.getByLabel('Full name').fill(ALICE);
    await page.getByLabel('NPI').fill((await import('../live-helpers.js')).npi('323456789'));
    await page.getByLabel('Specialty').fill('Internal Medicine');
    await page.getByLabel('Passphrase', { exact: true }).fill(PASS);
    await page.getByLabel('Passphrase again').fill(PASS);
    await page.getByRole('button', { name: 'Enroll this browser' }).click();
    await page.getByRole('button', { name: 'Lock' }).waitFor({ timeout: 90_000 });
    await page.getByText('Online').waitFor({ timeout: 20_000 });
    aliceId = await cli.userId(ALICE);
    await cli.verifyUser(aliceId);
    // Bob knows Alice's keys (a message first, as a colleague would).
    await cli.run(['send', '--profile', bob(), '--to', aliceId, 'Hello Alice']);
  });

  after(async () => {
    await context?.close().catch(() => undefined);
    await server?.stop();
    if (cli) cleanup(cli.dir);
    if (profileDir) cleanup(profileDir);
  });

  let first = '';
  test('browser → CLI: the form shows a field error, fixed, the referral goes; accepted and completed by the CLI, live', async () => {
    await page.getByRole('button', { name: 'Referrals' }).click();
    await page.getByText('No referrals yet. Use New referral to send one.').waitFor();
    await page.getByRole('button', { name: 'New referral' }).click();
    await page.getByLabel('Family name').fill('Roe');
    await page.getByLabel('Given names').fill('Jane');
    await page.getByLabel('Birth date').fill('1961-02-30');
    await page.getByLabel('Administrative sex').selectOption('female');
    await page.getByLabel('MRN', { exact: true }).fill('MRN-0042');
    await page.getByLabel('MRN system').fill('http://hospital.example.org/mrn');
    await page.getByLabel('Reason for referral').fill('Pruritic rash, 3 weeks');
    await page.getByLabel('Note (history, findings)').fill('No response to topical steroids.');
    await page.getByLabel('Priority').selectOption('urgent');
    await page.getByLabel('Target specialty').fill('Dermatology');
    await page.getByLabel('Receiving clinician').fill('Bob');
    await page.getByRole('button', { name: 'Find clinician' }).click();
    await page.getByRole('list', { name: 'Clinicians found' }).getByRole('button', { name: /Dr\. Bob Brennan/ }).click();
    await page.getByText(`Referring to ${BOB} (Dermatology)`).waitFor();
    await page.getByLabel('Attachments').setInputFiles({ name: 'rash.txt', mimeType: 'text/plain', buffer: Buffer.from('a photo, in words') });
    await page.getByRole('button', { name: 'Send referral' }).click();
    await page.getByText('Birth date must be a date like 1961-04-02.').waitFor();
    const bd = page.getByLabel('Birth date');
    assert.equal(await bd.getAttribute('aria-invalid'), 'true');
    assert.ok(await bd.evaluate((el) => el === document.activeElement), 'focus on the first invalid field');
    const described = (await bd.getAttribute('aria-describedby')) ?? '';
    assert.match(await page.locator(`[id="${described.split(' ').pop() as string}"]`).innerText(), /Birth date must be a date/);
    await audit('form');
    await bd.fill('1961-04-02');
    await page.getByRole('button', { name: 'Send referral' }).click();
    await detail().getByRole('heading', { name: 'Referral: Jane Roe' }).waitFor({ timeout: 20_000 });
    first = (await page.locator('button[data-referral]').first().getAttribute('data-referral')) as string;
    assert.match(first, /^r[0-9a-f]{16}$/);
    await detail().getByText('Requested').waitFor();

    await bobSync();
    const shown = await cli.run(['refer', 'show', '--profile', bob(), first]);
    assert.match(shown, /patient: Jane Roe/);
    assert.match(shown, /attachment: rash\.txt/);
    await cli.run(['refer', 'accept', '--profile', bob(), first]);
    await detail().getByText('Accepted', { exact: true }).waitFor({ timeout: 20_000 });
    assert.match(await item(first).innerText(), /Accepted/);
    await cli.run(['refer', 'complete', '--profile', bob(), first]);
    await detail().getByText('Completed', { exact: true }).waitFor({ timeout: 20_000 });
    assert.match(await item(first).innerText(), /Urgent/);
  });

  let second = '';
  test('CLI → browser: the referral is in the inbox with its patient and names; accepted in the browser, the CLI lists it accepted', async () => {
    const patient = join(cli.dir, 'patient.json');
    writeFileSync(patient, JSON.stringify({ resourceType: 'Patient', identifier: [{ system: 'http://hospital.example.org/mrn', value: 'MRN-7' }], name: [{ family: 'Doe', given: ['John'] }], birthDate: '1950-01-15', gender: 'male' }));
    const created = await cli.run(['refer', 'create', '--profile', bob(), '--to', aliceId, '--specialty', 'Internal Medicine', '--priority', 'stat', '--patient', patient, '--note', 'Chest pain on exertion']);
    second = created.split(/\s+/)[1] as string;
    await item(second).filter({ hasText: 'John Doe' }).waitFor({ timeout: 20_000 });
    const text = await item(second).innerText();
    assert.match(text, /STAT/);
    assert.match(text, /Requested/);
    assert.match(text, new RegExp(`From ${BOB}`));
    assert.ok(!(await page.locator('body').innerText()).includes(bobId), 'no user id on screen');
    await item(second).click();
    await detail().getByText('Chest pain on exertion').waitFor();
    await audit('detail', async () => undefined);
    await detail().getByRole('button', { name: 'Accept' }).click();
    await detail().getByText('Accepted', { exact: true }).waitFor({ timeout: 20_000 });
    assert.match(await cli.run(['refer', 'list', '--profile', bob()]), new RegExp(`${second}\\s+accepted`));
    await audit('inbox', async () => {
      const back = page.getByRole('button', { name: 'Back to referrals' });
      if (await back.isVisible()) await back.click();
    });
  });

  test('decline from the browser with a reason: the CLI’s refer show reads it', async () => {
    const created = await cli.run(['refer', 'create', '--profile', bob(), '--to', aliceId, '--specialty', 'Internal Medicine', '--patient', join(cli.dir, 'patient.json')]);
    const third = created.split(/\s+/)[1] as string;
    await item(third).filter({ hasText: 'John Doe' }).waitFor({ timeout: 20_000 });
    await item(third).click();
    await detail().getByRole('button', { name: 'Decline…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Decline the referral' });
    await dialog.getByLabel('Reason').fill('Not accepting new patients this month');
    await dialog.getByRole('button', { name: 'Decline' }).click();
    await detail().getByText('Declined', { exact: true }).waitFor({ timeout: 20_000 });
    await detail().getByText('Not accepting new patients this month').waitFor();
    await bobSync();
    const shown = await cli.run(['refer', 'show', '--profile', bob(), third]);
    assert.match(shown, /declined/);
    assert.match(shown, /reason: Not accepting new patients this month/);
  });

  test('cancel from the browser (the referring side) with a reason: the CLI’s refer show reads it', async () => {
    await page.getByRole('button', { name: 'New referral' }).click();
    await page.getByLabel('Family name').fill('Poe');
    await page.getByLabel('Reason for referral').fill('Second opinion');
    await page.getByLabel('Target specialty').fill('Dermatology');
    await page.getByLabel('Receiving clinician').fill('Brennan');
    await page.getByLabel('Receiving clinician').press('Enter');
    await page.getByRole('list', { name: 'Clinicians found' }).getByRole('button', { name: /Dr\. Bob Brennan/ }).click();
    await page.getByRole('button', { name: 'Send referral' }).click();
    await detail().getByRole('heading', { name: 'Referral: Poe' }).waitFor({ timeout: 20_000 });
    await detail().getByRole('button', { name: 'Cancel referral…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Cancel the referral' });
    await dialog.getByLabel('Reason').fill('Patient moved away');
    await dialog.getByRole('button', { name: 'Cancel referral' }).click();
    await detail().getByText('Cancelled', { exact: true }).waitFor({ timeout: 20_000 });
    const id = (await page.locator('button[data-referral][aria-current="true"]').getAttribute('data-referral')) as string;
    await bobSync();
    const shown = await cli.run(['refer', 'show', '--profile', bob(), id]);
    assert.match(shown, /cancelled/);
    assert.match(shown, /reason: Patient moved away/);
  });

  test('Download FHIR Bundle: a valid FHIR R4 transaction Bundle named referral-<short id>.json', async () => {
    await item(first).click();
    await detail().getByRole('heading', { name: 'Referral: Jane Roe' }).waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), detail().getByRole('button', { name: 'Download FHIR Bundle' }).click()]);
    assert.equal(download.suggestedFilename(), `referral-${first.slice(0, 9)}.json`);
    const path = await download.path();
    const bundle = JSON.parse(readFileSync(path, 'utf8')) as { resourceType: string; type: string };
    assert.equal(bundle.resourceType, 'Bundle');
    assert.equal(bundle.type, 'transaction');
    assert.deepEqual(fhirR4Problems(bundle), []);
    assert.match(JSON.stringify(bundle), /MRN-0042/);
    const [file] = await Promise.all([page.waitForEvent('download'), detail().getByRole('button', { name: /Download rash\.txt/ }).click()]);
    assert.equal(file.suggestedFilename(), 'rash.txt');
    assert.equal(readFileSync(await file.path(), 'utf8'), 'a photo, in words', 'the attachment, decrypted');
  });

  test('while the page is hidden: notifications for a new referral (who, priority; never the patient) and for one I sent answered; the Referrals button counts those to answer', async () => {
    const referralsButton = page.locator('button.nav-referrals');
    // Back to the messages: the button shows the count (none to answer: each one so far was answered).
    if ((await referralsButton.innerText()).trim() === 'Messages') await referralsButton.click();
    assert.equal((await referralsButton.innerText()).trim(), 'Referrals');
    assert.equal(await referralsButton.locator('.nav-badge').count(), 0, 'no badge with nothing to answer');
    await page.evaluate(`(() => {
      window.__notes = [];
      window.Notification = class { static permission = 'granted'; static requestPermission() { return Promise.resolve('granted'); }
        constructor(title, options) { window.__notes.push({ title, body: options && options.body, tag: options && options.tag }); } close() {} };
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
      document.dispatchEvent(new Event('visibilitychange'));
    })()`);
    const notes = async (n: number): Promise<{ title: string; body: string; tag: string }[]> => {
      // Polled with evaluate (CDP): waitForFunction evaluates its predicate with eval in the page, which the CSP refuses once it polls.
      for (const end = Date.now() + 20_000; ((await page.evaluate('window.__notes.length')) as number) < n; await page.waitForTimeout(50)) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${n} notifications`);
      }
      return (await page.evaluate('window.__notes')) as { title: string; body: string; tag: string }[];
    };
    const patient = join(cli.dir, 'patient.json'); // John Doe
    const created = await cli.run(['refer', 'create', '--profile', bob(), '--to', aliceId, '--specialty', 'Internal Medicine', '--priority', 'urgent', '--patient', patient, '--note', 'Syncope twice this week']);
    const urgent = created.split(/\s+/)[1] as string;
    const [n1] = await notes(1);
    assert.deepEqual(n1, { title: 'Curbside', body: `New referral from ${BOB} — urgent`, tag: `curbside-referral-${urgent}` });
    await page.locator('.nav-badge', { hasText: '1' }).waitFor({ timeout: 20_000 });
    await page.getByRole('button', { name: 'Referrals (1 to answer)' }).waitFor();
    await cli.run(['refer', 'create', '--profile', bob(), '--to', aliceId, '--specialty', 'Internal Medicine', '--patient', patient]);
    const [, n2] = await notes(2);
    assert.equal(n2?.body, `New referral from ${BOB} — routine`);
    await page.getByRole('button', { name: 'Referrals (2 to answer)' }).waitFor({ timeout: 20_000 });
    assert.equal((await referralsButton.locator('.nav-badge').innerText()).trim(), '2');
    await audit('badge');

    // One I send, then Bob answers it: accepted, then completed, each a notification naming him.
    await page.evaluate(`(() => { Object.defineProperty(document, 'hidden', { configurable: true, get: () => false }); document.dispatchEvent(new Event('visibilitychange')); })()`);
    await referralsButton.click();
    await page.getByRole('button', { name: 'New referral' }).click();
    await page.getByLabel('Family name').fill('Quinn');
    await page.getByLabel('Reason for referral').fill('Mole, changing');
    await page.getByLabel('Target specialty').fill('Dermatology');
    await page.getByLabel('Receiving clinician').fill('Brennan');
    await page.getByLabel('Receiving clinician').press('Enter');
    await page.getByRole('list', { name: 'Clinicians found' }).getByRole('button', { name: /Dr\. Bob Brennan/ }).click();
    await page.getByRole('button', { name: 'Send referral' }).click();
    await detail().getByRole('heading', { name: 'Referral: Quinn' }).waitFor({ timeout: 20_000 });
    const mine = (await page.locator('button[data-referral][aria-current="true"]').getAttribute('data-referral')) as string;
    assert.equal((await notes(2)).length, 2, 'nothing for my own referral, nor while the page is visible');
    await page.evaluate(`(() => { Object.defineProperty(document, 'hidden', { configurable: true, get: () => true }); document.dispatchEvent(new Event('visibilitychange')); })()`);
    await bobSync();
    await cli.run(['refer', 'accept', '--profile', bob(), mine]);
    const [, , n3] = await notes(3);
    assert.deepEqual(n3, { title: 'Curbside', body: `Your referral was accepted by ${BOB}`, tag: `curbside-referral-${mine}` });
    await cli.run(['refer', 'complete', '--profile', bob(), mine]);
    const all = await notes(4);
    assert.equal(all[3]?.body, `Your referral was completed by ${BOB}`);
    for (const n of all) {
      for (const secret of ['John', 'Doe', 'Quinn', 'Syncope', 'Mole', bobId, aliceId]) assert.ok(!`${n.title} ${n.body}`.includes(secret), `no ${secret} in ${n.body}`);
    }
    await page.evaluate(`(() => { Object.defineProperty(document, 'hidden', { configurable: true, get: () => false }); document.dispatchEvent(new Event('visibilitychange')); })()`);

    // Answering one in the browser: one left to answer.
    await item(urgent).click();
    await detail().getByRole('button', { name: 'Accept' }).click();
    await detail().getByText('Accepted', { exact: true }).waitFor({ timeout: 20_000 });
    await referralsButton.click(); // back to the messages
    await page.getByRole('button', { name: 'Referrals (1 to answer)' }).waitFor({ timeout: 20_000 });
    assert.equal((await referralsButton.locator('.nav-badge').innerText()).trim(), '1');
    assert.equal((await notes(4)).length, 4, 'nothing for my own answer');
  });

  test('no serious or critical axe violation on the referral screens; no page error', () => {
    assert.deepEqual(violations, []);
    assert.deepEqual(pageErrors, []);
  });
}
