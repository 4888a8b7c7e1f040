// Acknowledgements told to everyone who holds the message (the
// `acknowledged` frame's `also`), and urgent messages and recall in care
// teams (issue 18), offline with a stand-in for the client: the library
// tells the sender and `also`; a colleague's acknowledgement of a message
// we hold (the backup's escalated copy, a team member's) stops alerting
// here; a team message carries its priority, alerts every other member
// (in the in-app alert, named with the team) until one acknowledges, the
// acknowledgement is kept while offline and sent at the next connection;
// the sender sees who acknowledged; a recall deletes every member's copy
// and a copy arriving after it is dropped.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { applyReceived } from '../src/app/receive.js';
import { newState, type AppState, type StoredMessage } from '../src/app/state.js';
import { SessionTeams, type TeamHost } from '../src/app/teams.js';
import { SessionUrgent, type UrgentHost } from '../src/app/urgent-session.js';
import { urgentView } from '../src/app/urgent-views.js';
import { alerting } from '../src/app/urgent.js';
import { Client, sealTeamMessage, type Content, type Received, type SendOptions } from '../src/client/index.js';

const ALICE = 'u00000000000000000000000a';
const BOB = 'u00000000000000000000000b';
const CAROL = 'u00000000000000000000000c';
const YAN = 'u00000000000000000000000d';
const NAMES: Record<string, string> = { [ALICE]: 'Dr. Alice Adeyemi', [BOB]: 'Dr. Bob Brennan', [CAROL]: 'Dr. Carol Chen', [YAN]: 'Dr. Yan Young' };

function stateOf(me: string): AppState {
  const s = newState({ userId: me, name: NAMES[me] ?? '', npi: '', specialty: 'Internal medicine' });
  for (const [u, name] of Object.entries(NAMES)) if (u !== me) s.people[u] = { name, specialty: '', npi: '', listed: true };
  return s;
}
const nameOf = (s: AppState) => (u: string): string => (u === s.me.userId ? s.me.name : (s.people[u]?.name ?? '?'));

let n = 0;
function received(from: string, content: Content, opts: Partial<Received> = {}): Received {
  n++;
  return { deliveryId: n, messageId: `r${n}`, sender: { user_id: from, device_id: 1 }, kind: 'message', content, error: undefined, sentAt: 1_000 + n, priority: 'routine', escalated: false, ...opts };
}
const ack = (from: string, ids: string[], sentAt: number): Received => received(from, { type: 'acknowledge', message_ids: ids }, { kind: 'receipt', sentAt });

test('the library tells the sender and everyone in the acknowledged frame’s also (each once, never itself), kind receipt', async () => {
  const sent: { to: string[]; kind: string; content: Content }[] = [];
  const requests: unknown[] = [];
  const fake = {
    account: { me: { user_id: BOB, device_id: 1 } },
    online: () => ({
      request: async (frame: unknown) => {
        requests.push(frame);
        return { type: 'acknowledged', id: 'r1', sender: ALICE, message_id: 'm1', acknowledged_at: 77, first: true, also: [CAROL, YAN, CAROL, ALICE, BOB] };
      },
    }),
    send: async (to: string[], kind: string, content: Content) => {
      sent.push({ to, kind, content });
      return { messageId: 'x', outcome: 'accepted' };
    },
  };
  const r = await Client.prototype.acknowledge.call(fake as unknown as Client, ALICE, 'm1');
  assert.deepEqual(requests, [{ type: 'acknowledge', sender: ALICE, message_id: 'm1' }]);
  assert.deepEqual(r, { acknowledgedAt: 77, first: true, also: [CAROL, YAN] });
  assert.deepEqual(sent, [{ to: [ALICE, CAROL, YAN], kind: 'receipt', content: { type: 'acknowledge', message_ids: ['m1'] } }]);
});

test('at the backup: the original recipient’s acknowledgement of the escalated copy stops it alerting, named; the sender cannot acknowledge their own', () => {
  const s = stateOf(YAN);
  applyReceived(s, received(ALICE, { type: 'text', to: [BOB], text: 'septic, bed 4' }, { messageId: 'e1', priority: 'urgent', escalated: true, sentAt: 1_000 }), 301_000);
  assert.deepEqual(alerting(s).map((a) => a.message.id), ['e1']);
  applyReceived(s, ack(ALICE, ['e1'], 302_000));
  assert.equal(alerting(s).length, 1, 'the sender does not acknowledge their own message');
  applyReceived(s, ack(BOB, ['e1'], 303_000));
  assert.deepEqual(alerting(s), []);
  const m = s.conversations[ALICE]?.messages[0] as StoredMessage;
  assert.deepEqual(m.ack, { by: BOB, at: 303_000 });
  const v = urgentView(s, m, nameOf(s), 304_000);
  assert.equal(v?.open, false);
  assert.equal(v?.canAcknowledge, false);
  assert.match(v?.status ?? '', /^Acknowledged by Dr\. Bob Brennan at /);
  // Our own acknowledgement waiting for the connection gives way to the colleague's: nothing left to send.
  const t = stateOf(YAN);
  applyReceived(t, received(ALICE, { type: 'text', to: [BOB], text: 'again' }, { messageId: 'e2', priority: 'stat', escalated: true }));
  (t.conversations[ALICE]?.messages[0] as StoredMessage).ack = { by: YAN, at: 9_000, pending: true };
  applyReceived(t, ack(BOB, ['e2'], 8_000));
  assert.deepEqual(t.conversations[ALICE]?.messages[0]?.ack, { by: BOB, at: 8_000 });
});

interface Fake {
  client: Client;
  sent: { to: string[]; kind: string; content: Content; options: SendOptions | undefined }[];
  calls: string[];
  online: boolean;
}

function fakeClient(me: string): Fake {
  const f: Fake = { client: undefined as unknown as Client, sent: [], calls: [], online: true };
  f.client = {
    account: { me: { user_id: me, device_id: 1 } },
    receipts: [],
    get state() {
      return f.online ? 'online' : 'offline';
    },
    send: async (to: string[], kind: string, content: Content, messageId?: string, options?: SendOptions) => {
      f.sent.push({ to, kind, content, options });
      return { messageId: messageId ?? `s${f.sent.length}`, outcome: 'accepted' };
    },
    acknowledge: async (sender: string, id: string) => {
      f.calls.push(`acknowledge ${sender} ${id}`);
      return { acknowledgedAt: 42_000, first: true, also: [] };
    },
    recall: async (id: string, to: string[]) => {
      f.calls.push(`recall ${id} to ${to.join(',')}`);
      return { undelivered: 1 };
    },
  } as unknown as Client;
  return f;
}

function session(me: string, f = fakeClient(me), state = stateOf(me)): { teams: SessionTeams; urgent: SessionUrgent; state: AppState; f: Fake; problems: string[] } {
  const problems: string[] = [];
  const host: TeamHost = {
    client: f.client,
    state,
    persist: async () => undefined,
    changed: () => undefined,
    lookUp: () => undefined,
    arrived: () => undefined,
    problem: (t) => problems.push(t),
    trust: () => 'unverified',
    explain: (e) => (e instanceof Error ? e.message : String(e)),
  };
  const teams = new SessionTeams(host);
  const uhost: UrgentHost = {
    client: f.client,
    state,
    persist: async () => undefined,
    changed: () => undefined,
    problem: (t) => problems.push(t),
    alert: () => undefined,
    nameOf: nameOf(state),
    lookUp: () => undefined,
    sendContent: async () => 'sent',
    forgetFiles: () => undefined,
    others: () => teams.urgent,
  };
  return { teams, urgent: new SessionUrgent(uhost), state, f, problems };
}

/** Bob's browser in Alice's team "Ward 4" (Alice, Bob, Carol). */
function bobInTeam(): ReturnType<typeof session> & { key: string } {
  const s = session(BOB);
  s.teams.apply(received(ALICE, { type: 'team_update', team_id: 't1', name: 'Ward 4', members: [ALICE, BOB, CAROL] }, { kind: 'control' }));
  return { ...s, key: 'team:t1' };
}
/** A team's messages without its membership notices. */
const said = (teams: SessionTeams, key: string) => teams.messages(key).filter((m) => m.body.type !== 'notice');
const teamMessage = (from: string, id: string, text: string, priority: Received['priority'] = 'routine', sentAt = 5_000): Received =>
  received(from, sealTeamMessage('t1', id, { type: 'text', to: [], text }), { messageId: id, priority, sentAt });

test('a member’s stat team message alerts here (named with the team) until another member acknowledges it; then it says who', () => {
  const { teams, urgent, key } = bobInTeam();
  teams.apply(teamMessage(ALICE, 'm1', 'Code blue bay 2', 'stat'));
  teams.apply(teamMessage(ALICE, 'm0', 'routine handover'));
  assert.deepEqual(teams.urgent.alerting().map((a) => [a.from, a.priority, a.where]), [[ALICE, 'stat', 'Ward 4']]);
  assert.equal(urgent.alert?.peer, key, 'Show opens the team');
  assert.equal(urgent.alert?.text, 'STAT message from Dr. Alice Adeyemi in Ward 4 is waiting for your acknowledgement.');
  const view = teams.messages(key).find((m) => m.key === `${ALICE}:m1`);
  assert.deepEqual([view?.urgent?.label, view?.urgent?.open, view?.urgent?.canAcknowledge, view?.urgent?.status], ['STAT', true, true, 'Waiting for your acknowledgement']);
  assert.equal(teams.messages(key).find((m) => m.key === `${ALICE}:m0`)?.urgent, undefined, 'a routine one is not urgent');
  // Carol took it: her acknowledge content reached Bob (the server's also).
  teams.apply(ack(CAROL, ['m1'], 6_000));
  assert.deepEqual(teams.urgent.alerting(), []);
  assert.equal(urgent.alert, undefined);
  const after = teams.messages(key).find((m) => m.key === `${ALICE}:m1`)?.urgent;
  assert.equal(after?.open, false);
  assert.match(after?.status ?? '', /^Acknowledged by Dr\. Carol Chen at /);
});

test('Acknowledge in a team: alerting stops at once; offline it waits, goes at the next connection, and survives a lock', async () => {
  const { teams, key, f } = bobInTeam();
  teams.apply(teamMessage(ALICE, 'm1', 'K+ 6.9 bed 7', 'urgent'));
  f.online = false;
  await teams.acknowledge(key, `${ALICE}:m1`);
  assert.deepEqual(teams.urgent.alerting(), []);
  assert.equal(said(teams, key)[0]?.urgent?.status, 'Acknowledged by you — the sender is told as soon as the connection is back');
  assert.deepEqual(f.calls, []);
  // Locked and unlocked again: the pending acknowledgement is in the sealed state.
  const saved = JSON.parse(JSON.stringify(teams.save())) as AppState;
  const again = session(BOB, f, saved);
  f.online = true;
  await again.urgent.online(); // the session's connection hook: the policy (none on the stand-in), then every acknowledgement that waited
  assert.deepEqual(f.calls, [`acknowledge ${ALICE} m1`]);
  assert.match(said(again.teams, key)[0]?.urgent?.status ?? '', /^Acknowledged by you at /);
  await again.teams.acknowledge(key, `${ALICE}:m1`);
  assert.equal(f.calls.length, 1, 'once');
});

test('ours: an urgent team message is sent with its priority, says it waits, then who acknowledged; kept when sealed', async () => {
  const s = session(ALICE);
  const created = await s.teams.create('Ward 4', [
    { key: BOB, name: NAMES[BOB] as string, specialty: '', npi: '' },
    { key: CAROL, name: NAMES[CAROL] as string, specialty: '', npi: '' },
  ]);
  assert.ok(created.ok);
  const key = created.key;
  assert.equal(await s.teams.sendText(key, 'Need a second pair of hands, bay 3', false, 'urgent'), 'sent');
  const sent = s.f.sent[s.f.sent.length - 1];
  assert.deepEqual([sent?.kind, sent?.options?.priority, sent?.to], ['message', 'urgent', [BOB, CAROL]]);
  const mine = s.teams.messages(key).find((m) => m.mine);
  assert.equal(mine?.urgent?.status, 'Not yet acknowledged');
  assert.equal(mine?.urgent?.canAcknowledge, false);
  assert.deepEqual(s.teams.urgent.alerting(), [], 'our own message does not alert us');
  const id = (mine?.key ?? '').split(':')[1] as string;
  s.teams.apply(ack(CAROL, [id], 9_000));
  assert.match(s.teams.messages(key).find((m) => m.mine)?.urgent?.status ?? '', /^Acknowledged by Dr\. Carol Chen at /);
  // The priority is kept in the sealed state.
  const again = session(ALICE, s.f, JSON.parse(JSON.stringify(s.teams.save())) as AppState);
  assert.equal(again.teams.messages(key).find((m) => m.mine)?.urgent?.label, 'URGENT');
});

test('recall in a team: the members it went to are told; every copy becomes the placeholder, stops alerting, and a late copy is dropped', async () => {
  // At the sender.
  const a = session(ALICE);
  const created = await a.teams.create('Ward 4', [{ key: BOB, name: NAMES[BOB] as string, specialty: '', npi: '' }]);
  assert.ok(created.ok);
  await a.teams.sendText(created.key, 'Wrong patient: stop the heparin', false, 'stat');
  const mine = a.teams.messages(created.key).find((m) => m.mine);
  assert.equal(mine?.canRecall, true);
  const r = await a.teams.recall(created.key, mine?.key ?? '');
  assert.equal(r.ok, true);
  assert.match(r.text, /^Recalled: a copy that had not been delivered yet was deleted from the server/);
  assert.deepEqual(a.f.calls, [`recall ${(mine?.key ?? '').split(':')[1]} to ${BOB}`]);
  const gone = a.teams.messages(created.key).find((m) => m.mine);
  assert.deepEqual(gone?.body, { type: 'recalled', text: 'You recalled this message' });
  assert.equal(gone?.urgent, undefined);
  assert.equal(gone?.canRecall, false);
  assert.equal((await a.teams.recall(created.key, mine?.key ?? '')).ok, false, 'not twice');

  // At a member: the recall content from Alice.
  const { teams, key, state } = bobInTeam();
  const file = { attachment_id: 'a'.repeat(32), key: 'k', digest: 'd', name: 'ecg.png', size: 3 };
  teams.apply(teamMessage(ALICE, 'm1', 'Wrong patient', 'stat'));
  teams.apply(received(ALICE, sealTeamMessage('t1', 'm2', { type: 'attachment', to: [], file }), { messageId: 'm2' }));
  const recall = received(ALICE, { type: 'recall', message_ids: ['m1', 'm2', 'm3'] }, { kind: 'control' });
  teams.apply(recall);
  applyReceived(state, recall); // as the session does next: the recall is remembered
  assert.deepEqual(said(teams, key).map((m) => m.body), [
    { type: 'recalled', text: 'Message recalled' },
    { type: 'recalled', text: 'Message recalled' },
  ]);
  assert.ok(!JSON.stringify(teams.save()).includes('a'.repeat(32)), 'the attachment reference is gone');
  assert.deepEqual(teams.urgent.alerting(), []);
  assert.equal(teams.summaries()[0]?.unread, 0, 'a recalled message is not unread');
  assert.equal(teams.summaries()[0]?.preview, 'Dr. Alice Adeyemi: Message recalled');
  await assert.rejects(teams.file(key, `${ALICE}:m2`), /no such file/);
  // m3 was recalled before it was delivered: a late copy is dropped; a recall from someone else deletes nothing.
  teams.apply(teamMessage(ALICE, 'm3', 'late copy'));
  assert.equal(said(teams, key).length, 2);
  teams.apply(teamMessage(ALICE, 'm4', 'still here'));
  teams.apply(received(CAROL, { type: 'recall', message_ids: ['m4'] }, { kind: 'control' }));
  assert.deepEqual(said(teams, key)[2]?.body, { type: 'text', text: 'still here' });
});
