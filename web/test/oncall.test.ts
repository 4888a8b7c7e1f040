// On-call roles and curbside consults offline (issue 18): the send frame's
// role and consult kept in the outbox, the consult content as PROTOCOL.md
// gives it, the roles as the views show them, a role's thread (whom each
// message went to, who answered, a hand-off in the middle), a message to a
// role resent under the same id when the holders changed (now, and when a
// queued one is refused later), the consult records (question, answers,
// closed only by the asker, the server's view folded in), and the refusals
// in words that say what to do — with a stand-in for the client.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { SessionConsults, type ConsultHost } from '../src/app/consult-session.js';
import { applyConsult, consultViews, mergeServer } from '../src/app/consults.js';
import { SessionOnCall, type OnCallHost } from '../src/app/oncall-session.js';
import { isRoleKey, matchingRoles, roleKey, roleThread, roleView, storeRoleMessage } from '../src/app/oncall.js';
import { applyReceived } from '../src/app/receive.js';
import { newState, stateFromJSON, type AppState } from '../src/app/state.js';
import { messageViews } from '../src/app/views.js';
import { CONSULT_MAX_ATTACHMENTS, decodeContent, encodeContent, parseConsult, parseRole, roleTagOf, type Client, type Content, type OnCallRoleJson, type Received, type SendOptions } from '../src/client/index.js';
import { outgoingFromJSON, outgoingToJSON } from '../src/client/outbox.js';
import { ServerError } from '../src/protocol/index.js';

const ME = 'u000000000000000000000001';
const CAROL = 'u000000000000000000000002';
const DAN = 'u000000000000000000000003';
const ROLE = 'o000000000000000000000009';
const FILE = { attachment_id: 'a'.repeat(32), key: 'a2V5'.repeat(11), digest: 'ZGln'.repeat(11), name: 'rash.png', size: 3 };

const state = (): AppState => {
  const s = newState({ userId: ME, name: 'Dr. Me', npi: '', specialty: 'Cardiology' });
  s.people[CAROL] = { name: 'Dr. Carol Chen', specialty: 'Dermatology', npi: '', listed: true };
  s.people[DAN] = { name: 'Dr. Dan Diaz', specialty: 'Dermatology', npi: '', listed: true };
  return s;
};
const entry = (user: string, name: string) => ({ user_id: user, display_name: name, specialty: 'Dermatology', npi: '1234567893' });
const role = (holder: string | undefined, now = Date.now()): OnCallRoleJson =>
  parseRole({
    role_id: ROLE,
    name: 'On-call dermatology',
    specialty: 'Dermatology',
    holders: holder === undefined ? [] : [entry(holder, holder === CAROL ? 'Dr. Carol Chen' : 'Dr. Dan Diaz')],
    shifts: holder === undefined ? [] : [{ shift_id: 1, user_id: holder, display_name: holder === CAROL ? 'Dr. Carol Chen' : 'Dr. Dan Diaz', starts_at: now - 3_600_000, ends_at: now + 3_600_000 }],
  });
function received(from: string, id: string, content: Content, at = 1_000): Received {
  return { deliveryId: 1, messageId: id, sender: { user_id: from, device_id: 1 }, kind: 'message', content, error: undefined, sentAt: at, priority: 'routine', escalated: false };
}

test('the outbox keeps a send’s role and consult; the consult content round-trips', () => {
  const o = { messageId: 'm1', to: [CAROL], kind: 'message' as const, plaintext: new Uint8Array([1]), queuedAt: 5, role: ROLE, consult: 'c1' };
  const json = outgoingToJSON(o);
  assert.equal(json.role, ROLE);
  assert.equal(json.consult, 'c1');
  assert.deepEqual(outgoingFromJSON(json), o);
  for (const c of [
    { type: 'consult', consult_id: 'c1', specialty: 'Dermatology', text: 'Is this a melanoma?', attachments: [] },
    { type: 'consult', consult_id: 'c1', specialty: 'Dermatology', text: 'Is this a melanoma?', attachments: [FILE, { ...FILE, name: 'dermoscopy.jpg', size: 9 }] },
    { type: 'consult_answer', consult_id: 'c1', text: 'Biopsy it.' },
    { type: 'consult_closed', consult_id: 'c1' },
  ] as Content[]) assert.deepEqual(decodeContent(encodeContent(c)), c);
  assert.equal(decodeContent(encodeContent({ type: 'consult_closed' } as unknown as Content)).type, 'text', 'a malformed one is text');
});

test('consult content: attachments left out when none (as older clients wrote it), read as none when absent; invalid ones make it text', () => {
  const json = (c: Content): Record<string, unknown> => JSON.parse(new TextDecoder().decode(encodeContent(c))) as Record<string, unknown>;
  const plain: Content = { type: 'consult', consult_id: 'c1', specialty: 'Dermatology', text: 'q', attachments: [] };
  assert.deepEqual(json(plain), { type: 'consult', consult_id: 'c1', specialty: 'Dermatology', text: 'q' }, 'no attachments key');
  assert.deepEqual(json({ ...plain, attachments: [FILE] })['attachments'], [FILE], 'the AttachmentRef shape, as in referral content');
  const bytes = (o: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(o));
  const old = decodeContent(bytes({ type: 'consult', consult_id: 'c1', specialty: 'Dermatology', text: 'q' }));
  assert.deepEqual(old, plain, 'content without attachments decodes, with none');
  const flood = decodeContent(bytes({ type: 'consult', consult_id: 'c1', specialty: 'Dermatology', text: 'q', attachments: Array.from({ length: 500 }, () => FILE) }));
  assert.ok(flood.type === 'consult' && flood.attachments.length === 4, 'a hostile sender’s 500 references: the first four only');
  for (const bad of [null, 'rash.png', {}, [{ ...FILE, size: '3' }], [{ ...FILE, key: undefined }], [FILE, 7]]) {
    const c = decodeContent(bytes({ type: 'consult', consult_id: 'c1', specialty: 'Dermatology', text: 'q', attachments: bad }));
    assert.equal(c.type, 'text', `attachments ${JSON.stringify(bad)}: the whole content is text`);
  }
  assert.equal(CONSULT_MAX_ATTACHMENTS, 4);
});

test('roles as the views show them: who holds it now (until when), nobody, matching by name or specialty', () => {
  const now = Date.now();
  const v = roleView(role(CAROL, now), ME, now);
  assert.equal(v.key, roleKey(ROLE));
  assert.ok(isRoleKey(v.key) && !isRoleKey(CAROL));
  assert.match(v.holdersWords, /^now: Dr\. Carol Chen \(until /);
  assert.equal(v.shifts[0]?.now, true);
  assert.equal(v.mine, false);
  assert.equal(roleView(role(ME, now), ME, now).mine, true);
  assert.equal(roleView(role(undefined), ME, now).holdersWords, 'nobody holds it now');
  const roles = [role(CAROL)];
  assert.equal(matchingRoles(roles, 'derma').length, 1);
  assert.equal(matchingRoles(roles, 'on-call').length, 1);
  assert.equal(matchingRoles(roles, 'cardio').length, 0);
});

test('a role’s thread: our messages say whom they went to, the holders’ answers say who answered, across a hand-off; direct messages stay out', () => {
  const s = state();
  storeRoleMessage(s, { id: 'm1', from: ME, at: 100, body: { type: 'text', text: 'rash, please see' }, status: 'sent' }, { role: ROLE, name: 'On-call dermatology' }, [CAROL]);
  applyReceived(s, received(CAROL, 'r1', { type: 'text', to: [ME], text: 'coming' }, 200));
  storeRoleMessage(s, { id: 'm2', from: ME, at: 300, body: { type: 'text', text: 'still there?' }, status: 'sent' }, { role: ROLE, name: 'On-call dermatology' }, [DAN]);
  applyReceived(s, received(DAN, 'r2', { type: 'text', to: [ME], text: 'I took over from Carol' }, 400));
  // A direct message to Carol afterwards, and her answer to it: not the role's.
  s.conversations[CAROL]?.messages.push({ id: 'm3', from: ME, at: 500, body: { type: 'text', text: 'lunch?' }, status: 'sent' });
  applyReceived(s, received(CAROL, 'r3', { type: 'text', to: [ME], text: 'sure' }, 600));
  const thread = roleThread(s, ROLE);
  assert.deepEqual(
    thread.map((m) => [m.sender, m.body.type === 'text' ? m.body.text : '', m.note]),
    [
      ['You', 'rash, please see', 'To Dr. Carol Chen, on call'],
      ['Dr. Carol Chen', 'coming', 'Dr. Carol Chen answered'],
      ['You', 'still there?', 'To Dr. Dan Diaz, on call'],
      ['Dr. Dan Diaz', 'I took over from Carol', 'Dr. Dan Diaz answered'],
    ],
  );
  assert.equal(s.conversations[CAROL]?.messages.length, 4, 'each message is in its holder’s own conversation too');
});

interface FakeClient {
  client: Client;
  holder: string | undefined;
  sends: { to: string[]; id: string | undefined; options: SendOptions; content?: Content }[];
  refuseOnce: boolean;
  uploads: number[];
  uploadFails?: boolean;
  /** The server's opt-in for this user (from any device). */
  optIns: string[];
  optInRead?: 'slow' | 'missing';
}

async function streamSize(stream: ReadableStream<Uint8Array>): Promise<number> {
  let n = 0;
  const reader = stream.getReader();
  for (let r = await reader.read(); !r.done; r = await reader.read()) n += r.value.length;
  return n;
}

function fake(): FakeClient {
  const f: FakeClient = { holder: CAROL, sends: [], refuseOnce: false, uploads: [], optIns: [], client: undefined as unknown as Client };
  const consults: unknown[] = [];
  f.client = {
    state: 'online',
    http: {
      uploadAttachment: async (body: unknown) => {
        if (f.uploadFails) throw new ServerError('too_large', 'the attachment is larger than the server takes', undefined, 413);
        const size = body instanceof Uint8Array ? body.length : body instanceof Blob ? body.size : await streamSize(body as ReadableStream<Uint8Array>);
        f.uploads.push(size);
        return { attachment_id: 'f'.repeat(32), size, expires_at: Date.now() + 86_400_000 };
      },
      json: async (method: string, path: string, body?: Record<string, unknown>) => {
        if (method === 'GET' && path === '/v1/oncall') return [role(f.holder)];
        if (method === 'POST' && path === '/v1/consults') {
          if (body?.['specialty'] === 'Neurology') throw new ServerError('not_found', 'nobody answers', undefined, 404);
          if (consults.length >= 3) throw new ServerError('too_many_consults', 'close one', undefined, 429);
          const c = { consult_id: `c${consults.length + 1}`, asker: ME, specialty: body?.['specialty'], share_answers: body?.['share_answers'], fan_out: 2, status: 'open', created_at: 1, recipients: [CAROL, DAN], answered: 0 };
          consults.push(c);
          return c;
        }
        if (method === 'GET' && path === '/v1/consults') return consults;
        if (path === '/v1/consults/opt-in') {
          if (f.optInRead === 'missing') throw new ServerError('unknown', 'Method Not Allowed', undefined, 405);
          if (method === 'PUT') return { specialties: (f.optIns = [...(body?.['specialties'] as string[])]) };
          const now = [...f.optIns];
          if (f.optInRead === 'slow') await new Promise((r) => setTimeout(r, 30));
          return { specialties: now };
        }
        if (method === 'POST' && path.endsWith('/close')) {
          for (const c of consults as { consult_id: string; status: string }[]) if (path.includes(c.consult_id)) c.status = 'closed';
          return null;
        }
        throw new Error(`unexpected ${method} ${path}`);
      },
    },
    sendText: async (to: string[], _text: string, id: string | undefined, options: SendOptions = {}) => {
      f.sends.push({ to, id, options });
      if (options.role !== undefined && (f.refuseOnce || to.join() !== (f.holder ?? ''))) {
        f.refuseOnce = false;
        throw new ServerError('holders_changed', 'resolve it again');
      }
      return { messageId: id ?? 'x', outcome: 'accepted' };
    },
    send: async (to: string[], _kind: string, content: Content, id: string | undefined, options: SendOptions = {}) => {
      f.sends.push({ to, id, options, content });
      if (options.role !== undefined && (f.refuseOnce || to.join() !== (f.holder ?? ''))) {
        f.refuseOnce = false;
        throw new ServerError('holders_changed', 'resolve it again');
      }
      return { messageId: id ?? 'x', outcome: 'accepted' };
    },
  } as unknown as Client;
  return f;
}

const oncallHost = (s: AppState, f: FakeClient): OnCallHost => ({ client: f.client, state: s, persist: async () => undefined, changed: () => undefined, problem: () => undefined, trust: () => 'unverified' });

test('sending to a role: to its holder now, with the role; a hand-off in between (holders_changed) is resolved again and resent with the same id to the new holder', async () => {
  const s = state();
  const f = fake();
  const oncall = new SessionOnCall(oncallHost(s, f));
  const first = await oncall.sendText(roleKey(ROLE), 'rash, please see');
  assert.equal(first.result, 'sent');
  assert.match(first.text, /Dr\. Carol Chen, who holds On-call dermatology/);
  assert.deepEqual(f.sends[0]?.to, [CAROL]);
  assert.equal(f.sends[0]?.options.role, ROLE);
  // Carol hands off to Dan; this client's roles are stale when it sends.
  f.holder = DAN;
  f.refuseOnce = true;
  const second = await oncall.sendText(roleKey(ROLE), 'still there?');
  assert.equal(second.result, 'sent');
  assert.match(second.text, /Dr\. Dan Diaz/);
  const [refused, resent] = f.sends.slice(1);
  assert.equal(refused?.id, resent?.id, 'the same message id');
  assert.deepEqual(resent?.to, [DAN]);
  assert.equal(s.conversations[DAN]?.messages.some((m) => m.id === resent?.id && m.status === 'sent'), true);
  assert.equal(s.conversations[CAROL]?.messages.some((m) => m.id === resent?.id), false, 'moved to the new holder');
  assert.deepEqual(roleThread(s, ROLE).map((m) => m.note), ['To Dr. Carol Chen, on call', 'To Dr. Dan Diaz, on call']);
});

test('a queued message to a role refused later with holders_changed is resent to the new holder under its id; nobody on call is said in words', async () => {
  const s = state();
  const f = fake();
  const oncall = new SessionOnCall(oncallHost(s, f));
  storeRoleMessage(s, { id: 'q1', from: ME, at: 100, body: { type: 'text', text: 'queued' }, status: 'queued' }, { role: ROLE, name: 'On-call dermatology' }, [CAROL]);
  f.holder = DAN;
  assert.equal(oncall.noteSent('q1', 'refused', new ServerError('holders_changed', 'x')), true);
  for (let i = 0; i < 50 && !s.conversations[DAN]?.messages.some((m) => m.status === 'sent'); i++) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(f.sends.at(-1)?.to, [DAN]);
  assert.equal(f.sends.at(-1)?.id, 'q1');
  assert.equal(oncall.noteSent('other', 'accepted'), false, 'not a role message: the session handles it');
  f.holder = undefined;
  const r = await oncall.sendText(roleKey(ROLE), 'anyone?');
  assert.equal(r.result, 'failed');
  assert.match(r.text, /Nobody holds On-call dermatology now: .*write to a colleague by name/);
});

const consultHost = (s: AppState, f: FakeClient): ConsultHost => ({
  client: f.client,
  state: s,
  persist: async () => undefined,
  changed: () => undefined,
  lookUp: () => undefined,
  nameOf: (u) => s.people[u]?.name ?? 'Dr. Me',
  notify: () => undefined,
});

test('consults: the asker sees how many were asked, not who; answers name their authors; only the asker closes it; refusals say what to do', async () => {
  const s = state();
  const f = fake();
  const consults = new SessionConsults(consultHost(s, f));
  const asked = await consults.ask('Dermatology', 'Is this a melanoma?', false);
  assert.ok(asked.ok, asked.text);
  assert.match(asked.text, /Sent to 2 Dermatology clinicians/);
  const q = f.sends.at(-1);
  assert.deepEqual(q?.to, [CAROL, DAN]);
  assert.equal(q?.options.consult, 'c1');
  assert.deepEqual(q?.content, { type: 'consult', consult_id: 'c1', specialty: 'Dermatology', text: 'Is this a melanoma?', attachments: [] });
  let [view] = consults.list;
  assert.equal(view?.summary, 'Sent to 2 Dermatology clinicians · no answer yet');
  assert.ok(!JSON.stringify(view).includes('Carol'), 'no names before an answer');
  applyConsult(s, received(CAROL, 'a1', { type: 'consult_answer', consult_id: 'c1', text: 'Biopsy it.' }));
  applyConsult(s, received(CAROL, 'a1', { type: 'consult_answer', consult_id: 'c1', text: 'Biopsy it.' }));
  applyConsult(s, received(DAN, 'x', { type: 'consult_closed', consult_id: 'c1' }));
  [view] = consults.list;
  assert.deepEqual(view?.answers.map((a) => [a.name, a.text]), [['Dr. Carol Chen', 'Biopsy it.']]);
  assert.equal(view?.open, true, 'only its asker closes it');
  assert.equal((await consults.ask('Neurology', 'q', false)).text, 'No verified Neurology clinician answers consults yet: check the specialty as the directory writes it, or write to a colleague by name (Find a colleague).');
  await consults.ask('Dermatology', 'two', false);
  await consults.ask('Dermatology', 'three', false);
  assert.match((await consults.ask('Dermatology', 'four', false)).text, /^You have 3 consults open, the most your organisation allows: close one/);
  const closed = await consults.close('c1');
  assert.ok(closed.ok);
  assert.deepEqual(f.sends.at(-1)?.content, { type: 'consult_closed', consult_id: 'c1' });
  assert.deepEqual(f.sends.at(-1)?.to, [CAROL, DAN]);
  assert.equal(consults.list.find((c) => c.id === 'c1')?.open, false);
});

test('a recipient: the question arrives, the answer goes to the asker (and to everyone asked when shared); the asker’s close ends it there', async () => {
  const s = state();
  const f = fake();
  const consults = new SessionConsults(consultHost(s, f));
  consults.apply(received(CAROL, 'q', { type: 'consult', consult_id: 'c7', specialty: 'Cardiology', text: 'Murmur?', attachments: [] }));
  assert.equal(consults.toAnswer, 1);
  let [view] = consults.list;
  assert.equal(view?.summary, 'Dr. Carol Chen asked Cardiology · your answer goes to them only');
  assert.ok(view?.canAnswer);
  // The server says answers are shared, with whom.
  mergeServer(s, [parseConsult({ consult_id: 'c7', asker: CAROL, specialty: 'Cardiology', share_answers: true, fan_out: 2, status: 'open', created_at: 1, recipients: [ME, DAN], answered: 0 })]);
  const r = await consults.answer('c7', 'Echo first.');
  assert.ok(r.ok, r.text);
  assert.deepEqual(f.sends.at(-1)?.to, [CAROL, DAN]);
  assert.equal(f.sends.at(-1)?.options.consult, 'c7');
  assert.equal(consults.toAnswer, 0);
  applyConsult(s, received(CAROL, 'z', { type: 'consult_closed', consult_id: 'c7' }));
  [view] = consultViews(s, (u) => s.people[u]?.name ?? '?');
  assert.equal(view?.open, false);
  assert.equal(view?.canAnswer, false);
});

test('a question’s images: kept with the consult (in the sealed state’s JSON), shown by name (an image as a preview, another file to download); the retention removes the consult with them (and older answers); old records have none', async () => {
  const s = state();
  const f = fake();
  const consults = new SessionConsults(consultHost(s, f));
  const pdf = { ...FILE, attachment_id: 'b'.repeat(32), name: 'ecg.pdf', size: 2048 };
  consults.apply(received(CAROL, 'q', { type: 'consult', consult_id: 'c8', specialty: 'Cardiology', text: 'This rash?', attachments: [FILE, pdf] }, Date.now() - 120_000));
  const kept = stateFromJSON(JSON.parse(JSON.stringify(s)));
  assert.deepEqual(kept.consults?.items['c8']?.attachments, [FILE, pdf], 'the references survive a write and a read');
  let [view] = consults.list;
  assert.deepEqual(view?.files, [
    { key: 'c8:0', name: 'rash.png', size: 3, image: true },
    { key: 'c8:1', name: 'ecg.pdf', size: 2048, image: false },
  ]);
  await assert.rejects(consults.file('c8:7'), /no such file/);
  // A record written before consults had images.
  s.consults!.items['old'] = { id: 'old', asker: CAROL, specialty: 'Cardiology', text: 'old one', at: Date.now() - 130_000, fanOut: 0, shareAnswers: false, recipients: [], answers: [], closed: true };
  assert.deepEqual(consults.list.find((c) => c.id === 'old')?.files, []);
  // Closed: the images stay.
  applyConsult(s, received(CAROL, 'z', { type: 'consult_closed', consult_id: 'c8' }));
  assert.equal(consults.list.find((c) => c.id === 'c8')?.files.length, 2, 'closing keeps the images');
  assert.equal(consults.retain(Date.now()), false, 'no retention: nothing removed');
  s.policy = { retentionSecs: 3600, recallWindowSecs: 600, changedAt: 1 };
  assert.equal(consults.retain(Date.now()), false, 'younger than the retention: kept');
  s.policy = { retentionSecs: 60, recallWindowSecs: 600, changedAt: 1 };
  // A younger consult stays, without its answers older than the limit.
  s.consults!.items['young'] = { id: 'young', asker: CAROL, specialty: 'Cardiology', text: 'new one', at: Date.now() - 1000, fanOut: 0, shareAnswers: false, recipients: [], answers: [{ from: ME, text: 'stale', at: Date.now() - 120_000 }, { from: ME, text: 'fresh', at: Date.now() - 500 }], closed: false };
  assert.equal(consults.retain(Date.now()), true);
  assert.equal(consults.list.find((c) => c.id === 'c8'), undefined, 'a consult asked before the limit goes, with its images');
  assert.equal(consults.list.find((c) => c.id === 'old'), undefined);
  assert.deepEqual(consults.list.find((c) => c.id === 'young')?.answers.map((a) => a.text), ['fresh']);
  assert.equal(JSON.stringify(s).includes(FILE.attachment_id), false, 'no reference left in the state');
  await assert.rejects(consults.file('c8:0'), /no such file/, 'nor a decrypted copy');
  assert.equal(consults.retain(Date.now()), false, 'nothing more to remove');
});

test('asking with images: more than four, or a file that is not an image, is refused before anything is uploaded or posted', async () => {
  const s = state();
  const f = fake();
  const consults = new SessionConsults(consultHost(s, f));
  const png = (n: number) => ({ blob: new Blob([new Uint8Array([137, 80, 78, 71])], { type: 'image/png' }), name: `photo-${n}.png` });
  const five = await consults.ask('Dermatology', 'Which of these?', false, [1, 2, 3, 4, 5].map(png));
  assert.equal(five.ok, false);
  assert.equal(five.text, 'A consult takes at most 4 images: remove 1, then ask again.');
  const doc = await consults.ask('Dermatology', 'And this?', false, [png(1), { blob: new Blob(['x'], { type: 'application/pdf' }), name: 'notes.pdf' }]);
  assert.equal(doc.ok, false);
  assert.match(doc.text, /^notes\.pdf is not an image: attach photos or screenshots only/);
  assert.equal(f.sends.length, 0, 'nothing sent');
  assert.deepEqual(consults.list, [], 'nothing posted');
});

test('an urgent message to a role carries its priority and escalation through a re-resolution; a holder as the backup is refused in words', async () => {
  const s = state();
  const f = fake();
  const oncall = new SessionOnCall(oncallHost(s, f));
  f.refuseOnce = true;
  const r = await oncall.sendText(roleKey(ROLE), 'STAT: airway swelling', false, { priority: 'stat', escalation: { backup: DAN, afterSecs: 300 } });
  assert.equal(r.result, 'sent', r.text);
  const [refused, resent] = f.sends;
  assert.equal(refused?.id, resent?.id);
  assert.deepEqual(resent?.options, { role: ROLE, priority: 'stat', escalation: { backup: DAN, afterSecs: 300 } });
  const copy = s.conversations[CAROL]?.messages[0];
  assert.equal(copy?.priority, 'stat');
  assert.deepEqual(copy?.escalation, { backup: DAN, afterSecs: 300 });
  const refusedBackup = await oncall.sendText(roleKey(ROLE), 'x', false, { priority: 'urgent', escalation: { backup: CAROL, afterSecs: 60 } });
  assert.equal(refusedBackup.result, 'failed');
  assert.equal(refusedBackup.text, 'Dr. Carol Chen holds On-call dermatology now and receives the message anyway: choose another backup, or untick the escalation.');
});

test('a file to a role: uploaded once, its reference sent naming the role; holders_changed reads the roles again and resends the same reference under the same id; an upload refused sends nothing', async () => {
  const s = state();
  const f = fake();
  const oncall = new SessionOnCall(oncallHost(s, f));
  f.holder = DAN; // handed off after this client last read the roles
  f.refuseOnce = true;
  const photo = new Blob([new Uint8Array(1000).fill(7)], { type: 'image/png' });
  const r = await oncall.sendFile(roleKey(ROLE), photo, 'C:\\photos\\forearm.png');
  assert.equal(r.result, 'sent', r.text);
  assert.equal(r.text, 'forearm.png: Sent to Dr. Dan Diaz, who holds On-call dermatology now.');
  assert.equal(f.uploads.length, 1, 'uploaded once');
  const [refused, resent] = f.sends;
  assert.ok(refused !== undefined && resent !== undefined);
  assert.equal(refused.id, resent.id, 'the same message id');
  assert.equal(resent.options.role, ROLE, 'the send names the role');
  assert.deepEqual(resent.to, [DAN]);
  assert.ok(resent.content?.type === 'attachment' && refused.content?.type === 'attachment');
  assert.deepEqual(resent.content.file, refused.content.file, 'the same reference: not uploaded again');
  assert.equal(resent.content.file.name, 'forearm.png', 'the name without its folders');
  assert.deepEqual(resent.content.to, [DAN]);
  const copy = s.conversations[DAN]?.messages.find((m) => m.id === resent.id);
  assert.equal(copy?.body.type, 'attachment');
  assert.equal(copy?.status, 'sent');
  assert.deepEqual(roleThread(s, ROLE).map((m) => [m.note, m.body.type]), [['To Dr. Dan Diaz, on call', 'file']]);
  // A refused upload: nothing is sent, nothing stored, and the words say what to do.
  f.uploadFails = true;
  const big = await oncall.sendFile(roleKey(ROLE), photo, 'scan.png');
  assert.equal(big.result, 'failed');
  assert.match(big.text, /^scan\.png could not be uploaded \(.+\): nothing was sent; try again\.$/);
  assert.equal(f.sends.length, 2);
  assert.equal(roleThread(s, ROLE).length, 1);
});

test('the consult opt-in is the user’s, as the server has it: read at each sync (set on another device, or before a fresh login), a read begun before a change here is not applied, a server without the read keeps the last known', async () => {
  const s = state(); // a fresh login: nothing kept on this device
  const f = fake();
  const consults = new SessionConsults(consultHost(s, f));
  assert.equal(consults.optedIn, false);
  f.optIns = ['cardiology']; // opted in from another device (the server keeps it lowercased or as spelled)
  await consults.sync();
  assert.equal(consults.optedIn, true, 'shown as on');
  f.optIns = [];
  await consults.sync();
  assert.equal(consults.optedIn, false, 'turned off elsewhere: off here too');
  // A read on its way when the user turns it on here: the change wins.
  f.optInRead = 'slow';
  const reading = consults.sync();
  assert.ok((await consults.setOptIn(true)).ok);
  await reading;
  assert.equal(consults.optedIn, true);
  assert.deepEqual(f.optIns, ['Cardiology']);
  // An older server (no GET: 405): the last known stays.
  f.optInRead = 'missing';
  await consults.sync();
  assert.equal(consults.optedIn, true);
});

test('the role tag: a message to a role carries {role_id, name} in its content (an ordinary one none); decoded with its shape checked (a bad tag is ignored, not the message); the holder sees “to On-call dermatology”, our other device keeps it in the role’s thread', async () => {
  const tag = { role_id: ROLE, name: 'On-call dermatology' };
  const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
  for (const c of [
    { type: 'text', to: [CAROL], text: 'rash', role: tag },
    { type: 'attachment', to: [CAROL], file: FILE, role: tag },
    { type: 'text', to: [CAROL], text: 'plain' },
  ] as Content[]) assert.deepEqual(decodeContent(encodeContent(c)), c);
  assert.equal(new TextDecoder().decode(encodeContent({ type: 'text', to: [CAROL], text: 'plain' })).includes('role'), false, 'absent for ordinary messages');
  for (const bad of [
    null, 'On-call dermatology', [ROLE, 'x'], {}, { role_id: ROLE }, { name: 'x' },
    { role_id: ROLE, name: 'x', holder: CAROL }, // an unknown shape
    { role_id: 'o 1', name: 'x' }, { role_id: 'o'.repeat(65), name: 'x' }, { role_id: 7, name: 'x' },
    { role_id: ROLE, name: '' }, { role_id: ROLE, name: '   ' }, { role_id: ROLE, name: 'x'.repeat(81) }, { role_id: ROLE, name: 'On-call\u202edermatology' }, { role_id: ROLE, name: 'line\nbreak' }, { role_id: ROLE, name: 3 },
  ]) {
    const text = decodeContent(enc({ type: 'text', to: [ME], text: 'still here', role: bad }));
    assert.deepEqual(text, { type: 'text', to: [ME], text: 'still here' }, `tag ${JSON.stringify(bad)} ignored, the message kept`);
    const file = decodeContent(enc({ type: 'attachment', to: [ME], file: FILE, role: bad }));
    assert.deepEqual(file, { type: 'attachment', to: [ME], file: FILE });
  }
  assert.equal(roleTagOf({ role_id: ROLE, name: 'x'.repeat(80) })?.name.length, 80, 'up to 80 characters');
  assert.equal(roleTagOf({ role_id: ROLE, name: 'Garde dermatologie — nuit' })?.name, 'Garde dermatologie — nuit');

  // Sent: the tag is in the content of text and of a file to a role.
  const s = state();
  const f = fake();
  const oncall = new SessionOnCall(oncallHost(s, f));
  await oncall.sendText(roleKey(ROLE), 'rash, please see');
  await oncall.sendFile(roleKey(ROLE), new Blob([new Uint8Array(10)]), 'rash.png');
  assert.deepEqual(f.sends.map((x) => (x.content as { role?: unknown } | undefined)?.role), [tag, tag]);

  // Received by a holder: named beside the sender.
  const holder = newState({ userId: CAROL, name: 'Dr. Carol Chen', npi: '', specialty: 'Dermatology' });
  holder.people[ME] = { name: 'Dr. Me', specialty: 'Cardiology', npi: '', listed: true };
  applyReceived(holder, received(ME, 'm1', { type: 'text', to: [CAROL], text: 'rash, please see', role: tag }));
  applyReceived(holder, received(ME, 'm2', { type: 'text', to: [CAROL], text: 'and directly' }));
  const views = messageViews(holder, holder.conversations[ME]!);
  assert.deepEqual(views.map((v) => [v.sender, v.toRole]), [['Dr. Me', 'On-call dermatology'], ['Dr. Me', undefined]]);
  // Our own other device: the copy joins the role's thread.
  const other = state();
  applyReceived(other, received(ME, 'm1', { type: 'text', to: [CAROL, DAN], text: 'rash, please see', role: tag }));
  assert.deepEqual(roleThread(other, ROLE).map((m) => m.note), ['To Dr. Carol Chen and Dr. Dan Diaz, on call']);
  assert.equal(messageViews(other, other.conversations[CAROL]!)[0]?.toRole, undefined, 'ours: no “to” tag');
});

test('at each connection the session compares the roles with those remembered held: a hand-off while offline is told by name, once', async () => {
  const s = state();
  const f = fake();
  const told: string[] = [];
  const oncall = new SessionOnCall({ ...oncallHost(s, f), tell: (t) => told.push(t) });
  f.holder = ME;
  await oncall.online();
  assert.deepEqual(told, [], 'the first connection on this device: remembered, not told');
  assert.deepEqual(s.oncallHeld, [{ roleId: ROLE, name: 'On-call dermatology' }]);
  f.holder = DAN; // handed off while this device was offline
  await oncall.online();
  await oncall.online();
  assert.deepEqual(told, ['On-call dermatology is now held by Dr. Dan Diaz.']);
  f.holder = ME;
  await oncall.online();
  assert.match(told[1] ?? '', /^You now hold On-call dermatology \(until .+\)\.$/);
});
