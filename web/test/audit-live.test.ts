// The TypeScript audit verifier against a real `curbside serve` and the
// real CLI: audited activity, a compliance officer enrolled in the CLI and
// another through the web client's enrollment, the log fetched over HTTPS
// as the web officer (a session from the device login of
// src/protocol/http.ts) and verified with the same result as `curbside
// audit verify`; the witness checked against a newer head (a consistency
// proof from the server); an entry altered in the SQLite database (its
// triggers dropped, as an attacker with the disk would) named by the
// verifier as by the CLI; a truncated export refused.

import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import {
  checkHead, checkPage, decodeConsistencyProof, decodeProof, decodeRecord, decodeTreeHeadResponse, decodeWitness, ExportVerifier,
  fromJsValue, verifiedSummary, verifySelection, verifyConsistency, verifyExport, VerifyFailure, verifyRecordInclusion,
  type AuditSource, type CheckedHead, type Verified,
} from '../src/audit/index.js';
import { enroll, type Account } from '../src/client/index.js';
import { HttpApi } from '../src/protocol/index.js';
import { binaryMissing, cli, httpsFetch, npi, startServer, tempDir, userIdIn, type Server } from './live-helpers.js';

const missing = binaryMissing();
if (missing !== undefined) {
  console.error(`\n*** ${missing} ***\n`);
  test('the audit verifier against the curbside binary', (t) => {
    assert.notEqual(process.env['CI'], 'true', missing);
    t.skip(missing);
  });
} else {
  live();
}

function sqlite(db: string, sql: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('sqlite3', [db, sql], { timeout: 20_000 }, (err, stdout, stderr) => (err ? reject(new Error(`sqlite3: ${err.message} ${stderr}`)) : resolve(stdout)));
  });
}

/** Runs the CLI where it must fail; its output (the alarm). */
async function cliFails(args: string[]): Promise<string> {
  try {
    await cli(args);
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  assert.fail(`curbside ${args.join(' ')} should have failed`);
}

function live(): void {
  let server: Server;
  let profiles: string;
  let officer: Account;
  let api: HttpApi;
  let token: string;
  const admin = (): string => join(profiles, 'admin');
  const cliOfficer = (): string => join(profiles, 'officer');

  const invite = async (role?: string): Promise<string> => {
    const out = await cli(['admin', 'invite', '--profile', admin(), ...(role ? ['--role', role] : [])]);
    const m = /cbs_inv_[A-Za-z0-9_-]+/.exec(out);
    assert.ok(m, out);
    return m[0];
  };
  const get = async (path: string): Promise<string> => (await api.binary('GET', path, token)).text();
  /** The compliance API over the web officer's session, as a browser would call it. */
  const source: AuditSource = {
    treeHead: async () => decodeTreeHeadResponse(await get('/v1/audit/tree-head')),
    consistency: async (first, second) => decodeConsistencyProof(JSON.parse(await get(`/v1/audit/proof/consistency?first=${first}&second=${second}`))),
  };
  /** `GET /v1/audit/export?through=N`, streamed into the verifier chunk by chunk. */
  const exportAndVerify = async (checked: CheckedHead, progress?: (d: number, t: number) => void): Promise<Verified> => {
    const response = await api.binary('GET', `/v1/audit/export?through=${checked.head.size}`, token);
    const v = new ExportVerifier(checked.head, checked.logKey, null, progress);
    const decoder = new TextDecoder('utf-8', { fatal: true });
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) v.pushText(decoder.decode(chunk, { stream: true }));
    v.pushText(decoder.decode());
    return v.finish();
  };

  before(async () => {
    server = await startServer();
    profiles = tempDir();
    await cli(['enroll', '--profile', admin(), '--invite', server.token, '--name', 'Admin', '--server', server.address, '--cert', server.certPath]);
    await cli(['enroll', '--profile', cliOfficer(), '--invite', await invite('compliance_officer'), '--name', 'Carol Compliance', '--server', server.address, '--cert', server.certPath]);
    const fetch = httpsFetch(server.certPem);
    const enrolled = await enroll({ url: server.url, serverName: 'localhost' }, await invite('compliance_officer'), { displayName: 'Olivia Officer' }, { fetch });
    assert.deepEqual(enrolled.response.roles, ['compliance_officer']);
    officer = enrolled.account;
    api = new HttpApi({ url: server.url, fetch });
    token = (await api.login('localhost', officer.me, officer.identity)).token;
    // Some audited activity: clinicians enrolled and verified, a message sent and
    // delivered (bundles fetched, ciphertexts' sizes and hashes), listings, invites, a failed login.
    const clinician = async (name: string, nine: string): Promise<string> =>
      userIdIn(await cli(['enroll', '--profile', join(profiles, name), '--invite', await invite(), '--name', `Dr. ${name}`, '--npi', npi(nine), '--specialty', 'Cardiology', '--server', server.address, '--cert', server.certPath]));
    const bob = await clinician('bob', '123456789');
    const carol = await clinician('carol', '223456789');
    for (const u of [bob, carol]) await cli(['admin', 'verify', '--profile', admin(), u]);
    await cli(['send', '--profile', join(profiles, 'bob'), '--to', carol, 'Patient in bed 4: please review the ECG']);
    assert.match(await cli(['inbox', '--profile', join(profiles, 'carol'), '--wait', '2']), /bed 4/);
    for (let i = 0; i < 3; i++) await cli(['admin', 'users', '--profile', admin()]);
    await invite();
    await assert.rejects(api.json('GET', '/v1/audit/tree-head', undefined, 'cbs_sess_not_a_token'));
  });

  after(async () => {
    await server?.stop();
    if (profiles) rmSync(profiles, { recursive: true, force: true });
  });

  let firstCheck: CheckedHead;

  test('the log fetched over HTTPS as an officer verifies in TypeScript, with the same result as `curbside audit verify`', async () => {
    firstCheck = await checkHead(null, source);
    assert.equal(firstCheck.previous, null, 'first use: the key is pinned');
    assert.ok(firstCheck.head.size >= 25, `size ${firstCheck.head.size}`);
    const progress: number[] = [];
    const v = await exportAndVerify(firstCheck, (d) => progress.push(d));
    assert.equal(v.entries, firstCheck.head.size);
    assert.equal(progress.at(-1), firstCheck.head.size);

    // The CLI's export and verification, and the same file through the TypeScript verifier.
    const out = join(profiles, 'log.jsonl');
    assert.match(await cli(['audit', 'export', '--profile', cliOfficer(), '--out', out]), /^Exported entries 1\.\.=/);
    const cliSays = await cli(['audit', 'verify', '--profile', cliOfficer(), out]);
    const head = decodeTreeHeadResponse(readFileSync(`${out}.tree-head.json`, 'utf8'));
    const witness = decodeWitness(readFileSync(join(cliOfficer(), 'audit-witness.json'), 'utf8'));
    assert.deepEqual(witness.log_key, firstCheck.logKey, 'both officers pinned the same log key');
    const tsSays = verifiedSummary(await verifyExport(readFileSync(out, 'utf8'), head.tree_head, witness.log_key, witness.last_head), head.tree_head);
    assert.equal(tsSays, cliSays.trim().split('\n').find((l) => l.startsWith('OK: ')), cliSays);
  });

  test('a newer head is proven consistent with the saved one; a proven page, an inclusion proof, a CSV and a filtered export check', async () => {
    await cli(['admin', 'users', '--profile', admin()]);
    const next = await checkHead(firstCheck.witness, source);
    assert.equal(next.previous, firstCheck.head.size);
    assert.ok(next.head.size > firstCheck.head.size);
    const proof = decodeConsistencyProof(JSON.parse(await get(`/v1/audit/proof/consistency?first=${firstCheck.head.size}&second=${next.head.size}`)));
    verifyConsistency(firstCheck.head.size, next.head.size, proof, firstCheck.head.root, next.head.root);
    assert.throws(() => verifyConsistency(firstCheck.head.size, next.head.size, proof, next.head.root, next.head.root));

    const page = checkPage(JSON.parse(await get(`/v1/audit/entries?tree_size=${next.head.size}&limit=1000`)), next.head, next.logKey);
    assert.equal(page.failures.size, 0);
    assert.equal(page.records.length, next.head.size);
    const actions = new Set(page.records.map((r) => r.entry.action));
    for (const a of ['user.enrolled', 'user.verified', 'identity_key.published', 'prekey_bundle.fetched', 'message.accepted', 'message.delivered', 'audit.tree_head_requested', 'audit.exported']) {
      assert.ok(actions.has(a as never), `the log has ${a} entries: ${[...actions].join(', ')}`);
    }
    assert.ok(page.records.some((r) => r.entry.outcome === 'failure' && r.entry.reason !== null), 'the refused request is logged');
    assert.ok(page.records.every((r) => !r.canonical.includes('bed 4')), 'metadata only');
    const inc = JSON.parse(await get(`/v1/audit/proof/inclusion?seq=4&tree_size=${next.head.size}`)) as { record: unknown; proof: unknown };
    verifyRecordInclusion(decodeRecord(fromJsValue(inc.record)), decodeProof(fromJsValue(inc.proof)), next.head, next.logKey);

    // A CSV export and a filtered one, each checked row by row against the full export through the same head.
    const through = `through=${next.head.size}`;
    const full = await get(`/v1/audit/export?${through}`);
    const csv = await get(`/v1/audit/export?${through}&format=csv`);
    assert.equal((await verifySelection(csv, 'csv', full, next.head, next.logKey)).entries, next.head.size);
    const filtered = await get(`/v1/audit/export?${through}&action=message.accepted`);
    assert.ok(filtered.trim().split('\n').length >= 1, 'the message (and its receipts)');
    await verifySelection(filtered, 'jsonl', full, next.head, next.logKey);
    const forged = csv.replace(/,message\.accepted,(u[0-9a-f]+),/, ',message.accepted,u0000000000000000000000000,');
    assert.notEqual(forged, csv);
    await assert.rejects(verifySelection(forged, 'csv', full, next.head, next.logKey), /of the export \(entry \d+\) is not entry \d+ of the signed log: the export was altered/);
  });

  const noSqlite = spawnSync('sqlite3', ['-version']).status !== 0 ? 'SKIPPED: the sqlite3 CLI is missing (apt-get install -y sqlite3); under CI=true this is a failure' : undefined;
  if (noSqlite !== undefined) console.error(`\n*** ${noSqlite} ***\n`);
  test('an entry altered in the database is named by the TypeScript verifier as by the CLI; a truncated export is refused', async (t) => {
    if (noSqlite !== undefined) {
      assert.notEqual(process.env['CI'], 'true', noSqlite);
      t.skip(noSqlite);
      return;
    }
    const db = join(server.dataDir, 'curbside.db');
    await sqlite(db, 'PRAGMA busy_timeout = 10000; DROP TRIGGER audit_log_no_update; UPDATE audit_log SET actor_user = \'u_mallory\' WHERE seq = 5;');
    const checked = await checkHead(firstCheck.witness, source);
    const failure = await exportAndVerify(checked).then(
      () => assert.fail('the altered log verified'),
      (e: unknown) => e,
    );
    assert.ok(failure instanceof VerifyFailure, String(failure));
    assert.deepEqual(failure.failure, { kind: 'altered', seq: 5 });
    const page = checkPage(JSON.parse(await get(`/v1/audit/entries?tree_size=${checked.head.size}&limit=10`)), checked.head, checked.logKey);
    assert.deepEqual([...page.failures.keys()], [5]);

    // The CLI refuses its export and keeps it only as evidence; both verifiers name entry 5 in it.
    const out = join(profiles, 'tampered.jsonl');
    assert.match(await cliFails(['audit', 'export', '--profile', cliOfficer(), '--out', out, '--export-anyway']), /entry 5 was altered/);
    const cliAlarm = await cliFails(['audit', 'verify', '--profile', cliOfficer(), out]);
    assert.match(cliAlarm, /AUDIT LOG INTEGRITY FAILURE/);
    const head = decodeTreeHeadResponse(readFileSync(`${out}.tree-head.json`, 'utf8'));
    const ts = await verifyExport(readFileSync(out, 'utf8'), head.tree_head, head.log_key).catch((e: unknown) => e);
    assert.ok(ts instanceof VerifyFailure);
    assert.ok(cliAlarm.includes(`${out}: ${ts.message}`), `${ts.message}\n${cliAlarm}`);

    // The first export, cut short: refused.
    const first = readFileSync(join(profiles, 'log.jsonl'), 'utf8').split('\n').filter((l) => l !== '');
    const firstHead = decodeTreeHeadResponse(readFileSync(join(profiles, 'log.jsonl.tree-head.json'), 'utf8'));
    const cut = await verifyExport(first.slice(0, -2).join('\n'), firstHead.tree_head, firstHead.log_key).catch((e: unknown) => e);
    assert.ok(cut instanceof VerifyFailure);
    assert.equal(cut.message, `the export holds ${first.length - 2} entries, the tree head ${first.length}`);
  });
}
