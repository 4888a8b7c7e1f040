// The audit verifier (src/audit) offline, on logs signed with a test key:
// the canonical bytes of an entry (the Rust unit test's exact string), the
// decoding as strict as serde's, an export verified against its signed
// tree head with the CLI's texts, the first altered entry named, gaps,
// truncation, rewritten hashes, a CSV export, the saved head (older,
// rewritten, shrunk, newer), the witness (pin on first use, consistency
// with the saved head, key changes, a server that cannot prove), pages of a
// proven query, and the rate on a 10,000-entry log.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  alarm, checkHead, checkPage, decodeRecord, decodeTreeHeadResponse, decodeWitness, entryLeafHash, ExportVerifier,
  leafHash, rootOf, treeHeadMessage, verifiedSummary, verifyExport, VerifyFailure, verifyRecordInclusion, witnessJson,
  AuditError, CompactRange, csvFields, csvRecords, verifySelection, type AuditSource, type Hash, type SignedTreeHead, type Witness,
} from '../src/audit/index.js';
import { toHex, utf8 } from '../src/crypto/bytes.js';
import { ed25519PublicKey, ed25519Sign } from '../src/crypto/primitives.js';
import { ServerError, toBase64 } from '../src/protocol/index.js';

const SEED = new Uint8Array(32).fill(42);
const KEY = ed25519PublicKey(SEED);
const OTHER_SEED = new Uint8Array(32).fill(7);

function sign(size: number, root: Hash, timestamp_ms: number, seed: Uint8Array = SEED): SignedTreeHead {
  return { size, timestamp_ms, root, signature: ed25519Sign(seed, treeHeadMessage(size, timestamp_ms, root)) };
}

/** An entry in canonical key order (JSON.stringify keeps insertion order: an independent encoder). */
function entry(seq: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  const kinds = seq % 3;
  return {
    seq,
    time_ms: 1_795_412_345_678 + seq,
    actor_user: 'u0123456789abcdef01234567',
    actor_device: 1,
    actor_role: 'clinician',
    action: kinds === 0 ? 'message.accepted' : kinds === 1 ? 'auth.succeeded' : 'audit.queried',
    counterpart_user: kinds === 0 ? 'u89abcdef0123456789abcdef' : null,
    counterpart_device: null,
    message_id: kinds === 0 ? `m-${seq}` : null,
    referral_id: null,
    attachment_id: null,
    source: '10.1.2.3',
    outcome: 'success',
    reason: null,
    details:
      kinds === 0
        ? { kind: 'message', ciphertexts: [{ device: 1, size: 1187, sha256: 'ab'.repeat(32) }, { device: 2, size: 1187, sha256: 'cd'.repeat(32) }] }
        : kinds === 1
          ? { transport: 'https', endpoint: '/v1/audit/entries' }
          : { filters: 'action=user.enrolled', tree_size: seq },
    ...over,
  };
}

function line(e: Record<string, unknown>): string {
  return JSON.stringify({ entry: e, leaf_hash: toHex(leafHash(utf8(JSON.stringify(e)))) });
}

function log(n: number): { lines: string[]; leaves: Hash[]; head: SignedTreeHead } {
  const lines: string[] = [];
  const leaves: Hash[] = [];
  for (let s = 1; s <= n; s++) {
    const e = entry(s);
    lines.push(line(e));
    leaves.push(leafHash(utf8(JSON.stringify(e))));
  }
  return { lines, leaves, head: sign(n, rootOf(leaves), 1_795_500_000_000 + n) };
}

async function failure(p: Promise<unknown> | (() => unknown)): Promise<VerifyFailure> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    assert.ok(e instanceof VerifyFailure, String(e));
    return e;
  }
  assert.fail('it verified');
}

test('canonical bytes: the Rust unit test string exactly, whatever the key order and spacing of the record', () => {
  const want =
    '{"seq":7,"time_ms":1700000000000,"actor_user":"u_a","actor_device":1,' +
    '"actor_role":"clinician","action":"message.accepted","counterpart_user":"u_b",' +
    '"counterpart_device":null,"message_id":"m1","referral_id":null,"attachment_id":null,' +
    '"source":"127.0.0.1","outcome":"success","reason":null,"details":{"kind":"message",' +
    '"ciphertexts":[{"device":1,"size":10,"sha256":"ab"}]}}';
  const shuffled =
    '{ "leaf_hash" : "' + '00'.repeat(32) + '", "entry": {"details":{"ciphertexts":[{"sha256":"ab","size":10,"device":1}],"kind":"message","role":null},' +
    '"source":"127.0.0.1","outcome":"success","seq":7,"time_ms":1700000000000,"actor_user":"u_a","actor_device":1,' +
    '"actor_role":"clinician","action":"message.accepted","counterpart_user":"u_b","message_id":"m1"} }';
  const r = decodeRecord(shuffled);
  assert.equal(r.canonical, want, 'keys in order, missing optional fields null, null details omitted');
  assert.equal(r.entry.seq, 7);
  assert.equal(toHex(entryLeafHash(r)), toHex(leafHash(utf8(want))));
});

test('strings are escaped as serde_json does (quotes, backslashes, control characters; not non-ASCII, not /)', () => {
  const source = 'a"b\\c/d\u0001\u001f\b\f\n\r\t\u007f é 日本 😀';
  const r = decodeRecord(line(entry(1, { source })));
  assert.ok(r.canonical.includes('"source":"a\\"b\\\\c/d\\u0001\\u001f\\b\\f\\n\\r\\t\u007f é 日本 😀"'), r.canonical);
  assert.equal(decodeRecord(JSON.stringify({ entry: entry(1, { source: 'x' }), leaf_hash: '0'.repeat(64) }).replace('"x"', '"\\u0078"')).entry.source, 'x');
});

test('records are decoded as strictly as serde does: unknown or repeated fields, floats, ranges, ids, enums', () => {
  const bad = (text: string, why: RegExp): void => {
    assert.throws(() => decodeRecord(text), why);
  };
  const ok = line(entry(1));
  bad(ok.replace('"seq":1', '"seq":1,"extra":1'), /unknown field `extra`/);
  bad(ok.replace('"seq":1', '"seq":1,"seq":1'), /duplicate field `seq`/);
  bad(ok.replace('"seq":1', '"seq":1.0'), /expected an integer/);
  bad(ok.replace('"seq":1', '"seq":1e0'), /expected an integer/);
  bad(ok.replace('"seq":1', '"seq":-1'), /out of range/);
  bad(ok.replace('"seq":1', '"seq":18446744073709551616'), /out of range/);
  bad(ok.replace('"actor_device":1', '"actor_device":4294967296'), /out of range/);
  bad(ok.replace('"actor_user":"u0123456789abcdef01234567"', '"actor_user":"u 1"'), /invalid id/);
  bad(ok.replace('"action":"auth.succeeded"', '"action":"auth.bogus"'), /unknown variant/);
  bad(ok.replace('"actor_role":"clinician"', '"actor_role":"Clinician"'), /unknown variant/);
  bad(ok.replace('"transport"', '"transprt"'), /unknown field `transprt`/);
  bad(ok.replace(/,"details":\{[^}]*\}/, ''), /missing field `details`/);
  bad(ok + ' x', /trailing characters/);
  bad(ok.replace('"leaf_hash":"', '"leaf_hash":"0'), /64 hexadecimal digits/);
  bad(ok.replace('"source":"10.1.2.3"', '"source":"\\ud800"'), /surrogate/);
  // u64 beyond a double's precision is kept exactly in the canonical bytes.
  const big = decodeRecord(ok.replace('"tree_size":1', '"tree_size":18446744073709551615').replace('"transport":"https"', '"size":9007199254740993'));
  assert.ok(big.canonical.includes('"size":9007199254740993'), big.canonical);
});

test('an export verifies against its signed tree head, in any chunking, with progress, and says what the CLI says', async () => {
  const { lines, head, leaves } = log(3000);
  const text = lines.join('\n') + '\n';
  const seen: number[] = [];
  const v = await verifyExport(text, head, KEY, null, (done, total) => {
    assert.equal(total, 3000);
    seen.push(done);
  });
  assert.equal(v.entries, 3000);
  assert.deepEqual(seen, [1024, 2048, 3000]);
  assert.equal(toHex(v.root), toHex(rootOf(leaves)));
  assert.equal(verifiedSummary(v, head), `OK: 3000 entries reproduce the signed tree head (size 3000, root ${toHex(head.root)}, signed 2026-11-24T06:00:03.000Z).`);
  // Chunks cut anywhere (inside records, between \r and \n), no final newline.
  const crlf = lines.join('\r\n');
  const chunks: string[] = [];
  for (let i = 0; i < crlf.length; i += 977) chunks.push(crlf.slice(i, i + 977));
  assert.equal((await verifyExport(chunks, head, KEY)).entries, 3000);
  async function* slow(): AsyncGenerator<string> {
    for (const c of chunks) yield c;
  }
  assert.equal((await verifyExport(slow(), head, KEY)).entries, 3000);
  // Records as a page's JSON.parse gives them.
  const pages = new ExportVerifier(head, KEY);
  for (const l of lines) pages.pushRecord(JSON.parse(l));
  assert.equal(pages.finish().entries, 3000);
});

test('the first altered entry is named; a gap, a truncation, rewritten hashes, a CSV file, a bad signature are each refused as the CLI does', async () => {
  const { lines, head } = log(50);
  const altered = [...lines];
  altered[16] = (altered[16] as string).replace('"source":"10.1.2.3"', '"source":"10.6.6.6"');
  altered[30] = (altered[30] as string).replace('"source":"10.1.2.3"', '"source":"10.6.6.6"');
  const f = await failure(verifyExport(altered.join('\n'), head, KEY));
  assert.deepEqual(f.failure, { kind: 'altered', seq: 17 });
  assert.equal(f.message, 'entry 17 was altered: its content does not match the leaf hash recorded when it was logged');
  assert.ok(f.integrityFailure);
  assert.ok(alarm(`log.jsonl: ${f.message}`).startsWith('\n!!! AUDIT LOG INTEGRITY FAILURE !!!\n!!! log.jsonl: entry 17 was altered'));

  const gap = lines.filter((_, i) => i !== 9);
  assert.equal((await failure(verifyExport(gap.join('\n'), head, KEY))).message, 'line 10 holds entry 11, expected entry 10: entries are missing or out of order');
  const truncated = await failure(verifyExport(lines.slice(0, 47).join('\n'), head, KEY));
  assert.equal(truncated.message, 'the export holds 47 entries, the tree head 50');

  // The entry and its recorded hash rewritten together: every line checks, the root does not.
  const e = entry(5, { source: '10.6.6.6' });
  const rewritten = [...lines];
  rewritten[4] = line(e);
  assert.equal((await failure(verifyExport(rewritten.join('\n'), head, KEY))).message, 'the entries do not reproduce the signed root: recorded hashes were rewritten along with entries');

  const malformed = [...lines];
  malformed[2] = '{"entry":';
  assert.match((await failure(verifyExport(malformed.join('\n'), head, KEY))).message, /^line 3 is not a valid audit record: /);
  assert.match((await failure(verifyExport(lines.join('\n') + '\n\n', head, KEY))).message, /^line 51 is not a valid audit record/);

  const csv = await failure(verifyExport('seq,time,time_ms,actor_user,actor_device,actor_role,action,counterpart_user,counterpart_device,message_id,referral_id,attachment_id,source,outcome,reason,details,leaf_hash\n1,…', head, KEY));
  assert.equal(csv.failure.kind, 'csv');
  assert.equal(csv.integrityFailure, false);
  assert.match(csv.message, /^CSV exports cannot be verified; use JSONL/);

  const forged = { ...head, size: 49 };
  assert.equal((await failure(verifyExport(lines.join('\n'), forged, KEY))).message, "the tree head's signature does not verify with the log key");
  const otherKey = ed25519PublicKey(OTHER_SEED);
  assert.equal((await failure(verifyExport(lines.join('\n'), head, otherKey))).failure.kind, 'bad_signature');
});

test('the saved head: an extension matches it, a rewritten prefix or a shrunk log is refused, an older export is noted', async () => {
  const { lines, leaves, head } = log(40);
  const saved = sign(25, rootOf(leaves.slice(0, 25)), head.timestamp_ms - 1000);
  const v = await verifyExport(lines.join('\n'), head, KEY, saved);
  assert.equal(v.matchedSavedHead, 25);
  assert.match(verifiedSummary(v, head), /; the first 25 match the tree head saved earlier\.$/);

  const otherHistory = sign(25, leafHash(utf8('another history')), head.timestamp_ms - 1000);
  assert.equal((await failure(verifyExport(lines.join('\n'), head, KEY, otherHistory))).message, 'the first 25 entries do not reproduce the tree head saved earlier: history was rewritten');

  // A shorter log signed after a longer one: entries were deleted.
  const short = sign(30, rootOf(leaves.slice(0, 30)), head.timestamp_ms + 5000);
  const shrank = await failure(verifyExport(lines.slice(0, 30).join('\n'), short, KEY, head));
  assert.equal(
    shrank.message,
    `the audit log shrank: you saw 40 entries (the tree head saved on 2026-11-24T06:00:00.040Z), but this export's tree head, signed later (2026-11-24T06:00:05.040Z), has only 30: entries 31..=40 were deleted from the log, or the server was restored from a backup older than your saved head`,
  );
  // An export taken before the saved head: verifies on its own, with the note.
  const older = sign(30, rootOf(leaves.slice(0, 30)), head.timestamp_ms - 5000);
  const o = await verifyExport(lines.slice(0, 30).join('\n'), older, KEY, head);
  assert.deepEqual(o.savedHeadNewer, { size: 40, timestamp_ms: head.timestamp_ms });
  const badSaved = { ...saved, timestamp_ms: saved.timestamp_ms + 1 };
  assert.equal((await failure(verifyExport(lines.join('\n'), head, KEY, badSaved))).failure.kind, 'saved_head_bad_signature');
});

// RFC 6962 PATH and PROOF, to play the server.
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
function path(m: number, d: Hash[]): Hash[] {
  if (d.length <= 1) return [];
  const k = split(d.length);
  return m < k ? [...path(m, d.slice(0, k)), rootOf(d.slice(k))] : [...path(m - k, d.slice(k)), rootOf(d.slice(0, k))];
}
function subproof(m: number, d: Hash[], complete: boolean): Hash[] {
  if (m === d.length) return complete ? [] : [rootOf(d)];
  const k = split(d.length);
  return m <= k ? [...subproof(m, d.slice(0, k), complete), rootOf(d.slice(k))] : [...subproof(m - k, d.slice(k), false), rootOf(d.slice(0, k))];
}

function server(leaves: Hash[], opts: { key?: Uint8Array; seed?: Uint8Array; refuse?: boolean } = {}): AuditSource {
  return {
    treeHead: async () => ({ tree_head: sign(leaves.length, rootOf(leaves), 1_795_500_000_000 + leaves.length, opts.seed ?? SEED), log_key: opts.key ?? KEY }),
    consistency: async (first, second) => {
      if (opts.refuse) throw new ServerError('invalid_request', 'first must be at most the current size', undefined, 400);
      return subproof(first, leaves.slice(0, second), true);
    },
  };
}

test('the witness: pinned on first use, each new head proven to extend the saved one; a changed key, a shrunk or rewritten log, a server that cannot prove are alarms', async () => {
  const { leaves } = log(60);
  const first = await checkHead(null, server(leaves.slice(0, 20)));
  assert.equal(first.previous, null);
  assert.deepEqual(first.logKey, KEY);
  // The CLI's witness file form, and back.
  const saved: Witness = decodeWitness(JSON.stringify(witnessJson(first.witness)));
  assert.equal(saved.last_head.size, 20);
  assert.equal(JSON.stringify(witnessJson(saved)), JSON.stringify(witnessJson(first.witness)));

  const next = await checkHead(saved, server(leaves));
  assert.equal(next.previous, 20);
  assert.equal(next.witness.last_head.size, 60);
  assert.equal((await checkHead(next.witness, server(leaves))).previous, 60, 'the same head again');

  const err = async (p: Promise<unknown>): Promise<AuditError> => {
    try {
      await p;
    } catch (e) {
      assert.ok(e instanceof AuditError, String(e));
      return e;
    }
    assert.fail('no alarm');
  };
  const other = ed25519PublicKey(OTHER_SEED);
  assert.equal(
    (await err(checkHead(saved, server(leaves, { key: other, seed: OTHER_SEED })))).message,
    `the server's audit log key changed (pinned ${toBase64(KEY)}, now ${toBase64(other)}): the log may have been replaced`,
  );
  assert.equal((await err(checkHead(saved, server(leaves, { seed: OTHER_SEED })))).message, 'a tree head is not signed by the log key');
  assert.equal(
    (await err(checkHead(next.witness, server(leaves.slice(0, 50))))).message,
    'the audit log shrank: 60 entries were seen before, the server now reports 50: entries were deleted',
  );
  const rewritten = [...leaves.slice(0, 10), leafHash(utf8('mallory')), ...leaves.slice(11)];
  assert.match(
    (await err(checkHead(saved, server(rewritten)))).message,
    /^the audit log was rewritten: the server's tree of 60 entries does not extend the tree of 20 entries seen before \(the proof does not lead to the expected root\)$/,
  );
  const sameSize = [...leaves.slice(0, 19), leafHash(utf8('mallory'))];
  assert.match((await err(checkHead(saved, server(sameSize)))).message, /\(same size, different root\)$/);
  assert.match(
    (await err(checkHead(saved, server(leaves, { refuse: true })))).message,
    /\(no consistency proof: invalid_request: first must be at most the current size\)$/,
  );
});

test('a page of a proven query: every record checked against its recorded hash and its inclusion proof; one proof of one entry', () => {
  const { lines, leaves, head } = log(30);
  const records = lines.map((l) => JSON.parse(l) as { entry: Record<string, unknown>; leaf_hash: string });
  const proofs = records.map((_, i) => path(i, leaves).map(toHex));
  const page = { records: records.slice(5, 15), next_cursor: 15, proofs: proofs.slice(5, 15) };
  const ok = checkPage(JSON.parse(JSON.stringify(page)), head, KEY);
  assert.equal(ok.records.length, 10);
  assert.equal(ok.failures.size, 0);
  assert.equal(ok.nextCursor, 15);
  const tampered = JSON.parse(JSON.stringify(page)) as typeof page;
  (tampered.records[2] as { entry: Record<string, unknown> }).entry['source'] = '10.6.6.6';
  const rehashed = entry(10, { source: '10.6.6.6' });
  tampered.records[4] = { entry: rehashed, leaf_hash: toHex(leafHash(utf8(JSON.stringify(rehashed)))) };
  const marked = checkPage(tampered, head, KEY);
  assert.deepEqual([...marked.failures.keys()], [8, 10]);
  assert.equal(marked.failures.get(8)?.failure.kind, 'altered');
  assert.equal(marked.failures.get(10)?.message, 'entry 10 is not in the signed tree of 30 entries: its inclusion proof does not lead to the signed root (the entry and its recorded hash, or the stored tree, were rewritten)');
  assert.throws(() => checkPage({ ...page, proofs: proofs.slice(5, 14) }, head, KEY), /the server sent 10 entries but 9 inclusion proofs/);

  const one = decodeRecord(lines[3] as string);
  verifyRecordInclusion(one, path(3, leaves), head, KEY);
  assert.throws(() => verifyRecordInclusion(one, path(4, leaves), head, KEY), /entry 4 is not in the signed tree of 30 entries/);
  const resp = decodeTreeHeadResponse(JSON.stringify({ tree_head: { size: head.size, timestamp_ms: head.timestamp_ms, root: toHex(head.root), signature: toBase64(head.signature) }, log_key: toBase64(KEY) }));
  assert.deepEqual(resp.tree_head, head);
  assert.throws(() => decodeTreeHeadResponse(JSON.stringify({ tree_head: { size: 1, timestamp_ms: 1, root: '00'.repeat(32), signature: 'AA==', extra: 1 }, log_key: '' })), /unknown field `extra`/);
});

test('rate: a 10,000-entry log verifies well under 10 s (issue 17 verifies one in the browser)', async () => {
  const n = 10_000;
  const { lines, head } = log(n);
  const text = lines.join('\n') + '\n';
  const started = performance.now();
  const v = await verifyExport(text, head, KEY);
  const ms = performance.now() - started;
  assert.equal(v.entries, n);
  const rate = Math.round((n / ms) * 1000);
  console.error(`audit verifier: ${n} entries (${(text.length / 1e6).toFixed(1)} MB) verified in ${ms.toFixed(0)} ms: ${rate} entries/s`);
  assert.ok(ms < 5000, `${ms} ms`);
  // The incremental tree keeps one hash per set bit of the size.
  const tree = new CompactRange();
  for (let i = 0; i < 1023; i++) tree.append(leafHash(Uint8Array.of(i & 255)));
  assert.equal((tree as unknown as { peaks: unknown[] }).peaks.length, 10);
});

test('a filtered or CSV export: every row must be the entry with its number in the verified log', async () => {
  const { lines, head } = log(40);
  const full = lines.join('\n') + '\n';
  const pick = [lines[2], lines[9], lines[30]].join('\n') + '\n';
  assert.equal((await verifySelection(pick, 'jsonl', full, head, KEY)).entries, 40);
  const changed = pick.replace('"source":"10.1.2.3"', '"source":"10.6.6.6"');
  assert.equal((await failure(verifySelection(changed, 'jsonl', full, head, KEY))).message, 'row 1 of the export (entry 3) is not entry 3 of the signed log: the export was altered');
  const reordered = [lines[9], lines[2]].join('\n');
  assert.equal((await failure(verifySelection(reordered, 'jsonl', full, head, KEY))).message, 'row 2 of the export holds entry 3, which is out of order, repeated, or not in the signed log');
  const beyond = line(entry(41));
  assert.equal((await failure(verifySelection(beyond, 'jsonl', full, head, KEY))).failure.kind, 'unexpected_row');
  // CSV as the csv crate writes it: quoted when a field holds a comma, a quote or a newline.
  const cell = (f: string): string => (/[",\n\r]/.test(f) ? `"${f.replace(/"/g, '""')}"` : f);
  const tricky = entry(7, { source: 'a,b "c"\nd' });
  const all = lines.map((l, i) => (i === 6 ? line(tricky) : l));
  const fullTricky = all.join('\n');
  const headTricky = (await import('../src/audit/index.js')).rootOf(all.map((l) => entryLeafHash(decodeRecord(l))));
  const signed = { ...head, root: headTricky, signature: ed25519Sign(SEED, treeHeadMessage(40, head.timestamp_ms, headTricky)) };
  const csv = [CSV, ...all.map((l) => csvFields(decodeRecord(l)).map(cell).join(','))].join('\n') + '\n';
  assert.deepEqual([...csvRecords('a,"b ""x"", y\nz",\r\n1,2,3\n')], [['a', 'b "x", y\nz', ''], ['1', '2', '3']]);
  assert.equal((await verifySelection(csv, 'csv', fullTricky, signed, KEY)).entries, 40);
  const forged = csv.replace('10.1.2.3', '10.6.6.6');
  assert.equal((await failure(verifySelection(forged, 'csv', fullTricky, signed, KEY))).message, 'row 2 of the export (entry 1) is not entry 1 of the signed log: the export was altered');
  assert.equal((await failure(verifySelection(csv.replace('seq,time', 'seq,tim'), 'csv', fullTricky, signed, KEY))).failure.kind, 'malformed');
});

const CSV = 'seq,time,time_ms,actor_user,actor_device,actor_role,action,counterpart_user,counterpart_device,message_id,referral_id,attachment_id,source,outcome,reason,details,leaf_hash';
