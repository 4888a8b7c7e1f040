// Referrals between the web client and the Rust CLI through a real
// `curbside serve`: a referral built by the web form goes to a CLI
// clinician, who reads its patient and attachment, accepts and completes it
// (the web client sees both transitions pushed), and whose `refer export`
// equals the web client's export; a referral from `curbside refer create`
// reaches the web client with the very Bundle its own form builds for the
// same inputs, and is accepted there (the CLI sees it); declines with a
// reason, both ways, arrive decrypted.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { Client, enroll, uploadAttachment, type Received } from '../src/client/index.js';
import { buildReferral, canonicalJson, patientResource, ReferralApi, ReferralError, ReferralInbox, type ReferralInput, type ReferralItem } from '../src/client/referrals/index.js';
import { systemRandom } from '../src/crypto/primitives.js';
import type { DirectoryEntry } from '../src/protocol/index.js';
import { binaryMissing, cli, httpsFetch, npi, startServer, tempDir, userIdIn, wsFactory, type Server } from './live-helpers.js';
import { fhirR4Problems } from './referrals-fhir.js';

const missing = binaryMissing();
if (missing !== undefined) {
  console.error(`\n*** ${missing} ***\n`);
  test('live referrals with the curbside binary', (t) => {
    assert.notEqual(process.env['CI'], 'true', missing);
    t.skip(missing);
  });
} else {
  live();
}

const PATIENT = {
  family: 'Roewright',
  given: ['Janelle'],
  birthDate: '1961-04-02',
  sex: 'female' as const,
  identifiers: [{ system: 'urn:oid:2.16.840.1.113883.19.5', value: 'MRN-451234', type: 'MR' as const }],
};

function live(): void {
  let server: Server;
  let profiles: string;
  let alice: Client;
  let aliceId: string;
  let bobId: string;
  let inbox: ReferralInbox;
  let api: ReferralApi;
  let me: DirectoryEntry;
  let bobEntry: DirectoryEntry;
  const bob = (): string => join(profiles, 'bob');
  const admin = (): string => join(profiles, 'admin');

  const invite = async (): Promise<string> => {
    const m = /cbs_inv_[A-Za-z0-9_-]+/.exec(await cli(['admin', 'invite', '--profile', admin()]));
    assert.ok(m);
    return m[0];
  };
  /** Waits until the inbox's item `id` satisfies `ok`. */
  const waitFor = async (id: string, ok: (i: ReferralItem) => boolean, what: string): Promise<ReferralItem> => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const item = inbox.item(id);
      if (item !== undefined && ok(item)) return item;
      if (Date.now() > deadline) throw new Error(`${what} did not reach the web client: ${JSON.stringify(item && { status: item.status, patient: item.patient !== undefined, reason: item.reason !== undefined })}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const bobSync = (): Promise<string> => cli(['sync', '--profile', bob(), '--wait', '1']);

  before(async () => {
    server = await startServer();
    profiles = tempDir();
    const where = ['--server', server.address, '--cert', server.certPath];
    await cli(['enroll', '--profile', admin(), '--invite', server.token, '--name', 'Admin', ...where]);
    bobId = userIdIn(
      await cli(['enroll', '--profile', bob(), '--invite', await invite(), '--name', 'Dr. Bob Brennan', '--npi', npi('123456789'), '--specialty', 'Dermatology', ...where]),
    );
    const { account, response } = await enroll(
      { url: server.url, serverName: 'localhost' },
      await invite(),
      { displayName: 'Dr. Alice Adeyemi', npi: npi('323456789'), specialty: 'Internal Medicine' },
      { fetch: httpsFetch(server.certPem) },
    );
    aliceId = response.user_id;
    for (const u of [aliceId, bobId]) await cli(['admin', 'verify', '--profile', admin(), u]);
    inbox = new ReferralInbox(aliceId);
    alice = new Client(account, {
      webSocket: wsFactory(server.certPem),
      fetch: httpsFetch(server.certPem),
      onReferralUpdated: (r) => void inbox.applyEnvelope(r),
      onMessage: async (m: Received) => void inbox.applyMessage(m),
    });
    alice.start();
    await alice.waitOnline();
    api = new ReferralApi(alice, inbox);
    me = (await alice.directory({ user_id: aliceId }))[0] as DirectoryEntry;
    bobEntry = (await alice.directory({ specialty: 'Dermatology' })).find((e) => e.user_id === bobId) as DirectoryEntry;
    assert.ok(me && bobEntry, 'both clinicians are in the directory');
  });

  after(async () => {
    alice?.stop();
    await server?.stop();
    if (profiles) rmSync(profiles, { recursive: true, force: true });
  });

  test('web → CLI: a referral from the form is read, accepted and completed by the CLI; the web client sees both transitions; the exports agree', async () => {
    const scan = randomBytes(20_000);
    const uploaded = await uploadAttachment(alice.http, new Uint8Array(scan), 'rash.jpg', systemRandom);
    const form: ReferralInput = {
      patient: PATIENT,
      reason: 'Pruritic rash, 3 weeks',
      note: 'No response to topical steroids.',
      priority: 'urgent',
      specialty: 'Dermatology',
      from: me,
      to: bobEntry,
      attachments: [uploaded.file],
    };
    const built = buildReferral(form, (n) => new Uint8Array(randomBytes(n)));
    assert.ok(built.ok, JSON.stringify(!built.ok && built.errors));
    if (!built.ok) return;
    const id = built.referral.referralId;
    const env = await api.create(built.referral);
    assert.equal(env.status, 'requested');
    assert.equal(env.priority, 'urgent');
    assert.deepEqual([env.referring, env.receiving], [aliceId, bobId]);
    assert.deepEqual(inbox.item(id)?.allowed, ['cancel']);
    assert.equal(inbox.item(id)?.patient?.name, 'Janelle Roewright');

    const synced = await bobSync();
    assert.match(synced, new RegExp(`referral ${id} from .*patient Janelle Roewright, 1 attachment`));
    const shown = await cli(['refer', 'show', '--profile', bob(), id]);
    assert.match(shown, /patient: Janelle Roewright/);
    assert.match(shown, /note: Pruritic rash, 3 weeks/);
    assert.match(shown, /attachment: rash\.jpg \(20000 bytes\)/);
    assert.match(await cli(['refer', 'list', '--profile', bob(), '--direction', 'in']), new RegExp(`${id}\\s+requested\\s+urgent`));

    assert.match(await cli(['refer', 'accept', '--profile', bob(), id]), /accepted/);
    let item = await waitFor(id, (i) => i.status === 'accepted', 'the acceptance');
    assert.deepEqual(item.allowed, []);
    assert.match(await cli(['refer', 'complete', '--profile', bob(), id]), /completed/);
    item = await waitFor(id, (i) => i.status === 'completed', 'the completion');
    assert.equal(item.direction, 'out');
    assert.equal(item.receiving.name, 'Dr. Bob Brennan');

    // refer export and the web client's export: one Bundle (only the export time differs).
    const fromCli = JSON.parse(await cli(['refer', 'export', '--profile', bob(), id])) as Record<string, unknown>;
    const fromWeb = inbox.exportBundle(id, Date.parse(fromCli['timestamp'] as string));
    assert.ok(fromWeb);
    assert.equal(canonicalJson(fromWeb), canonicalJson(fromCli as never));
    assert.deepEqual(fhirR4Problems(fromWeb), []);
  });

  test('CLI → web: refer create reaches the web client with the Bundle its form builds for the same inputs; accepted there, the CLI sees it', async () => {
    const patientFile = join(profiles, 'patient.json');
    writeFileSync(patientFile, JSON.stringify(patientResource(PATIENT)));
    const created = await cli([
      'refer', 'create', '--profile', bob(), '--to', aliceId, '--specialty', 'Internal Medicine', '--priority', 'stat',
      '--patient', patientFile, '--note', 'Hypertension, poorly controlled',
    ]);
    assert.match(created, /\(stat, Internal Medicine\): requested/);
    const id = created.split(/\s+/)[1] as string;
    const item = await waitFor(id, (i) => i.patient !== undefined, 'the referral and its content');
    assert.equal(item.direction, 'in');
    assert.equal(item.priority, 'stat');
    assert.deepEqual(item.allowed, ['accept', 'decline']);
    assert.deepEqual(item.patient, {
      name: 'Janelle Roewright',
      birthDate: '1961-04-02',
      sex: 'female',
      identifiers: [{ system: 'urn:oid:2.16.840.1.113883.19.5', value: 'MRN-451234' }],
    });
    assert.equal(item.note, 'Hypertension, poorly controlled');
    assert.equal(item.referring.name, 'Dr. Bob Brennan');

    // The content the CLI sent, byte for byte, is what the web form builds for the same inputs.
    const received = inbox.bundleOf(id);
    assert.ok(received?.authoredOn);
    const same = buildReferral({
      patient: PATIENT,
      reason: 'Hypertension, poorly controlled',
      priority: 'stat',
      specialty: 'Internal Medicine',
      from: bobEntry,
      to: me,
      referralId: id,
      authoredAtMs: Date.parse(received.authoredOn),
    });
    assert.ok(same.ok);
    const sent = (inbox.toJSON().contents.find((c) => c.referralId === id) as { bundle: string }).bundle;
    assert.equal(same.referral.bundleJson, sent);

    const env = await api.accept(id);
    assert.equal(env.status, 'accepted');
    assert.deepEqual(inbox.item(id)?.allowed, ['complete']);
    assert.match(await cli(['refer', 'list', '--profile', bob(), '--direction', 'out']), new RegExp(`${id}\\s+accepted\\s+stat`));
    assert.equal((await api.complete(id)).status, 'completed');
    assert.match(await cli(['refer', 'list', '--profile', bob(), '--direction', 'out']), new RegExp(`${id}\\s+completed\\s+stat`));
    // After a reconnection the server's list is the truth: a fresh inbox rebuilt from it agrees.
    const fresh = new ReferralInbox(aliceId, { ...inbox.toJSON(), envelopes: [] });
    await new ReferralApi(alice, fresh).sync();
    assert.deepEqual(fresh.list(), inbox.list());
  });

  test('web cancels its referral with a reason: the CLI reads it decrypted; the id taken is refused with what to do', async () => {
    const built = buildReferral(
      { patient: { text: 'Jane Q. Roe' }, reason: 'Mole check', priority: 'routine', specialty: 'Dermatology', from: me, to: bobEntry },
      (n) => new Uint8Array(randomBytes(n)),
    );
    assert.ok(built.ok);
    if (!built.ok) return;
    const id = built.referral.referralId;
    await api.create(built.referral);
    await assert.rejects(api.create(built.referral), (e: unknown) => e instanceof ReferralError && e.code === 'not_registered' && /Try again/.test(e.message));
    await assert.rejects(api.accept(id), /only the receiving clinician/);
    const env = await api.cancel(id, 'Patient seen in clinic already');
    assert.equal(env.status, 'cancelled');
    assert.equal(inbox.item(id)?.reason, 'Patient seen in clinic already');
    await bobSync();
    const shown = await cli(['refer', 'show', '--profile', bob(), id]);
    assert.match(shown, /cancelled/);
    assert.match(shown, /reason: Patient seen in clinic already/);
  });

  test('declines with a reason, both ways: the reason arrives decrypted', async () => {
    // The CLI declines the web client's referral.
    const built = buildReferral(
      { patient: { text: 'Jane Q. Roe' }, reason: 'Eczema flare', priority: 'routine', specialty: 'Dermatology', from: me, to: bobEntry },
      (n) => new Uint8Array(randomBytes(n)),
    );
    assert.ok(built.ok);
    if (!built.ok) return;
    const out = built.referral.referralId;
    await api.create(built.referral);
    await bobSync();
    await cli(['refer', 'decline', '--profile', bob(), out, '--reason', 'Not accepting new patients this month']);
    const declined = await waitFor(out, (i) => i.status === 'declined' && i.reason !== undefined, 'the decline and its reason');
    assert.equal(declined.reason, 'Not accepting new patients this month');
    const exported = inbox.exportBundle(out) as { entry: { resource: { statusReason?: { text: string } } }[] };
    assert.deepEqual(exported.entry[4]?.resource.statusReason, { text: 'Not accepting new patients this month' });

    // The web client declines the CLI's referral; the CLI reads why.
    const created = await cli(['refer', 'create', '--profile', bob(), '--to', aliceId, '--specialty', 'Internal Medicine', '--patient', join(profiles, 'patient.json')]);
    const inId = created.split(/\s+/)[1] as string;
    await waitFor(inId, (i) => i.patient !== undefined, 'the second referral');
    await assert.rejects(api.decline(inId, '  '), /Say why you decline/);
    await assert.rejects(api.cancel(inId, 'not mine'), /Only the referring clinician may cancel/);
    const env = await api.decline(inId, 'Please refer to the hypertension clinic instead');
    assert.equal(env.status, 'declined');
    assert.equal(inbox.item(inId)?.reason, 'Please refer to the hypertension clinic instead');
    await bobSync();
    const shown = await cli(['refer', 'show', '--profile', bob(), inId]);
    assert.match(shown, /declined/);
    assert.match(shown, /reason: Please refer to the hypertension clinic instead/);
  });
}
