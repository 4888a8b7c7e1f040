// Care teams between the web client and two CLI members against a real
// `curbside serve`: the web client creates a team, messages both ways (text
// and an attachment, encrypted once), per-member delivery status,
// membership changes made by a CLI member and by the web client, and a
// removed member no longer receiving.

import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { Client, enroll, openTeamMessage, sealTeamMessage, Teams, type TeamEvent } from '../src/client/index.js';
import { binaryMissing, cli, httpsFetch, npi, startServer, tempDir, userIdIn, wsFactory, type Server } from './live-helpers.js';

const missing = binaryMissing();
if (missing !== undefined) {
  console.error(`\n*** ${missing} ***\n`);
  test('live care teams with the curbside binary', (t) => {
    assert.notEqual(process.env['CI'], 'true', missing);
    t.skip(missing);
  });
} else {
  live();
}

test('a team message opens only for its team and message id', () => {
  const env = sealTeamMessage('t1', 'm1', { type: 'text', to: [], text: 'rounds at 7' });
  assert.equal(env.type, 'team_message');
  if (env.type !== 'team_message') return;
  assert.deepEqual(openTeamMessage('t1', 'm1', env.key, env.sealed), { type: 'text', text: 'rounds at 7' });
  assert.throws(() => openTeamMessage('t2', 'm1', env.key, env.sealed));
  assert.throws(() => openTeamMessage('t1', 'm2', env.key, env.sealed));
});

function live(): void {
  let server: Server;
  let profiles: string;
  let alice: Client;
  let teams: Teams;
  let aliceId: string;
  let bobId: string;
  let carolId: string;
  let daveId: string;
  let teamId: string;
  const bob = (): string => join(profiles, 'bob');
  const carol = (): string => join(profiles, 'carol');
  const dave = (): string => join(profiles, 'dave');
  const admin = (): string => join(profiles, 'admin');
  const fetch = (): ReturnType<typeof httpsFetch> => httpsFetch(server.certPem);

  const invite = async (): Promise<string> => {
    const m = /cbs_inv_[A-Za-z0-9_-]+/.exec(await cli(['admin', 'invite', '--profile', admin()]));
    assert.ok(m);
    return m[0];
  };
  const enrollCli = async (dir: string, name: string, nine: string, specialty: string): Promise<string> =>
    userIdIn(
      await cli([
        'enroll', '--profile', dir, '--invite', await invite(), '--name', name, '--npi', npi(nine),
        '--specialty', specialty, '--server', server.address, '--cert', server.certPath,
      ]),
    );
  /** Team events received by the web client until `done` holds (others acknowledged and skipped). */
  const until = async (done: (e: TeamEvent) => boolean): Promise<TeamEvent> => {
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const r = await alice.nextMessage(deadline - Date.now());
      if (r === undefined) break;
      const e = teams.handle(r);
      alice.ack([r.deliveryId]);
      if (e !== undefined && done(e)) return e;
    }
    throw new Error('the expected team event did not arrive');
  };
  interface Row { message_id: string; from: string; content: { type: string; text?: string; name?: string } }
  const history = async (dir: string): Promise<Row[]> => {
    await cli(['inbox', '--profile', dir, '--wait', '1']);
    const out = await cli(['team', 'history', '--profile', dir, '--json', 'Ward 4']);
    return out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Row);
  };

  before(async () => {
    server = await startServer();
    profiles = tempDir();
    await cli(['enroll', '--profile', admin(), '--invite', server.token, '--name', 'Admin', '--server', server.address, '--cert', server.certPath]);
    bobId = await enrollCli(bob(), 'Dr. Bob Brennan', '123456789', 'Dermatology');
    carolId = await enrollCli(carol(), 'Dr. Carol Chen', '223456789', 'Cardiology');
    daveId = await enrollCli(dave(), 'Dr. Dave Diaz', '423456789', 'Nephrology');
    const { account, response } = await enroll(
      { url: server.url, serverName: 'localhost' },
      await invite(),
      { displayName: 'Dr. Alice Adeyemi', npi: npi('323456789'), specialty: 'Internal Medicine' },
      { fetch: fetch() },
    );
    aliceId = response.user_id;
    for (const u of [aliceId, bobId, carolId, daveId]) await cli(['admin', 'verify', '--profile', admin(), u]);
    alice = new Client(account, { webSocket: wsFactory(server.certPem), fetch: fetch() });
    teams = new Teams(alice);
    alice.start();
    await alice.waitOnline();
  });

  after(async () => {
    alice?.stop();
    await server?.stop();
    if (profiles) rmSync(profiles, { recursive: true, force: true });
  });

  test('the web client creates a team; both CLI members have it and read its messages', async () => {
    const { team, outcome } = await teams.create('Ward 4', [bobId, carolId]);
    assert.equal(outcome, 'accepted');
    teamId = team.teamId;
    assert.match(teamId, /^t[0-9a-f]{16}$/);
    assert.deepEqual(team.members, [aliceId, bobId, carolId].sort());
    const m = await teams.sendText(teamId, 'Rounds at 7, bed 12 first');
    assert.equal(m.status, 'sent');
    for (const dir of [bob(), carol()]) {
      await cli(['inbox', '--profile', dir, '--wait', '1']);
      const list = await cli(['team', 'list', '--profile', dir]);
      assert.match(list, new RegExp(`${teamId}\\s+Ward 4`));
      const rows = await history(dir);
      assert.ok(rows.some((r) => r.message_id === m.messageId && r.from === aliceId && r.content.text === 'Rounds at 7, bed 12 first'), JSON.stringify(rows));
    }
    // Per-member delivery status: both members' devices acknowledged it.
    const deadline = Date.now() + 10_000;
    while (teams.deliveries(m.messageId).some((x) => x.deliveredAt === undefined) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const d = teams.deliveries(m.messageId);
    assert.deepEqual(d.map((x) => x.userId), [bobId, carolId].sort());
    assert.ok(d.every((x) => typeof x.deliveredAt === 'number'), JSON.stringify(d));
  });

  test('an attachment goes to the team encrypted once; a CLI member downloads it', async () => {
    const data = new TextEncoder().encode('ECG strip, 12 lead\n'.repeat(500));
    const m = await teams.sendFile(teamId, data, 'ecg.txt');
    assert.equal(m.content.type, 'attachment');
    const rows = await history(bob());
    assert.ok(rows.some((r) => r.message_id === m.messageId && r.content.type === 'attachment' && r.content.name === 'ecg.txt'), JSON.stringify(rows));
    const out = join(profiles, 'ecg.txt');
    await cli(['download', '--profile', bob(), '--out', out, m.messageId]);
    assert.deepEqual(new Uint8Array(readFileSync(out)), data);
  });

  test('a CLI member writes to the team; the web client receives it as the team\'s', async () => {
    await cli(['team', 'send', '--profile', bob(), 'Ward 4', 'Bed 12 is stable, from the CLI']);
    const e = await until((x) => x.type === 'message');
    assert.equal(e.type, 'message');
    if (e.type !== 'message') return;
    assert.equal(e.team.teamId, teamId);
    assert.equal(e.message.from, bobId);
    assert.deepEqual(e.message.content, { type: 'text', text: 'Bed 12 is stable, from the CLI' });
    assert.ok(teams.history(teamId).some((x) => x.messageId === e.message.messageId));
  });

  test('membership: a CLI member removes one, the web client adds and removes another; removed members receive nothing new', async () => {
    await cli(['team', 'remove', '--profile', bob(), 'Ward 4', carolId]);
    const removed = await until((x) => x.type === 'updated');
    assert.equal(removed.type, 'updated');
    if (removed.type !== 'updated') return;
    assert.deepEqual(removed.team.members, [aliceId, bobId].sort());
    assert.equal(removed.by, bobId);
    assert.deepEqual(teams.get(teamId)?.members, [aliceId, bobId].sort());

    const added = await teams.add(teamId, [daveId]);
    assert.deepEqual(added.team.members, [aliceId, bobId, daveId].sort());
    const hello = await teams.sendText(teamId, 'Welcome, Dave');
    assert.ok((await history(dave())).some((r) => r.message_id === hello.messageId));
    assert.ok((await history(bob())).some((r) => r.message_id === hello.messageId));
    assert.ok((await history(carol())).every((r) => r.message_id !== hello.messageId));
    assert.match(await cli(['team', 'list', '--profile', carol()]), /you were removed/);

    await teams.remove(teamId, daveId);
    const after1 = await teams.sendText(teamId, 'Only Bob and Alice now');
    await cli(['team', 'send', '--profile', bob(), 'Ward 4', 'Bob to the smaller team']);
    const fromBob = await until((x) => x.type === 'message' && x.message.from === bobId);
    assert.equal(fromBob.type, 'message');
    for (const dir of [carol(), dave()]) {
      const rows = await history(dir);
      assert.ok(rows.every((r) => r.message_id !== after1.messageId && r.content.text !== 'Bob to the smaller team'), JSON.stringify(rows));
    }
    assert.match(await cli(['team', 'list', '--profile', dave()]), /you were removed/);
    assert.ok((await history(bob())).some((r) => r.message_id === after1.messageId));
    // Removing is refused for oneself, and for someone not in the team.
    await assert.rejects(teams.remove(teamId, aliceId), /ask a member/);
    await assert.rejects(teams.remove(teamId, carolId), /not a member/);
  });

  test('the teams state survives its JSON form', () => {
    const restored = new Teams(alice, { state: JSON.parse(JSON.stringify(teams.toJSON())) });
    assert.deepEqual(restored.toJSON(), teams.toJSON());
    assert.doesNotMatch(String(restored), /Rounds/);
  });
}
