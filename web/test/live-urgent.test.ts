// Urgent messages, escalation, recall and retention (issue 18) with the web
// protocol client against a real `curbside serve`: Dr. Alice Adeyemi sends,
// Dr. Bob Brennan receives, Dr. Yan Young is the backup, an administrator
// (enrolled by the web client with the bootstrap token) sets the retention.
// In order: a stat message acknowledged (the first acknowledgement counts,
// a second says so; Alice's state shows who acknowledged); an escalation
// released to the backup about a second after its delay with the sender
// offline (`escalated` in deliver, the same message id and sender; the
// backup may acknowledge it); one withdrawn because Bob acknowledged in time
// (the backup never gets it); one acknowledged after its release, the
// server's also naming the backup, who is told and stops alerting (and a
// message to two recipients: the other one is told); a recall before
// delivery (Bob never gets the message, only the recall, which deletes
// nothing) and after it (Bob's copy becomes the placeholder); the retention set over HTTP, pushed as
// policy_changed, purging a message older than it (its queue row backdated
// on the server's database before Bob received it) while a recent one stays;
// and the audit log's entries of each step decoded by the web decoder, their
// leaf hashes recomputed (the new Details fields in the Rust order).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { applyReceived } from '../src/app/receive.js';
import { newState, type AppState } from '../src/app/state.js';
import { alerting, policyFromJSON, purgeRetention } from '../src/app/urgent.js';
import { decodeRecord, entryLeafHash } from '../src/audit/index.js';
import { Client, enroll, type Received } from '../src/client/index.js';
import { toHex } from '../src/crypto/bytes.js';
import type { PolicyJson } from '../src/protocol/index.js';
import { binaryMissing, httpsFetch, npi, startServer, wsFactory, type Server } from './live-helpers.js';

const missing = binaryMissing();
if (missing !== undefined) {
  console.error(`\n*** ${missing} ***\n`);
  test('urgent messages with the curbside binary', (t) => {
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
  let alice: Client;
  let bob: Client;
  let yan: Client;
  let ids: { alice: string; bob: string; yan: string };
  const policies: PolicyJson[] = [];

  const opts = () => ({ webSocket: wsFactory(server.certPem), fetch: httpsFetch(server.certPem) });
  const where = () => ({ url: `https://${server.address}`, serverName: 'localhost' });
  const invite = async (): Promise<string> => {
    const r = (await admin.http.json('POST', '/v1/admin/invites', { target: { for: 'new_user', role: 'clinician' }, expires_in_secs: 3600 })) as { invite: string };
    return r.invite;
  };
  const clinician = async (name: string, nine: string): Promise<Client> => {
    const { account } = await enroll(where(), await invite(), { displayName: name, npi: npi(nine), specialty: 'Internal medicine' }, { fetch: httpsFetch(server.certPem) });
    await admin.http.json('POST', `/v1/admin/users/${account.me.user_id}/verify`);
    const c = new Client(account, { ...opts(), onPolicyChanged: (p) => policies.push(p) });
    clients.push(c);
    c.start();
    await c.waitOnline();
    return c;
  };
  /** The next message of this kind (others acknowledged and skipped), or undefined after `ms`. */
  const next = async (c: Client, kind: string, ms = 10_000): Promise<Received | undefined> => {
    const end = Date.now() + ms;
    for (;;) {
      const r = await c.nextMessage(Math.max(1, end - Date.now()));
      if (r === undefined) return undefined;
      c.ack([r.deliveryId]);
      if (r.kind === kind) return r;
    }
  };
  const state = (c: Client, name: string): AppState => newState({ userId: c.account.me.user_id, name, npi: '', specialty: '' });

  before(async () => {
    server = await startServer();
    const { account } = await enroll(where(), server.token, { displayName: 'Admin' }, { fetch: httpsFetch(server.certPem) });
    admin = new Client(account, opts());
    alice = await clinician('Dr. Alice Adeyemi', '323456789');
    bob = await clinician('Dr. Bob Brennan', '423456789');
    yan = await clinician('Dr. Yan Young', '523456789');
    ids = { alice: alice.account.me.user_id, bob: bob.account.me.user_id, yan: yan.account.me.user_id };
  });

  after(async () => {
    for (const c of clients) c.stop();
    await server?.stop();
  });

  test('a stat message is delivered with its priority, acknowledged once (a second says it was not the first), and the sender sees who acknowledged', async () => {
    const aliceState = state(alice, 'Dr. Alice Adeyemi');
    const sent = await alice.sendText([ids.bob], 'BP 70/40 in bay 3', undefined, { priority: 'stat' });
    assert.equal(sent.outcome, 'accepted');
    const r = await next(bob, 'message');
    assert.ok(r && r.priority === 'stat' && !r.escalated && r.content?.type === 'text' && r.content.text === 'BP 70/40 in bay 3');
    const first = await bob.acknowledge(ids.alice, sent.messageId);
    assert.equal(first.first, true);
    const again = await bob.acknowledge(ids.alice, sent.messageId);
    assert.deepEqual(again, { acknowledgedAt: first.acknowledgedAt, first: false, also: [] });
    assert.deepEqual(first.also, [], 'nobody else holds it');
    // Alice's copy in her state, then Bob's acknowledge content (kind receipt).
    aliceState.conversations[ids.bob] = { peer: ids.bob, messages: [{ id: sent.messageId, from: ids.alice, at: Date.now(), body: { type: 'text', text: 'BP 70/40 in bay 3' }, status: 'sent', priority: 'stat' }], unread: 0, timer: null, timerSince: null, verifiedKeys: null };
    let ack: Received | undefined;
    while ((ack = await next(alice, 'receipt')) !== undefined && ack.content?.type !== 'acknowledge');
    assert.ok(ack?.content?.type === 'acknowledge' && ack.content.message_ids.includes(sent.messageId));
    applyReceived(aliceState, ack);
    assert.equal(aliceState.conversations[ids.bob]?.messages[0]?.ack?.by, ids.bob);
    // A routine message cannot be acknowledged.
    const routine = await alice.sendText([ids.bob], 'routine note');
    await next(bob, 'message');
    await assert.rejects(bob.acknowledge(ids.alice, routine.messageId), /invalid_request|routine/);
  });

  test('with the sender offline, an unacknowledged urgent message is released to the backup after its delay, marked escalated', async () => {
    const sent = await alice.sendText([ids.bob], 'Escalate me: septic patient', undefined, { priority: 'urgent', escalation: { afterSecs: 1, backup: ids.yan } });
    assert.equal(sent.outcome, 'accepted');
    alice.stop(); // the sender's device goes away: the server alone escalates
    const atBob = await next(bob, 'message');
    assert.equal(atBob?.messageId, sent.messageId);
    const r = await next(yan, 'message', 15_000);
    assert.ok(r, 'the backup received the escalation');
    assert.equal(r.escalated, true);
    assert.equal(r.priority, 'urgent');
    assert.equal(r.messageId, sent.messageId);
    assert.equal(r.sender.user_id, ids.alice);
    assert.ok(r.content?.type === 'text' && r.content.text === 'Escalate me: septic patient');
    assert.ok(Date.now() - r.sentAt >= 1000, 'not before the delay');
    const yanState = state(yan, 'Dr. Yan Young');
    applyReceived(yanState, r);
    assert.ok((yanState.conversations[ids.alice]?.messages[0]?.escalated?.afterSecs ?? 0) >= 1);
    assert.equal((await yan.acknowledge(ids.alice, sent.messageId)).first, true, 'the backup acknowledges the released copy');
    alice.start();
    await alice.waitOnline();
  });

  test('acknowledged in time, the escalation is withdrawn: the backup never gets it', async () => {
    const sent = await alice.sendText([ids.bob], 'Withdraw me', undefined, { priority: 'stat', escalation: { afterSecs: 2, backup: ids.yan } });
    const r = await next(bob, 'message');
    assert.equal(r?.messageId, sent.messageId);
    assert.equal((await bob.acknowledge(ids.alice, sent.messageId)).first, true);
    assert.equal(await next(yan, 'message', 4_000), undefined, 'nothing came to the backup');
  });

  test('acknowledged after its escalation was released: also names the backup, who is told and stops alerting; with two recipients the other is told too', async () => {
    const told = async (c: Client, from: string, id: string): Promise<Received> => {
      for (;;) {
        const r = await next(c, 'receipt');
        assert.ok(r, 'the acknowledge content came');
        if (r.content?.type === 'acknowledge' && r.sender.user_id === from && r.content.message_ids.includes(id)) return r;
      }
    };
    const sent = await alice.sendText([ids.bob], 'Released, then taken', undefined, { priority: 'urgent', escalation: { afterSecs: 1, backup: ids.yan } });
    assert.equal((await next(bob, 'message'))?.messageId, sent.messageId);
    const copy = await next(yan, 'message', 15_000);
    assert.ok(copy?.escalated && copy.messageId === sent.messageId, 'released to the backup');
    const yanState = state(yan, 'Dr. Yan Young');
    applyReceived(yanState, copy);
    assert.equal(alerting(yanState).length, 1, 'the escalated copy alerts the backup');
    const r = await bob.acknowledge(ids.alice, sent.messageId);
    assert.deepEqual([r.first, r.also], [true, [ids.yan]], 'the server names the backup in also');
    applyReceived(yanState, await told(yan, ids.bob, sent.messageId));
    assert.deepEqual(alerting(yanState), [], 'the backup stops alerting');
    assert.equal(yanState.conversations[ids.alice]?.messages[0]?.ack?.by, ids.bob);
    await told(alice, ids.bob, sent.messageId); // and the sender, as before

    const both = await alice.sendText([ids.bob, ids.yan], 'Both of you: rapid response, ward 9', undefined, { priority: 'stat' });
    const bobState = state(bob, 'Dr. Bob Brennan');
    const atBob = await next(bob, 'message');
    assert.equal(atBob?.messageId, both.messageId);
    applyReceived(bobState, atBob);
    assert.equal((await next(yan, 'message'))?.messageId, both.messageId);
    assert.equal(alerting(bobState).length, 1);
    const y = await yan.acknowledge(ids.alice, both.messageId);
    assert.deepEqual(y.also, [ids.bob], 'the other recipient');
    applyReceived(bobState, await told(bob, ids.yan, both.messageId));
    assert.deepEqual(alerting(bobState), [], 'Yan took it: Bob stops alerting');
    assert.equal(bobState.conversations[ids.alice]?.messages[0]?.ack?.by, ids.yan);
    assert.equal((await bob.acknowledge(ids.alice, both.messageId)).first, false, 'a later acknowledgement is not the first');
  });

  test('a recall before delivery: the recipient never gets the message, only the recall, which deletes nothing', async () => {
    bob.stop();
    const sent = await alice.sendText([ids.bob], 'wrong patient, do not read');
    const r = await alice.recall(sent.messageId, [ids.bob]);
    assert.ok(r.undelivered >= 1, `undelivered ${r.undelivered}`);
    assert.deepEqual(await alice.recall(sent.messageId, [ids.bob]), { undelivered: 0 }, 'a second recall');
    const bobState = state(bob, 'Dr. Bob Brennan');
    bob.start();
    await bob.waitOnline();
    const seen: Received[] = [];
    for (let m = await bob.nextMessage(4_000); m !== undefined; m = await bob.nextMessage(2_000)) {
      bob.ack([m.deliveryId]);
      seen.push(m);
      applyReceived(bobState, m);
    }
    assert.equal(seen.some((m) => m.messageId === sent.messageId), false, 'the message never arrived');
    assert.ok(seen.some((m) => m.kind === 'control' && m.content?.type === 'recall'), 'the recall did');
    assert.equal(JSON.stringify(bobState).includes('wrong patient'), false);
  });

  test('a recall after delivery: the recipient’s copy is deleted and a placeholder shown', async () => {
    const bobState = state(bob, 'Dr. Bob Brennan');
    const sent = await alice.sendText([ids.bob], 'sent to the wrong colleague');
    const m = await next(bob, 'message');
    assert.ok(m);
    applyReceived(bobState, m);
    const end = Date.now() + 10_000; // Bob's acknowledgement committed: the server holds no copy
    while (!alice.receipts.some((d) => d.messageId === sent.messageId) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    assert.equal((await alice.recall(sent.messageId, [ids.bob])).undelivered, 0);
    const c = await next(bob, 'control');
    assert.ok(c?.content?.type === 'recall');
    const effect = applyReceived(bobState, c);
    assert.deepEqual(effect.deleted, [`${ids.alice}:${sent.messageId}`]);
    assert.deepEqual(bobState.conversations[ids.alice]?.messages[0]?.body, { type: 'recalled' });
    assert.equal(JSON.stringify(bobState).includes('wrong colleague'), false);
    await assert.rejects(bob.recall(sent.messageId, [ids.alice]), /not_found|never sent/, 'only the sender recalls');
  });

  test('retention: set by the administrator, pushed as policy_changed, purges history older than it; a longer policy keeps the rest', async () => {
    assert.deepEqual((await bob.policy()).retention_secs, null);
    bob.stop();
    await alice.sendText([ids.bob], 'two days old');
    // Backdate its queue rows by two days, as if it had been sent then.
    const db = join(server.dataDir, 'curbside.db');
    execFileSync('sqlite3', [db, `PRAGMA busy_timeout = 10000; UPDATE queue SET sent_at = sent_at - 172800000 WHERE recipient_user = '${ids.bob}'`]);
    await alice.sendText([ids.bob], 'recent');
    const bobState = state(bob, 'Dr. Bob Brennan');
    bob.start();
    await bob.waitOnline();
    for (let got = 0; got < 2; ) {
      const m = await next(bob, 'message');
      assert.ok(m, 'both messages came');
      applyReceived(bobState, m);
      got++;
    }
    const texts = () => (bobState.conversations[ids.alice]?.messages ?? []).map((m) => (m.body.type === 'text' ? m.body.text : m.body.type));
    assert.deepEqual(texts(), ['two days old', 'recent']);
    const before = policies.length;
    const set = await admin.http.setRetention(86_400);
    assert.equal(set.retention_secs, 86_400);
    assert.equal(typeof set.changed_at, 'number');
    await assert.rejects(admin.http.setRetention(59), /invalid_request|60/);
    await assert.rejects(bob.http.setRetention(120), /forbidden/);
    const end = Date.now() + 10_000;
    while (policies.length === before && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    const pushed = policies[policies.length - 1];
    assert.equal(pushed?.retention_secs, 86_400, 'policy_changed was pushed');
    bobState.policy = policyFromJSON(pushed);
    assert.equal(purgeRetention(bobState, Date.now()).length, 1);
    assert.deepEqual(texts(), ['recent']);
    assert.deepEqual((await bob.policy()).retention_secs, 86_400, 'GET /v1/policy says the same');
    await admin.http.setRetention(null);
    assert.equal((await bob.policy()).retention_secs, null);
  });

  test('the audit log: every step is an entry the web decoder reads, its leaf hash recomputed from the canonical bytes', async () => {
    await admin.http.json('POST', `/v1/admin/users/${admin.account.me.user_id}/roles`, { role: 'compliance_officer' });
    const page = (await admin.http.json('GET', '/v1/audit/entries?limit=1000')) as { records: unknown[] };
    const records = page.records.map((r) => decodeRecord(JSON.stringify(r)));
    for (const r of records) assert.equal(toHex(entryLeafHash(r)), toHex(r.recordedLeafHash), `entry ${r.entry.seq} (${r.entry.action})`);
    const actions = new Set(records.map((r) => r.entry.action));
    for (const a of ['message.acknowledged', 'escalation.released', 'escalation.withdrawn', 'message.recalled', 'retention.changed']) assert.ok(actions.has(a as never), `${a} logged`);
    const released = records.find((r) => r.entry.action === 'escalation.released');
    assert.equal(released?.entry.counterpart_user, ids.yan);
    const recalled = records.filter((r) => r.entry.action === 'message.recalled');
    assert.ok(recalled.some((r) => (r.entry.details['deleted'] as number) >= 1), 'a recall that deleted a queued copy');
    assert.ok(records.some((r) => r.entry.action === 'retention.changed' && r.entry.details['retention_secs'] === 86_400));
  });
}
