// The browser tests' world: a real `curbside serve` (CURBSIDE_BIN) serving
// this checkout's web/public (`--web-dir`; with CURBSIDE_WEB_EMBEDDED=1, as
// `cargo test` runs it, the client built into the binary), real headless Chromium (a
// persistent profile in a temp directory, so its storage can be read
// afterwards) and real CLI peers. Missing chromium or the binary skips
// loudly, and fails under CI=true.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
  /** The server's --data-dir (its SQLite database is curbside.db there). */
  readonly dataDir: string;
  readonly proc: ChildProcess;
  stop(): Promise<void>;
}

/** `curbside serve` on a free port, serving web/public from disk. */
export async function startWebServer(): Promise<WebServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'curbside-web-browser-'));
  const proc = spawn(
    BIN,
    [
      'serve',
      '--data-dir',
      dataDir,
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
    proc,
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
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
