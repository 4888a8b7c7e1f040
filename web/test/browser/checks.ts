// What the browser tests look for: axe-core's serious and critical
// violations, and needles (text in UTF-8 and UTF-16LE, raw bytes) in every
// file of a Chromium profile.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';

import type { Page } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export interface Violation {
  id: string;
  impact: string;
  help: string;
  targets: string[];
}

/** axe-core's serious and critical violations on the page as it is (injected with page.evaluate: the CSP blocks script tags). */
export async function seriousViolations(page: Page): Promise<Violation[]> {
  await page.evaluate(AXE_SOURCE);
  const all = (await page.evaluate(`axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 5).map((n) => n.target.join(' ')) })))`)) as Violation[];
  return all.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

export interface Needle {
  readonly what: string;
  readonly bytes: Buffer;
}

/** A text as UTF-8 and as UTF-16LE (IndexedDB and Local Storage keep strings as UTF-16). */
export function textNeedles(what: string, text: string): Needle[] {
  return [
    { what: `${what} (UTF-8)`, bytes: Buffer.from(text, 'utf8') },
    { what: `${what} (UTF-16LE)`, bytes: Buffer.from(text, 'utf16le') },
  ];
}

function files(dir: string): string[] {
  let out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    let st;
    try {
      st = statSync(path);
    } catch {
      continue; // a socket or a link that went away
    }
    if (st.isDirectory()) out = out.concat(files(path));
    else if (st.isFile()) out.push(path);
  }
  return out;
}

/** Every (needle, file) where a needle occurs, and how many files were read. */
export function findInProfile(dir: string, needles: readonly Needle[]): { hits: string[]; read: number; areas: Set<string>; paths: string[] } {
  const hits: string[] = [];
  const areas = new Set<string>();
  const all = files(dir);
  for (const path of all) {
    const rel = relative(dir, path);
    if (/IndexedDB|Local Storage|Service Worker|Cache/i.test(rel)) areas.add(rel.split('/').slice(0, 2).join('/'));
    const bytes = readFileSync(path);
    for (const n of needles) if (bytes.includes(n.bytes)) hits.push(`${n.what} in ${rel}`);
  }
  return { hits, read: all.length, areas, paths: all.map((p) => relative(dir, p)) };
}

/** Presses Tab `presses` times; each control reached: its accessible name (roughly) and its focus outline. */
export async function tabThrough(page: Page, presses: number): Promise<{ name: string; outline: string }[]> {
  await page.evaluate('document.activeElement && document.activeElement.blur()');
  const out: { name: string; outline: string }[] = [];
  for (let i = 0; i < presses; i++) {
    await page.keyboard.press('Tab');
    const f = (await page.evaluate(`(() => { const e = document.activeElement; if (!e || e === document.body) return null;
      const s = getComputedStyle(e); const label = e.labels && e.labels[0] ? e.labels[0].innerText : '';
      return { name: (e.getAttribute('aria-label') || label || e.innerText || '').trim().split('\\n')[0], outline: s.outlineStyle + ' ' + s.outlineWidth }; })()`)) as { name: string; outline: string } | null;
    if (f !== null) out.push(f);
  }
  return out;
}

/** Every entry of the origin's Cache Storage, as `cache-name /path`. */
export async function cacheEntries(page: Page): Promise<string[]> {
  return (await page.evaluate(`(async () => {
    const out = [];
    for (const name of await caches.keys()) for (const r of await (await caches.open(name)).keys()) out.push(name + ' ' + new URL(r.url).pathname);
    return out;
  })()`)) as string[];
}

/** The control: `marker` written unsealed to Local Storage, and `marker-idb` to an IndexedDB database. */
export async function writeUnsealed(page: Page, marker: string): Promise<void> {
  await page.evaluate(`localStorage.setItem('control', ${JSON.stringify(marker)})`);
  await page.evaluate(`new Promise((resolve, reject) => { const r = indexedDB.open('control'); r.onupgradeneeded = () => r.result.createObjectStore('s');
    r.onsuccess = () => { const tx = r.result.transaction('s', 'readwrite'); tx.objectStore('s').put(${JSON.stringify(`${marker}-idb`)}, 'k'); tx.oncomplete = () => resolve(true); tx.onerror = () => reject(tx.error); }; })`);
}
