// The care-team model offline, with a stand-in for the client: who may
// change a team or write to it, what a removed member accepts, the sealed
// envelope, the JSON form.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { sealTeamMessage, Teams, type Client, type Content, type Received } from '../src/client/index.js';

interface Sent { to: string[]; kind: string; content: Content; messageId: string | undefined }

function fake(me: string): { client: Client; sent: Sent[] } {
  const sent: Sent[] = [];
  const client = {
    account: { me: { user_id: me, device_id: 1 } },
    receipts: [],
    send: async (to: string[], kind: string, content: Content, messageId?: string) => {
      sent.push({ to, kind, content, messageId });
      return { messageId: messageId ?? `m${sent.length}`, outcome: 'accepted' };
    },
  } as unknown as Client;
  return { client, sent };
}

let n = 0;
const received = (from: string, content: Content, messageId = `r${++n}`): Received => ({
  deliveryId: n, messageId, sender: { user_id: from, device_id: 1 }, kind: 'message', content, error: undefined, sentAt: 1000 + n, priority: 'routine', escalated: false,
});

test('create and remove send the full member list to every old and new member; a team message is sealed for the members only', async () => {
  const { client, sent } = fake('ua');
  const teams = new Teams(client);
  const { team } = await teams.create('Ward 4', ['uc', 'ub']);
  assert.deepEqual(team.members, ['ua', 'ub', 'uc']);
  assert.deepEqual(sent[0], { to: ['ub', 'uc'], kind: 'control', content: { type: 'team_update', team_id: team.teamId, name: 'Ward 4', members: ['ua', 'ub', 'uc'] }, messageId: undefined });
  await teams.remove(team.teamId, 'uc');
  assert.deepEqual(sent[1]?.to, ['ub', 'uc'], 'the removed member is told');
  const m = await teams.sendText(team.teamId, 'rounds');
  assert.deepEqual(sent[2]?.to, ['ub']);
  assert.equal(sent[2]?.content.type, 'team_message');
  assert.equal(sent[2]?.messageId, m.messageId);
  assert.ok(!JSON.stringify(sent[2]?.content).includes('rounds'), 'the text is sealed');
  await assert.rejects(teams.remove(team.teamId, 'ua'), /ask a member/);
  await assert.rejects(teams.create(' ', ['ub']), /needs a name/);
});

test('updates and messages are accepted from members only; once removed, nothing is', () => {
  const { client } = fake('ub');
  const teams = new Teams(client);
  assert.deepEqual(teams.handle(received('ux', { type: 'team_update', team_id: 't1', name: 'X', members: ['ux'] })), { type: 'ignored', teamId: 't1', reason: 'unknown_team' });
  const added = teams.handle(received('ua', { type: 'team_update', team_id: 't1', name: 'Ward 4', members: ['ua', 'ub'] }));
  assert.equal(added?.type, 'added');
  assert.equal(teams.handle(received('ux', { type: 'team_update', team_id: 't1', name: 'Mine', members: ['ux', 'ub'] }))?.type, 'ignored');
  assert.equal(teams.get('t1')?.name, 'Ward 4');

  const id = 'mid1';
  const ok = teams.handle(received('ua', sealTeamMessage('t1', id, { type: 'text', to: [], text: 'hello' }), id));
  assert.ok(ok?.type === 'message' && ok.message.content.type === 'text' && ok.message.content.text === 'hello');
  assert.deepEqual(teams.handle(received('ux', sealTeamMessage('t1', 'mid2', { type: 'text', to: [], text: 'spoof' }), 'mid2')), { type: 'ignored', teamId: 't1', reason: 'not_a_member' });
  // Sealed for another message id: does not open.
  assert.deepEqual(teams.handle(received('ua', sealTeamMessage('t1', 'other', { type: 'text', to: [], text: 'x' }), 'mid3')), { type: 'ignored', teamId: 't1', reason: 'could_not_open' });
  // A team message may carry only text or an attachment.
  assert.equal(teams.handle(received('ua', sealTeamMessage('t1', 'mid4', { type: 'read', message_ids: [] }), 'mid4'))?.type, 'ignored');

  assert.equal(teams.handle(received('ua', { type: 'team_update', team_id: 't1', name: 'Ward 4', members: ['ua'] }))?.type, 'removed');
  assert.equal(teams.get('t1')?.removed, true);
  assert.deepEqual(teams.handle(received('ua', sealTeamMessage('t1', 'mid5', { type: 'text', to: [], text: 'late' }), 'mid5')), { type: 'ignored', teamId: 't1', reason: 'removed' });
  assert.equal(teams.history('t1').length, 1);
  assert.deepEqual(new Teams(client, { state: JSON.parse(JSON.stringify(teams.toJSON())) }).toJSON(), teams.toJSON());
  assert.equal(teams.handle(received('ua', { type: 'text', to: [], text: 'not a team message' })), undefined);
});
