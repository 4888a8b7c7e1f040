// On-call roles and curbside consults (issue 18) with the web protocol
// client and the application's session logic against a real `curbside
// serve`. An administrator (enrolled with the bootstrap token) creates "On-call
// dermatology" and schedules Dr. Carol Chen; Dr. Alice Adeyemi (cardiology)
// writes to the role: Carol receives it, answers, and Alice's thread names
// her; a send naming stale holders is refused with holders_changed; Carol
// hands off to Dr. Dan Diaz and the next message to the role reaches Dan,
// not Carol. Consults: Carol and Dan (verified dermatologists) opt in, Dr.
// Erin Ellis (verified dermatologist) does not, an unverified dermatologist
// cannot; Alice asks Dermatology: exactly Carol and Dan get the question,
// the asker learns the count; Carol's answer reaches Alice; Alice closes it:
// Carol's client stops showing it open, the server refuses a later answer;
// not_found and too_many_consults say what to do. A consult with images
// (real PNGs): uploaded before it is posted (one above the server's limit:
// nothing posted, nothing sent, said in words), the references reach
// everyone asked and decrypt to the picked bytes. The audit log names who
// held the role for each message and each consult step (never content),
// decoded by the web decoder with its leaf hashes recomputed.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { SessionConsults } from '../src/app/consult-session.js';
import { SessionOnCall } from '../src/app/oncall-session.js';
import { roleKey, roleThread } from '../src/app/oncall.js';
import { applyReceived } from '../src/app/receive.js';
import { newState, type AppState } from '../src/app/state.js';
import { decodeRecord, entryLeafHash } from '../src/audit/index.js';
import { Client, enroll, OnCallApi, type Received } from '../src/client/index.js';
import { toHex } from '../src/crypto/bytes.js';
import { ServerError } from '../src/protocol/index.js';
import { binaryMissing, httpsFetch, npi, png, startServer, wsFactory, type Server } from './live-helpers.js';

/** The server's limit on one attachment in this file (small, to refuse one image). */
const MAX_ATTACHMENT = 256 * 1024;

const missing = binaryMissing();
if (missing !== undefined) {
  console.error(`\n*** ${missing} ***\n`);
  test('on-call roles and consults with the curbside binary', (t) => {
    assert.notEqual(process.env['CI'], 'true', missing);
    t.skip(missing);
  });
} else {
  live();
}

function live(): void {
  let server: Server;
  const clients: Client[] = [];
  let admin: Client;
  const people: Record<string, { client: Client; state: AppState }> = {};

  const opts = () => ({ webSocket: wsFactory(server.certPem), fetch: httpsFetch(server.certPem) });
  const where = () => ({ url: `https://${server.address}`, serverName: 'localhost' });
  const clinician = async (key: string, name: string, nine: string, specialty: string, verify = true): Promise<void> => {
    const r = (await admin.http.json('POST', '/v1/admin/invites', { target: { for: 'new_user', role: 'clinician' }, expires_in_secs: 3600 })) as { invite: string };
    const { account } = await enroll(where(), r.invite, { displayName: name, npi: npi(nine), specialty }, { fetch: httpsFetch(server.certPem) });
    if (verify) await admin.http.json('POST', `/v1/admin/users/${account.me.user_id}/verify`);
    const c = new Client(account, opts());
    clients.push(c);
    c.start();
    await c.waitOnline();
    people[key] = { client: c, state: newState({ userId: account.me.user_id, name, npi: '', specialty, roles: ['clinician'] }) };
  };
  const p = (key: string): { client: Client; state: AppState; id: string } => {
    const x = people[key];
    if (x === undefined) throw new Error(key);
    return { ...x, id: x.client.account.me.user_id };
  };
  /** The next message (others acknowledged and skipped) whose content is of `type`, or undefined after `ms`. */
  const next = async (c: Client, type: string, ms = 8_000): Promise<Received | undefined> => {
    const end = Date.now() + ms;
    for (;;) {
      const r = await c.nextMessage(Math.max(1, end - Date.now()));
      if (r === undefined) return undefined;
      c.ack([r.deliveryId]);
      if (r.content?.type === type) return r;
    }
  };
  const host = (key: string) => {
    const { client, state } = p(key);
    return { client, state, persist: async () => undefined, changed: () => undefined, problem: () => undefined, trust: () => 'unverified' as const, lookUp: () => undefined, nameOf: (u: string) => state.people[u]?.name ?? u, notify: () => undefined };
  };
  let roleId = '';

  before(async () => {
    server = await startServer({ CURBSIDE_LIMITS__MAX_ATTACHMENT_BYTES: String(MAX_ATTACHMENT) });
    const { account } = await enroll(where(), server.token, { displayName: 'Admin' }, { fetch: httpsFetch(server.certPem) });
    admin = new Client(account, opts());
    await clinician('alice', 'Dr. Alice Adeyemi', '323456789', 'Cardiology');
    await clinician('carol', 'Dr. Carol Chen', '423456789', 'Dermatology');
    await clinician('dan', 'Dr. Dan Diaz', '523456789', 'Dermatology');
    await clinician('erin', 'Dr. Erin Ellis', '623456789', 'Dermatology');
    await clinician('fay', 'Dr. Fay Fox', '723456789', 'Dermatology', false);
  });

  after(async () => {
    for (const c of clients) c.stop();
    await server?.stop();
  });

  test('a message to a role reaches its holder now; the answer shows who answered; stale holders are refused with holders_changed', async () => {
    const api = new OnCallApi(admin.http);
    const role = await api.createRole('On-call dermatology', 'Dermatology');
    roleId = role.role_id;
    await assert.rejects(api.createRole('ON-CALL DERMATOLOGY', null), (e: unknown) => e instanceof ServerError && e.code === 'conflict');
    await assert.rejects(api.scheduleShift(roleId, p('fay').id, Date.now(), Date.now() + 3_600_000), (e: unknown) => e instanceof ServerError && e.code === 'invalid_request');
    await api.scheduleShift(roleId, p('carol').id, Date.now() - 60_000, Date.now() + 2 * 3_600_000);
    const alice = new SessionOnCall(host('alice'));
    const sent = await alice.sendText(roleKey(roleId), 'Rash on the forearm, bay 4: can you see her today?');
    assert.equal(sent.result, 'sent', sent.text);
    assert.equal(sent.text, 'Sent to Dr. Carol Chen, who holds On-call dermatology now.');
    const atCarol = await next(p('carol').client, 'text');
    assert.ok(atCarol?.content?.type === 'text' && atCarol.content.text.startsWith('Rash on the forearm'));
    assert.equal(atCarol.sender.user_id, p('alice').id);
    await p('carol').client.sendText([p('alice').id], 'On my way after clinic.');
    const answer = await next(p('alice').client, 'text');
    assert.ok(answer);
    applyReceived(p('alice').state, answer);
    const thread = roleThread(p('alice').state, roleId);
    assert.deepEqual(thread.map((m) => m.note), ['To Dr. Carol Chen, on call', 'Dr. Carol Chen answered']);
    assert.equal(thread[1]?.sender, 'Dr. Carol Chen');
    // Naming someone other than the holder with the role is refused.
    await assert.rejects(p('alice').client.sendText([p('dan').id], 'to the wrong one', undefined, { role: roleId }), (e: unknown) => e instanceof ServerError && e.code === 'holders_changed');
  });

  test('a hand-off changes who receives the next message to the role; a colleague who does not hold it cannot hand it off', async () => {
    const danApi = new OnCallApi(p('dan').client.http);
    await assert.rejects(danApi.handOff(roleId, p('dan').id), (e: unknown) => e instanceof ServerError && e.code === 'forbidden');
    const carol = new SessionOnCall(host('carol'));
    await carol.refresh();
    const done = await carol.handOff(roleId, { key: p('dan').id, name: 'Dr. Dan Diaz', specialty: 'Dermatology', npi: '' });
    assert.ok(done.ok, done.text);
    assert.equal(done.text, 'Handed off: Dr. Dan Diaz holds On-call dermatology from now on; messages to the role go to them.');
    const alice = new SessionOnCall(host('alice'));
    const sent = await alice.sendText(roleKey(roleId), 'Still on for bay 4?');
    assert.equal(sent.result, 'sent', sent.text);
    assert.match(sent.text, /Dr\. Dan Diaz/);
    const atDan = await next(p('dan').client, 'text');
    assert.ok(atDan?.content?.type === 'text' && atDan.content.text === 'Still on for bay 4?');
    assert.equal(await next(p('carol').client, 'text', 1_500), undefined, 'Carol no longer receives the role’s messages');
    assert.deepEqual(roleThread(p('alice').state, roleId).map((m) => m.note).slice(-1), ['To Dr. Dan Diaz, on call']);
  });

  test('a consult reaches exactly the opted-in verified clinicians of the specialty; the answer returns; close ends it everywhere', async () => {
    for (const k of ['carol', 'dan']) assert.ok((await new SessionConsults(host(k)).setOptIn(true)).ok);
    const fay = await new SessionConsults(host('fay')).setOptIn(true);
    assert.equal(fay.ok, false);
    assert.match(fay.text, /verified/);
    const alice = new SessionConsults(host('alice'));
    const asked = await alice.ask('Dermatology', 'Target lesions on the palms after a new drug: EM or SJS?', false);
    assert.ok(asked.ok, asked.text);
    assert.match(asked.text, /^Sent to 2 Dermatology clinicians/);
    assert.equal(alice.list[0]?.summary, 'Sent to 2 Dermatology clinicians · no answer yet');
    const carolConsults = new SessionConsults(host('carol'));
    const q = await next(p('carol').client, 'consult');
    assert.ok(q);
    carolConsults.apply(q);
    assert.ok((await next(p('dan').client, 'consult')) !== undefined, 'Dan was asked');
    assert.equal(await next(p('erin').client, 'consult', 1_500), undefined, 'Erin did not opt in');
    assert.equal(await next(p('fay').client, 'consult', 500), undefined, 'Fay is not verified');
    const [asCarol] = carolConsults.list;
    assert.ok(asCarol?.canAnswer && asCarol.open);
    const answered = await carolConsults.answer(asCarol.id, 'EM: no mucosal involvement? Then likely EM minor.');
    assert.ok(answered.ok, answered.text);
    const a = await next(p('alice').client, 'consult_answer');
    assert.ok(a);
    p('alice').state.people[p('carol').id] = { name: 'Dr. Carol Chen', specialty: 'Dermatology', npi: '', listed: true };
    alice.apply(a);
    assert.deepEqual(alice.list[0]?.answers.map((x) => [x.name, x.text]), [['Dr. Carol Chen', 'EM: no mucosal involvement? Then likely EM minor.']]);
    assert.equal(alice.list[0]?.summary, 'Sent to 2 Dermatology clinicians · 1 answer');
    const closed = await alice.close(asCarol.id);
    assert.ok(closed.ok, closed.text);
    const c = await next(p('carol').client, 'consult_closed');
    assert.ok(c);
    carolConsults.apply(c);
    assert.equal(carolConsults.list[0]?.open, false);
    assert.equal(carolConsults.list[0]?.canAnswer, false);
    // Dan's client learns it from the server's list alone.
    const danConsults = new SessionConsults(host('dan'));
    danConsults.apply(q); // the same question as Carol's

    await danConsults.sync();
    assert.equal(danConsults.list[0]?.open, false);
    // The server refuses an answer to a closed consult.
    await assert.rejects(
      p('dan').client.send([p('alice').id], 'message', { type: 'consult_answer', consult_id: asCarol.id, text: 'late' }, undefined, { consult: asCarol.id }),
      (e: unknown) => e instanceof ServerError && e.code === 'invalid_request',
    );
  });

  test('a consult with images: uploaded first (one too large: nothing posted or sent), the references reach everyone asked, each decrypts to the picked bytes', async () => {
    const erin = new SessionConsults(host('erin'));
    const erinApi = new OnCallApi(p('erin').client.http);
    const image = (bytes: Uint8Array, name: string) => ({ blob: new Blob([bytes], { type: 'image/png' }), name });
    const shin = png(24, 16);
    const closeUp = png(8, 8);
    const tooLarge = await erin.ask('Dermatology', 'Too big?', false, [image(shin, 'shin.png'), image(new Uint8Array(MAX_ATTACHMENT + 4096), 'huge.png')]);
    assert.equal(tooLarge.ok, false);
    assert.equal(tooLarge.text, 'huge.png is too large for the server (or your attachment storage is full): choose a smaller image, then ask again. Nothing was posted.');
    assert.deepEqual(await erinApi.consults(), [], 'nothing posted');
    assert.equal(erin.list.length, 0);
    assert.equal(await next(p('carol').client, 'consult', 1_500), undefined, 'nothing sent');

    const asked = await erin.ask('Dermatology', 'Annular plaques on the shin, two photos: granuloma annulare?', false, [image(shin, 'shin.png'), image(closeUp, 'C:\\photos\\close-up.png')]);
    assert.ok(asked.ok, asked.text);
    assert.match(asked.text, /^Sent, with its 2 images, to 2 Dermatology clinicians who answer consults\./);
    const [mine] = erin.list;
    assert.deepEqual(mine?.files.map((f) => [f.name, f.size, f.image]), [['shin.png', shin.length, true], ['close-up.png', closeUp.length, true]], 'the asker sees them too (the name without its folder)');
    const q = await next(p('carol').client, 'consult');
    assert.ok(q?.content?.type === 'consult');
    assert.equal(q.content.consult_id, mine?.id);
    assert.deepEqual(q.content.attachments.map((a) => [a.name, a.size]), [['shin.png', shin.length], ['close-up.png', closeUp.length]]);
    const atDan = await next(p('dan').client, 'consult');
    assert.ok(atDan?.content?.type === 'consult' && atDan.content.attachments.length === 2, 'Dan has them too');
    const carol = new SessionConsults(host('carol'));
    carol.apply(q);
    const view = carol.list.find((c) => c.id === mine?.id);
    assert.deepEqual(view?.files.map((f) => f.name), ['shin.png', 'close-up.png']);
    for (const [i, bytes] of [shin, closeUp].entries()) {
      const blob = await carol.file(view?.files[i]?.key ?? '');
      assert.equal(blob.type, 'image/png');
      assert.deepEqual(new Uint8Array(await blob.arrayBuffer()), bytes, `image ${i + 1} decrypts to the bytes Erin picked`);
    }
    // The asker's own, read from the server again (a later unlock: no copy in memory).
    const later = await new SessionConsults(host('erin')).file(mine?.files[0]?.key ?? '');
    assert.deepEqual(new Uint8Array(await later.arrayBuffer()), shin);
    // Tampered reference: refused, nothing returned.
    p('carol').state.consults!.items[mine?.id ?? '']!.attachments![1]!.digest = q.content.attachments[0]!.digest;
    await assert.rejects(new SessionConsults(host('carol')).file(view?.files[1]?.key ?? ''));
    assert.ok((await erin.close(mine?.id ?? '')).ok);
  });

  test('asking a specialty nobody answers, and more open consults than allowed, say what to do next', async () => {
    const alice = new SessionConsults(host('alice'));
    const none = await alice.ask('Neurology', 'Anyone?', false);
    assert.equal(none.ok, false);
    assert.match(none.text, /^No verified Neurology clinician answers consults yet/);
    for (let i = 0; i < 3; i++) assert.ok((await alice.ask('Dermatology', `question ${i}`, true)).ok);
    const four = await alice.ask('Dermatology', 'one too many', false);
    assert.equal(four.ok, false);
    assert.match(four.text, /consults open, the most your organisation allows: close one you no longer need/);
  });

  test('the audit log: who held the role for each message, the hand-off, the consult’s fan-out, answer and close; every leaf hash recomputed', async () => {
    await admin.http.json('POST', `/v1/admin/users/${admin.account.me.user_id}/roles`, { role: 'compliance_officer' });
    const page = (await admin.http.json('GET', '/v1/audit/entries?limit=1000')) as { records: unknown[] };
    const records = page.records.map((r) => decodeRecord(JSON.stringify(r)));
    for (const r of records) assert.equal(toHex(entryLeafHash(r)), toHex(r.recordedLeafHash), `entry ${r.entry.seq} (${r.entry.action})`);
    const resolved = records.filter((r) => r.entry.action === 'oncall.resolved');
    assert.deepEqual(resolved.map((r) => r.entry.counterpart_user), [p('carol').id, p('dan').id], 'Carol held it for the first message, Dan after the hand-off');
    assert.ok(resolved.every((r) => r.entry.details['oncall_role'] === roleId));
    for (const a of ['oncall.role_created', 'oncall.shift_scheduled', 'oncall.handed_off', 'consult.posted', 'consult.answered', 'consult.closed']) assert.ok(records.some((r) => r.entry.action === a), `${a} logged`);
    assert.ok(records.some((r) => r.entry.action === 'consult.posted' && r.entry.details['fan_out'] === 2 && r.entry.details['specialty'] === 'Dermatology'));
    assert.ok(!JSON.stringify(page.records).includes('Target lesions'), 'no consult content in the log');
  });
}
