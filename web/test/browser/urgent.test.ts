// Urgent messages, escalation, recall and retention in the browser (issue
// 18), on SQLite and PostgreSQL, in real headless Chromium against a real
// `curbside serve`: Dr. Alice Adeyemi and Dr. Bob Brennan in two browsers,
// Dr. Carol Chen and Dr. Dan Dube on the web protocol client in Node, an
// administrator in a third browser. In order: Alice sends an urgent
// message from the composer (Urgent, escalation to Carol picked by name, 5
// minutes): the send frame carries the priority and the escalation, her
// pinned message says when it escalates to Carol; at Bob it is pinned in
// red with the in-app alert, and Acknowledge unpins it on both sides
// ("Acknowledged by Dr. Bob Brennan at …"); Carol's urgent message to Dan
// escalates to Bob after a second, marked "Escalated from Dr. Carol
// Chen", and Bob's acknowledgement reaches Carol; Alice recalls a message
// after a dialog that says a colleague who read it may remember it: she
// sees "You recalled this message", Bob "Message recalled"; the
// administrator sets a retention of one day (confirmed, "recorded in the
// audit log"): Bob's browser says the policy, refuses a one-week timer
// naming the limit, and purges a message two days old (its queue row
// backdated before Bob's browser received it) while the recent ones stay.
// Screenshots at 1440×900 and 390×844 (SQLite run; see SCREENSHOTS in
// world.ts): web-urgent-* (at the recipient), web-urgent-compose-* and
// web-urgent-sent-* (the sender), web-escalated-*, web-recalled-*,
// web-retention-*.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import type { BrowserContext, Page } from 'playwright-core';

import { Client, enroll, type Received } from '../../src/client/index.js';
import { httpsFetch, npi, wsFactory } from '../live-helpers.js';
import { seriousViolations } from './checks.js';
import { backends, browserMissing, cleanup, Cli, DESKTOP, launchProfile, PHONE, SCREENSHOTS, skippedTest, startWebServer, type Backend, type WebServer } from './world.js';

const missing = browserMissing();
if (missing !== undefined) {
  skippedTest('urgent messages in the browser', missing);
} else {
  for (const b of backends()) {
    if (b.missing !== undefined) skippedTest(`urgent messages in the browser, on ${b.backend}`, b.missing);
    else urgent(b.backend);
  }
}

function urgent(backend: Backend): void {
  const PASS = 'urgent passphrase, long enough 16';
  const ALICE = 'Dr. Alice Adeyemi';
  const BOB = 'Dr. Bob Brennan';
  const CAROL = 'Dr. Carol Chen';
  const DAN = 'Dr. Dan Dube';
  let server: WebServer;
  let cli: Cli;
  const profiles: { context: BrowserContext; page: Page; profileDir: string }[] = [];
  let alice: Page;
  let bob: Page;
  let carol: Client;
  let dan: Client;
  let ids: { alice: string; bob: string; carol: string; dan: string };
  const violations: string[] = [];
  const pageErrors: string[] = [];
  const frames = new Map<Page, Record<string, unknown>[]>();

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
    page.on('websocket', (ws) => {
      ws.on('framesent', (f) => void sent.push(JSON.parse(String(f.payload)) as Record<string, unknown>));
      if (process.env['DEBUG_URGENT']) ws.on('framereceived', (f) => String(f.payload).includes('"error"') && console.error(`${name} got ${String(f.payload).slice(0, 400)}`));
    });
    return page;
  };
  const enrollBrowser = async (page: Page, name: string, nine: string | undefined, invite: string): Promise<void> => {
    await page.goto(`${server.url}/#invite=${invite}${nine === undefined ? '&role=admin' : ''}`);
    await page.getByLabel('Full name').fill(name);
    if (nine !== undefined) {
      await page.getByLabel('NPI').fill(npi(nine));
      await page.getByLabel('Specialty').fill('Internal medicine');
    }
    await page.getByLabel('Passphrase', { exact: true }).fill(PASS);
    await page.getByLabel('Passphrase again').fill(PASS);
    await page.getByRole('button', { name: 'Enroll this browser' }).click();
    await page.getByRole('button', { name: 'Lock' }).waitFor({ timeout: 120_000 });
    await page.getByText('Online').waitFor({ timeout: 20_000 });
  };
  const nodeClinician = async (name: string, nine: string): Promise<Client> => {
    const { account } = await enroll({ url: `https://${server.address}`, serverName: 'localhost' }, await cli.invite(), { displayName: name, npi: npi(nine), specialty: 'Cardiology' }, { fetch: httpsFetch(server.certPem) });
    await cli.verifyUser(account.me.user_id);
    const c = new Client(account, { webSocket: wsFactory(server.certPem), fetch: httpsFetch(server.certPem) });
    c.start();
    await c.waitOnline();
    return c;
  };
  const next = async (c: Client, what: (r: Received) => boolean): Promise<Received> => {
    for (;;) {
      const r = await c.nextMessage(20_000);
      assert.ok(r, 'a message came');
      c.ack([r.deliveryId]);
      if (what(r)) return r;
    }
  };
  const openConversation = async (page: Page, query: string, name: string): Promise<void> => {
    const item = page.locator('nav').getByRole('button', { name: new RegExp(name) });
    if ((await item.count()) === 0) {
      await page.getByLabel('Find a colleague').fill(query);
      await page.getByLabel('Find a colleague').press('Enter');
    }
    await page.locator('nav').getByRole('button', { name: new RegExp(name) }).first().click();
    await page.getByRole('heading', { name, level: 2 }).waitFor();
  };
  const composer = (page: Page) => page.locator('main.conversation').getByRole('textbox', { name: 'Message' });
  const pinned = (page: Page, text: string) => page.locator('.pinned-item', { hasText: text });
  const item = (page: Page, text: string) => page.locator('.messages .message', { hasText: text });
  /** axe at both sizes; on SQLite the screenshots web-<name>-<size>.png. */
  const shoot = async (page: Page, name: string, phone?: () => Promise<void>): Promise<void> => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    for (const [size, viewport] of [['1440', DESKTOP], ['390', PHONE]] as const) {
      await page.setViewportSize(viewport);
      if (size === '390' && phone) await phone();
      await page.waitForTimeout(200);
      for (const v of await seriousViolations(page)) violations.push(`${name} at ${size}: ${v.impact} ${v.id} (${v.help}) at ${v.targets.join(', ')}`);
      if (backend === 'sqlite') await page.screenshot({ path: join(SCREENSHOTS, `web-${name}-${size}.png`) });
    }
    await page.setViewportSize(DESKTOP);
  };

  describe(`urgent messages in the browser, on ${backend}`, () => {
    before(async () => {
      server = await startWebServer({ backend });
      cli = new Cli(server);
      await cli.bootstrap();
      alice = await open('alice');
      await enrollBrowser(alice, ALICE, '323456789', await cli.invite());
      bob = await open('bob');
      await enrollBrowser(bob, BOB, '423456789', await cli.invite());
      const aliceId = await cli.userId(ALICE);
      const bobId = await cli.userId(BOB);
      await cli.verifyUser(aliceId);
      await cli.verifyUser(bobId);
      carol = await nodeClinician(CAROL, '523456789');
      dan = await nodeClinician(DAN, '623456789');
      ids = { alice: aliceId, bob: bobId, carol: carol.account.me.user_id, dan: dan.account.me.user_id };
    });

    after(async () => {
      carol?.stop();
      dan?.stop();
      for (const p of profiles) {
        await p.context.close().catch(() => undefined);
        cleanup(p.profileDir);
      }
      await server?.stop();
      if (cli) cleanup(cli.dir);
    });

    test('Alice sends an urgent message with an escalation to Carol picked by name; Bob sees it pinned in red and acknowledges it; Alice sees who and when', async () => {
      await openConversation(alice, 'Brennan', BOB);
      await alice.getByLabel('Priority').selectOption('urgent');
      await alice.getByLabel('Escalate to a backup if no one acknowledges').check();
      assert.equal(await alice.getByLabel('Escalate after').inputValue(), '300', 'five minutes unless changed');
      await composer(alice).fill('Bay 3: BP 70/40, please come');
      await composer(alice).press('Enter');
      await alice.getByText('Choose the backup clinician').waitFor();
      await alice.getByLabel('Backup clinician').fill('Chen');
      await alice.getByRole('button', { name: 'Find', exact: true }).click();
      await alice.locator('.escalation-results').getByRole('button', { name: new RegExp(CAROL) }).click();
      await alice.getByText(`Backup: ${CAROL}`).waitFor();
      await shoot(alice, 'urgent-compose');
      await composer(alice).press('Enter');
      await pinned(alice, 'Bay 3').getByText(new RegExp(`^Not yet acknowledged — escalates to ${CAROL} at `)).waitFor();
      assert.equal(await alice.getByLabel('Priority').inputValue(), 'routine', 'back to Routine after sending');
      await shoot(alice, 'urgent-sent');
      const send = (frames.get(alice) ?? []).find((f) => f['type'] === 'send' && f['priority'] === 'urgent') as { escalation?: { after_secs: number; backup: string; recipients: unknown[] } } | undefined;
      assert.equal(send?.escalation?.after_secs, 300);
      assert.equal(send?.escalation?.backup, ids.carol);
      assert.equal(send?.escalation?.recipients.length, 1, 'encrypted to each of Carol’s devices');

      await openConversation(bob, 'Adeyemi', ALICE);
      const pin = pinned(bob, 'Bay 3');
      await pin.getByText('Waiting for your acknowledgement').waitFor({ timeout: 20_000 });
      await bob.locator('.urgent-alert').getByText(`Urgent message from ${ALICE} is waiting for your acknowledgement.`).waitFor();
      await shoot(bob, 'urgent');
      await pin.getByRole('button', { name: /^Acknowledge/ }).click();
      await pin.waitFor({ state: 'detached' });
      await item(bob, 'Bay 3').getByText(/^Acknowledged by you at /).waitFor();
      assert.equal(await bob.locator('.urgent-alert').isVisible(), false);
      await item(alice, 'Bay 3').getByText(new RegExp(`^Acknowledged by ${BOB} at `)).waitFor({ timeout: 20_000 });
      assert.equal(await pinned(alice, 'Bay 3').count(), 0, 'unpinned at the sender too');
      const frame = (frames.get(bob) ?? []).find((f) => f['type'] === 'acknowledge');
      assert.equal(frame?.['sender'], ids.alice);
    });

    test('Carol’s urgent message to Dan escalates to Bob after its delay, marked with who and why; Bob’s acknowledgement reaches Carol', async () => {
      const sent = await carol.sendText([ids.dan], 'Chest pain bed 12, troponin rising', undefined, { priority: 'urgent', escalation: { afterSecs: 1, backup: ids.bob } });
      await openConversation(bob, 'Chen', CAROL);
      const pin = pinned(bob, 'troponin');
      await pin.getByText(new RegExp(`^Escalated from ${CAROL} \\(no one acknowledged in \\d+ seconds?\\)`)).waitFor({ timeout: 30_000 });
      await shoot(bob, 'escalated');
      await pin.getByRole('button', { name: /^Acknowledge/ }).click();
      const ack = await next(carol, (r) => r.content?.type === 'acknowledge');
      assert.equal(ack.sender.user_id, ids.bob);
      assert.ok(ack.content?.type === 'acknowledge' && ack.content.message_ids.includes(sent.messageId));
    });

    test('Alice recalls a message after an honest confirmation: she sees “You recalled this message”, Bob “Message recalled”', async () => {
      await openConversation(alice, 'Brennan', BOB);
      await openConversation(bob, 'Adeyemi', ALICE);
      await composer(alice).fill('Wrong chart: potassium 6.8 for bed 4');
      await composer(alice).press('Enter');
      await item(bob, 'potassium 6.8').waitFor({ timeout: 20_000 });
      await item(alice, 'potassium 6.8').getByText('Delivered').or(item(alice, 'potassium 6.8').getByText('Read')).first().waitFor({ timeout: 20_000 });
      await item(alice, 'potassium 6.8').getByRole('button', { name: /^Recall/ }).click();
      const dialog = alice.getByRole('dialog', { name: 'Recall this message?' });
      await dialog.getByText(/may remember it or have copied it/).waitFor();
      await dialog.getByRole('button', { name: 'Recall message' }).click();
      await alice.locator('.message.mine.recalled').getByText('You recalled this message').waitFor();
      await alice.getByText(/^Recalled: /).waitFor();
      await bob.locator('.message.theirs.recalled').getByText('Message recalled').waitFor({ timeout: 20_000 });
      assert.equal(await bob.getByText('potassium 6.8').count(), 0, 'the content is gone at Bob');
      assert.equal(await alice.getByText('potassium 6.8').count(), 0, 'and at Alice');
      await shoot(bob, 'recalled');
    });

    test('the administrator sets a retention of one day (confirmed, audited); Bob’s browser shows it, refuses a longer timer, and purges older history', async () => {
      // A message two days old: queued while Bob's browser is locked, its queue row backdated, then received.
      await bob.getByRole('button', { name: 'Lock' }).click();
      await bob.getByRole('button', { name: 'Unlock' }).waitFor();
      await dan.sendText([ids.bob], 'Two-day-old handover note');
      await server.sql(`UPDATE queue SET sent_at = sent_at - 172800000 WHERE recipient_user = '${ids.bob}' AND sender_user = '${ids.dan}'`);
      await bob.getByLabel('Passphrase').fill(PASS);
      await bob.getByRole('button', { name: 'Unlock' }).click();
      await bob.getByRole('button', { name: 'Lock' }).waitFor({ timeout: 60_000 });
      await openConversation(bob, 'Dube', DAN);
      await item(bob, 'Two-day-old handover note').waitFor({ timeout: 20_000 });
      await dan.sendText([ids.bob], 'Fresh note from today');
      await item(bob, 'Fresh note from today').waitFor({ timeout: 20_000 });

      const out = await cli.run(['admin', 'invite', '--profile', cli.profile('admin'), '--role', 'admin']);
      const invite = /cbs_inv_[A-Za-z0-9_-]+/.exec(out)?.[0];
      assert.ok(invite, out);
      const admin = await open('admin');
      await enrollBrowser(admin, 'Ada Admin', undefined, invite);
      await admin.getByRole('button', { name: 'Admin' }).click();
      const card = admin.locator('section', { has: admin.getByRole('heading', { name: 'Message retention' }) });
      await card.getByText(/^In effect: No limit/).waitFor();
      await card.getByLabel('Delete messages after a maximum lifespan').check();
      await card.getByLabel('Lifespan in days').fill('1');
      await card.getByRole('button', { name: 'Apply retention' }).click();
      const confirm = admin.getByRole('dialog', { name: 'Delete messages after 1 day?' });
      await confirm.getByText(/This cannot be undone/).waitFor();
      await confirm.getByRole('button', { name: 'Apply retention' }).click();
      await admin.getByText(/^Retention set to 1 day — recorded in the audit log/).waitFor();
      await card.getByText(/^In effect: Messages are deleted after 1 day/).waitFor();
      await shoot(admin, 'retention', async () => {
        await card.scrollIntoViewIfNeeded();
      });

      // Bob's browser: the policy_changed frame, the purge, the policy in words, the timer refused.
      await item(bob, 'Two-day-old handover note').waitFor({ state: 'detached', timeout: 20_000 });
      await item(bob, 'Fresh note from today').waitFor();
      await bob.locator('.policy-words').getByText("Messages are deleted after 1 day (your organisation's policy).").waitFor();
      await bob.locator('#timer-select').selectOption('604800');
      await bob.getByText('Messages cannot be kept for 7 days: your organisation deletes messages after 1 day.', { exact: false }).waitFor();
      assert.equal(await bob.locator('#timer-select').inputValue(), 'off', 'the timer stays as it was');
      // It stays purged after a reload (the sealed state was written).
      await bob.reload();
      await bob.getByLabel('Passphrase').fill(PASS);
      await bob.getByRole('button', { name: 'Unlock' }).click();
      await openConversation(bob, 'Dube', DAN);
      await item(bob, 'Fresh note from today').waitFor({ timeout: 20_000 });
      assert.equal(await item(bob, 'Two-day-old handover note').count(), 0);
    });

    test('axe-core: no serious or critical violation on these screens; no page error or CSP refusal', () => {
      assert.deepEqual(violations, []);
      assert.deepEqual(pageErrors, []);
    });
  });
}
