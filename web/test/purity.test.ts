// The crypto core stays pure: it imports only the noble libraries and its own
// files, names no platform I/O, and each file stays small enough to review.
// So does the audit log verifier (src/audit), which builds on it.

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

test('src/audit imports only @noble/*, the crypto core, base64 and the protocol errors, and itself; no DOM or I/O; no file passes 600 lines', () => {
  const files = sources(join(WEB_DIR, 'src', 'audit'));
  assert.ok(files.length >= 5, 'the verifier was found');
  const forbidden = /\b(window|document|globalThis|indexedDB|localStorage|sessionStorage|fetch|XMLHttpRequest|WebSocket|process|require|Buffer|setTimeout|console|TextDecoder|TextEncoder)\b/;
  const allowed = (spec: string): boolean =>
    /^@noble\/(curves|ciphers|hashes)\//.test(spec) || spec.startsWith('./') || spec.startsWith('../crypto/') || spec === '../protocol/base64.js' || spec === '../protocol/errors.js';
  for (const file of files) {
    const source = readText(file);
    const name = relative(WEB_DIR, file);
    for (const [, spec] of source.matchAll(/(?:from|import)\s*'([^']+)'/g)) {
      assert.ok(spec !== undefined && allowed(spec), `${name} imports ${spec}`);
    }
    const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    const hit = forbidden.exec(code);
    assert.equal(hit, null, `${name} uses ${hit?.[0]}`);
    assert.ok(source.split('\n').length < 600, `${name} is ${source.split('\n').length} lines`);
  }
});

test('src/ui imports only ../app/ and itself, and never sets markup from strings; src/app has no DOM', () => {
  const ui = sources(join(WEB_DIR, 'src', 'ui'));
  assert.ok(ui.length >= 8, 'the views were found');
  for (const file of ui) {
    const source = readText(file);
    const name = relative(WEB_DIR, file);
    for (const [, spec] of source.matchAll(/(?:from|import)\s*'([^']+)'/g)) {
      assert.ok(spec !== undefined && (spec.startsWith('./') || spec.startsWith('../app/')), `${name} imports ${spec}: views import only from ../app/`);
    }
    const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    const markup = /\b(innerHTML|outerHTML|insertAdjacentHTML|document\.write|DOMParser|createContextualFragment)\b/.exec(code);
    assert.equal(markup, null, `${name} uses ${markup?.[0]}: set text with textContent`);
    assert.ok(source.split('\n').length < 400, `${name} is ${source.split('\n').length} lines`);
  }
  const dom = /\b(document|window|navigator|localStorage|sessionStorage|HTMLElement|innerHTML)\b/;
  for (const dir of ['app', 'store']) {
    for (const file of sources(join(WEB_DIR, 'src', dir))) {
      const source = readText(file);
      const name = relative(WEB_DIR, file);
      const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
      const hit = dir === 'app' ? dom.exec(code) : /\b(localStorage|sessionStorage|document|caches)\b/.exec(code);
      assert.equal(hit, null, `${name} uses ${hit?.[0]}`);
      assert.ok(source.split('\n').length < 400, `${name} is ${source.split('\n').length} lines`);
      for (const [, spec] of source.matchAll(/from '([^']+)'/g)) {
        assert.ok(spec !== undefined && !spec.startsWith('../ui/'), `${name} imports the views (${spec})`);
      }
    }
  }
});

test('public/index.html has no inline script, style or handler (the server’s CSP allows neither)', () => {
  const html = readText(join(WEB_DIR, 'public', 'index.html'));
  assert.doesNotMatch(html, /<style/i, 'no <style> element');
  assert.doesNotMatch(html, /\sstyle\s*=/i, 'no style= attribute');
  assert.doesNotMatch(html, /\son[a-z]+\s*=/i, 'no inline event handler');
  for (const [tag] of html.matchAll(/<script\b[^>]*>/gi)) assert.match(tag, /\ssrc="[^"]+"/, `${tag} loads a file`);
  assert.doesNotMatch(html, /<script\b[^>]*>[^<\s]/i, 'no inline script body');
  assert.doesNotMatch(html, /https?:\/\//i, 'nothing from another origin');
});

test('public/app.css closes every block (a rule left inside an unclosed @media applies on phones only)', () => {
  const css = readText(join(WEB_DIR, 'public', 'app.css')).replace(/\/\*[\s\S]*?\*\//g, '');
  let depth = 0;
  css.split('\n').forEach((line, i) => {
    depth += (line.match(/\{/g) ?? []).length - (line.match(/\}/g) ?? []).length;
    assert.ok(depth >= 0, `line ${i + 1} closes a block never opened`);
    if (/^(\.|#|[a-z])/.test(line)) assert.equal(depth, line.includes('{') && !line.includes('}') ? 1 : 0, `line ${i + 1} (${line.slice(0, 40)}) is inside an unclosed block`);
  });
  assert.equal(depth, 0, 'every block is closed');
});
