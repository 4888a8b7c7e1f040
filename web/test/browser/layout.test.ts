// Every screen of the browser application fits a phone (390×844) and a
// desktop (1440×900), in real headless Chromium against a real `curbside
// serve`: the top bar is one row on a desktop and, on a phone, two rows of
// a fixed layout (the brand, the connection and Settings and Lock, then the
// screens as a strip of buttons) that push the screen down: nothing of a
// screen lies under the top bar, nothing is wider than the window, the page
// itself never scrolls (each screen scrolls in its own pane) and the top
// bar is the same height on every screen. Screens: the conversation list,
// a conversation, a role's thread, On-call, Consults (a status line
// shown), Referrals and its form, Admin, Linked devices, for an
// administrator (the most buttons a top bar has).
// Screenshots: web-layout-<screen>-<size>.png (SQLite).

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import type { BrowserContext, Page } from 'playwright-core';

import { seriousViolations } from './checks.js';
import { backends, browserMissing, cleanup, Cli, DESKTOP, launchProfile, PHONE, SCREENSHOTS, skippedTest, startWebServer, type Backend, type WebServer } from './world.js';

const missing = browserMissing();
if (missing !== undefined) {
  skippedTest('every screen fits a phone and a desktop', missing);
} else {
  for (const b of backends()) {
    if (b.missing !== undefined) skippedTest(`every screen fits a phone and a desktop, on ${b.backend}`, b.missing);
    else layout(b.backend);
  }
}

/** Where the top bar ends and what is shown under it, measured in the page. */
interface Measure {
  readonly barBottom: number;
  readonly barHeight: number;
  readonly rows: number;
  readonly screenTop: number;
  readonly covered: string[];
  readonly scrollWidth: number;
  readonly scrollHeight: number;
  readonly width: number;
  readonly height: number;
}

function layout(backend: Backend): void {
  const PASS = 'layout passphrase, long enough';
  let server: WebServer;
  let cli: Cli;
  let profile: { context: BrowserContext; page: Page; profileDir: string };
  let page: Page;
  const violations: string[] = [];
  const pageErrors: string[] = [];
  const heights = new Map<string, number[]>();

  const top = (name: string) => page.locator('header.topbar').getByRole('button', { name: new RegExp(`^${name}( \\(|$)`) });
  /** The top bar and the screen shown under it: every visible element of the screen starts below the bar. */
  const measure = (): Promise<Measure> =>
    page.evaluate(() => {
      const bar = document.querySelector('header.topbar') as HTMLElement;
      const b = bar.getBoundingClientRect();
      // Rows: the bar's items (centred in their row) grouped by their vertical centre.
      const centres = [...bar.querySelectorAll('button, h1, p')].filter((e) => (e as HTMLElement).offsetParent !== null).map((e) => { const r = e.getBoundingClientRect(); return (r.top + r.bottom) / 2; }).sort((x, y) => x - y);
      let rows = 0;
      let last = -Infinity;
      for (const c of centres) if (c - last > 12) (rows++, (last = c));
      const app = document.querySelector('.app-main') as HTMLElement;
      const shown = [...app.children].filter((e) => e !== bar && (e as HTMLElement).offsetParent !== null && e.getBoundingClientRect().height > 0);
      const covered: string[] = [];
      let screenTop = Infinity;
      for (const el of shown) {
        const r = el.getBoundingClientRect();
        screenTop = Math.min(screenTop, r.top);
        if (r.top < b.bottom - 0.5) covered.push(`${el.tagName.toLowerCase()}.${[...el.classList].join('.')} top ${r.top} < ${b.bottom}`);
        // What the bar would hide: an element drawn in the bar's area that is not the bar.
        for (const x of [8, b.width / 2, b.width - 8]) {
          for (const y of [b.top + 2, b.bottom - 2]) {
            const hit = document.elementFromPoint(x, y);
            if (hit !== null && !bar.contains(hit)) covered.push(`${hit.tagName.toLowerCase()}.${[...hit.classList].join('.')} drawn over the bar at ${x},${y}`);
          }
        }
      }
      return {
        barBottom: b.bottom,
        barHeight: b.height,
        rows,
        screenTop,
        covered: [...new Set(covered)],
        scrollWidth: document.documentElement.scrollWidth,
        scrollHeight: document.documentElement.scrollHeight,
        width: innerWidth,
        height: innerHeight,
      };
    });
  /** At both sizes: checked, axe-checked, and on SQLite shot as web-layout-<name>-<size>.png. */
  const check = async (name: string, show?: () => Promise<void>): Promise<void> => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    for (const [size, viewport] of [['1440', DESKTOP], ['390', PHONE]] as const) {
      await page.setViewportSize(viewport);
      if (show) await show();
      await page.waitForTimeout(250);
      const m = await measure();
      const problems: string[] = [...m.covered];
      if (m.screenTop < m.barBottom - 0.5) problems.push(`the screen starts under the top bar (${m.screenTop} < ${m.barBottom})`);
      if (m.scrollWidth > m.width) problems.push(`wider than the window (${m.scrollWidth} > ${m.width})`);
      if (m.scrollHeight > m.height + 1) problems.push(`the page itself scrolls (${m.scrollHeight} > ${m.height}): the top bar scrolls away and the screen under it`);
      if (size === '1440' && m.rows !== 1) problems.push(`${m.rows} rows on a desktop (${m.barHeight}px)`);
      if (size === '390' && (m.rows > 2 || m.barHeight > 110)) problems.push(`more than the phone layout's two rows (${m.rows} rows, ${m.barHeight}px)`);
      if (backend === 'sqlite') await page.screenshot({ path: join(SCREENSHOTS, `web-layout-${name}-${size}.png`) });
      assert.deepEqual(problems, [], `${name} at ${size}`);
      heights.set(size, [...(heights.get(size) ?? []), Math.round(m.barHeight)]);
      for (const v of await seriousViolations(page)) violations.push(`${name} at ${size}: ${v.impact} ${v.id} (${v.help}) at ${v.targets.join(', ')}`);
    }
    await page.setViewportSize(DESKTOP);
  };
  const back = async (): Promise<void> => {
    if ((await top('Messages').count()) > 0) await top('Messages').first().click();
  };

  describe(`every screen fits a phone and a desktop, on ${backend}`, () => {
    before(async () => {
      server = await startWebServer({ backend });
      cli = new Cli(server);
      await cli.bootstrap();
      await cli.clinician('bob', 'Dr. Bob Brennan', '223456789', 'Dermatology');
      profile = await launchProfile();
      page = profile.page;
      page.on('pageerror', (e) => pageErrors.push(e.message));
      page.on('console', (m) => {
        if (/Content Security Policy|Refused to/i.test(m.text())) pageErrors.push(`CSP: ${m.text()}`);
      });
      // An administrator: the most buttons a top bar has (On-call, Consults, Referrals, Admin, Settings, Lock).
      const invite = /cbs_inv_[A-Za-z0-9_-]+/.exec(await cli.run(['admin', 'invite', '--profile', cli.profile('admin'), '--role', 'admin']))?.[0];
      assert.ok(invite !== undefined);
      await page.goto(`${server.url}/#invite=${invite}&role=admin`);
      await page.getByLabel('Full name').fill('Ada Admin');
      await page.getByLabel('Passphrase', { exact: true }).fill(PASS);
      await page.getByLabel('Passphrase again').fill(PASS);
      await page.getByRole('button', { name: 'Enroll this browser' }).click();
      await page.getByRole('button', { name: 'Lock' }).waitFor({ timeout: 120_000 });
      const ada = await cli.userId('Ada Admin');
      await cli.run(['oncall', 'create', '--profile', cli.profile('admin'), '--name', 'On-call dermatology', '--specialty', 'Dermatology']);
      await cli.run(['oncall', 'schedule', '--profile', cli.profile('admin'), 'On-call dermatology', '--clinician', 'Brennan', '--from', 'now', '--until', '+12h']);
      await cli.run(['send', '--profile', cli.profile('bob'), '--allow-unverified', '--to', ada, 'Morning: the rash in bay 4 looks better today.']);
      await page.reload();
      await page.getByRole('heading', { name: 'Unlock Curbside' }).waitFor();
      await page.getByLabel('Passphrase').fill(PASS);
      await page.getByRole('button', { name: 'Unlock' }).click();
      await page.getByText('Online').waitFor({ timeout: 60_000 });
    });

    after(async () => {
      await profile?.context.close().catch(() => undefined);
      if (profile) cleanup(profile.profileDir);
      await server?.stop();
      if (cli) cleanup(cli.dir);
    });

    test('the conversation list and a conversation', async () => {
      await page.locator('nav').getByRole('button', { name: /Dr\. Bob Brennan/ }).first().waitFor({ timeout: 20_000 });
      await check('list', async () => {
        if ((await page.getByRole('button', { name: 'Back' }).first().isVisible())) await page.getByRole('button', { name: 'Back' }).first().click();
      });
      await check('conversation', async () => {
        if (await page.locator('nav').getByRole('button', { name: /Dr\. Bob Brennan/ }).first().isVisible()) await page.locator('nav').getByRole('button', { name: /Dr\. Bob Brennan/ }).first().click();
        await page.locator('main.conversation .message', { hasText: 'bay 4' }).waitFor();
      });
    });

    test('a role’s thread', async () => {
      if (await page.getByRole('button', { name: 'Back' }).first().isVisible()) await page.getByRole('button', { name: 'Back' }).first().click();
      await page.getByLabel('Find a colleague').fill('dermatology');
      await page.getByLabel('Find a colleague').press('Enter');
      await page.locator('.results').getByRole('button', { name: /^On-call dermatology — now: / }).click();
      await page.locator('main.oncall-thread').getByRole('heading', { name: 'On-call dermatology', level: 2 }).waitFor();
      await check('oncall-thread');
    });

    test('On-call, Consults (with a status line), Referrals and its form, Admin, Linked devices', async () => {
      await top('On-call').click();
      await page.locator('#oncall-main').getByText('On-call dermatology').first().waitFor();
      await check('oncall', () => page.locator('#oncall-main').evaluate((el) => el.scrollTo(0, 0)));
      await back();
      await top('Consults').click();
      const consults = page.locator('#consults-main');
      await consults.getByLabel('Specialty', { exact: true }).fill('Neurology');
      await consults.getByLabel('Question', { exact: true }).fill('Anyone?');
      await consults.getByRole('button', { name: 'Ask', exact: true }).click();
      await page.getByText(/^No verified Neurology clinician answers consults yet/).waitFor();
      await check('consults', () => consults.evaluate((el) => el.scrollTo(0, 0)));
      await check('consults-scrolled', () => consults.getByRole('button', { name: 'Ask', exact: true }).scrollIntoViewIfNeeded());
      await back();
      await top('Referrals').click();
      await check('referrals');
      await page.getByRole('button', { name: 'New referral' }).click();
      await check('referral-form');
      await back();
      await top('Admin').click();
      await check('admin');
      await back();
      await page.locator('header.topbar').getByRole('button', { name: 'Settings' }).click();
      await page.getByRole('dialog', { name: 'Settings' }).getByRole('button', { name: 'Linked devices' }).click();
      await page.getByRole('heading', { name: 'Linked devices' }).waitFor();
      await check('devices');
    });

    test('the top bar is the same height on every screen, and no serious accessibility violations, page errors or CSP reports', () => {
      for (const [size, hs] of heights) assert.equal(new Set(hs).size, 1, `at ${size} the top bar keeps its height: ${hs.join(', ')}`);
      assert.deepEqual(violations, []);
      assert.deepEqual(pageErrors, []);
    });
  });
}
