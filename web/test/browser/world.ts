// The browser tests' world: a real `curbside serve` (CURBSIDE_BIN) serving
// this checkout's web/public (`--web-dir`; with CURBSIDE_WEB_EMBEDDED=1, as
// `cargo test` runs it, the client built into the binary), real headless Chromium (a
// persistent profile in a temp directory, so its storage can be read
// afterwards) and real CLI peers. Missing chromium or the binary skips
// loudly, and fails under CI=true.

import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { test } from 'node:test';

import { chromium, type BrowserContext, type Page } from 'playwright-core';

import { WEB_DIR } from '../helpers.js';
import { BIN, binaryMissing, cli, npi, tempDir } from '../live-helpers.js';

export const CHROMIUM = process.env['CHROMIUM'] ?? '/usr/bin/chromium';
/**
 * Where the screenshots go: a temp directory, or CURBSIDE_SCREENSHOTS
 * (`CURBSIDE_SCREENSHOTS=../docs/screenshots npm test` refreshes the
 * committed ones, docs/screenshots/web-*.png).
 */
export const SCREENSHOTS = process.env['CURBSIDE_SCREENSHOTS'] ?? join(tmpdir(), 'curbside-web-screenshots');
export const DESKTOP = { width: 1440, height: 900 };
export const PHONE = { width: 390, height: 844 };

/** Why the browser tests cannot run here, if they cannot. */
export function browserMissing(): string | undefined {
  const bin = binaryMissing();
  if (bin !== undefined) return bin;
  if (!existsSync(CHROMIUM)) return `SKIPPED: chromium is missing at ${CHROMIUM} (set CHROMIUM); under CI=true this is a failure`;
  return undefined;
}

export interface WebServer {
  /** `https://localhost:PORT`: the name the self-signed certificate and the server use. */
  readonly url: string;
  /** `127.0.0.1:PORT`, for the CLI. */
  readonly address: string;
  readonly token: string;
  readonly certPath: string;
  readonly certPem: string;
  /** The server's --data-dir (on SQLite its database is curbside.db there). */
  readonly dataDir: string;
  readonly backend: Backend;
  readonly proc: ChildProcess;
  /** Runs SQL on the server's database (sqlite3 or psql, as an operator would); its output. */
  sql(statement: string): Promise<string>;
  stop(): Promise<void>;
}

export type Backend = 'sqlite' | 'postgres';

/**
 * The databases a storage test runs on: SQLite always, PostgreSQL with
 * CURBSIDE_TEST_POSTGRES_URL (as `cargo test` and .ci/run set it). Each with
 * the reason it cannot run here, if it cannot: such a test must skip
 * loudly, and fails under CI=true (`skippedTest`).
 */
export function backends(): { backend: Backend; missing?: string }[] {
  const pg = process.env['CURBSIDE_TEST_POSTGRES_URL'] ?? '';
  let missing: string | undefined;
  if (pg === '') missing = 'SKIPPED on PostgreSQL: set CURBSIDE_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test); under CI=true this is a failure';
  else if (spawnSync('psql', ['--version']).status !== 0) missing = 'SKIPPED on PostgreSQL: the psql client is missing (apt-get install -y postgresql-client); under CI=true this is a failure';
  const sqlite = spawnSync('sqlite3', ['-version']).status !== 0 ? { missing: 'SKIPPED on SQLite: the sqlite3 CLI is missing (apt-get install -y sqlite3); under CI=true this is a failure' } : {};
  return [
    { backend: 'sqlite', ...sqlite },
    missing === undefined ? { backend: 'postgres' } : { backend: 'postgres', missing },
  ];
}

/** A test that cannot run here: shown as skipped with the reason, and a failure under CI=true. */
export function skippedTest(name: string, missing: string): void {
  console.error(`\n*** ${name}: ${missing} ***\n`);
  test(name, (t) => {
    assert.notEqual(process.env['CI'], 'true', missing);
    t.skip(missing);
  });
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd}: ${err.message} ${stderr}`)) : resolve(stdout),
    );
  });
}

/** A fresh PostgreSQL database beside CURBSIDE_TEST_POSTGRES_URL's: its URL and how to drop it. */
async function freshPostgres(): Promise<{ url: string; drop: () => Promise<void> }> {
  const base = process.env['CURBSIDE_TEST_POSTGRES_URL'] ?? '';
  const slash = base.lastIndexOf('/');
  if (slash < 0) throw new Error('CURBSIDE_TEST_POSTGRES_URL needs a database path');
  const name = `curbside_w_${randomBytes(8).toString('hex')}`;
  await run('psql', [base, '-v', 'ON_ERROR_STOP=1', '-qc', `CREATE DATABASE ${name}`]);
  return {
    url: `${base.slice(0, slash)}/${name}`,
    drop: async () => {
      await run('psql', [base, '-qc', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`]).catch(() => undefined);
    },
  };
}

/** `curbside serve` on a free port, serving web/public from disk, on SQLite (the default) or a fresh PostgreSQL database. */
export async function startWebServer(options: { backend?: Backend } = {}): Promise<WebServer> {
  const backend = options.backend ?? 'sqlite';
  const dataDir = mkdtempSync(join(tmpdir(), 'curbside-web-browser-'));
  const pg = backend === 'postgres' ? await freshPostgres() : undefined;
  if (pg !== undefined) await run(BIN, ['migrate', '--database-url', pg.url]);
  const proc = spawn(
    BIN,
    [
      'serve',
      '--data-dir',
      dataDir,
      ...(pg === undefined ? [] : ['--database-url', pg.url]),
      '--listen',
      '127.0.0.1:0',
      '--log-format',
      'json',
      ...(process.env['CURBSIDE_WEB_EMBEDDED'] === '1' ? [] : ['--web-dir', join(WEB_DIR, 'public')]),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  proc.stderr?.resume();
  const { address, token } = await new Promise<{ address: string; token: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start: ${out}`)), 30_000);
    proc.on('exit', (code) => reject(new Error(`the server exited (${code}): ${out}`)));
    proc.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const a = /listening on https:\/\/([0-9.:]+)/.exec(out);
      const t = /(cbs_boot_[A-Za-z0-9_-]+)/.exec(out);
      if (a?.[1] && t?.[1]) {
        clearTimeout(timer);
        resolve({ address: a[1], token: t[1] });
      }
    });
  });
  const certPath = join(dataDir, 'tls', 'cert.pem');
  const port = address.split(':').pop() as string;
  return {
    url: `https://localhost:${port}`,
    address,
    token,
    certPath,
    certPem: readFileSync(certPath, 'utf8'),
    dataDir,
    backend,
    proc,
    sql(statement: string) {
      return pg === undefined
        ? run('sqlite3', [join(dataDir, 'curbside.db'), `PRAGMA busy_timeout = 10000; ${statement}`])
        : run('psql', [pg.url, '-v', 'ON_ERROR_STOP=1', '-qAtc', statement]);
    },
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
      await pg?.drop();
    },
  };
}

/** A persistent Chromium profile in a temp directory (its files are read by the storage test). */
export async function launchProfile(): Promise<{ context: BrowserContext; page: Page; profileDir: string }> {
  const profileDir = mkdtempSync(join(tmpdir(), 'curbside-chromium-'));
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--ignore-certificate-errors'],
    ignoreHTTPSErrors: true,
    viewport: DESKTOP,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return { context, page, profileDir };
}

/** The CLI side: an administrator and clinicians in profiles of a temp directory. */
export class Cli {
  readonly dir = tempDir();
  constructor(private readonly server: WebServer) {}

  profile(name: string): string {
    return join(this.dir, name);
  }

  where(): string[] {
    return ['--server', this.server.address, '--cert', this.server.certPath];
  }

  async bootstrap(): Promise<void> {
    await cli(['enroll', '--profile', this.profile('admin'), '--invite', this.server.token, '--name', 'Admin', ...this.where()]);
  }

  async invite(): Promise<string> {
    const out = await cli(['admin', 'invite', '--profile', this.profile('admin')]);
    const m = /cbs_inv_[A-Za-z0-9_-]+/.exec(out);
    if (!m) throw new Error(`no invite in: ${out}`);
    return m[0];
  }

  /** Enrolls a clinician and has the administrator verify them; their user id. */
  async clinician(profile: string, name: string, nine: string, specialty: string): Promise<string> {
    const out = await cli(['enroll', '--profile', this.profile(profile), '--invite', await this.invite(), '--name', name, '--npi', npi(nine), '--specialty', specialty, ...this.where()]);
    const id = /u[0-9a-f]{24}/.exec(out)?.[0];
    if (id === undefined) throw new Error(`no user id in: ${out}`);
    await this.verifyUser(id);
    return id;
  }

  async verifyUser(id: string): Promise<void> {
    await cli(['admin', 'verify', '--profile', this.profile('admin'), id]);
  }

  /** The id of the user with this display name (`admin users --json`). */
  async userId(name: string): Promise<string> {
    const out = await cli(['admin', 'users', '--profile', this.profile('admin'), '--json']);
    const ids: string[] = [];
    for (const line of out.split('\n')) {
      if (!line.includes(name)) continue;
      const id = /u[0-9a-f]{24}/.exec(line)?.[0];
      if (id !== undefined) ids.push(id);
    }
    const all = JSON.stringify(out);
    if (ids.length === 0) {
      // One JSON document rather than one per line.
      const parsed = JSON.parse(out) as { user_id?: string; display_name?: string }[] | { users?: { user_id?: string; display_name?: string }[] };
      const list = Array.isArray(parsed) ? parsed : (parsed.users ?? []);
      const found = list.find((u) => u.display_name === name)?.user_id;
      if (found !== undefined) return found;
      throw new Error(`no user ${name} in ${all}`);
    }
    return ids[0] as string;
  }

  run(args: string[]): Promise<string> {
    return cli(args);
  }
}

export function cleanup(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
