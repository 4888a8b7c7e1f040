// The compliance console's pure parts (src/app, no browser): the charts'
// counting (days filled with zeros, the top actions and the rest, a
// rate-limited window's attempts, the window of days), who the log names
// as names (the directory's, the officer's own, the administrator and other
// officers by role, numbered when several), and an export streamed into a
// sink (rows and progress across any chunking, a CSV header not counted,
// verified as it streams: an altered entry aborts the file, nothing kept).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { decodeRecord, ExportVerifier, leafHash, rootOf, treeHeadMessage, type AuditEntry, type Hash, type SignedTreeHead } from '../src/audit/index.js';
import { ActivityCounter, describeEntries, describeFailedAuth, OTHER } from '../src/app/audit-charts.js';
import { streamInto, type ExportSink } from '../src/app/audit-export.js';
import { AuditPeople } from '../src/app/audit-people.js';
import { toHex, utf8 } from '../src/crypto/bytes.js';
import { ed25519PublicKey, ed25519Sign } from '../src/crypto/primitives.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 20, 9, 0, 0);
const ADMIN = 'u00000000000000000000000a';
const ME = 'u00000000000000000000000e';
const BOB = 'u00000000000000000000000b';
const OLAF = 'u00000000000000000000000f';
const OTTO = 'u000000000000000000000001';

function entry(seq: number, over: Partial<Record<keyof AuditEntry, unknown>> = {}): Record<string, unknown> {
  return {
    seq, time_ms: T0 + seq, actor_user: BOB, actor_device: 1, actor_role: 'clinician', action: 'message.accepted',
    counterpart_user: null, counterpart_device: null, message_id: null, referral_id: null, attachment_id: null,
    source: '10.1.2.3', outcome: 'success', reason: null, details: {}, ...over,
  };
}
const decoded = (e: Record<string, unknown>): AuditEntry => decodeRecord(line(e)).entry;
function line(e: Record<string, unknown>): string {
  return JSON.stringify({ entry: e, leaf_hash: toHex(leafHash(utf8(JSON.stringify(e)))) });
}

test('the charts: entries per UTC day by action (the top ones, the rest as Other), days without entries as zeros, failed attempts', () => {
  const c = new ActivityCounter();
  let seq = 0;
  const add = (day: number, action: string, n: number, over: Record<string, unknown> = {}) => {
    for (let i = 0; i < n; i++) c.add(decoded(entry(++seq, { time_ms: T0 + day * DAY + i, action, ...over })));
  };
  add(0, 'message.accepted', 5);
  add(0, 'auth.failed', 2, { outcome: 'failure', reason: 'auth_failed', actor_user: null, actor_device: null, actor_role: null });
  add(2, 'message.accepted', 1);
  add(2, 'auth.failed', 1, { outcome: 'failure', reason: 'rate_limited', actor_user: null, actor_device: null, actor_role: null, details: { attempts: 40, first_at_ms: T0, last_at_ms: T0 + 5 } });
  add(2, 'audit.queried', 3);
  add(2, 'user.enrolled', 1);
  const a = c.activity(31, 2);
  assert.deepEqual(a.days, ['2026-11-20', '2026-11-21', '2026-11-22']);
  assert.deepEqual(a.series.map((s) => [s.label, s.counts]), [['message.accepted', [5, 0, 1]], ['audit.queried', [0, 0, 3]], [OTHER, [2, 0, 2]]]);
  assert.deepEqual(a.totals, [7, 0, 6]);
  assert.deepEqual(a.failedAuth, [2, 0, 40], "a rate-limited window's attempts, on its entry's day");
  assert.equal(a.entries, 13);
  assert.equal(describeEntries(a), '13 entries over 3 days (2026-11-20 to 2026-11-22); the busiest day 2026-11-20 with 7; the most frequent action message.accepted (6).');
  assert.equal(describeFailedAuth(a), '42 failed authentication attempts over 3 days (2026-11-20 to 2026-11-22); the most on 2026-11-22 (40).');
  // With room for every action, no Other series.
  assert.ok(!c.activity(31, 6).series.some((s) => s.label === OTHER));
  // A window of days: earlier entries counted, not shown.
  const w = c.activity(1);
  assert.deepEqual(w.days, ['2026-11-22']);
  assert.equal(w.earlier, 7);
  assert.match(describeEntries(w), /^6 entries on 2026-11-22; the most frequent action audit\.queried \(3\); 7 earlier entries not shown\.$/);
  assert.equal(describeFailedAuth(new ActivityCounter().activity()), 'No failed authentication attempts recorded.');
});

test('who the log names: directory names, the officer, the administrator and officers by role (numbered when several), never an id', () => {
  const names: Record<string, string> = { [BOB]: 'Dr. Bob Brown' };
  const p = new AuditPeople({ me: ME, myName: 'Olive Officer', nameOf: (u) => names[u] });
  p.learn(decoded(entry(1, { actor_user: ADMIN, actor_role: null, action: 'user.enrolled', details: { role: 'admin' } })));
  p.learn(decoded(entry(2, { actor_user: OLAF, actor_role: null, action: 'user.enrolled', details: { role: 'compliance_officer' } })));
  p.learn(decoded(entry(3, { actor_user: ME, actor_role: null, action: 'user.enrolled', details: { role: 'compliance_officer' } })));
  const grant = decoded(entry(4, { actor_user: ADMIN, actor_role: 'admin', action: 'role.granted', counterpart_user: OTTO, details: { role: 'compliance_officer' } }));
  p.learn(grant);
  assert.equal(p.name(ADMIN), 'Administrator');
  assert.equal(p.name(BOB), 'Dr. Bob Brown');
  assert.equal(p.name(ME), 'Olive Officer');
  assert.equal(p.name(OLAF), 'Compliance officer 1', 'two officers the directory does not name: numbered by enrollment');
  assert.equal(p.name(OTTO), 'Compliance officer 2');
  assert.equal(p.name('u_never_seen'), 'Unknown user');
  assert.equal(p.actor(grant), 'Administrator (device 1)');
  assert.equal(p.counterpart(grant), 'Compliance officer 2');
  assert.equal(p.actor(decoded(entry(5, { actor_user: null, actor_device: null, actor_role: null, action: 'auth.failed', outcome: 'failure', reason: 'auth_failed' }))), 'Anonymous');
  assert.equal(p.actor(decoded(entry(6, { actor_user: null, actor_device: null, actor_role: null, action: 'message.expired' }))), 'The server');
  assert.deepEqual(p.unlisted('admin'), [{ key: ADMIN, name: 'Administrator', detail: 'An administrator (not in the directory)' }]);
  assert.deepEqual(p.unlisted('officer').map((c) => c.name), ['Compliance officer 1', 'Olive Officer', 'Compliance officer 2']);
  assert.deepEqual(p.unlisted('bob'), [], 'directory people come from the directory search');
});

test('a clinician the directory has not answered for yet is shown as being looked up, not as a role', () => {
  const names: Record<string, string> = {};
  let asking = true;
  const p = new AuditPeople({ me: ME, myName: 'Olive Officer', nameOf: (u) => names[u], pending: () => asking });
  const sent = decoded(entry(1, { actor_user: BOB, actor_role: 'clinician', action: 'message.accepted' }));
  p.learn(sent);
  assert.equal(p.actor(sent), 'Looking up name… (device 1)');
  assert.equal(p.name(ME), 'Olive Officer', 'the officer is never looked up');
  names[BOB] = 'Dr. Bob Brown';
  asking = false;
  assert.equal(p.actor(sent), 'Dr. Bob Brown (device 1)');
  delete names[BOB];
  assert.equal(p.name(BOB), 'Clinician not in the directory', 'the directory answered: not listed');
});

function sink(): ExportSink & { parts: string[]; state: string } {
  const s = {
    name: 'x.jsonl', parts: [] as string[], state: 'open',
    write: async (t: string) => void s.parts.push(t),
    close: async () => void (s.state = 'closed'),
    abort: async () => void (s.state = 'aborted'),
  };
  return s;
}

async function* chunks(text: string, size: number): AsyncGenerator<string> {
  for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
}

test('an export streamed into a sink: every chunk written as it comes, the rows and the last seq counted across any chunking', async () => {
  const text = `${[1, 2, 3, 4, 5].map((s) => line(entry(s))).join('\n')}\n`;
  for (const size of [1, 7, 64, 333, text.length]) {
    const s = sink();
    const seen: number[] = [];
    const done = await streamInto(chunks(text, size), s, 'jsonl', (p) => seen.push(p.seq));
    assert.deepEqual(done, { rows: 5, seq: 5 });
    assert.equal(s.parts.join(''), text);
    assert.equal(s.state, 'closed');
    assert.deepEqual([...seen].sort((a, b) => a - b), seen, 'the progress only advances');
    if (size === 7) assert.equal(s.parts.length, Math.ceil(text.length / 7), 'one write per chunk');
  }
  const csv = 'seq,time\n1,a\n2,"b,""c"""\n3,d';
  assert.deepEqual(await streamInto(chunks(csv, 4), sink(), 'csv', () => undefined), { rows: 3, seq: 3 });
});

test('a full export verified as it streams: an altered entry aborts the file, naming the entry', async () => {
  const seed = new Uint8Array(32).fill(42);
  const entries = [1, 2, 3, 4].map((s) => entry(s));
  const leaves: Hash[] = entries.map((e) => leafHash(utf8(JSON.stringify(e))));
  const root = rootOf(leaves);
  const head: SignedTreeHead = { size: 4, timestamp_ms: T0, root, signature: ed25519Sign(seed, treeHeadMessage(4, T0, root)) };
  const key = ed25519PublicKey(seed);
  const good = `${entries.map(line).join('\n')}\n`;
  const ok = await streamInto(chunks(good, 50), sink(), 'jsonl', () => undefined, new ExportVerifier(head, key));
  assert.equal(ok.verified?.entries, 4);
  const bad = good.replace('"seq":3,"time_ms":', '"seq":3,"time_ms":9');
  const s = sink();
  await assert.rejects(streamInto(chunks(bad, 50), s, 'jsonl', () => undefined, new ExportVerifier(head, key)), /entry 3 was altered/);
  assert.equal(s.state, 'aborted');
  const short = sink();
  await assert.rejects(streamInto(chunks(good.split('\n').slice(0, 3).join('\n'), 50), short, 'jsonl', () => undefined, new ExportVerifier(head, key)), /the export holds 3 entries, the tree head 4/);
  assert.equal(short.state, 'aborted');
});
