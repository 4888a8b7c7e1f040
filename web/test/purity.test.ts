// The crypto core stays pure: it imports only the noble libraries and its own
// files, names no platform I/O, and each file stays small enough to review.

import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';

import { readText, WEB_DIR } from './helpers.js';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

test('src/crypto imports only @noble/* and itself, uses no DOM or I/O, and no file passes 600 lines', () => {
  const files = sources(join(WEB_DIR, 'src', 'crypto'));
  assert.ok(files.length >= 15, 'the core was found');
  const forbidden = /\b(window|document|globalThis|indexedDB|localStorage|sessionStorage|fetch|XMLHttpRequest|WebSocket|process|require|Buffer|setTimeout|console)\b/;
  for (const file of files) {
    const source = readText(file);
    const name = relative(WEB_DIR, file);
    for (const [, spec] of source.matchAll(/from '([^']+)'/g)) {
      assert.ok(spec !== undefined && (/^@noble\/(curves|ciphers|hashes)\//.test(spec) || spec.startsWith('.')), `${name} imports ${spec}`);
    }
    const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    const hit = forbidden.exec(code);
    assert.equal(hit, null, `${name} uses ${hit?.[0]}`);
    assert.ok(source.split('\n').length < 600, `${name} is ${source.split('\n').length} lines`);
  }
});
