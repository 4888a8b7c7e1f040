// On-call roles and curbside consults in the browser (issue 18), on SQLite
// and PostgreSQL, in real headless Chromium against a real `curbside
// serve`: an administrator, Dr. Alice Adeyemi (cardiology) and Dr. Carol
// Chen (dermatology) in three browsers; Dr. Dan Diaz and Dr. Erin Ellis
// (dermatology) on the web protocol client in Node. In order: the
// administrator creates "On-call dermatology" and schedules Carol, found by
// name, on the On-call screen; Alice finds the role in the colleague search
// ("On-call dermatology — now: Dr. Carol Chen …") and writes to it (the send
// frame names the role): Carol's browser receives it, she answers, and
// Alice's role thread says "Dr. Carol Chen answered"; Carol hands the role
// off to Dan from the On-call screen, and Alice's next message reaches Dan,
// not Carol. Consults: Carol opts in from the Consults screen and Dan over
// HTTP, Erin does not; Alice asks Dermatology and sees "Sent to 2
// Dermatology clinicians" (not who); exactly Carol and Dan get the
// question; Alice attaches a photo (a real PNG made here) from the picker:
// her consult shows it, Carol's browser shows it decrypted (its pixels
// decoded: naturalWidth) and downloads the same bytes, and Dan's client
// decrypts it to them; Carol answers and Alice sees the answer by name;
// Alice closes it and Carol's browser shows it closed, without an answer
// form, the image still there. Dan then asks with an image from his client:
// Carol's browser shows it as a decrypted preview. With the CLI: Dr. Fran
// Fields (dermatology, CLI) opts in; Alice's next consult with a photo
// reaches her (`consult list` names the image, `consult save` writes the
// same bytes), and Fran's `consult ask --image` is a decrypted preview in
// Carol's browser (a second `--image` that is not an image: a Download
// button, the same bytes). Screenshots (SQLite
// run): web-oncall-admin-*, web-oncall-thread-*, web-oncall-*,
// web-consult-ask-*, web-consult-answer-*, web-consults-*,
// web-consult-image-*.

import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import type { BrowserContext, Page } from 'playwright-core';

import { Client, downloadAttachment, enroll, OnCallApi, uploadAttachment, type Received } from '../../src/client/index.js';
import { systemRandom } from '../../src/crypto/primitives.js';
import { httpsFetch, npi, png, wsFactory } from '../live-helpers.js';
import { seriousViolations } from './checks.js';
import { backends, browserMissing, cleanup, Cli, DESKTOP, launchProfile, PHONE, SCREENSHOTS, skippedTest, startWebServer, type Backend, type WebServer } from './world.js';

const missing = browserMissing();
if (missing !== undefined) {
  skippedTest('on-call roles and consults in the browser', missing);
} else {
  for (const b of backends()) {
    if (b.missing !== undefined) skippedTest(`on-call roles and consults in the browser, on ${b.backend}`, b.missing);
    else oncall(b.backend);
  }
}

function oncall(backend: Backend): void {
  const PASS = 'on-call passphrase, long enough 16';
  const ALICE = 'Dr. Alice Adeyemi';
  const CAROL = 'Dr. Carol Chen';
  const DAN = 'Dr. Dan Diaz';
  const ROLE = 'On-call dermatology';
  let server: WebServer;
  let cli: Cli;
  const profiles: { context: BrowserContext; page: Page; profileDir: string }[] = [];
  let admin: Page;
  let alice: Page;
  let carol: Page;
  let dan: Client;
  let erin: Client;
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
  const enrollBrowser = async (page: Page, name: string, clinician: { nine: string; specialty: string } | undefined, invite: string): Promise<void> => {
    await page.goto(`${server.url}/#invite=${invite}${clinician === undefined ? '&role=admin' : ''}`);
    await page.getByLabel('Full name').fill(name);
    if (clinician !== undefined) {
      await page.getByLabel('NPI').fill(npi(clinician.nine));
      await page.getByLabel('Specialty').fill(clinician.specialty);
    }
    await page.getByLabel('Passphrase', { exact: true }).fill(PASS);
    await page.getByLabel('Passphrase again').fill(PASS);
    await page.getByRole('button', { name: 'Enroll this browser' }).click();
    await page.getByRole('button', { name: 'Lock' }).waitFor({ timeout: 120_000 });
    await page.getByText('Online').waitFor({ timeout: 20_000 });
  };
  const nodeClinician = async (name: string, nine: string): Promise<Client> => {
    const { account } = await enroll({ url: `https://${server.address}`, serverName: 'localhost' }, await cli.invite(), { displayName: name, npi: npi(nine), specialty: 'Dermatology' }, { fetch: httpsFetch(server.certPem) });
    await cli.verifyUser(account.me.user_id);
    const c = new Client(account, { webSocket: wsFactory(server.certPem), fetch: httpsFetch(server.certPem) });
    c.start();
    await c.waitOnline();
    return c;
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
  const topButton = (page: Page, name: string) => page.locator('header.topbar').getByRole('button', { name: new RegExp(`^${name}( \\(|$)`) });
  const screen = async (page: Page, name: 'On-call' | 'Consults'): Promise<void> => {
    if (await topButton(page, name).count() === 0) return; // already shown (its button says Messages)
    await topButton(page, name).click();
  };
  const back = async (page: Page): Promise<void> => {
    if ((await topButton(page, 'Messages').count()) > 0) await topButton(page, 'Messages').first().click();
  };
  /** axe at both sizes; on SQLite the screenshots web-<name>-<size>.png (`show`: scrolled into view first). */
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
  const oncallMain = (page: Page) => page.locator('#oncall-main');
  const consultsMain = (page: Page) => page.locator('#consults-main');
  /** Whether the page shows the image `name` decoded, `width` pixels wide (decrypted in the page: a blob: URL). */
  const decoded = (page: Page, name: string, width: number) =>
    page.waitForFunction(([alt, w]) => [...document.querySelectorAll('img')].some((i) => i.alt === alt && i.complete && i.naturalWidth === w && i.src.startsWith('blob:')), [`Image ${name}`, width] as const, { timeout: 20_000 });
  const SHIN = png(320, 200);

  describe(`on-call roles and consults in the browser, on ${backend}`, () => {
    before(async () => {
      server = await startWebServer({ backend });
      cli = new Cli(server);
      await cli.bootstrap();
      const out = await cli.run(['admin', 'invite', '--profile', cli.profile('admin'), '--role', 'admin']);
      const adminInvite = /cbs_inv_[A-Za-z0-9_-]+/.exec(out)?.[0];
      assert.ok(adminInvite);
      admin = await open('admin');
      await enrollBrowser(admin, 'Ada Admin', undefined, adminInvite);
      alice = await open('alice');
      await enrollBrowser(alice, ALICE, { nine: '323456789', specialty: 'Cardiology' }, await cli.invite());
      carol = await open('carol');
      await enrollBrowser(carol, CAROL, { nine: '423456789', specialty: 'Dermatology' }, await cli.invite());
      await cli.verifyUser(await cli.userId(ALICE));
      await cli.verifyUser(await cli.userId(CAROL));
      dan = await nodeClinician(DAN, '523456789');
      erin = await nodeClinician('Dr. Erin Ellis', '623456789');
    });

    after(async () => {
      dan?.stop();
      erin?.stop();
      for (const p of profiles) {
        await p.context.close().catch(() => undefined);
        cleanup(p.profileDir);
      }
      await server?.stop();
      if (cli) cleanup(cli.dir);
    });

    test('the administrator creates a role and schedules Carol, found by name; the role shows who holds it now', async () => {
      await screen(admin, 'On-call');
      await oncallMain(admin).getByText('No on-call roles yet: create one below.').waitFor();
      await oncallMain(admin).getByLabel('Name', { exact: true }).fill(ROLE);
      await oncallMain(admin).getByLabel('Specialty', { exact: true }).fill('Dermatology');
      await oncallMain(admin).getByRole('button', { name: 'Create role' }).click();
      await oncallMain(admin).getByText(`Created ${ROLE}. Schedule who holds it below (recorded in the audit log).`).waitFor();
      await oncallMain(admin).getByLabel('Clinician', { exact: true }).fill('Chen');
      await oncallMain(admin).getByRole('button', { name: 'Find', exact: true }).click();
      await oncallMain(admin).getByLabel('Clinician: choose').waitFor();
      await oncallMain(admin).getByRole('button', { name: 'Schedule shift' }).click();
      await oncallMain(admin).getByText(new RegExp(`^${CAROL} holds ${ROLE} from .* \\(recorded in the audit log\\)\\.$`)).waitFor();
      await oncallMain(admin).locator('.oncall-role').getByText(new RegExp(`^Now: ${CAROL} \\(until `)).waitFor();
      await shoot(admin, 'oncall-admin', () => oncallMain(admin).evaluate((el) => el.scrollTo(0, 0)));
    });

    test('Alice finds the role in the colleague search and writes to it: Carol receives it, answers, and Alice’s thread shows who answered', async () => {
      await alice.getByLabel('Find a colleague').fill('dermatology');
      await alice.getByLabel('Find a colleague').press('Enter');
      const result = alice.locator('.results').getByRole('button', { name: new RegExp(`^${ROLE} — now: ${CAROL}`) });
      await result.click();
      await thread(alice).getByRole('heading', { name: ROLE, level: 2 }).waitFor();
      await thread(alice).getByText(new RegExp(`^Now on call: ${CAROL}`)).waitFor();
      const box = thread(alice).getByRole('textbox', { name: 'Message' });
      await box.fill('Forearm rash in bay 4: can you see her today?');
      await box.press('Enter');
      await thread(alice).getByText(`Sent to ${CAROL}, who holds ${ROLE} now.`).waitFor();
      const send = (frames.get(alice) ?? []).find((f) => f['type'] === 'send' && typeof f['role'] === 'string');
      assert.ok(send, 'the send frame names the role');
      await thread(alice).locator('.message', { hasText: 'Forearm rash' }).getByText(`To ${CAROL}, on call`).waitFor();

      await carol.locator('nav').getByRole('button', { name: new RegExp(ALICE) }).first().click({ timeout: 20_000 });
      await carol.locator('main.conversation .message', { hasText: 'Forearm rash in bay 4' }).waitFor();
      const reply = carol.locator('main.conversation').getByRole('textbox', { name: 'Message' });
      await reply.fill('After clinic, about 4 pm.');
      await reply.press('Enter');
      await thread(alice).locator('.message', { hasText: 'After clinic, about 4 pm.' }).getByText(`${CAROL} answered`).waitFor({ timeout: 20_000 });
      await alice.locator('nav .role-item', { hasText: ROLE }).waitFor();
      await shoot(alice, 'oncall-thread');
    });

    test('Carol hands the role off to Dan: Alice’s next message reaches Dan, not Carol', async () => {
      await screen(carol, 'On-call');
      const card = oncallMain(carol).locator('.oncall-role', { hasText: ROLE });
      await card.getByText('You hold it').waitFor();
      await shoot(carol, 'oncall');
      await card.getByRole('button', { name: 'Hand off' }).click();
      const dialog = carol.getByRole('dialog', { name: `Hand off ${ROLE}` });
      await dialog.getByLabel('Hand off to', { exact: true }).fill('Diaz');
      await dialog.getByRole('button', { name: 'Find', exact: true }).click();
      await dialog.getByLabel('Hand off to: choose').waitFor();
      await dialog.getByRole('button', { name: 'Hand off now' }).click();
      await carol.getByText(`Handed off: ${DAN} holds ${ROLE} from now on; messages to the role go to them.`).waitFor();
      await card.getByText(new RegExp(`^Now: ${DAN}`)).waitFor();
      await back(carol);

      const box = thread(alice).getByRole('textbox', { name: 'Message' });
      await box.fill('Are you still able to come?');
      await box.press('Enter');
      await thread(alice).getByText(`Sent to ${DAN}, who holds ${ROLE} now.`).waitFor();
      const atDan = await next(dan, 'text');
      assert.ok(atDan?.content?.type === 'text' && atDan.content.text === 'Are you still able to come?');
      await dan.sendText([atDan.sender.user_id], 'Dan here, covering: on my way.');
      await thread(alice).locator('.message', { hasText: 'Dan here' }).getByText(`${DAN} answered`).waitFor({ timeout: 20_000 });
      await thread(alice).locator('.message', { hasText: 'Are you still able' }).getByText(`To ${DAN}, on call`).waitFor();
      await carol.waitForTimeout(1500);
      assert.equal(await carol.locator('main.conversation .message', { hasText: 'Are you still able to come?' }).count(), 0, 'Carol no longer receives the role');
    });

    test('a consult reaches exactly the opted-in verified dermatologists; Carol’s answer returns to Alice; closing it ends it in Carol’s browser', async () => {
      await screen(carol, 'Consults');
      await consultsMain(carol).getByLabel('Answer Dermatology consults from colleagues').check();
      await carol.getByText('You now receive Dermatology consults from colleagues.').waitFor();
      await new OnCallApi(dan.http).optIn(['Dermatology']);

      await screen(alice, 'Consults');
      await consultsMain(alice).getByLabel('Specialty', { exact: true }).fill('Neurology');
      await consultsMain(alice).getByLabel('Question', { exact: true }).fill('Anyone?');
      await consultsMain(alice).getByRole('button', { name: 'Ask', exact: true }).click();
      await alice.getByText(/^No verified Neurology clinician answers consults yet/).waitFor();
      await consultsMain(alice).getByLabel('Specialty', { exact: true }).fill('Dermatology');
      await consultsMain(alice).getByLabel('Question', { exact: true }).fill('Target lesions on the palms after a new drug: EM or SJS?');
      const chooser = alice.waitForEvent('filechooser');
      await consultsMain(alice).getByRole('button', { name: 'Add images' }).click();
      const extras = [1, 2, 3, 4].map((n) => ({ name: `extra-${n}.png`, mimeType: 'image/png', buffer: Buffer.from(png(4, 4)) }));
      await (await chooser).setFiles([{ name: 'palms.png', mimeType: 'image/png', buffer: Buffer.from(SHIN) }, ...extras]);
      const picked = consultsMain(alice).getByRole('list', { name: 'Images to attach' });
      await picked.getByText(/^palms\.png \(\d+(\.\d)? KB\)$/).waitFor();
      await consultsMain(alice).getByText('A consult takes at most 4 images: remove 1.', { exact: true }).waitFor();
      for (const e of extras) await picked.getByRole('button', { name: `Remove ${e.name}` }).click();
      assert.equal(await picked.locator('li').count(), 1);
      assert.equal(await consultsMain(alice).getByText(/at most 4 images/).count(), 0, 'the error goes once it is fixed');
      await consultsMain(alice).getByRole('button', { name: 'Ask', exact: true }).click();
      await alice.getByText(/^Sent, with its image, to 2 Dermatology clinicians who answer consults\./).waitFor();
      assert.equal(await consultsMain(alice).getByRole('list', { name: 'Images to attach' }).locator('li').count(), 0, 'the picker is cleared once sent');
      await consultsMain(alice).locator('.consult', { hasText: 'Target lesions' }).getByText('Sent to 2 Dermatology clinicians · no answer yet', { exact: true }).waitFor();
      await decoded(alice, 'palms.png', 320); // the asker sees her image too
      await shoot(alice, 'consult-ask', () => consultsMain(alice).evaluate((el) => el.scrollTo(0, 0)));
      const q = await next(dan, 'consult');
      assert.ok(q?.content?.type === 'consult' && q.content.specialty === 'Dermatology');
      assert.deepEqual(q.content.attachments.map((a) => a.name), ['palms.png'], 'the question names its image');
      assert.deepEqual(await downloadAttachment(dan.http, q.content.attachments[0]!), SHIN, 'Dan decrypts it to the bytes Alice picked');
      assert.equal(await next(erin, 'consult', 1_500), undefined, 'Erin did not opt in');

      const asked = consultsMain(carol).locator('.consult', { hasText: 'Target lesions' });
      await asked.getByText(`${ALICE} asked Dermatology`, { exact: true }).waitFor({ timeout: 20_000 });
      await decoded(carol, 'palms.png', 320);
      const download = carol.waitForEvent('download');
      await asked.getByRole('button', { name: /^Download palms\.png/ }).click();
      const saved = await download;
      assert.equal(saved.suggestedFilename(), 'palms.png');
      assert.deepEqual(new Uint8Array(readFileSync((await saved.path()) ?? '')), SHIN, 'Carol downloads the decrypted bytes');
      await shoot(carol, 'consult-image', () => asked.getByRole('img', { name: 'Image palms.png' }).scrollIntoViewIfNeeded());
      await carol.setViewportSize(PHONE);
      const fits = await carol.evaluate(() => ({ page: document.documentElement.scrollWidth, width: innerWidth, items: [...document.querySelectorAll('.consult img, .consult button')].map((e) => e.getBoundingClientRect().right) }));
      assert.ok(fits.page <= fits.width && fits.items.every((r) => r <= fits.width), `on a phone the consult and its image fit the width: ${JSON.stringify(fits)}`);
      await carol.setViewportSize(DESKTOP);
      await asked.getByLabel('Your answer').fill('No mucosal involvement? Then likely EM minor; stop the drug.');
      await shoot(carol, 'consult-answer', () => asked.getByLabel('Your answer').scrollIntoViewIfNeeded());
      await asked.getByRole('button', { name: 'Send answer' }).click();
      await carol.getByText(`Answered: ${ALICE} can read it.`).waitFor();

      const mine = consultsMain(alice).locator('.consult', { hasText: 'Target lesions' });
      await mine.locator('.consult-answers').getByText(CAROL).waitFor({ timeout: 20_000 });
      await mine.getByText('Sent to 2 Dermatology clinicians · 1 answer', { exact: true }).waitFor();
      await shoot(alice, 'consults', () => mine.scrollIntoViewIfNeeded());
      await mine.getByRole('button', { name: 'Close consult' }).click();
      await alice.getByText('Closed: no more answers are taken, and everyone asked is told.').waitFor();
      await mine.getByText('Closed', { exact: true }).waitFor();
      await asked.getByText('Closed', { exact: true }).waitFor({ timeout: 20_000 });
      assert.equal(await asked.getByLabel('Your answer').count(), 0, 'no answer form once closed');
      await decoded(carol, 'palms.png', 320); // closed, its image still shown
      assert.ok((await next(dan, 'consult_closed')) !== undefined, 'Dan is told too');
    });

    test('a consult with an image asked from Dan’s client: Carol’s browser shows it as a decrypted preview with its name', async () => {
      const mole = png(40, 30);
      const { file } = await uploadAttachment(dan.http, mole, 'mole-dermoscopy.png', systemRandom);
      const c = await new OnCallApi(dan.http).postConsult('Dermatology', false);
      assert.deepEqual(c.recipients, [await cli.userId(CAROL)], 'Carol is the one other opted-in dermatologist');
      await dan.send([...c.recipients], 'message', { type: 'consult', consult_id: c.consult_id, specialty: 'Dermatology', text: 'Asymmetric mole, dermoscopy attached: excise?', attachments: [file] }, undefined, { consult: c.consult_id });
      const item = consultsMain(carol).locator('.consult', { hasText: 'Asymmetric mole' });
      await item.getByText(`${DAN} asked Dermatology`, { exact: true }).waitFor({ timeout: 20_000 });
      await decoded(carol, 'mole-dermoscopy.png', 40);
      await item.getByRole('button', { name: /^Download mole-dermoscopy\.png \(/ }).waitFor();
      const box = await item.getByRole('img', { name: 'Image mole-dermoscopy.png' }).boundingBox();
      assert.ok(box !== null && box.width > 0);
    });

    test('with the CLI: the browser’s consult image reaches a CLI dermatologist (consult list names it, consult save writes its bytes); one asked with --image is a decrypted preview in Carol’s browser, a file that is not an image a download', async () => {
      const FRAN = 'Dr. Fran Fields';
      const fran = cli.profile('fran');
      await cli.clinician('fran', FRAN, '823456789', 'Dermatology');
      await cli.run(['consult', 'optin', '--profile', fran]);
      const burn = png(160, 120);
      await screen(alice, 'Consults');
      await consultsMain(alice).getByLabel('Specialty', { exact: true }).fill('Dermatology');
      await consultsMain(alice).getByLabel('Question', { exact: true }).fill('Healing burn on the forearm, photo attached: graft?');
      const chooser = alice.waitForEvent('filechooser');
      await consultsMain(alice).getByRole('button', { name: 'Add images' }).click();
      await (await chooser).setFiles({ name: 'burn.png', mimeType: 'image/png', buffer: Buffer.from(burn) });
      await consultsMain(alice).getByRole('button', { name: 'Ask', exact: true }).click();
      await alice.getByText(/^Sent, with its image, to 3 Dermatology clinicians who answer consults\./).waitFor();
      await cli.run(['sync', '--profile', fran, '--wait', '2']);
      const list = await cli.run(['consult', 'list', '--profile', fran]);
      const id = new RegExp(`\\[consult (c[0-9a-f]+)\\] open: Dermatology question from ${ALICE}: Healing burn on the forearm`).exec(list)?.[1];
      assert.ok(id !== undefined, `the CLI lists Alice's consult by her name: ${list}`);
      assert.match(list, /Healing burn on the forearm, photo attached: graft\?\n\s+with 1 image: burn\.png \(\d+ bytes\)/, 'and names its image');
      const out = join(cli.dir, 'fran-saved');
      await cli.run(['consult', 'save', '--profile', fran, id, '--out', out]);
      assert.deepEqual(readdirSync(out), ['burn.png']);
      assert.deepEqual(new Uint8Array(readFileSync(join(out, 'burn.png'))), burn, 'the CLI decrypts the bytes Alice picked');

      const nail = join(cli.dir, 'nail.png');
      writeFileSync(nail, png(64, 48));
      const report = join(cli.dir, 'nail-report.pdf');
      writeFileSync(report, '%PDF-1.4 not really, but not an image either');
      // The CLI refuses a file that is not an image, as this client does, before anything is posted.
      await assert.rejects(
        cli.run(['consult', 'ask', '--profile', fran, '--specialty', 'Dermatology', '--image', nail, '--image', report, 'Nail dystrophy?']),
        /nail-report\.pdf is not an image \(PNG, JPEG, GIF, WebP, HEIC, TIFF or BMP\)[\s\S]*nobody was asked/,
      );
      await cli.run(['consult', 'ask', '--profile', fran, '--specialty', 'Dermatology', '--image', nail, 'Nail dystrophy, photo attached: onychomycosis?']);
      const item = consultsMain(carol).locator('.consult', { hasText: 'Nail dystrophy' });
      await item.getByText(`${FRAN} asked Dermatology`, { exact: true }).waitFor({ timeout: 20_000 });
      await decoded(carol, 'nail.png', 64);
      await item.getByRole('button', { name: /^Download nail\.png \(/ }).waitFor();
      assert.equal(await consultsMain(carol).locator('.consult', { hasText: 'Nail dystrophy?' }).count(), 0, 'the refused question was never asked');
    });

    test('no serious accessibility violations, page errors or CSP reports', () => {
      assert.deepEqual(violations, []);
      assert.deepEqual(pageErrors, []);
    });
  });
}
