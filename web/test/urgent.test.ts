// Urgent messages, recall and the retention policy offline (issue 18): the
// frames and content as PROTOCOL.md gives them, the state they make
// (priority, acknowledgement by whom, recall placeholders, the retention
// purge, timers refused past the organisation's limit), what the views say,
// and the session's acknowledgement (the request first, then the end to end
// content; kept while offline), re-alerting at its interval and recall's
// refusals in words, with a stand-in for the client. The new audit actions
// and Details fields in their canonical order.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ACTION_LABELS } from '../src/app/audit-labels.js';
import { applyReceived } from '../src/app/receive.js';
import { newState, type AppState, type StoredMessage } from '../src/app/state.js';
import { storeRoleMessage } from '../src/app/oncall.js';
import { namesWords, recallRecipients, SessionUrgent, type UrgentHost } from '../src/app/urgent-session.js';
import { urgentAlert, urgentView } from '../src/app/urgent-views.js';
import { ALERT_INTERVAL_MS, alerting, applyAcknowledge, applyRecall, policyWords, purgeRetention, recallable, timerRefusal } from '../src/app/urgent.js';
import { messageViews } from '../src/app/views.js';
import { ACTIONS, decodeRecord } from '../src/audit/index.js';
import { decodeContent, encodeContent, type Client, type Content, type Received } from '../src/client/index.js';
import { outgoingFromJSON, outgoingToJSON } from '../src/client/outbox.js';
import { parseServerFrame, ProtocolError, ServerError } from '../src/protocol/index.js';

const ME = 'u000000000000000000000001';
const BOB = 'u000000000000000000000002';
const YAN = 'u000000000000000000000003';

const state = (): AppState => {
  const s = newState({ userId: ME, name: 'Dr. Me', npi: '', specialty: 'Cardiology' });
  s.people[BOB] = { name: 'Dr. Bob Brennan', specialty: 'Dermatology', npi: '', listed: true };
  s.people[YAN] = { name: 'Dr. Yan Young', specialty: 'Dermatology', npi: '', listed: true };
  return s;
};
const nameOf = (s: AppState) => (u: string): string => (u === ME ? 'Dr. Me' : (s.people[u]?.name ?? '?'));

function received(from: string, id: string, content: Content, opts: Partial<Received> = {}): Received {
  return { deliveryId: 1, messageId: id, sender: { user_id: from, device_id: 1 }, kind: 'message', content, error: undefined, sentAt: 1_000, priority: 'routine', escalated: false, ...opts };
}
const text = (to: string[], t: string): Content => ({ type: 'text', to, text: t });
const only = (s: AppState, peer: string): StoredMessage => s.conversations[peer]?.messages[0] as StoredMessage;

test('the frames: deliver’s priority and escalated (absent: routine, not escalated), acknowledged, recalled, policy_changed; an unknown priority is refused', () => {
  const deliver = { type: 'deliver', delivery_id: 1, message_id: 'm1', kind: 'message', sender: { user_id: BOB, device_id: 1 }, ciphertext: 'AA==', sent_at: 5 };
  const plain = parseServerFrame(JSON.stringify(deliver));
  assert.ok(plain.type === 'deliver' && plain.priority === 'routine' && plain.escalated === false);
  const stat = parseServerFrame(JSON.stringify({ ...deliver, priority: 'stat', escalated: true }));
  assert.ok(stat.type === 'deliver' && stat.priority === 'stat' && stat.escalated);
  assert.throws(() => parseServerFrame(JSON.stringify({ ...deliver, priority: 'extreme' })), ProtocolError);
  assert.deepEqual(parseServerFrame('{"type":"acknowledged","id":"r9","sender":"u2","message_id":"m1","acknowledged_at":7,"first":true,"also":["u3","u4"]}'), {
    type: 'acknowledged', id: 'r9', sender: 'u2', message_id: 'm1', acknowledged_at: 7, first: true, also: ['u3', 'u4'],
  });
  // `also` absent (an older server): nobody else to tell; not a list of user ids: refused.
  assert.deepEqual((parseServerFrame('{"type":"acknowledged","id":"r9","sender":"u2","message_id":"m1","acknowledged_at":7,"first":false}') as { also: string[] }).also, []);
  assert.throws(() => parseServerFrame('{"type":"acknowledged","id":"r9","sender":"u2","message_id":"m1","acknowledged_at":7,"first":true,"also":[3]}'), /acknowledged\.also: not a string/);
  assert.deepEqual(parseServerFrame('{"type":"recalled","id":"r10","message_id":"m1","undelivered":2}'), { type: 'recalled', id: 'r10', message_id: 'm1', undelivered: 2 });
  assert.deepEqual(parseServerFrame('{"type":"policy_changed","policy":{"retention_secs":null,"recall_window_secs":3600,"changed_at":null}}'), {
    type: 'policy_changed', policy: { retention_secs: null, recall_window_secs: 3600, changed_at: null },
  });
  assert.throws(() => parseServerFrame('{"type":"policy_changed","policy":{"retention_secs":"1","recall_window_secs":3600}}'), ProtocolError);
});

test('the content: acknowledge and recall round-trip, anything malformed is text; the outbox keeps a priority and an escalation', () => {
  for (const c of [{ type: 'acknowledge', message_ids: ['m1', 'm2'] }, { type: 'recall', message_ids: ['m1'] }] as Content[]) {
    assert.deepEqual(decodeContent(encodeContent(c)), c);
  }
  assert.equal(decodeContent(new TextEncoder().encode('{"type":"recall","message_ids":[1]}')).type, 'text');
  const o = { messageId: 'm1', to: [BOB], kind: 'message' as const, plaintext: new Uint8Array([1, 2]), queuedAt: 9, priority: 'stat' as const, escalation: { afterSecs: 300, backup: YAN } };
  const json = outgoingToJSON(o);
  assert.deepEqual(json.escalation, { after_secs: 300, backup: YAN });
  assert.deepEqual(outgoingFromJSON(JSON.parse(JSON.stringify(json))), o);
  assert.equal('priority' in outgoingToJSON({ ...o, priority: 'routine', escalation: undefined } as never), false);
});

test('a received stat message keeps alerting until acknowledged here, or on another of our devices; a routine one never alerts', () => {
  const s = state();
  applyReceived(s, received(BOB, 'r1', text([ME], 'routine')));
  applyReceived(s, received(BOB, 'u1', text([ME], 'BP 70/40'), { priority: 'stat', sentAt: 2_000 }));
  assert.deepEqual(alerting(s).map((a) => a.message.id), ['u1']);
  assert.equal(urgentAlert(s, nameOf(s), 0)?.text, 'STAT message from Dr. Bob Brennan is waiting for your acknowledgement.');
  const v = messageViews(s, s.conversations[BOB] as never, 3_000).find((m) => m.key === `${BOB}:u1`);
  assert.deepEqual([v?.urgent?.label, v?.urgent?.open, v?.urgent?.canAcknowledge, v?.urgent?.status], ['STAT', true, true, 'Waiting for your acknowledgement']);
  // Our other device acknowledged it (its acknowledge content comes to this device from our own user).
  applyReceived(s, received(ME, 'a1', { type: 'acknowledge', message_ids: ['u1'] }, { kind: 'receipt', sentAt: 4_000 }));
  assert.deepEqual(alerting(s), []);
  assert.deepEqual(s.conversations[BOB]?.messages.find((m) => m.id === 'u1')?.ack, { by: ME, at: 4_000 });
});

test('ours: a colleague’s acknowledge names them (the first is kept); before it, the escalation’s deadline and the backup by name', () => {
  const s = state();
  const m: StoredMessage = { id: 'u1', from: ME, at: 10_000, body: { type: 'text', text: 'call me' }, status: 'delivered', priority: 'urgent', escalation: { afterSecs: 300, backup: YAN }, acceptedAt: 10_000 };
  s.conversations[BOB] = { peer: BOB, messages: [m], unread: 0, timer: null, timerSince: null, verifiedKeys: null };
  assert.match(urgentView(s, m, nameOf(s), 20_000)?.status ?? '', /^Not yet acknowledged — escalates to Dr\. Yan Young at .+/);
  assert.match(urgentView(s, m, nameOf(s), 400_000)?.status ?? '', /^Not acknowledged in time — escalated to Dr\. Yan Young at /);
  assert.equal(alerting(s).length, 0, 'our own message does not alert us');
  applyReceived(s, received(YAN, 'a2', { type: 'acknowledge', message_ids: ['u1'] }, { kind: 'receipt', sentAt: 320_000 }));
  applyReceived(s, received(BOB, 'a1', { type: 'acknowledge', message_ids: ['u1'] }, { kind: 'receipt', sentAt: 310_000 }));
  assert.deepEqual(m.ack, { by: BOB, at: 310_000 }, 'the earliest acknowledgement');
  applyAcknowledge(s, YAN, ['u1'], 330_000);
  assert.equal(m.ack?.by, BOB);
  const view = urgentView(s, m, nameOf(s), 400_000);
  assert.equal(view?.open, false);
  assert.match(view?.status ?? '', /^Acknowledged by Dr\. Bob Brennan at /);
});

test('at the backup: an escalated copy is marked with its sender and the delay', () => {
  const s = state();
  applyReceived(s, received(BOB, 'u9', text([YAN], 'septic, please review'), { priority: 'urgent', escalated: true, sentAt: 0 }), 300_000);
  const m = only(s, BOB);
  assert.deepEqual(m.escalated, { afterSecs: 300 });
  assert.equal(urgentView(s, m, nameOf(s), 300_000)?.escalated, 'Escalated from Dr. Bob Brennan (no one acknowledged in 5 min)');
  applyReceived(s, received(BOB, 'u10', text([YAN], 'again'), { priority: 'urgent', escalated: true, sentAt: 0 }), 2_000);
  assert.equal(urgentView(s, s.conversations[BOB]?.messages[1] as StoredMessage, nameOf(s), 2_000)?.escalated, 'Escalated from Dr. Bob Brennan (no one acknowledged in 2 seconds)');
});

test('a recall deletes the copy (and its attachment reference), leaves a placeholder, fixes the unread count and drops a copy arriving after it', () => {
  const s = state();
  const file = { attachment_id: 'a'.repeat(32), key: 'k', digest: 'd', name: 'rash.png', size: 3 };
  applyReceived(s, received(BOB, 'f1', { type: 'attachment', to: [ME], file }));
  assert.equal(s.conversations[BOB]?.unread, 1);
  const effect = applyReceived(s, received(BOB, 'c1', { type: 'recall', message_ids: ['f1', 'late'] }, { kind: 'control' }));
  assert.deepEqual(effect.deleted, [`${BOB}:f1`]);
  assert.deepEqual(only(s, BOB).body, { type: 'recalled' });
  assert.equal(JSON.stringify(s).includes('rash.png'), false, 'no trace of the attachment');
  assert.equal(s.conversations[BOB]?.unread, 0);
  assert.deepEqual(messageViews(s, s.conversations[BOB] as never).map((v) => v.body), [{ type: 'recalled', text: 'Message recalled' }]);
  applyReceived(s, received(BOB, 'late', text([ME], 'should not appear')));
  assert.equal(s.conversations[BOB]?.messages.length, 1);
  // A colleague cannot recall someone else's message.
  s.conversations[BOB]?.messages.push({ id: 'x', from: BOB, at: 5, body: { type: 'text', text: 'kept' }, status: 'received' });
  applyRecall(s, YAN, ['x']);
  assert.equal(s.conversations[BOB]?.messages[1]?.body.type, 'text');
  // Ours, recalled: "You recalled this message".
  const mine: StoredMessage = { id: 'o1', from: ME, at: 5, body: { type: 'text', text: 'oops' }, status: 'read' };
  s.conversations[BOB]?.messages.push(mine);
  applyRecall(s, ME, ['o1']);
  assert.deepEqual(messageViews(s, s.conversations[BOB] as never).find((v) => v.key === `${ME}:o1`)?.body, { type: 'recalled', text: 'You recalled this message' });
});

test('Recall is offered on our sent messages within the window (as this device knows it)', () => {
  const m: StoredMessage = { id: 'o', from: ME, at: 0, acceptedAt: 0, body: { type: 'text', text: 'x' }, status: 'sent' };
  const policy = { retentionSecs: null, recallWindowSecs: 60, changedAt: null };
  assert.equal(recallable(m, ME, policy, 59_000), true);
  assert.equal(recallable(m, ME, policy, 60_000), false);
  assert.equal(recallable({ ...m, status: 'queued' }, ME, policy, 1), false);
  assert.equal(recallable({ ...m, from: BOB }, ME, policy, 1), false);
  assert.equal(recallable(m, ME, undefined, 3_599_000), true, 'the default window: 1 hour');
});

test('retention: older messages are purged, the policy is said in words, a longer conversation timer is refused naming the limit', () => {
  const s = state();
  applyReceived(s, received(BOB, 'old', text([ME], 'old'), { sentAt: 1_000 }));
  applyReceived(s, received(BOB, 'new', text([ME], 'new'), { sentAt: 100_000 }));
  assert.deepEqual(purgeRetention(s, 200_000), [], 'no policy: nothing purged');
  s.policy = { retentionSecs: 150, recallWindowSecs: 3600, changedAt: 1 };
  assert.deepEqual(purgeRetention(s, 200_000), [`${BOB}:old`]);
  assert.deepEqual(s.conversations[BOB]?.messages.map((m) => m.id), ['new']);
  assert.equal(policyWords({ retentionSecs: 30 * 86_400, recallWindowSecs: 3600, changedAt: 1 }), "Messages are deleted after 30 days (your organisation's policy).");
  const p = { retentionSecs: 86_400, recallWindowSecs: 3600, changedAt: 1 };
  assert.equal(timerRefusal(p, 3600), undefined);
  assert.equal(timerRefusal(p, null), undefined);
  assert.equal(timerRefusal(p, 604_800), 'Messages cannot be kept for 7 days: your organisation deletes messages after 1 day. Choose a shorter timer (or none: the organisation\'s limit applies).');
});

// ---- the session, with a stand-in client -----------------------------------------------

interface Fake {
  client: Client;
  calls: string[];
  online: boolean;
  refuse?: ServerError;
}

function fakeClient(): Fake {
  const f: Fake = { calls: [], online: true, client: undefined as unknown as Client };
  f.client = {
    get state() {
      return f.online ? 'online' : 'offline';
    },
    acknowledge: async (sender: string, id: string) => {
      if (!f.online) throw new Error('offline');
      if (f.refuse) throw f.refuse;
      f.calls.push(`acknowledge ${sender} ${id}`);
      return { acknowledgedAt: 42_000, first: true };
    },
    recall: async (id: string, to: string[]) => {
      if (f.refuse) throw f.refuse;
      f.calls.push(`recall ${id} to ${to.join(',')}`);
      return { undelivered: 1 };
    },
    policy: async () => ({ retention_secs: 86_400, recall_window_secs: 600, changed_at: 5 }),
  } as unknown as Client;
  return f;
}

function session(s: AppState, f: Fake): { urgent: SessionUrgent; alerts: string[]; problems: string[] } {
  const alerts: string[] = [];
  const problems: string[] = [];
  const host: UrgentHost = {
    client: f.client,
    state: s,
    persist: async () => undefined,
    changed: () => undefined,
    problem: (t) => problems.push(t),
    alert: (title, body) => alerts.push(`${title}: ${body}`),
    nameOf: nameOf(s),
    lookUp: () => undefined,
    sendContent: async () => 'sent',
    forgetFiles: () => undefined,
  };
  return { urgent: new SessionUrgent(host), alerts, problems };
}

test('the session: Acknowledge asks the server, then alerting stops; offline it waits and goes at the next connection', async () => {
  const s = state();
  applyReceived(s, received(BOB, 'u1', text([ME], 'stat'), { priority: 'stat', sentAt: Date.now() }));
  const f = fakeClient();
  f.online = false;
  const { urgent } = session(s, f);
  await urgent.acknowledge(BOB, `${BOB}:u1`);
  assert.equal(only(s, BOB).ack?.pending, true, 'kept for the connection');
  assert.deepEqual(alerting(s), [], 'it stops alerting here at once');
  f.online = true;
  await urgent.online();
  assert.deepEqual(f.calls, [`acknowledge ${BOB} u1`]);
  assert.deepEqual(only(s, BOB).ack, { by: ME, at: 42_000 });
  assert.deepEqual(s.policy, { retentionSecs: 86_400, recallWindowSecs: 600, changedAt: 5 });
  assert.equal(urgent.policyWords, "Messages are deleted after 1 day (your organisation's policy).");
});

test('the session: an open urgent message alerts again every interval until acknowledged', async () => {
  const s = state();
  applyReceived(s, received(BOB, 'u1', text([ME], 'urgent'), { priority: 'urgent' }));
  const { urgent, alerts } = session(s, fakeClient());
  urgent.tick(0);
  urgent.tick(ALERT_INTERVAL_MS - 1);
  assert.deepEqual(alerts, [], 'the arrival itself notified');
  urgent.tick(ALERT_INTERVAL_MS);
  urgent.tick(ALERT_INTERVAL_MS + 1000);
  urgent.tick(2 * ALERT_INTERVAL_MS);
  assert.deepEqual(alerts, ['Urgent message waiting: An urgent secure message is waiting for your acknowledgement.', 'Urgent message waiting: An urgent secure message is waiting for your acknowledgement.']);
  assert.equal(urgent.alert?.round, 2);
  await urgent.acknowledge(BOB, `${BOB}:u1`);
  urgent.tick(4 * ALERT_INTERVAL_MS);
  assert.equal(alerts.length, 2);
  assert.equal(urgent.alert, undefined);
});

test('the session: Recall of a message to an on-call role held by two tells both holders (and the backup), from either holder’s conversation', async () => {
  const s = state();
  const ROLE = 'o000000000000000000000009';
  const ZED = 'u000000000000000000000004';
  s.people[ZED] = { name: 'Dr. Zed Zane', specialty: 'Dermatology', npi: '', listed: true };
  const m: StoredMessage = { id: 'r1', from: ME, at: 0, body: { type: 'text', text: 'wrong bay' }, status: 'sent', priority: 'urgent', escalation: { afterSecs: 300, backup: ZED } };
  const copies = storeRoleMessage(s, m, { role: ROLE, name: 'On-call dermatology' }, [BOB, YAN]);
  assert.equal(copies.length, 2, 'one copy in each holder’s conversation');
  const f = fakeClient();
  const { urgent } = session(s, f);
  // The role's thread recalls through the first holder's conversation it finds; either one must tell both.
  for (const peer of [YAN, BOB]) {
    f.calls.length = 0;
    for (const c of copies) c.body = { type: 'text', text: 'wrong bay' };
    const r = await urgent.recall(peer, `${ME}:r1`);
    assert.equal(r.ok, true, r.text);
    assert.deepEqual(f.calls, [`recall r1 to ${BOB},${YAN},${ZED}`], 'every holder’s devices are told, and the backup');
    assert.equal(r.text, 'Recalled: it had not reached Dr. Bob Brennan and Dr. Yan Young yet and was deleted from the server.');
    assert.deepEqual(copies.map((c) => c.body.type), ['recalled', 'recalled'], 'both copies show it recalled');
  }
  assert.deepEqual(recallRecipients({ id: 'x', from: ME, at: 0, body: { type: 'text', text: 'x' }, status: 'sent' }, BOB), [BOB], 'a message to one colleague: that colleague');
  assert.equal(namesWords(['A', 'B', 'C']), 'A, B and C');
});

test('the session: Recall tells the recipients and the backup; too late is said with the organisation’s window', async () => {
  const s = state();
  s.policy = { retentionSecs: null, recallWindowSecs: 600, changedAt: null };
  const m: StoredMessage = { id: 'o1', from: ME, at: 0, body: { type: 'text', text: 'wrong patient' }, status: 'read', priority: 'urgent', escalation: { afterSecs: 300, backup: YAN } };
  s.conversations[BOB] = { peer: BOB, messages: [m], unread: 0, timer: null, timerSince: null, verifiedKeys: null };
  const f = fakeClient();
  const { urgent } = session(s, f);
  const ok = await urgent.recall(BOB, `${ME}:o1`);
  assert.deepEqual(f.calls, [`recall o1 to ${BOB},${YAN}`]);
  assert.equal(ok.ok, true);
  assert.deepEqual(m.body, { type: 'recalled' });
  const m2: StoredMessage = { id: 'o2', from: ME, at: 0, body: { type: 'text', text: 'later' }, status: 'read' };
  s.conversations[BOB]?.messages.push(m2);
  f.refuse = new ServerError('recall_window_passed', 'too late');
  const late = await urgent.recall(BOB, `${ME}:o2`);
  assert.deepEqual(late, { ok: false, text: 'Too late to recall: your organisation allows recalling for 10 minutes after sending. Ask Dr. Bob Brennan to disregard it.' });
  assert.equal(m2.body.type, 'text', 'kept');
});

test('the audit log: the new actions, and Details escalation_after_secs, deleted, retention_secs after last_at_ms (canonical order)', () => {
  for (const a of ['message.acknowledged', 'escalation.released', 'escalation.withdrawn', 'message.recalled', 'retention.changed'] as const) {
    assert.ok((ACTIONS as readonly string[]).includes(a));
    assert.ok(ACTION_LABELS[a].length > 0);
  }
  const entry = {
    seq: 1, time_ms: 5, actor_user: null, actor_device: null, actor_role: null, action: 'message.recalled', counterpart_user: null, counterpart_device: null,
    message_id: 'm1', referral_id: null, attachment_id: null, source: null, outcome: 'success', reason: null,
    details: { retention_secs: 60, deleted: 2, escalation_after_secs: 300, priority: 'stat', last_at_ms: 9 },
  };
  const r = decodeRecord(JSON.stringify({ entry, leaf_hash: '0'.repeat(64) }));
  assert.ok(r.canonical.endsWith('"details":{"priority":"stat","last_at_ms":9,"escalation_after_secs":300,"deleted":2,"retention_secs":60}}'), r.canonical);
  assert.throws(() => decodeRecord(JSON.stringify({ entry: { ...entry, details: { deleted: -1 } }, leaf_hash: '0'.repeat(64) })));
});
