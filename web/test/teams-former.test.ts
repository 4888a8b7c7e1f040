// A member removed from a care team cannot be added back (the CLI's rule,
// client/src/local.rs `apply_team_update`: once removed, a client ignores
// every team_update of that team, so adding them back would show
// "Delivered to N of N" for what they never see). The library keeps the
// former members in the sealed team state and refuses; the application
// model says so by name and tells a removed user to ask for a new team.
// With a stand-in for the client (what was sent is recorded).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { SessionTeams, type TeamHost } from '../src/app/teams.js';
import { newState } from '../src/app/state.js';
import { Teams, type Client, type Content, type Received } from '../src/client/index.js';

interface Sent { to: string[]; kind: string; content: Content }

function fake(me: string): { client: Client; sent: Sent[] } {
  const sent: Sent[] = [];
  const client = {
    account: { me: { user_id: me, device_id: 1 } },
    receipts: [],
    send: async (to: string[], kind: string, content: Content, messageId?: string) => {
      sent.push({ to, kind, content });
      return { messageId: messageId ?? `m${sent.length}`, outcome: 'accepted' };
    },
  } as unknown as Client;
  return { client, sent };
}

let n = 0;
const update = (from: string, teamId: string, members: string[], name = 'Ward 4'): Received => ({
  deliveryId: ++n, messageId: `r${n}`, sender: { user_id: from, device_id: 1 }, kind: 'control', content: { type: 'team_update', team_id: teamId, name, members }, error: undefined, sentAt: 1000 + n, priority: 'routine', escalated: false,
});

test('the library: a member dropped (by this user or by another member) is a former member, kept in the JSON form, and cannot be added back', async () => {
  const { client, sent } = fake('ua');
  const teams = new Teams(client);
  const { team } = await teams.create('Ward 4', ['ub', 'uc', 'ud']);
  assert.deepEqual(team.former, []);
  await teams.remove(team.teamId, 'uc');
  assert.deepEqual(teams.get(team.teamId)?.former, ['uc']);
  const count = sent.length;
  await assert.rejects(teams.add(team.teamId, ['uc']), /cannot be added back: create a new team with them/);
  await assert.rejects(teams.add(team.teamId, ['ue', 'uc']), /cannot be added back/);
  assert.equal(sent.length, count, 'nothing was sent');
  // Another member drops ud: ua's client learns it from the team_update.
  assert.equal(teams.handle(update('ub', team.teamId, ['ua', 'ub']))?.type, 'updated');
  assert.deepEqual(teams.get(team.teamId)?.former, ['uc', 'ud']);
  // A rename keeps them; so does the sealed JSON form.
  await teams.rename(team.teamId, 'Ward 4 consults');
  const restored = new Teams(client, { state: JSON.parse(JSON.stringify(teams.toJSON())) });
  assert.deepEqual(restored.get(team.teamId)?.former, ['uc', 'ud']);
  await assert.rejects(restored.add(team.teamId, ['ud']), /cannot be added back/);
  // Someone never removed is added as before; a new team with a former member is fine.
  assert.deepEqual((await restored.add(team.teamId, ['ue'])).team.members, ['ua', 'ub', 'ue']);
  assert.deepEqual((await restored.create('Ward 4 again', ['uc'])).team.members, ['ua', 'uc']);
  // State written before former members were kept reads as none.
  const legacy = teams.toJSON();
  for (const t of legacy.teams) delete t.former;
  assert.deepEqual(new Teams(client, { state: legacy }).get(team.teamId)?.former, []);
});

test('the library: the removed user is told to ask for a new team, not to be added again', async () => {
  const { client } = fake('uc');
  const teams = new Teams(client);
  teams.handle(update('ua', 't1', ['ua', 'uc']));
  assert.equal(teams.handle(update('ua', 't1', ['ua']))?.type, 'removed');
  await assert.rejects(teams.sendText('t1', 'hello?'), (e: Error) => /ask a member to create a new team with you/.test(e.message) && !/add you again/.test(e.message));
  // The CLI's rule is kept: being listed again changes nothing.
  assert.deepEqual(teams.handle(update('ua', 't1', ['ua', 'uc'])), { type: 'ignored', teamId: 't1', reason: 'removed' });
});

function session(me: string): { teams: SessionTeams; sent: Sent[]; host: TeamHost } {
  const { client, sent } = fake(me);
  const state = newState({ userId: me, name: 'Dr. Alice Adeyemi', npi: '', specialty: 'Internal Medicine' });
  const host: TeamHost = {
    client,
    state,
    persist: async () => undefined,
    changed: () => undefined,
    lookUp: () => undefined,
    arrived: () => undefined,
    problem: () => undefined,
    trust: () => 'unverified',
    explain: (e) => (e instanceof Error ? e.message : String(e)),
  };
  return { teams: new SessionTeams(host), sent, host };
}

const BOB = { key: 'ub', name: 'Dr. Bob Brennan', specialty: 'Dermatology', npi: '' };
const CAROL = { key: 'uc', name: 'Dr. Carol Chen', specialty: 'Cardiology', npi: '' };
const DAVE = { key: 'ud', name: 'Dr. Dave Diaz', specialty: 'Nephrology', npi: '' };

test('the model: re-adding a removed member is refused by name (the picker’s words and the Add button’s), nothing sent; also after unlocking again', async () => {
  const { teams, sent, host } = session('ua');
  const created = await teams.create('Ward 4', [BOB, CAROL]);
  assert.ok(created.ok);
  const key = created.key;
  assert.equal(teams.cannotAdd(key, CAROL), undefined, 'a member is not refused here (the picker leaves members out)');
  assert.equal(await teams.remove(key, CAROL.key), undefined);
  const why = 'Dr. Carol Chen was removed from this team and cannot be added back: create a new team with them.';
  assert.equal(teams.cannotAdd(key, CAROL), why);
  assert.equal(teams.cannotAdd(key, DAVE), undefined);
  const count = sent.length;
  assert.equal(await teams.add(key, [DAVE, CAROL]), 'Dr. Carol Chen was removed from this team and cannot be added back: create a new team with them. No one was added.');
  assert.equal(sent.length, count, 'no team_update went out');
  assert.deepEqual(teams.view(key)?.members.map((m) => m.key), ['ua', 'ub']);

  // The sealed state, unlocked again.
  const again = new SessionTeams({ ...host, state: JSON.parse(JSON.stringify(teams.save())) as typeof host.state });
  assert.equal(again.cannotAdd(key, CAROL), why);
  // State sealed before the library kept former members: the removal notice still refuses.
  const legacy = JSON.parse(JSON.stringify(teams.save())) as typeof host.state;
  for (const t of legacy.teams?.core.teams ?? []) delete t.former;
  const old = new SessionTeams({ ...host, state: legacy });
  assert.equal(old.cannotAdd(key, CAROL), why);
  assert.match((await old.add(key, [CAROL])) ?? '', /cannot be added back/);
  assert.equal(await again.add(key, [DAVE]), undefined, 'someone else is added as before');
  assert.equal(sent.length, count + 1);
});

test('the model: a member removed by another member is refused too; the removed user is told to ask for a new team', async () => {
  const { teams } = session('ua');
  teams.apply(update('ub', 't1', ['ua', 'ub', 'uc']));
  teams.apply(update('ub', 't1', ['ua', 'ub']));
  assert.match(teams.cannotAdd('team:t1', CAROL) ?? '', /^Dr\. Carol Chen was removed from this team and cannot be added back: create a new team with them\.$/);

  const carol = session('uc').teams;
  carol.apply(update('ua', 't2', ['ua', 'uc']));
  carol.apply(update('ua', 't2', ['ua']));
  const said = (await carol.add('team:t2', [DAVE])) ?? '';
  assert.match(said, /ask a member to create a new team with you/);
  assert.doesNotMatch(said, /add you again/);
});
