// The compliance console's audit source over a device session against a
// real `curbside serve`: a compliance officer enrolled by the web client
// verifies the whole log through DeviceAuditSource (the head pinned, the
// export streamed into the verifier) with the same OK line as `curbside
// audit verify`; a later check proves consistency with the saved witness;
// a proven query is followed across pages by next_cursor; an inclusion
// proof; a clinician's device is refused.

import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { decodeTreeHeadResponse, decodeWitness } from '../src/audit/index.js';
import { DeviceAuditSource, enroll, type LogVerified } from '../src/client/index.js';
import { HttpApi, ServerError } from '../src/protocol/index.js';
import { binaryMissing, cli, httpsFetch, npi, startServer, tempDir, userIdIn, type Server } from './live-helpers.js';

const missing = binaryMissing();
if (missing !== undefined) {
  console.error(`\n*** ${missing} ***\n`);
  test('the device audit source against the curbside binary', (t) => {
    assert.notEqual(process.env['CI'], 'true', missing);
    t.skip(missing);
  });
} else {
  live();
}

function live(): void {
  let server: Server;
  let profiles: string;
  let source: DeviceAuditSource;
  let clinicianSource: DeviceAuditSource;
  const admin = (): string => join(profiles, 'admin');
  const cliOfficer = (): string => join(profiles, 'officer');
  const invite = async (role?: string): Promise<string> => {
    const m = /cbs_inv_[A-Za-z0-9_-]+/.exec(await cli(['admin', 'invite', '--profile', admin(), ...(role ? ['--role', role] : [])]));
    assert.ok(m);
    return m[0];
  };

  before(async () => {
    server = await startServer();
    profiles = tempDir();
    const fetch = httpsFetch(server.certPem);
    const info = { url: server.url, serverName: 'localhost' };
    await cli(['enroll', '--profile', admin(), '--invite', server.token, '--name', 'Admin', '--server', server.address, '--cert', server.certPath]);
    await cli(['enroll', '--profile', cliOfficer(), '--invite', await invite('compliance_officer'), '--name', 'Carol Compliance', '--server', server.address, '--cert', server.certPath]);
    const officer = await enroll(info, await invite('compliance_officer'), { displayName: 'Olivia Officer' }, { fetch });
    assert.deepEqual(officer.response.roles, ['compliance_officer']);
    source = DeviceAuditSource.forAccount(officer.account, { fetch });
    const clinician = async (name: string, nine: string): Promise<string> =>
      userIdIn(await cli(['enroll', '--profile', join(profiles, name), '--invite', await invite(), '--name', `Dr. ${name}`, '--npi', npi(nine), '--specialty', 'Cardiology', '--server', server.address, '--cert', server.certPath]));
    const bob = await clinician('bob', '123456789');
    const carol = await clinician('carol', '223456789');
    for (const u of [bob, carol]) await cli(['admin', 'verify', '--profile', admin(), u]);
    await cli(['send', '--profile', join(profiles, 'bob'), '--to', carol, 'Patient in bed 4: please review the ECG']);
    await cli(['inbox', '--profile', join(profiles, 'carol'), '--wait', '1']);
    const web = await enroll(info, await invite(), { displayName: 'Dr. Dan', npi: npi('323456789'), specialty: 'Nephrology' }, { fetch });
    clinicianSource = new DeviceAuditSource(new HttpApi({ url: server.url, fetch }), 'localhost', web.account.me, web.account.identity);
  });

  after(async () => {
    await server?.stop();
    if (profiles) rmSync(profiles, { recursive: true, force: true });
  });

  let first: LogVerified;

  test('an officer enrolled by the web client verifies the whole log over its session, as `curbside audit verify` does', async () => {
    const progress: number[] = [];
    first = await source.verifyLog(null, (d) => progress.push(d));
    assert.equal(first.checked.previous, null);
    assert.equal(first.verified.entries, first.checked.head.size);
    assert.ok(first.checked.head.size >= 20, `size ${first.checked.head.size}`);
    assert.equal(progress.at(-1), first.checked.head.size);
    assert.match(first.summary, /^OK: \d+ entries reproduce the signed tree head \(size \d+, root [0-9a-f]{64}, signed .+\)\.$/);

    // The CLI exports and verifies; the source streams the export through the CLI's head: the same OK line.
    const out = join(profiles, 'log.jsonl');
    await cli(['audit', 'export', '--profile', cliOfficer(), '--out', out]);
    const cliOk = (await cli(['audit', 'verify', '--profile', cliOfficer(), out])).split('\n').find((l) => l.startsWith('OK: '));
    assert.ok(cliOk);
    const head = decodeTreeHeadResponse(readFileSync(`${out}.tree-head.json`, 'utf8'));
    const witness = decodeWitness(readFileSync(join(cliOfficer(), 'audit-witness.json'), 'utf8'));
    assert.deepEqual(witness.log_key, first.checked.logKey, 'both officers pinned the same log key');
    // With the CLI officer's saved head, as `curbside audit verify` uses it.
    const through = await source.verifyThrough(head.tree_head, first.checked.logKey, witness.last_head);
    assert.equal(through.summary, cliOk);
  });

  test('a later check proves the log extends the saved head; a proven query across pages; an inclusion proof', async () => {
    await cli(['admin', 'users', '--profile', admin()]);
    const next = await source.verifyLog(first.checked.witness);
    assert.equal(next.checked.previous, first.checked.head.size);
    assert.ok(next.checked.head.size > first.checked.head.size);
    assert.match(next.summary, new RegExp(`; the first ${first.checked.head.size} match the tree head saved earlier\\.$`));

    const { head, logKey } = next.checked;
    let pages = 0;
    const seqs: number[] = [];
    for await (const p of source.entries(head, logKey, {}, 7)) {
      pages++;
      assert.equal(p.failures.size, 0);
      seqs.push(...p.records.map((r) => r.entry.seq));
    }
    assert.ok(pages >= 3, `pages ${pages}`);
    assert.deepEqual(seqs, Array.from({ length: head.size }, (_, i) => i + 1), 'every entry once, in order');
    const accepted = await source.entriesAll(head, logKey, { action: 'message.accepted' }, 1);
    assert.ok(accepted.records.length >= 1 && accepted.records.every((r) => r.entry.action === 'message.accepted'));
    assert.ok(accepted.records.every((r) => !r.canonical.includes('bed 4')), 'metadata only');

    const rec = await source.inclusion(4, head, logKey);
    assert.equal(rec.entry.seq, 4);
    // A CSV export streams as text too.
    let csv = '';
    for await (const t of source.exportText(head.size, {}, 'csv')) csv += t;
    assert.ok(csv.split('\n').filter((l) => l !== '').length > head.size);
  });

  test('a clinician\'s device is refused the audit API', async () => {
    await assert.rejects(clinicianSource.treeHead(), (e: unknown) => e instanceof ServerError && e.code === 'forbidden');
  });
}
