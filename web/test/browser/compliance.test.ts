// The compliance officer's console in the browser (issue 17), in real
// headless Chromium against a real `curbside serve` (SQLite): a CLI
// administrator and two CLI clinicians generate activity (messages), and
// three failed logins; the officer enrolls in the browser with a
// compliance_officer invite from the CLI, sees the Audit button (and no
// Admin button), verifies the log (the `OK: …` line in the form `curbside
// audit verify` prints, with a progress bar) and sees the charts of it (the
// failed logins counted); searches it by action and by people chosen by
// name (clinicians from the directory; the administrator and the other
// officer by their role, never an id); proves an entry included; exports
// JSONL streamed into a download (verified as written, then verified again
// by `curbside audit verify` with the tree head saved beside it), CSV into
// a file chosen with the File System Access API (row for row the CLI's
// export) and a filtered export; then an entry altered in the database (the
// trigger dropped) makes Verify and Prove fail loudly naming that entry.
// axe-core at 1440×900 and 390×844 (screenshots web-audit-*.png,
// web-compliance-*.png: SCREENSHOTS in world.ts).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import type { BrowserContext, Page } from 'playwright-core';

import { npi } from '../live-helpers.js';
import { enrollOfficer, failedLogins, savedFile, screenshot, stubSavePicker } from './audit-world.js';
import { seriousViolations } from './checks.js';
import { browserMissing, cleanup, Cli, DESKTOP, launchProfile, PHONE, SCREENSHOTS, startWebServer, type WebServer } from './world.js';

const missing = browserMissing() ?? (spawnSync('sqlite3', ['-version']).status !== 0 ? 'the sqlite3 CLI is missing (apt-get install -y sqlite3)' : undefined);
if (missing !== undefined) {
  console.error(`\n*** ${missing} ***\n`);
  test('the compliance console in the browser', (t) => {
    assert.notEqual(process.env['CI'], 'true', missing);
    t.skip(missing);
  });
} else {
  officer();
}

/** An `OK: …` line with its numbers, root and time masked, to compare the form. */
function shape(line: string): string {
  return line.replace(/root [0-9a-f]{64}/, 'root R').replace(/signed [0-9T:.Z-]+\)/, 'signed T)').replace(/\d+/g, 'N');
}

const USER_ID = /u[0-9a-f]{24}/;

function officer(): void {
  const PASS = 'sealed under a long passphrase 42';
  let server: WebServer;
  let cli: Cli;
  let context: BrowserContext;
  let profileDir = '';
  let page: Page;
  const violations: string[] = [];
  const pageErrors: string[] = [];
  let carol = '';

  const shoot = async (name: string): Promise<void> => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    for (const [size, viewport] of [['1440', DESKTOP], ['390', PHONE]] as const) {
      await page.setViewportSize(viewport);
      await page.waitForTimeout(150);
      for (const v of await seriousViolations(page)) violations.push(`${name} at ${size}: ${v.impact} ${v.id} (${v.help}) at ${v.targets.join(', ')}`);
      await screenshot(page, join(SCREENSHOTS, `${name}-${size}.png`), viewport);
    }
    await page.setViewportSize(DESKTOP);
  };
  const result = () => page.locator('.audit-result p');
  const rows = () => page.locator('.audit-entries tbody tr[data-seq]');
  const search = async (): Promise<void> => {
    await page.evaluate(() => document.querySelectorAll('.audit-entries tbody tr').forEach((r) => r.setAttribute('data-stale', '')));
    await page.getByRole('button', { name: 'Search the log' }).click();
    await page.waitForFunction(() => {
      const body = document.querySelector('.audit-entries tbody');
      const text = body?.textContent ?? '';
      return body !== null && body.querySelector('tr[data-stale]') === null && !text.includes('Searching…') && !text.includes('Looking up name…');
    });
  };
  const choose = async (field: 'Actor' | 'Counterpart', text: string, name: string | RegExp): Promise<void> => {
    await page.getByRole('searchbox', { name: field, exact: true }).fill(text);
    await page.getByRole('button', { name: `Find ${field.toLowerCase()}` }).click();
    await page.getByRole('list', { name: `People found for ${field.toLowerCase()}` }).getByRole('button', { name }).click();
    await page.getByText(new RegExp(`^Only entries with .+ as the ${field.toLowerCase()}$`)).waitFor();
  };
  const cliInvite = async (role: string): Promise<string> => {
    const out = await cli.run(['admin', 'invite', '--profile', cli.profile('admin'), '--role', role]);
    const m = /cbs_inv_[A-Za-z0-9_-]+/.exec(out)?.[0];
    assert.ok(m, out);
    return m;
  };

  before(async () => {
    server = await startWebServer();
    cli = new Cli(server);
    await cli.bootstrap();
    carol = await cli.clinician('carol', 'Dr. Carol Chen', '523456789', 'Cardiology');
    await cli.clinician('dave', 'Dr. Dave Diaz', '623456789', 'Nephrology');
    for (const text of ['Potassium 6.1, repeat?', 'Yes, and an ECG']) {
      await cli.run(['send', '--profile', cli.profile(text.startsWith('Yes') ? 'dave' : 'carol'), '--to', text.startsWith('Yes') ? 'Carol Chen' : 'Dave Diaz', '--allow-unverified', text]);
    }
    await cli.run(['inbox', '--profile', cli.profile('dave'), '--wait', '1']).catch(() => '');
    await failedLogins(server, { user_id: carol, device_id: 1 }, 3);
    const p = await launchProfile();
    context = p.context;
    profileDir = p.profileDir;
    page = p.page;
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) pageErrors.push(`CSP: ${m.text()}`);
    });
    await page.goto(server.url);
  });

  after(async () => {
    await context?.close().catch(() => undefined);
    await server?.stop();
    if (cli) cleanup(cli.dir);
    if (profileDir) cleanup(profileDir);
  });

  test('the officer enrolls in the browser with a compliance_officer invite from the CLI; they see Audit, not Admin', async () => {
    await enrollOfficer(page, await cliInvite('compliance_officer'), 'Olive Officer', PASS);
    assert.equal(await page.getByRole('button', { name: 'Admin' }).isVisible(), false, 'an officer has no Admin button');
  });

  test('Verify the log: the OK line in the form `curbside audit verify` prints, the charts of what it verified; the witness is checked on the next run', async () => {
    await page.getByRole('button', { name: 'Verify the log' }).click();
    await result().filter({ hasText: /^OK: / }).waitFor({ timeout: 60_000 });
    const ok = await result().innerText();
    assert.match(ok, /^OK: \d+ entries reproduce the signed tree head \(size \d+, root [0-9a-f]{64}, signed [0-9T:.Z-]+\)\.$/);
    const entries = Number(/^OK: (\d+)/.exec(ok)?.[1]);
    // The charts: every entry in the stacked bars' table; the three failed logins.
    const total = async (caption: RegExp): Promise<number> => {
      const texts = await page.locator('table.chart-table').filter({ has: page.locator('caption', { hasText: caption }) }).locator('tbody td:last-child').allTextContents();
      return texts.reduce((s, x) => s + Number(x.replace(/,/g, '')), 0);
    };
    await page.getByRole('img', { name: /^Entries per day by action/ }).waitFor();
    assert.equal(await total(/^Entries per day by action/), entries);
    assert.equal(await total(/^Failed authentication attempts/), 3);
    assert.match(await page.getByRole('img', { name: /^Failed authentication attempts per day/ }).getAttribute('aria-labelledby') ?? '', /title .*desc/);
    assert.equal(await page.locator('.chart-summary').nth(1).innerText(), `3 failed authentication attempts on ${new Date().toISOString().slice(0, 10)}.`);
    await page.getByText('Entries per day by action: the numbers as a table').click();
    await shoot('web-compliance-charts');

    // The CLI's line, as a second officer (enrolled by CLI) exports and verifies.
    await cli.run(['enroll', '--profile', cli.profile('olaf'), '--invite', await cliInvite('compliance_officer'), '--name', 'Olaf Officer', '--npi', npi('823456789'), '--specialty', 'Compliance', ...cli.where()]);
    const file = join(cli.dir, 'log.jsonl');
    await cli.run(['audit', 'export', '--profile', cli.profile('olaf'), '--out', file]);
    const cliOk = (await cli.run(['audit', 'verify', '--profile', cli.profile('olaf'), file])).split('\n').find((l) => l.startsWith('OK: '));
    assert.ok(cliOk, 'the CLI prints an OK line');
    // Again: now checked against the saved head (the first entries match it), as the CLI's second look.
    await page.getByRole('button', { name: 'Verify the log' }).click();
    await result().filter({ hasText: /match the tree head saved earlier/ }).waitFor({ timeout: 60_000 });
    assert.equal(shape(await result().innerText()), shape(cliOk));
    assert.equal(await page.locator('.audit-progress').first().isVisible(), true, 'the progress bar shows the entries verified');
    await shoot('web-audit-verified');
  });

  test('a query by action shows exactly those entries, with names; pages move; no page shows a user id', async () => {
    await page.getByLabel('Action', { exact: true }).selectOption('message.accepted');
    await search();
    const actions = await page.locator('.audit-entries tbody .audit-action').allInnerTexts();
    assert.ok(actions.length >= 2, `the two messages: ${actions.join(', ')}`);
    assert.ok(actions.every((a) => a === 'message.accepted'), actions.join(', '));
    const text = await page.locator('.audit-entries tbody').innerText();
    assert.match(text, /Dr\. Carol Chen/);
    assert.match(text, /Dr\. Dave Diaz/);
    await page.getByText(/Page 1 of 1 \(\d+ entries\)/).waitFor();
    // All actions: more than one page, and never an id (the administrator and the CLI officer by their role).
    await page.getByLabel('Action', { exact: true }).selectOption('');
    await search();
    await page.getByText(/Page 1 of [2-9]/).waitFor();
    const first = await rows().first().getAttribute('data-seq');
    const seen: string[] = [];
    for (;;) {
      seen.push(await page.locator('.audit-entries tbody').innerText());
      if (await page.getByRole('button', { name: 'Next page' }).isDisabled()) break;
      await page.getByRole('button', { name: 'Next page' }).click();
    }
    const all = seen.join('\n');
    assert.doesNotMatch(all, USER_ID, 'names, not ids');
    assert.ok(!all.includes(carol));
    for (const who of ['Administrator (device 1)', 'Compliance officer (device 1)', 'Olive Officer (device 1)', 'Dr. Carol Chen (device 1)', 'Anonymous']) assert.ok(all.includes(who), `${who} in ${all}`);
    await page.getByRole('button', { name: 'Previous page' }).click();
    await page.getByText(/Page \d+ of/).waitFor();
    for (;;) {
      if (await page.getByRole('button', { name: 'Previous page' }).isDisabled()) break;
      await page.getByRole('button', { name: 'Previous page' }).click();
    }
    assert.equal(await rows().first().getAttribute('data-seq'), first);
  });

  test('the actor and counterpart filters take people chosen by name: a clinician from the directory, the administrator by role', async () => {
    await choose('Actor', 'carol', /^Dr\. Carol Chen/);
    await choose('Counterpart', 'Dave', /^Dr\. Dave Diaz/);
    await search();
    const actors = await page.locator('.audit-entries tbody .audit-actor').allInnerTexts();
    const counterparts = await page.locator('.audit-entries tbody .audit-counterpart').allInnerTexts();
    assert.ok(actors.length >= 2 && actors.every((a) => a.startsWith('Dr. Carol Chen')), actors.join(', '));
    assert.ok(counterparts.every((c) => c.startsWith('Dr. Dave Diaz')), counterparts.join(', '));
    assert.ok((await page.locator('.audit-entries tbody .audit-action').allInnerTexts()).includes('message.accepted'));
    await shoot('web-compliance-people');
    await page.getByRole('button', { name: 'Clear counterpart' }).click();
    await page.getByRole('button', { name: 'Clear actor' }).click();
    // The administrator is not in the directory: found by role, shown by role.
    await page.getByRole('searchbox', { name: 'Actor', exact: true }).fill('admin');
    await page.getByRole('button', { name: 'Find actor' }).click();
    const found = page.getByRole('list', { name: 'People found for actor' }).getByRole('button');
    await found.first().waitFor();
    assert.deepEqual(await found.allInnerTexts(), ['Administrator\nAn administrator (not in the directory)']);
    await found.first().click();
    await search();
    const admin = await page.locator('.audit-entries tbody .audit-actor').allInnerTexts();
    assert.ok(admin.length > 3 && admin.every((a) => a === 'Administrator (device 1)'), admin.join(', '));
    const actions = new Set(await page.locator('.audit-entries tbody .audit-action').allInnerTexts());
    for (const a of ['invite.created', 'user.verified']) assert.ok(actions.has(a), [...actions].join(', '));
    await page.getByRole('button', { name: 'Clear actor' }).click();
    // Nobody of that name: says so.
    await page.getByRole('searchbox', { name: 'Counterpart', exact: true }).fill('Zebulon');
    await page.getByRole('button', { name: 'Find counterpart' }).click();
    await page.getByText('No one named “Zebulon” in the directory or the log: check the spelling.').waitFor();
    await page.getByRole('searchbox', { name: 'Counterpart', exact: true }).fill('');
  });

  test('Prove: an entry’s inclusion proof against the current signed head, checked in the browser', async () => {
    await search();
    const row = rows().nth(6);
    const seq = Number(await row.getAttribute('data-seq'));
    await row.getByRole('button', { name: `Prove entry ${seq}` }).click();
    const ok = page.locator('.audit-proof-ok');
    await ok.waitFor({ timeout: 30_000 });
    assert.match(await ok.innerText(), new RegExp(`^Entry ${seq} is included — verified: its content matches its recorded hash, and its audit path leads to the root the server signed\\.$`));
    const facts = await page.locator('.audit-proof-facts').innerText();
    assert.match(facts, new RegExp(`Leaf index\\s+${seq - 1}\\b`));
    assert.match(facts, /Tree size\s+\d+ entries/);
    assert.match(facts, /Tree head signed\s+\d{4}-\d\d-\d\dT[0-9:.]+Z/);
    assert.match(facts, /Audit path\s+\d+ hash/);
    assert.match(facts, /Signed root\s+[0-9a-f]{64}/);
    await page.locator('.audit-proof').scrollIntoViewIfNeeded();
    await shoot('web-compliance-proof');
  });

  test('a JSONL export streams into a download, verified as written; `curbside audit verify` checks it with the tree head saved beside it', async () => {
    await page.evaluate(() => delete (window as unknown as Record<string, unknown>)['showSaveFilePicker']);
    const downloading = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download JSONL' }).click();
    const download = await downloading;
    assert.equal(download.suggestedFilename(), 'curbside-audit.jsonl');
    const text = readFileSync(await download.path(), 'utf8');
    const lines = text.split('\n').filter((l) => l !== '');
    assert.ok(lines.length >= 10, `${lines.length} lines`);
    lines.forEach((l, i) => assert.equal((JSON.parse(l) as { entry: { seq: number } }).entry.seq, i + 1));
    const said = page.locator('.audit-export-status p[role="status"]');
    await said.waitFor();
    assert.match(await said.innerText(), new RegExp(`^Saved curbside-audit\\.jsonl: ${lines.length} entries, verified as it was written\\. OK: ${lines.length} entries reproduce the signed tree head`));
    const headDownload = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Save the tree head (curbside-audit.jsonl.tree-head.json)' }).click();
    const head = await headDownload;
    assert.equal(head.suggestedFilename(), 'curbside-audit.jsonl.tree-head.json');
    const file = join(cli.dir, 'browser.jsonl');
    writeFileSync(file, text);
    writeFileSync(`${file}.tree-head.json`, readFileSync(await head.path()));
    const out = await cli.run(['audit', 'verify', '--profile', cli.profile('olaf'), file]);
    assert.match(out, new RegExp(`^OK: ${lines.length} entries reproduce the signed tree head`, 'm'), out);
  });

  test('a CSV export into a file chosen with the File System Access API: row for row the CLI’s; a filtered export holds only its person', async () => {
    await stubSavePicker(page);
    await page.getByRole('button', { name: 'Download CSV' }).click();
    const said = page.locator('.audit-export-status p[role="status"]');
    await said.filter({ hasText: /^Saved curbside-audit\.csv/ }).waitFor();
    assert.match(await said.innerText(), /A CSV export is not checked here against that head/);
    const { text, writes } = await savedFile(page, 'curbside-audit.csv');
    assert.ok(writes.length >= 1);
    const mine = text.split('\n').filter((l) => l !== '');
    const file = join(cli.dir, 'cli.csv');
    await cli.run(['audit', 'export', '--profile', cli.profile('olaf'), '--format', 'csv', '--out', file]);
    const theirs = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
    assert.ok(theirs.length > mine.length && mine.length > 10);
    assert.deepEqual(mine, theirs.slice(0, mine.length), 'the same header and rows as the CLI writes');

    await choose('Actor', 'Carol', /^Dr\. Carol Chen/);
    await page.getByRole('button', { name: 'Download JSONL' }).click();
    await said.filter({ hasText: /A filtered export is not checked here/ }).waitFor();
    const filtered = (await savedFile(page, 'curbside-audit.jsonl')).text.split('\n').filter((l) => l !== '');
    assert.ok(filtered.length >= 3);
    for (const l of filtered) assert.equal((JSON.parse(l) as { entry: { actor_user: string } }).entry.actor_user, carol);
    await page.getByRole('button', { name: 'Clear actor' }).click();
  });

  test('an entry altered in the database: Verify fails loudly naming that entry, and so does its proof', async () => {
    await server.sql("DROP TRIGGER audit_log_no_update; UPDATE audit_log SET actor_user = 'u_mallory' WHERE seq = 5;");
    await page.getByRole('button', { name: 'Verify the log' }).click();
    const alarm = page.locator('.audit-result p[role="alert"]');
    await alarm.waitFor({ timeout: 60_000 });
    const text = await alarm.innerText();
    assert.match(text, /^AUDIT LOG INTEGRITY FAILURE: entry 5 was altered/);
    assert.equal(await page.locator('.audit-charts').isVisible(), false, 'no charts of a log that does not verify');
    await search();
    await rows().first().waitFor();
    await page.getByRole('button', { name: 'Prove entry 5', exact: true }).click();
    const proof = page.locator('.audit-proof p[role="alert"]');
    await proof.waitFor({ timeout: 30_000 });
    assert.match(await proof.innerText(), /^AUDIT LOG INTEGRITY FAILURE: entry 5 was altered: its content does not match the leaf hash recorded when it was logged/);
    await page.locator('.audit-result').scrollIntoViewIfNeeded();
    await shoot('web-audit-altered');
  });

  test('axe-core: no serious or critical violation on the Audit screen; no page error or CSP refusal', () => {
    assert.deepEqual(violations, []);
    assert.deepEqual(pageErrors, []);
  });
}
