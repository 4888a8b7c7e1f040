// What the compliance console's browser tests share: an administrator and
// clinicians as protocol clients in Node (web/src/client, against the real
// server: every entry they cause is appended by the server and in its signed
// tree), real failed logins, the officer's enrollment in the browser, a
// recorder of a <progress> element's values, a File System Access picker
// backed by the page's origin-private file system (a real
// FileSystemWritableFileStream, its writes counted), and what an attacker
// with the database does (triggers off, an entry edited, the newest entries
// deleted and the stored tree rewound to match), on SQLite or PostgreSQL.

import assert from 'node:assert/strict';

import type { Page } from 'playwright-core';

import { Account, Client, enroll, type ConnectionState } from '../../src/client/index.js';
import { systemRandom } from '../../src/crypto/primitives.js';
import { DeviceHttp, HttpApi } from '../../src/protocol/index.js';
import { httpsFetch, npi, wsFactory } from '../live-helpers.js';
import type { WebServer } from './world.js';

/** The server as the Node clients reach it (by address; the certificate names localhost). */
function info(server: WebServer): { url: string; serverName: string } {
  return { url: `https://${server.address}`, serverName: 'localhost' };
}

/** The bootstrap administrator as a protocol client: invites, verification. */
export class NodeAdmin {
  private constructor(
    readonly server: WebServer,
    readonly account: Account,
    private readonly http: DeviceHttp,
  ) {}

  static async bootstrap(server: WebServer): Promise<NodeAdmin> {
    const fetch = httpsFetch(server.certPem);
    const { account, response } = await enroll(info(server), server.token, { displayName: 'Admin' }, { fetch });
    assert.deepEqual(response.roles, ['admin']);
    return new NodeAdmin(server, account, new DeviceHttp(new HttpApi({ url: info(server).url, fetch }), 'localhost', account.me, account.identity));
  }

  async invite(role: 'clinician' | 'compliance_officer' = 'clinician'): Promise<string> {
    const r = (await this.http.json('POST', '/v1/admin/invites', { target: { for: 'new_user', role }, expires_in_secs: 3600 })) as { invite: string };
    return r.invite;
  }

  async verify(user: string): Promise<void> {
    await this.http.json('POST', `/v1/admin/users/${user}/verify`);
  }

  /** A verified clinician enrolled by the Node client. */
  async clinician(name: string, nine: string, specialty = 'Cardiology'): Promise<Account> {
    const { account } = await enroll(info(this.server), await this.invite(), { displayName: name, npi: npi(nine), specialty }, { fetch: httpsFetch(this.server.certPem) });
    await this.verify(account.me.user_id);
    return account;
  }

  /** A compliance officer enrolled by the Node client. */
  async officer(name: string): Promise<Account> {
    const { account } = await enroll(info(this.server), await this.invite('compliance_officer'), { displayName: name }, { fetch: httpsFetch(this.server.certPem) });
    return account;
  }
}

/** A connected client of `account` (resolves once online). */
export async function online(server: WebServer, account: Account): Promise<Client> {
  let ready: (s: ConnectionState) => void = () => undefined;
  const up = new Promise<ConnectionState>((r) => (ready = r));
  const c = new Client(account, { webSocket: wsFactory(server.certPem), fetch: httpsFetch(server.certPem), onState: (s) => (s === 'online' || s === 'failed' ? ready(s) : undefined) });
  c.start();
  assert.equal(await up, 'online', 'the client connects');
  return c;
}

/** `n` failed HTTP logins: `address` claimed with another device's key (each an `auth.failed` entry). */
export async function failedLogins(server: WebServer, address: { user_id: string; device_id: number }, n: number): Promise<void> {
  const api = new HttpApi({ url: info(server).url, fetch: httpsFetch(server.certPem) });
  const stranger = Account.generate(info(server), systemRandom).identity;
  for (let i = 0; i < n; i++) {
    await assert.rejects(api.login('localhost', address, stranger), /auth_failed/);
  }
}

/**
 * Real activity until the log holds at least `target` entries: `senders`
 * clinicians each send text messages to all `recipients` clinicians at once
 * (one `message.accepted` entry per recipient user, appended by the server
 * in the send's transaction). Returns the number of messages sent.
 */
export async function activity(admin: NodeAdmin, target: number, current: () => Promise<number>, opts: { senders?: number; recipients?: number } = {}): Promise<number> {
  const S = opts.senders ?? 4;
  const R = opts.recipients ?? 25;
  const people: Account[] = [];
  for (let i = 0; i < S + R; i++) people.push(await admin.clinician(`Dr. Load ${String(i + 1).padStart(2, '0')}`, String(400000000 + i * 7919).slice(0, 9)));
  const senders = people.slice(0, S);
  const to = people.slice(S).map((a) => a.me.user_id);
  const clients = await Promise.all(senders.map((a) => online(admin.server, a)));
  const missing = target - (await current());
  const per = Math.max(1, Math.ceil(missing / (S * R)));
  let sent = 0;
  try {
    await Promise.all(
      clients.map(async (c, k) => {
        for (let i = 0; i < per; i++) {
          const r = await c.sendText(to, `Load message ${k}-${i}: ward round list`);
          assert.equal(r.outcome, 'accepted');
          sent++;
        }
      }),
    );
  } finally {
    for (const c of clients) c.stop();
  }
  return sent;
}

/** Starts recording every value a <progress> matching `selector` shows (read with {@link progressValues}). */
export async function recordProgress(page: Page, selector: string, key: string): Promise<void> {
  await page.evaluate(
    ({ selector, key }) => {
      const el = document.querySelector(selector) as HTMLProgressElement;
      const seen: number[] = [];
      (window as unknown as Record<string, unknown>)[key] = seen;
      new MutationObserver(() => {
        if (seen.at(-1) !== el.value) seen.push(el.value);
      }).observe(el, { attributes: true, attributeFilter: ['value', 'max'] });
      const frame = (): void => {
        if (seen.at(-1) !== el.value) seen.push(el.value);
        requestAnimationFrame(frame);
      };
      requestAnimationFrame(frame);
    },
    { selector, key },
  );
}

export async function progressValues(page: Page, key: string): Promise<number[]> {
  return page.evaluate((key) => [...((window as unknown as Record<string, number[]>)[key] ?? [])], key);
}

/**
 * Replaces `showSaveFilePicker` with one answering a file of the page's
 * origin-private file system (a real FileSystemFileHandle: the console
 * writes through a real FileSystemWritableFileStream); each write's length
 * is recorded.
 */
export async function stubSavePicker(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as Record<string, unknown>;
    w['savedWrites'] = [];
    w['showSaveFilePicker'] = async (opts: { suggestedName: string }) => {
      const dir = await navigator.storage.getDirectory();
      const handle = await dir.getFileHandle(opts.suggestedName, { create: true });
      const createWritable = handle.createWritable.bind(handle);
      return {
        name: handle.name,
        createWritable: async () => {
          const stream = await createWritable();
          return {
            write: (data: string) => {
              (w['savedWrites'] as number[]).push(data.length);
              return stream.write(data);
            },
            close: () => stream.close(),
            abort: (r?: unknown) => stream.abort(r),
          };
        },
      };
    };
  });
}

/** The file the stubbed picker wrote, and the lengths of its writes. */
export async function savedFile(page: Page, name: string): Promise<{ text: string; writes: number[] }> {
  return page.evaluate(async (name) => {
    const dir = await navigator.storage.getDirectory();
    const file = await (await dir.getFileHandle(name)).getFile();
    return { text: await file.text(), writes: [...((window as unknown as Record<string, number[]>)['savedWrites'] ?? [])] };
  }, name);
}

/** What an attacker with write access to the database does first (SECURITY.md; tests/audit_cli.rs). */
export async function disableProtection(server: WebServer): Promise<void> {
  if (server.backend === 'sqlite') await server.sql('DROP TRIGGER IF EXISTS audit_log_no_update; DROP TRIGGER IF EXISTS audit_log_no_delete; DROP TRIGGER IF EXISTS audit_nodes_no_delete;');
  else await server.sql('ALTER TABLE audit_log DISABLE TRIGGER USER; ALTER TABLE audit_nodes DISABLE TRIGGER USER;');
}

/** The value a one-row, one-column query answers (the last line: sqlite3 prints the busy_timeout pragma's value first). */
export async function sqlValue(server: WebServer, statement: string): Promise<string> {
  return (await server.sql(statement)).trim().split('\n').at(-1)?.trim() ?? '';
}

/** One column of one entry, as text. */
export function entryColumn(server: WebServer, seq: number, column: string): Promise<string> {
  return sqlValue(server, `SELECT ${column} FROM audit_log WHERE seq = ${seq};`);
}

const hexOf = (server: WebServer, column: string): string => (server.backend === 'sqlite' ? `lower(hex(${column}))` : `encode(${column}, 'hex')`);

/**
 * Deletes every entry after `keep` and rewinds the stored tree to match
 * (audit_nodes beyond it deleted, audit_head's size and peaks those of the
 * first `keep` leaves), so the server itself serves and signs a consistent,
 * shorter history: as `truncate_to` in tests/audit_cli.rs.
 */
export async function truncateTo(server: WebServer, keep: number): Promise<void> {
  const peaks: string[] = [];
  let offset = 0;
  for (let level = Math.floor(Math.log2(keep)); level >= 0; level--) {
    if ((keep & (2 ** level)) === 0) continue;
    const sql =
      level === 0
        ? `SELECT ${hexOf(server, 'leaf_hash')} FROM audit_log WHERE seq = ${offset + 1};`
        : `SELECT ${hexOf(server, 'hash')} FROM audit_nodes WHERE level = ${level} AND idx = ${offset / 2 ** level};`;
    const hex = await sqlValue(server, sql);
    assert.match(hex, /^[0-9a-f]{64}$/, `the peak at level ${level}`);
    peaks.push(hex);
    offset += 2 ** level;
  }
  const bytes = server.backend === 'sqlite' ? `X'${peaks.join('')}'` : `decode('${peaks.join('')}', 'hex')`;
  await server.sql(`DELETE FROM audit_log WHERE seq > ${keep}; DELETE FROM audit_nodes WHERE ((idx + 1) << level) > ${keep}; UPDATE audit_head SET size = ${keep}, peaks = ${bytes};`);
}

/** Enrolls the compliance officer in the browser with an invite (the enroll form, then the Audit screen). */
export async function enrollOfficer(page: Page, invite: string, name: string, passphrase: string): Promise<void> {
  await page.getByLabel('Invite').fill(invite);
  await page.getByLabel('I am a compliance officer').check();
  assert.equal(await page.getByLabel('NPI').isVisible(), false, 'an officer is asked no NPI');
  await page.getByLabel('Full name').fill(name);
  await page.getByLabel('Passphrase', { exact: true }).fill(passphrase);
  await page.getByLabel('Passphrase again').fill(passphrase);
  await page.getByRole('button', { name: 'Enroll this browser' }).click();
  await page.locator('button.lock, .form-error:not(:empty), .field-error:not(:empty)').first().waitFor({ timeout: 90_000 });
  const err = await page.locator('.form-error:not(:empty), .field-error:not(:empty)').allInnerTexts();
  assert.deepEqual(err, [], 'the enrollment is refused');
  await page.getByRole('button', { name: 'Lock' }).waitFor({ timeout: 90_000 });
  await page.getByRole('button', { name: 'Audit' }).click();
  await page.getByRole('heading', { name: 'Audit log' }).waitFor();
}

/**
 * A screenshot of the whole Audit screen: the viewport made as tall as the
 * screen's scrolled content for the shot (the screen scrolls inside the
 * page, so a full-page shot would show only the viewport), then restored.
 */
export async function screenshot(page: Page, path: string, viewport: { width: number; height: number }): Promise<void> {
  const tall = await page.evaluate(() => {
    const main = document.querySelector('.compliance');
    const bar = document.querySelector('.topbar');
    return (main?.scrollHeight ?? 0) + (bar?.getBoundingClientRect().height ?? 0) + 8;
  });
  await page.setViewportSize({ width: viewport.width, height: Math.max(viewport.height, Math.ceil(tall)) });
  await page.waitForTimeout(100);
  await page.screenshot({ path });
  await page.setViewportSize(viewport);
}
