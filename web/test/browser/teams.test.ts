// Care teams in the browser application (issue 17), in two real headless
// Chromium profiles (Dr. Alice Adeyemi, Dr. Bob Brennan) and a CLI
// clinician (Dr. Carol Chen) against a real `curbside serve`, on SQLite and
// on PostgreSQL: the team created in Alice's New team dialog (members
// picked from the directory by name; its field errors first); its
// team_update reaching Bob's browser and Carol's CLI; text both ways
// between the browsers and the CLI, each member's delivery status shown
// (read from Bob's browser, delivered from the CLI; Carol's queue on the
// server's database while she is away); a notification without content
// and no read receipt while Bob's page is hidden (none among the frames his
// page sent before his own reply, which his outbox sends after anything
// queued before it; the receipt sent once the page is shown); an attachment sent to the
// team downloaded and verified by `curbside download`, and one from `team
// attach` downloaded in the browser; Carol removed in the members panel
// (confirmed in a dialog naming her): nothing further is queued for her on
// the server and her CLI history has none of it, and the Add members
// search shows her as removed, not to be added back; after a reload and unlock
// the team, its messages and their delivery are still there. axe-core at
// 1440×900 and 390×844 (screenshots web-team-*.png: see SCREENSHOTS in
// world.ts; on SQLite only).

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import type { BrowserContext, Page } from 'playwright-core';

import { npi } from '../live-helpers.js';
import { seriousViolations, tabThrough } from './checks.js';
import { backends, browserMissing, cleanup, Cli, DESKTOP, launchProfile, PHONE, SCREENSHOTS, skippedTest, startWebServer, type Backend, type WebServer } from './world.js';

const missing = browserMissing();
if (missing !== undefined) {
  skippedTest('care teams in the browser', missing);
} else {
  for (const b of backends()) {
    if (b.missing !== undefined) skippedTest(`care teams in the browser, on ${b.backend}`, b.missing);
    else teams(b.backend);
  }
}

/** The screenshots kept in docs/screenshots (the other screens are checked with axe only). */
const SHOTS = new Set(['new-1440', 'new-390', 'list-1440', 'list-390', 'conversation-1440', 'members-1440', 'remove-1440', 'phone-390']);

interface Row {
  message_id: string;
  from: string;
  content: { type: string; text?: string; name?: string; file?: { name?: string } };
}

function teams(backend: Backend): void {
  const PASS = 'team passphrase, long enough 16';
  const ALICE = 'Dr. Alice Adeyemi';
  const BOB = 'Dr. Bob Brennan';
  const CAROL = 'Dr. Carol Chen';
  const TEAM = 'Ward 4 consults';
  let server: WebServer;
  let cli: Cli;
  let alice: { context: BrowserContext; page: Page; profileDir: string };
  let bob: { context: BrowserContext; page: Page; profileDir: string };
  let ids: { alice: string; bob: string; carol: string };
  const violations: string[] = [];
  const pageErrors: string[] = [];
  /** The WebSocket frames each browser sent (by name), parsed. */
  const sentFrames = new Map<string, { type?: string; kind?: string }[]>();
  /** The `send` frames a browser sent from index `from` on: their kinds (`message`, `receipt`, `control`). */
  const sentKinds = (name: string, from = 0): string[] =>
    (sentFrames.get(name) ?? []).slice(from).filter((f) => f.type === 'send').map((f) => f.kind ?? '');
  const until = async (what: string, ok: () => boolean, ms = 20_000): Promise<void> => {
    const end = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const carol = (): string => cli.profile('carol');
  const carolInbox = (): Promise<string> => cli.run(['inbox', '--profile', carol(), '--wait', '2']);
  const carolHistory = async (): Promise<Row[]> =>
    (await cli.run(['team', 'history', '--profile', carol(), '--json', TEAM])).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Row);
  const queuedFor = async (user: string): Promise<number> => Number((await server.sql(`SELECT count(*) FROM queue WHERE recipient_user = '${user}'`)).trim().split('\n').pop()); // SQLite prints the PRAGMA's value first

  const teamItem = (p: Page) => p.locator('button.team-item', { hasText: TEAM });
  const pane = (p: Page) => p.locator('main.team-conversation');
  const mine = (p: Page, text: string) => pane(p).locator('.message.mine', { hasText: text });
  const theirs = (p: Page, text: string) => pane(p).locator('.message.theirs', { hasText: text });
  const composer = (p: Page) => pane(p).getByRole('textbox', { name: 'Message' });
  const send = async (p: Page, text: string): Promise<void> => {
    await composer(p).fill(text);
    await composer(p).press('Enter');
  };
  const summary = (p: Page, text: string) => mine(p, text).locator('details.delivery summary');

  /** axe at both sizes; screenshots (SQLite run only) web-team-<screen>-<size>.png. */
  const audit = async (page: Page, screen: string, phone?: () => Promise<void>, sizes: readonly ('1440' | '390')[] = ['1440', '390']): Promise<void> => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    for (const [size, viewport] of [['1440', DESKTOP], ['390', PHONE]] as const) {
      if (!sizes.includes(size)) continue;
      await page.setViewportSize(viewport);
      if (size === '390' && phone) await phone();
      await page.waitForTimeout(200);
      for (const v of await seriousViolations(page)) violations.push(`${screen} at ${size}: ${v.impact} ${v.id} (${v.help}) at ${v.targets.join(', ')}`);
      if (backend === 'sqlite' && SHOTS.has(`${screen}-${size}`)) await page.screenshot({ path: join(SCREENSHOTS, `web-team-${screen}-${size}.png`), fullPage: true });
    }
    await page.setViewportSize(DESKTOP);
  };

  const enrollBrowser = async (page: Page, name: string, nine: string, specialty: string): Promise<string> => {
    page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
    const frames: { type?: string; kind?: string }[] = [];
    sentFrames.set(name, frames);
    page.on('websocket', (ws) =>
      ws.on('framesent', (f) => {
        try {
          frames.push(JSON.parse(String(f.payload)) as { type?: string; kind?: string });
        } catch {
          frames.push({});
        }
      }),
    );
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) pageErrors.push(`${name}: CSP: ${m.text()}`);
    });
    await page.goto(`${server.url}/#invite=${await cli.invite()}`);
    await page.getByLabel('Full name').fill(name);
    await page.getByLabel('NPI').fill(npi(nine));
    await page.getByLabel('Specialty').fill(specialty);
    await page.getByLabel('Passphrase', { exact: true }).fill(PASS);
    await page.getByLabel('Passphrase again').fill(PASS);
    await page.getByRole('button', { name: 'Enroll this browser' }).click();
    await page.getByRole('button', { name: 'Lock' }).waitFor({ timeout: 120_000 });
    await page.getByText('Online').waitFor({ timeout: 20_000 });
    const id = await cli.userId(name);
    await cli.verifyUser(id);
    return id;
  };

  describe(`care teams in the browser, on ${backend}`, () => {
    before(async () => {
      server = await startWebServer({ backend });
      cli = new Cli(server);
      await cli.bootstrap();
      const carolId = await cli.clinician('carol', CAROL, '623456789', 'Cardiology');
      alice = await launchProfile();
      bob = await launchProfile();
      // One after the other: the CLI's admin profile is used by one process at a time.
      const a = await enrollBrowser(alice.page, ALICE, '723456789', 'Internal Medicine');
      const b = await enrollBrowser(bob.page, BOB, '823456789', 'Dermatology');
      ids = { alice: a, bob: b, carol: carolId };
    });

    after(async () => {
      await alice?.context.close().catch(() => undefined);
      await bob?.context.close().catch(() => undefined);
      await server?.stop();
      if (cli) cleanup(cli.dir);
      if (alice) cleanup(alice.profileDir);
      if (bob) cleanup(bob.profileDir);
    });

    test('Alice creates the team in the New team dialog: its field errors first, then members picked from the directory by name', async () => {
      const page = alice.page;
      await page.getByRole('button', { name: 'New team' }).click();
      const dialog = page.getByRole('dialog', { name: 'New team' });
      await dialog.getByRole('button', { name: 'Create team' }).click();
      await dialog.getByText('Give the team a name').waitFor();
      assert.equal(await dialog.getByLabel('Team name').getAttribute('aria-invalid'), 'true');
      await dialog.getByLabel('Team name').fill(TEAM);
      await dialog.getByRole('button', { name: 'Create team' }).click();
      await dialog.getByText('Add at least one colleague').waitFor();
      assert.ok(await dialog.getByLabel('Members').evaluate((el) => el === document.activeElement), 'the focus on the members search');
      await dialog.getByLabel('Members').fill('Brennan');
      await dialog.getByLabel('Members').press('Enter');
      await dialog.getByRole('list', { name: 'Clinicians found' }).getByRole('button', { name: /Dr\. Bob Brennan/ }).click();
      await dialog.getByLabel('Members').fill('Chen');
      await dialog.getByRole('button', { name: 'Search', exact: true }).click();
      await dialog.getByRole('list', { name: 'Clinicians found' }).getByRole('button', { name: /Dr\. Carol Chen/ }).click();
      await dialog.getByText('Chosen (2):').waitFor();
      await audit(page, 'new');
      assert.ok(!(await dialog.innerText()).includes(ids.bob), 'names, not ids');
      await dialog.getByRole('button', { name: 'Create team' }).click();
      await dialog.waitFor({ state: 'detached' });
      await pane(page).getByRole('heading', { name: TEAM, level: 2 }).waitFor();
      await pane(page).locator('.notice-line', { hasText: 'You created the team with Dr. Bob Brennan and Dr. Carol Chen' }).waitFor();
      const item = await teamItem(page).innerText();
      assert.match(item, /Team/);
      assert.match(item, /3 members/);
    });

    test('the team_update reaches Bob’s browser and Carol’s CLI: the team by name, its members by name', async () => {
      await teamItem(bob.page).waitFor({ timeout: 20_000 });
      assert.match(await teamItem(bob.page).innerText(), /3 members/);
      await teamItem(bob.page).click();
      await pane(bob.page).locator('.notice-line', { hasText: `${ALICE} added you to the team` }).waitFor();
      assert.match(await pane(bob.page).locator('.subtitle').innerText(), new RegExp(`3 members: you, .*${CAROL}`));
      assert.match(await pane(bob.page).locator('.subtitle').innerText(), new RegExp(ALICE));
      assert.match(await carolInbox(), /added you/);
      const list = await cli.run(['team', 'list', '--profile', carol()]);
      assert.match(list, new RegExp(TEAM));
      for (const p of [alice.page, bob.page]) {
        const shown = await p.locator('body').innerText();
        for (const id of Object.values(ids)) assert.ok(!shown.includes(id), `no user id on screen: ${id}`);
      }
    });

    test('browser → team: Alice’s text reaches Bob’s browser and Carol’s CLI; each member’s delivery shown as it happens', async () => {
      assert.equal(await queuedFor(ids.carol), 0, 'nothing waits for Carol yet');
      await send(alice.page, 'Rounds at 7: bed 12 first');
      await theirs(bob.page, 'Rounds at 7').waitFor({ timeout: 20_000 });
      assert.equal(await theirs(bob.page, 'Rounds at 7').locator('.sender').innerText(), ALICE);
      // Bob's page shows the team: his read receipt comes; Carol has not synced.
      await summary(alice.page, 'Rounds at 7').filter({ hasText: 'Delivered to 1 of 2, read by 1' }).waitFor({ timeout: 20_000 });
      assert.equal(await queuedFor(ids.carol), 1, "Alice's message waits for Carol's device on the server");
      await summary(alice.page, 'Rounds at 7').click();
      const detail = mine(alice.page, 'Rounds at 7').locator('.delivery-members');
      await detail.waitFor({ state: 'visible' });
      assert.match(await detail.locator('li', { hasText: BOB }).innerText(), /Read/);
      assert.match(await detail.locator('li', { hasText: CAROL }).innerText(), /Sent, not delivered yet/);
      assert.match(await carolInbox(), /Rounds at 7: bed 12 first/);
      assert.ok((await carolHistory()).some((r) => r.content.text === 'Rounds at 7: bed 12 first' && r.from === ids.alice));
      await summary(alice.page, 'Rounds at 7').filter({ hasText: 'Delivered to 2 of 2, read by 1' }).waitFor({ timeout: 20_000 });
      assert.match(await detail.locator('li', { hasText: CAROL }).innerText(), /Delivered/);
      assert.equal(await queuedFor(ids.carol), 0);
      assert.match(await mine(alice.page, 'Rounds at 7').locator('.status').innerText(), /Delivered/);
      await audit(alice.page, 'delivery');
    });

    test('CLI → team: Carol’s message in both browsers with her name; an unread count on Alice’s list until she opens the team', async () => {
      // Alice looks at another conversation meanwhile.
      await alice.page.getByLabel('Find a colleague').fill('Cardiology');
      await alice.page.getByLabel('Find a colleague').press('Enter');
      await alice.page.locator('.sidebar .results').getByRole('button', { name: /Dr\. Carol Chen/ }).click();
      await alice.page.getByRole('heading', { name: CAROL, level: 2 }).waitFor();
      await cli.run(['team', 'send', '--profile', carol(), TEAM, 'From the CLI: troponin normal']);
      await theirs(bob.page, 'troponin normal').waitFor({ timeout: 20_000 });
      assert.equal(await theirs(bob.page, 'troponin normal').locator('.sender').innerText(), CAROL);
      await teamItem(alice.page).locator('.unread', { hasText: '1' }).waitFor({ timeout: 20_000 });
      assert.match(await teamItem(alice.page).locator('.preview').innerText(), /Dr\. Carol Chen: From the CLI/);
      await audit(alice.page, 'list', async () => {
        const back = alice.page.locator('button.back:visible');
        if ((await back.count()) > 0) await back.first().click();
      });
      await teamItem(alice.page).click();
      await theirs(alice.page, 'troponin normal').waitFor();
      assert.equal(await theirs(alice.page, 'troponin normal').locator('.sender').innerText(), CAROL);
      await teamItem(alice.page).locator('.unread').waitFor({ state: 'detached' });
    });

    test('Bob’s page hidden: a notification without content, no read receipt; Bob writes back; Alice and Carol receive it', async () => {
      await bob.page.evaluate(`(() => {
        window.__notes = [];
        window.Notification = class { static permission = 'granted'; static requestPermission() { return Promise.resolve('granted'); }
          constructor(title, options) { window.__notes.push({ title, body: options && options.body }); } close() {} };
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
        document.dispatchEvent(new Event('visibilitychange'));
      })()`);
      await send(alice.page, 'Bob, can you see bed 14?');
      await bob.page.waitForFunction(() => (window as unknown as { __notes: unknown[] }).__notes.length > 0, undefined, { timeout: 20_000 });
      assert.deepEqual(await bob.page.evaluate('window.__notes'), [{ title: 'Curbside', body: 'New secure message' }]);
      await summary(alice.page, 'bed 14').filter({ hasText: 'Delivered to 1 of 2' }).waitFor({ timeout: 20_000 });
      // Still hidden, Bob writes back. His outbox sends in order, and a read
      // receipt for what arrived is queued when it is stored (before the
      // notification above): had one been made, it went before his reply.
      const hidden = sentFrames.get(BOB)?.length ?? 0;
      await send(bob.page, 'Bob here: bed 14 seen, biopsy tomorrow');
      await until('Bob’s reply on the WebSocket', () => sentKinds(BOB, hidden).includes('message'));
      const whileHidden = sentKinds(BOB, hidden);
      assert.deepEqual(whileHidden.slice(0, whileHidden.indexOf('message')), [], 'no read receipt (or anything) sent before the reply while hidden');
      await theirs(alice.page, 'biopsy tomorrow').waitFor({ timeout: 20_000 });
      assert.equal(await theirs(alice.page, 'biopsy tomorrow').locator('.sender').innerText(), BOB);
      assert.doesNotMatch(await summary(alice.page, 'bed 14').innerText(), /read by/, 'Bob’s reply came, and no read receipt before it');
      // Shown again: only now does the read receipt go, and Alice sees it.
      const shown = sentFrames.get(BOB)?.length ?? 0;
      assert.ok(!sentKinds(BOB, hidden).includes('receipt'), 'no read receipt while hidden');
      await bob.page.evaluate(`(() => { Object.defineProperty(document, 'hidden', { configurable: true, get: () => false }); document.dispatchEvent(new Event('visibilitychange')); })()`);
      await until('Bob’s read receipt once shown', () => sentKinds(BOB, shown).includes('receipt'));
      await summary(alice.page, 'bed 14').filter({ hasText: 'read by 1' }).waitFor({ timeout: 20_000 });

      assert.match(await carolInbox(), /biopsy tomorrow/);
      await summary(bob.page, 'biopsy tomorrow').filter({ hasText: /Delivered to 2 of 2/ }).waitFor({ timeout: 20_000 });
    });

    test('attachments: Alice’s file verified by `curbside download`; Carol’s `team attach` downloaded in both browsers', async () => {
      // A small picture drawn in the page (a lesion on skin), as PNG bytes.
      const png = Buffer.from(
        await alice.page.evaluate(() => {
          const c = document.createElement('canvas');
          c.width = 240;
          c.height = 160;
          const g = c.getContext('2d') as CanvasRenderingContext2D;
          g.fillStyle = '#e8b996';
          g.fillRect(0, 0, 240, 160);
          g.fillStyle = '#b5473a';
          g.beginPath();
          g.ellipse(120, 80, 46, 30, 0.4, 0, Math.PI * 2);
          g.fill();
          return c.toDataURL('image/png').split(',')[1] as string;
        }),
        'base64',
      );
      await pane(alice.page).locator('.composer input[type=file]:not([capture])').setInputFiles({ name: 'wound.png', mimeType: 'image/png', buffer: png });
      await mine(alice.page, 'wound.png').locator('summary', { hasText: /Delivered to/ }).waitFor({ timeout: 30_000 });
      await theirs(bob.page, 'wound.png').locator('img').waitFor({ timeout: 20_000 });
      await carolInbox();
      const row = (await carolHistory()).find((r) => r.content.type === 'attachment' && (r.content.file?.name ?? r.content.name) === 'wound.png');
      assert.ok(row, 'the attachment is in Carol’s team history');
      const out = join(cli.dir, 'wound-from-alice.png');
      await cli.run(['download', '--profile', carol(), row.message_id, '--out', out]);
      assert.deepEqual(readFileSync(out), png, 'the CLI decrypts the very bytes');

      const notes = 'ECG: sinus rhythm, 72 bpm.\nQTc 410 ms.\n';
      const path = join(cli.dir, 'ecg-notes.txt');
      writeFileSync(path, notes);
      await cli.run(['team', 'attach', '--profile', carol(), TEAM, path]);
      for (const p of [alice.page, bob.page]) {
        const link = theirs(p, 'ecg-notes.txt').getByRole('link', { name: /Download ecg-notes\.txt/ });
        await link.waitFor({ timeout: 20_000 });
        assert.equal(await theirs(p, 'ecg-notes.txt').locator('.sender').innerText(), CAROL);
        const [download] = await Promise.all([p.waitForEvent('download'), link.click()]);
        assert.equal(download.suggestedFilename(), 'ecg-notes.txt');
        assert.equal(readFileSync(await download.path(), 'utf8'), notes, 'decrypted in the browser');
      }
    });

    test('Alice removes Carol in the members panel (the dialog names her); nothing further is queued for Carol, her CLI has none of it', async () => {
      const page = alice.page;
      await pane(page).getByRole('button', { name: 'Members (3)' }).click();
      const panel = pane(page).getByRole('region', { name: /Members/ });
      await panel.locator('.member', { hasText: BOB }).waitFor();
      await audit(page, 'members');
      await panel.getByRole('button', { name: `Remove ${CAROL}` }).click();
      const dialog = page.getByRole('dialog', { name: `Remove ${CAROL} from ${TEAM}?` });
      await dialog.waitFor();
      await audit(page, 'remove');
      await dialog.getByRole('button', { name: `Remove ${CAROL}` }).click();
      await panel.getByText(`${CAROL} was removed from ${TEAM}.`).waitFor({ timeout: 20_000 });
      await pane(page).getByRole('button', { name: 'Members (2)' }).waitFor();
      assert.match(await teamItem(page).innerText(), /2 members/);
      await pane(page).locator('.notice-line', { hasText: `You removed ${CAROL}` }).waitFor();
      await pane(bob.page).locator('.notice-line', { hasText: `${ALICE} removed ${CAROL}` }).waitFor({ timeout: 20_000 });
      assert.doesNotMatch(await pane(bob.page).locator('.subtitle').innerText(), /Carol/);

      assert.match(await carolInbox(), /removed you/);
      assert.match(await cli.run(['team', 'list', '--profile', carol()]), /you were removed/);
      assert.equal(await queuedFor(ids.carol), 0);
      const before = (await carolHistory()).length;

      await send(page, 'After Carol left: Alice');
      await summary(page, 'After Carol left: Alice').filter({ hasText: 'Delivered to 1 of 1' }).waitFor({ timeout: 20_000 });
      await send(bob.page, 'After Carol left: Bob');
      await theirs(page, 'After Carol left: Bob').waitFor({ timeout: 20_000 });
      await summary(bob.page, 'After Carol left: Bob').filter({ hasText: 'Delivered to 1 of 1' }).waitFor({ timeout: 20_000 });
      assert.equal(await queuedFor(ids.carol), 0, 'neither browser sent anything for Carol');
      const sync = await carolInbox();
      assert.doesNotMatch(sync, /After Carol left/);
      const rows = await carolHistory();
      assert.equal(rows.length, before);
      assert.ok(!rows.some((r) => (r.content.text ?? '').includes('After Carol left')));

      // Her client ignores the team from now on (the CLI's rule): the Add members search says she cannot be added back.
      const search = panel.getByRole('searchbox', { name: 'Add members' });
      await search.fill('Chen');
      await search.press('Enter');
      await panel.getByText(`${CAROL} was removed from this team and cannot be added back: create a new team with them.`).waitFor();
      assert.equal(await panel.getByRole('list', { name: 'Clinicians found' }).getByRole('button').count(), 0, 'no Add button for her');
      await panel.getByText('No one matching “Chen” can be added').waitFor();
      await audit(page, 'readd', undefined, ['1440']);
      await pane(page).getByRole('button', { name: 'Close members' }).click();
    });

    test('the team survives a reload and unlock: its members, messages, files and each member’s delivery', async () => {
      const page = alice.page;
      await page.reload();
      await page.getByRole('heading', { name: 'Unlock Curbside' }).waitFor();
      await page.getByLabel('Passphrase').fill(PASS);
      await page.getByRole('button', { name: 'Unlock' }).click();
      await teamItem(page).waitFor({ timeout: 60_000 });
      assert.match(await teamItem(page).innerText(), /2 members/);
      await teamItem(page).click();
      await pane(page).getByRole('button', { name: 'Members (2)' }).waitFor();
      for (const text of ['Rounds at 7', 'After Carol left: Alice']) await mine(page, text).waitFor();
      for (const text of ['troponin normal', 'biopsy tomorrow', 'ecg-notes.txt', 'After Carol left: Bob']) await theirs(page, text).waitFor();
      assert.match(await summary(page, 'Rounds at 7').innerText(), /Delivered to 2 of 2, read by 1/);
      // Opened (a closed detail's text is not rendered: innerText is empty), then read once shown.
      const carolsDelivery = mine(page, 'Rounds at 7').locator('.delivery-members li', { hasText: CAROL });
      if (!(await carolsDelivery.isVisible())) await summary(page, 'Rounds at 7').click();
      await carolsDelivery.waitFor({ state: 'visible' });
      assert.match(await carolsDelivery.innerText(), /Delivered/);
      await page.getByText('Online').waitFor({ timeout: 20_000 });
      await send(bob.page, 'After the reload');
      await theirs(page, 'After the reload').waitFor({ timeout: 20_000 });
      await mine(page, 'Rounds at 7').scrollIntoViewIfNeeded();
      await audit(page, 'conversation', undefined, ['1440']);
      await audit(page, 'phone', async () => {
        await mine(page, 'Rounds at 7').scrollIntoViewIfNeeded();
      }, ['390']);
      // The keyboard reaches the team's controls, each with a name and a visible focus.
      await composer(page).focus();
      const reached: string[] = [];
      for (const f of await tabThrough(page, 45)) {
        assert.ok(f.name !== '', `a focusable control without a name (after ${reached.join(' → ')})`);
        assert.ok(!f.outline.startsWith('none') && f.outline !== 'solid 0px', `${f.name}: the focus is visible (${f.outline})`);
        reached.push(f.name);
      }
      for (const name of ['New team', TEAM, 'Members (2)', 'Delivered to 2 of 2', 'Download ecg-notes.txt', 'Message', 'Attach a file', 'Send']) {
        assert.ok(reached.some((r) => r.startsWith(name)), `${name} is reached with Tab: ${reached.join(' → ')}`);
      }
    });

    test('no serious or critical axe violation on the team screens; no page error', () => {
      assert.deepEqual(violations, []);
      assert.deepEqual(pageErrors, []);
    });
  });
}
