// Hand-off notices (issue 18): the pure comparison of the roles remembered
// held with those read at a connection, and the `oncall_changed` frame's
// news, in words with names (never ids); the frame decoded with its role
// checked. Then the real protocol Client over a stand-in WebSocket that
// speaks the server's side: a frame of a type this client does not know,
// an oncall_changed whose role is not an object, and one whose role is not
// a role are skipped without closing the connection (a ping still answers),
// and a good one reaches the session, which tells the user and remembers
// (sealed state) what it holds now.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { applyOnCallChanged, compareHeld, decodeOnCallChanged, gainedWords, heldRoles, lostWords } from '../src/app/oncall-notices.js';
import { SessionOnCall } from '../src/app/oncall-session.js';
import { shortTime } from '../src/app/oncall.js';
import { newState, stateFromJSON } from '../src/app/state.js';
import { Account, Client, parseRole, type OnCallRoleJson } from '../src/client/index.js';
import { fromBase64 } from '../src/protocol/base64.js';
import { parseServerFrame, ProtocolError } from '../src/protocol/index.js';
import { ServerSide } from './stand-in-server.js';

const ME = 'u000000000000000000000001';
const BOB = 'u000000000000000000000002';
const CAL = 'u000000000000000000000003';
const DERM = 'o000000000000000000000009';
const CARD = 'o00000000000000000000000a';
const NOW = new Date(2026, 11, 4, 1, 30).getTime();
const AT8 = new Date(2026, 11, 4, 8, 0).getTime();

const who = (u: string) => ({ user_id: u, display_name: u === ME ? 'Dr. Me' : u === BOB ? 'Dr. Bob Ames' : 'Dr. Cal Cruz', specialty: 'Dermatology', npi: '1234567893' });
function role(id: string, name: string, holders: string[], until = AT8): OnCallRoleJson {
  return parseRole({
    role_id: id,
    name,
    specialty: 'Dermatology',
    holders: holders.map(who),
    shifts: holders.map((u, i) => ({ shift_id: i + 1, user_id: u, display_name: who(u).display_name, starts_at: NOW - 3_600_000, ends_at: until })),
  });
}
const until8 = new Date(AT8).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });

test('the words: “You now hold … (until …)” with this user’s shift end, “… is now held by …” with names; nobody said so', () => {
  assert.equal(gainedWords(role(DERM, 'On-call dermatology', [ME]), ME, NOW), `You now hold On-call dermatology (until ${until8}).`);
  assert.equal(gainedWords(parseRole({ role_id: DERM, name: 'On-call dermatology', specialty: null, holders: [who(ME)], shifts: [] }), ME, NOW), 'You now hold On-call dermatology.', 'a hand-off without a shift: no end to say');
  assert.equal(lostWords(role(DERM, 'On-call dermatology', [BOB])), 'On-call dermatology is now held by Dr. Bob Ames.');
  assert.equal(lostWords(role(DERM, 'On-call dermatology', [BOB, CAL])), 'On-call dermatology is now held by Dr. Bob Ames and Dr. Cal Cruz.');
  assert.match(lostWords(role(DERM, 'On-call dermatology', [])), /^Nobody holds On-call dermatology now: /);
  for (const w of [gainedWords(role(DERM, 'On-call dermatology', [ME]), ME, NOW), lostWords(role(DERM, 'On-call dermatology', [BOB, CAL]))]) assert.ok(!/u0000|o0000/.test(w), 'no ids');
});

test('at a connection: roles gained and lost since the last one are told; the first comparison on a device says nothing; unchanged says nothing', () => {
  const first = compareHeld(undefined, [role(DERM, 'On-call dermatology', [ME])], ME, NOW);
  assert.deepEqual(first, { notices: [], held: [{ roleId: DERM, name: 'On-call dermatology' }] }, 'a fresh login: remembered from now on');
  assert.deepEqual(compareHeld(first.held, [role(DERM, 'On-call dermatology', [ME])], ME, NOW).notices, []);
  // While this device was offline: dermatology went to Bob, cardiology came to us.
  const later = compareHeld(first.held, [role(DERM, 'On-call dermatology', [BOB]), role(CARD, 'On-call cardiology', [ME, CAL])], ME, NOW);
  assert.deepEqual(later.notices, ['On-call dermatology is now held by Dr. Bob Ames.', `You now hold On-call cardiology (until ${until8}).`]);
  assert.deepEqual(later.held, [{ roleId: CARD, name: 'On-call cardiology' }]);
  assert.deepEqual(compareHeld(later.held, [role(DERM, 'On-call dermatology', [BOB])], ME, NOW), { notices: [], held: [] }, 'a role deleted: forgotten silently');
  assert.deepEqual(heldRoles([role(DERM, 'x', [BOB])], ME), []);
});

test('on oncall_changed: this user now holds it, or held it; other remembered roles are kept', () => {
  const cardiology = { roleId: CARD, name: 'On-call cardiology' };
  const gained = applyOnCallChanged([cardiology], role(DERM, 'On-call dermatology', [ME]), ME, NOW);
  assert.deepEqual(gained.notices, [`You now hold On-call dermatology (until ${until8}).`]);
  assert.deepEqual(gained.held, [cardiology, { roleId: DERM, name: 'On-call dermatology' }]);
  assert.deepEqual(applyOnCallChanged(gained.held, role(DERM, 'On-call dermatology', [ME]), ME, NOW).notices, [], 'already known: nothing new');
  const lost = applyOnCallChanged(gained.held, role(DERM, 'On-call dermatology', [BOB]), ME, NOW);
  assert.deepEqual(lost, { notices: ['On-call dermatology is now held by Dr. Bob Ames.'], held: [cardiology] });
  assert.deepEqual(applyOnCallChanged(undefined, role(DERM, 'On-call dermatology', [BOB]), ME, NOW).notices, ['On-call dermatology is now held by Dr. Bob Ames.'], 'the server tells previous holders: said even if not remembered');
});

test('the frame: oncall_changed with its role checked; a frame of an unknown type or a role that is not an object is a ProtocolError (skipped by the connection)', () => {
  const good = role(DERM, 'On-call dermatology', [BOB]);
  const f = parseServerFrame(JSON.stringify({ type: 'oncall_changed', role: good }));
  assert.ok(f.type === 'oncall_changed');
  assert.deepEqual(decodeOnCallChanged(f.role), good);
  assert.throws(() => parseServerFrame('{"type":"oncall_changed","role":"On-call dermatology"}'), ProtocolError);
  assert.throws(() => parseServerFrame('{"type":"roster_rebuilt","anything":1}'), ProtocolError);
  for (const bad of [{}, { role_id: DERM, name: 'x', holders: 'Bob', shifts: [] }, { role_id: DERM, name: 'x', holders: [{ user_id: BOB }], shifts: [] }, { role_id: 7, name: 'x', holders: [], shifts: [] }]) {
    assert.equal(decodeOnCallChanged(bad), undefined, JSON.stringify(bad));
  }
});

test('a real Client: unknown and malformed frames are skipped, the connection stays up; oncall_changed reaches the session, which tells the user and remembers what it holds', async () => {
  const json = Account.generate({ url: 'https://localhost:1', serverName: 'localhost' }, (n) => new Uint8Array(n).fill(3)).toJSON() as unknown as Record<string, unknown>;
  json['address'] = { user_id: ME, device_id: 1 };
  const account = Account.fromJSON(json);
  let socket: ServerSide | undefined;
  const state = newState({ userId: ME, name: 'Dr. Me', npi: '', specialty: 'Dermatology' });
  state.oncallHeld = [{ roleId: DERM, name: 'On-call dermatology' }];
  const told: string[] = [];
  let oncall: SessionOnCall | undefined;
  const client = new Client(account, {
    webSocket: () => (socket = new ServerSide(ME)),
    fetch: async () => ({ ok: false, status: 503, text: async () => '{"code":"storage_unavailable","message":"x"}' }) as never,
    onOnCallChanged: (r) => oncall?.onChanged(r),
  });
  oncall = new SessionOnCall({ client, state, persist: async () => undefined, changed: () => undefined, problem: () => undefined, trust: () => 'unverified', tell: (t) => told.push(t) });
  client.start();
  try {
    await client.waitOnline(5_000);
    const s = socket as ServerSide;
    assert.ok(s.received.some((f) => f['type'] === 'auth') && fromBase64(String(s.received.find((f) => f['type'] === 'auth')?.['signature']), 'signature').length === 64);
    s.push({ type: 'roster_rebuilt', anything: [1, 2] }); // a type from a newer server
    s.push('{"type":"oncall_changed","role":"On-call dermatology"}');
    s.push({ type: 'oncall_changed', role: { role_id: DERM, name: 'On-call dermatology', holders: [{ user_id: BOB }], shifts: [] } });
    s.push('not json at all');
    assert.deepEqual(told, [], 'nothing said for frames that are not right');
    assert.equal(client.state, 'online');
    s.push({ type: 'oncall_changed', role: role(DERM, 'On-call dermatology', [BOB]) });
    assert.deepEqual(told, ['On-call dermatology is now held by Dr. Bob Ames.']);
    assert.deepEqual(state.oncallHeld, []);
    const ends = Date.now() + 2 * 3_600_000;
    s.push({ type: 'oncall_changed', role: { ...role(DERM, 'On-call dermatology', [ME]), shifts: [{ shift_id: 9, user_id: ME, display_name: 'Dr. Me', starts_at: Date.now() - 60_000, ends_at: ends }] } });
    assert.equal(told[1], `You now hold On-call dermatology (until ${shortTime(ends, Date.now())}).`);
    assert.deepEqual(state.oncallHeld, [{ roleId: DERM, name: 'On-call dermatology' }]);
    assert.deepEqual(stateFromJSON(JSON.parse(JSON.stringify(state))).oncallHeld, state.oncallHeld, 'kept in the sealed state');
    assert.equal(state.people[BOB]?.name, 'Dr. Bob Ames', 'the new holder by name');
    // Still up: the server's next frames are handled, a request still answered.
    assert.deepEqual(await client.searchDirectory('Ames', null), [], 'a request is still answered');
    assert.equal(client.state, 'online');
  } finally {
    client.stop();
  }
});
