// Urgent messages in care teams, and acknowledgements told to everyone who
// holds the message (issue 18; PROTOCOL.md, `acknowledged`'s `also`), in
// real headless Chromium against a real `curbside serve`, on SQLite and
// PostgreSQL: Dr. Alice Adeyemi and Dr. Bob Brennan in two browsers, Dr.
// Carol Chen and Dr. Dan Dube on the web protocol client in Node (Carol a
// team member through the library's Teams). In order: Alice creates the
// team "Ward 4 consults" with Bob and Carol and sends a STAT message from
// the team's composer (no escalation offered: every member is alerted);
// the send frame carries the priority; Bob's browser pins it in red with
// the in-app alert naming the team; Carol acknowledges it from Node: the
// server's `also` names Bob, her acknowledgement reaches his browser,
// which unpins it ("Acknowledged by Dr. Carol Chen at …"), as does
// Alice's; Bob acknowledges an urgent team message in his browser: the
// acknowledge frame, then the content reaches Alice and Carol (the `also`
// of his answer); Alice recalls a team message after a dialog naming the
// team: "You recalled this message" at Alice, "Message recalled" at Bob,
// the recall at Carol; Carol's urgent message to Dan escalates to Bob's
// browser, and Dan's acknowledgement (his `also`: Bob) unpins it there,
// naming Dan. Screenshot web-team-urgent-1440.png (SQLite run; see
// SCREENSHOTS in world.ts); axe-core at 1440×900 and 390×844.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import type { BrowserContext, Page } from 'playwright-core';

import { Client, enroll, Teams, type Received } from '../../src/client/index.js';
import { httpsFetch, npi, wsFactory } from '../live-helpers.js';
import { seriousViolations } from './checks.js';
import { backends, browserMissing, cleanup, Cli, DESKTOP, launchProfile, PHONE, SCREENSHOTS, skippedTest, startWebServer, type Backend, type WebServer } from './world.js';

const missing = browserMissing();
if (missing !== undefined) {
  skippedTest('urgent messages in care teams in the browser', missing);
} else {
  for (const b of backends()) {
    if (b.missing !== undefined) skippedTest(`urgent messages in care teams in the browser, on ${b.backend}`, b.missing);
    else teamUrgent(b.backend);
  }
}

function teamUrgent(backend: Backend): void {
  const PASS = 'team urgent passphrase, long 16';
  const ALICE = 'Dr. Alice Adeyemi';
  const BOB = 'Dr. Bob Brennan';
  const CAROL = 'Dr. Carol Chen';
  const DAN = 'Dr. Dan Dube';
  const TEAM = 'Ward 4 consults';
  let server: WebServer;
  let cli: Cli;
  const profiles: { context: BrowserContext; page: Page; profileDir: string }[] = [];
  let alice: Page;
  let bob: Page;
  let carol: Client;
  let carolTeams: Teams;
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
    page.on('websocket', (ws) => ws.on('framesent', (f) => void sent.push(JSON.parse(String(f.payload)) as Record<string, unknown>)));
    return page;
  };
  const enrollBrowser = async (page: Page, name: string, nine: string): Promise<string> => {
    await page.goto(`${server.url}/#invite=${await cli.invite()}`);
    await page.getByLabel('Full name').fill(name);
    await page.getByLabel('NPI').fill(npi(nine));
    await page.getByLabel('Specialty').fill('Internal medicine');
    await page.getByLabel('Passphrase', { exact: true }).fill(PASS);
    await page.getByLabel('Passphrase again').fill(PASS);
    await page.getByRole('button', { name: 'Enroll this browser' }).click();
    await page.getByRole('button', { name: 'Lock' }).waitFor({ timeout: 120_000 });
    await page.getByText('Online').waitFor({ timeout: 20_000 });
    const id = await cli.userId(name);
    await cli.verifyUser(id);
    return id;
  };
  const nodeClinician = async (name: string, nine: string): Promise<Client> => {
    const { account } = await enroll({ url: `https://${server.address}`, serverName: 'localhost' }, await cli.invite(), { displayName: name, npi: npi(nine), specialty: 'Cardiology' }, { fetch: httpsFetch(server.certPem) });
    await cli.verifyUser(account.me.user_id);
    const c = new Client(account, { webSocket: wsFactory(server.certPem), fetch: httpsFetch(server.certPem) });
    c.start();
    await c.waitOnline();
    return c;
  };
  /** The next message `what` accepts (Carol's team content applied on the way; each acknowledged). */
  const next = async (c: Client, what: (r: Received) => boolean): Promise<Received> => {
    for (;;) {
      const r = await c.nextMessage(20_000);
      assert.ok(r, 'a message came');
      if (c === carol) carolTeams.handle(r);
      c.ack([r.deliveryId]);
      if (what(r)) return r;
    }
  };
  const teamItem = (p: Page) => p.locator('nav button.team-item', { hasText: TEAM });
  const pane = (p: Page) => p.locator('main.team-conversation');
  const composer = (p: Page) => pane(p).getByRole('textbox', { name: 'Message' });
  const pinned = (p: Page, text: string) => p.locator('.pinned-item', { hasText: text });
  const item = (p: Page, text: string) => p.locator('.messages .message', { hasText: text });
  const sendFrame = (p: Page, priority: string) => (frames.get(p) ?? []).filter((f) => f['type'] === 'send' && f['priority'] === priority).pop() as { message_id: string; recipients: unknown[]; escalation?: unknown } | undefined;
  const openTeam = async (p: Page): Promise<void> => {
    await teamItem(p).waitFor({ timeout: 20_000 });
    await teamItem(p).click();
    await pane(p).getByRole('heading', { name: TEAM, level: 2 }).waitFor();
  };
  const sendUrgent = async (p: Page, level: 'urgent' | 'stat', text: string): Promise<string> => {
    await pane(p).getByLabel('Priority').selectOption(level);
    await composer(p).fill(text);
    await composer(p).press('Enter');
    await pinned(p, text).getByText('Not yet acknowledged').waitFor({ timeout: 20_000 });
    const f = sendFrame(p, level);
    assert.ok(f, `the send frame says ${level}`);
    return f.message_id;
  };
  /** axe at both sizes; on SQLite the screenshot web-<name>-1440.png. */
  const shoot = async (page: Page, name: string): Promise<void> => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    for (const [size, viewport] of [['1440', DESKTOP], ['390', PHONE]] as const) {
      await page.setViewportSize(viewport);
      await page.waitForTimeout(200);
      for (const v of await seriousViolations(page)) violations.push(`${name} at ${size}: ${v.impact} ${v.id} (${v.help}) at ${v.targets.join(', ')}`);
      if (backend === 'sqlite' && size === '1440') await page.screenshot({ path: join(SCREENSHOTS, `web-${name}-${size}.png`) });
    }
    await page.setViewportSize(DESKTOP);
  };

  describe(`urgent messages in care teams in the browser, on ${backend}`, () => {
    before(async () => {
      server = await startWebServer({ backend });
      cli = new Cli(server);
      await cli.bootstrap();
      alice = await open('alice');
      const aliceId = await enrollBrowser(alice, ALICE, '323456789');
      bob = await open('bob');
      const bobId = await enrollBrowser(bob, BOB, '423456789');
      carol = await nodeClinician(CAROL, '523456789');
      carolTeams = new Teams(carol);
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

    test('Alice’s STAT message from the team composer (no escalation in a team) is pinned in red at Bob with the alert naming the team', async () => {
      await alice.getByRole('button', { name: 'New team' }).click();
      const dialog = alice.getByRole('dialog', { name: 'New team' });
      await dialog.getByLabel('Team name').fill(TEAM);
      for (const [query, name] of [['Brennan', BOB], ['Chen', CAROL]]) {
        await dialog.getByLabel('Members').fill(query as string);
        await dialog.getByLabel('Members').press('Enter');
        await dialog.getByRole('list', { name: 'Clinicians found' }).getByRole('button', { name: new RegExp(name as string) }).click();
      }
      await dialog.getByRole('button', { name: 'Create team' }).click();
      await pane(alice).getByRole('heading', { name: TEAM, level: 2 }).waitFor();
      await next(carol, (r) => r.content?.type === 'team_update');
      assert.equal(carolTeams.list()[0]?.name, TEAM);

      await pane(alice).getByLabel('Priority').selectOption('stat');
      await pane(alice).getByText('Every member is alerted until one of them acknowledges it.').waitFor();
      assert.equal(await pane(alice).getByLabel('Escalate to a backup if no one acknowledges').count(), 0, 'no escalation offered in a team');
      await pane(alice).getByLabel('Priority').selectOption('routine');
      const id = await sendUrgent(alice, 'stat', 'Code blue bay 2: all hands');
      assert.equal(await pane(alice).getByLabel('Priority').inputValue(), 'routine', 'back to Routine after sending');
      const f = sendFrame(alice, 'stat');
      assert.equal(f?.escalation, undefined);
      assert.equal(f?.recipients.length, 2, 'Bob’s and Carol’s devices');

      await openTeam(bob);
      const pin = pinned(bob, 'Code blue');
      await pin.getByText('Waiting for your acknowledgement').waitFor({ timeout: 20_000 });
      await pin.locator('.chip-stat', { hasText: 'STAT' }).waitFor();
      await bob.locator('.urgent-alert').getByText(`STAT message from ${ALICE} in ${TEAM} is waiting for your acknowledgement.`).waitFor();
      await shoot(bob, 'team-urgent');
      const atCarol = await next(carol, (r) => r.messageId === id);
      assert.equal(atCarol.priority, 'stat', 'the priority is in the envelope');
      assert.equal(carolTeams.history(carolTeams.list()[0]?.teamId ?? '').find((m) => m.messageId === id)?.priority, 'stat');
    });

    test('Carol (another member) acknowledges it: the server’s also names Bob, whose browser stops alerting and says who; so does Alice’s', async () => {
      const id = sendFrame(alice, 'stat')?.message_id ?? '';
      const r = await carol.acknowledge(ids.alice, id);
      assert.equal(r.first, true);
      assert.deepEqual(r.also, [ids.bob], 'the other member');
      await pinned(bob, 'Code blue').waitFor({ state: 'detached', timeout: 20_000 });
      await item(bob, 'Code blue').getByText(new RegExp(`^Acknowledged by ${CAROL} at `)).waitFor();
      assert.equal(await bob.locator('.urgent-alert').isVisible(), false, 'the alert is gone');
      assert.equal((frames.get(bob) ?? []).some((f) => f['type'] === 'acknowledge'), false, 'Bob had nothing to do');
      await item(alice, 'Code blue').getByText(new RegExp(`^Acknowledged by ${CAROL} at `)).waitFor({ timeout: 20_000 });
      assert.equal(await pinned(alice, 'Code blue').count(), 0);
    });

    test('Bob acknowledges an urgent team message in his browser: the acknowledge frame, then his acknowledgement reaches Alice and Carol (his also)', async () => {
      const id = await sendUrgent(alice, 'urgent', 'Difficult airway in theatre 3');
      await next(carol, (r) => r.messageId === id);
      const pin = pinned(bob, 'Difficult airway');
      await pin.getByText('Waiting for your acknowledgement').waitFor({ timeout: 20_000 });
      await pin.getByRole('button', { name: /^Acknowledge/ }).click();
      await pin.waitFor({ state: 'detached' });
      await item(bob, 'Difficult airway').getByText(/^Acknowledged by you at /).waitFor();
      const frame = (frames.get(bob) ?? []).find((f) => f['type'] === 'acknowledge' && f['message_id'] === id);
      assert.equal(frame?.['sender'], ids.alice);
      const told = await next(carol, (r) => r.content?.type === 'acknowledge' && r.content.message_ids.includes(id));
      assert.equal(told.sender.user_id, ids.bob, 'Carol is told by Bob');
      assert.equal(told.kind, 'receipt');
      await item(alice, 'Difficult airway').getByText(new RegExp(`^Acknowledged by ${BOB} at `)).waitFor({ timeout: 20_000 });
      assert.equal(await pinned(alice, 'Difficult airway').count(), 0);
    });

    test('Alice recalls a team message after a dialog naming the team: “You recalled this message” at Alice, “Message recalled” at Bob, the recall at Carol', async () => {
      await composer(alice).fill('Wrong team: potassium 6.8 for bed 4');
      await composer(alice).press('Enter');
      await item(bob, 'potassium 6.8').waitFor({ timeout: 20_000 });
      const id = (frames.get(alice) ?? []).filter((f) => f['type'] === 'send' && f['kind'] === 'message').pop()?.['message_id'];
      await item(alice, 'potassium 6.8').getByRole('button', { name: /^Recall/ }).click();
      const dialog = alice.getByRole('dialog', { name: 'Recall this message?' });
      await dialog.getByText(`has not reached the members of ${TEAM} yet`, { exact: false }).waitFor();
      await dialog.getByText(/may remember it or have copied it/).waitFor();
      await dialog.getByRole('button', { name: 'Recall message' }).click();
      await pane(alice).locator('.message.mine.recalled').getByText('You recalled this message').waitFor();
      await alice.getByText(/^Recalled: /).waitFor();
      await pane(bob).locator('.message.theirs.recalled').getByText('Message recalled').waitFor({ timeout: 20_000 });
      assert.equal(await bob.getByText('potassium 6.8').count(), 0, 'the content is gone at Bob');
      assert.equal(await alice.getByText('potassium 6.8').count(), 0, 'and at Alice');
      const recall = await next(carol, (r) => r.content?.type === 'recall');
      assert.ok(recall.content?.type === 'recall' && recall.content.message_ids.includes(String(id)));
      assert.equal(recall.sender.user_id, ids.alice);
    });

    test('at a backup: Carol’s urgent message to Dan escalates to Bob’s browser; Dan’s acknowledgement (his also: Bob) unpins it there, naming Dan', async () => {
      const sent = await carol.sendText([ids.dan], 'Chest pain bed 12, troponin rising', undefined, { priority: 'urgent', escalation: { afterSecs: 1, backup: ids.bob } });
      await next(dan, (r) => r.messageId === sent.messageId);
      const conv = bob.locator('nav button.conv-item:not(.team-item)', { hasText: CAROL });
      await conv.waitFor({ timeout: 30_000 });
      await conv.click();
      const pin = pinned(bob, 'troponin');
      await pin.getByText(new RegExp(`^Escalated from ${CAROL}`)).waitFor({ timeout: 30_000 });
      await bob.locator('.urgent-alert').getByText(`Urgent message from ${CAROL} is waiting for your acknowledgement.`).waitFor();
      const r = await dan.acknowledge(ids.carol, sent.messageId);
      assert.deepEqual([r.first, r.also], [true, [ids.bob]], 'the released escalation’s backup is in also');
      await pin.waitFor({ state: 'detached', timeout: 20_000 });
      await item(bob, 'troponin').getByText(new RegExp(`^Acknowledged by ${DAN} at `)).waitFor({ timeout: 20_000 });
      assert.equal(await bob.locator('.urgent-alert').isVisible(), false);
      assert.equal((frames.get(bob) ?? []).some((f) => f['type'] === 'acknowledge' && f['message_id'] === sent.messageId), false, 'Bob had nothing to do');
      await next(carol, (m) => m.content?.type === 'acknowledge' && m.content.message_ids.includes(sent.messageId));
    });

    test('axe-core: no serious or critical violation on these screens; no page error or CSP refusal', () => {
      assert.deepEqual(violations, []);
      assert.deepEqual(pageErrors, []);
    });
  });
}
