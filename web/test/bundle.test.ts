// The browser application is committed built (public/assets/app.js and
// public/sw.js: the server embeds web/public, so `curbside serve` never
// needs Node). This checks that the committed files are what the sources
// build to today, with the exact commands of package.json's scripts.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { readJson, WEB_DIR } from './helpers.js';

const STALE = 'run `npm run bundle` in web/ and commit public/';

for (const [script, committed] of [
  ['bundle:app', 'public/assets/app.js'],
  ['bundle:sw', 'public/sw.js'],
] as const) {
  test(`${committed} is the build of the sources (${script})`, () => {
    const scripts = (readJson(join(WEB_DIR, 'package.json')) as { scripts: Record<string, string> }).scripts;
    const command = scripts[script];
    assert.ok(command !== undefined && command.startsWith('esbuild '), `package.json has no ${script} script`);
    const args = command.split(/\s+/).slice(1);
    const out = args.findIndex((a) => a.startsWith('--outfile='));
    assert.ok(out >= 0 && args[out] === `--outfile=${committed}`, `${script} writes ${committed}`);
    const dir = mkdtempSync(join(tmpdir(), 'curbside-bundle-'));
    try {
      const fresh = join(dir, 'out.js');
      args[out] = `--outfile=${fresh}`;
      execFileSync(join(WEB_DIR, 'node_modules', '.bin', 'esbuild'), [...args, '--log-level=error'], { cwd: WEB_DIR });
      const built = readFileSync(fresh);
      const have = readFileSync(join(WEB_DIR, committed));
      assert.ok(built.equals(have), `${committed} is not the build of the current sources: ${STALE}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
