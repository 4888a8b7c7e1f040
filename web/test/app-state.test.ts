// The application model's pure parts, without a browser: what a received
// message does to the state (statuses, unread counts, our other devices'
// messages, read receipts, timers), the CLI's timer rule, the enrollment
// form's checks, and the pinned-key fingerprint.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { Received } from '../src/client/client.js';
import type { Content } from '../src/client/content.js';
import { checkEnrollForm, inviteFromFragment, npiValid } from '../src/app/enroll-form.js';
import { applyReceived } from '../src/app/receive.js';
import { addMessage, conversation, durationWords, newState, purgeExpired, raiseStatus, setTimer } from '../src/app/state.js';
import { personView } from '../src/app/views.js';
import { npi } from './live-helpers.js';

const ME = 'u000000000000000000000001';
const BOB = 'u000000000000000000000002';

function received(from: string, id: string, content: Content | undefined, sentAt = 1_000): Received {
  return { deliveryId: 1, messageId: id, sender: { user_id: from, device_id: 1 }, kind: 'message', content, error: content ? undefined : 'decryption_failed', sentAt, priority: 'routine', escalated: false };
}

const state = () => newState({ userId: ME, name: 'Dr. Me', npi: '', specialty: 'Cardiology' });

test('a colleague’s message joins their conversation, unread, once (a re-delivery is not shown twice)', () => {
  const s = state();
  assert.deepEqual(applyReceived(s, received(BOB, 'm1', { type: 'text', to: [ME], text: 'hi' })), { peer: BOB, incoming: true });
  assert.deepEqual(applyReceived(s, received(BOB, 'm1', { type: 'text', to: [ME], text: 'hi' })), { peer: BOB, incoming: false });
  const c = s.conversations[BOB];
  assert.equal(c?.messages.length, 1);
  assert.equal(c?.unread, 1);
  assert.equal(c?.messages[0]?.status, 'received');
  // One that could not be decrypted says so, in the sender's conversation.
  applyReceived(s, received(BOB, 'm2', undefined));
  assert.equal(s.conversations[BOB]?.messages[1]?.body.type, 'undecryptable');
});

test('our other device’s message joins the conversation its `to` names, as ours; read receipts raise our messages', () => {
  const s = state();
  applyReceived(s, received(ME, 'm1', { type: 'text', to: [BOB], text: 'from my phone' }));
  const c = s.conversations[BOB];
  assert.equal(c?.messages[0]?.from, ME);
  assert.equal(c?.messages[0]?.status, 'sent');
  assert.equal(c?.unread, 0);
  assert.ok(raiseStatus(conversation(s, BOB), ME, ['m1'], 'delivered'));
  applyReceived(s, { ...received(BOB, 'r1', { type: 'read', message_ids: ['m1'] }), kind: 'receipt' });
  assert.equal(c?.messages[0]?.status, 'read');
  assert.ok(!raiseStatus(conversation(s, BOB), ME, ['m1'], 'delivered'), 'a status is never lowered');
});

test('a timer applies from its message’s time on (the CLI’s rule): older messages stay', () => {
  const s = state();
  const c = conversation(s, BOB);
  addMessage(c, { id: 'old', from: BOB, at: 1_000, body: { type: 'text', text: 'before' }, status: 'received' });
  applyReceived(s, received(BOB, 't', { type: 'timer', to: [ME], seconds: 5 }, 2_000));
  assert.equal(c.timer, 5);
  assert.equal(c.timerSince, 2_000);
  addMessage(c, { id: 'new', from: BOB, at: 3_000, body: { type: 'text', text: 'after' }, status: 'received' });
  assert.equal(purgeExpired(s, 7_000), 1, 'only the timer message itself has expired');
  assert.equal(purgeExpired(s, 8_000), 1, 'then the message after it');
  assert.deepEqual(c.messages.map((m) => m.id), ['old']);
  setTimer(c, null, 9_000);
  assert.equal(c.timerSince, null);
  assert.deepEqual([durationWords(86_400), durationWords(300), durationWords(90), durationWords(1)], ['1 day', '5 minutes', '90 seconds', '1 second']);
});

test('names, never ids: someone not yet looked up, or not in the directory, is not shown by id', () => {
  const s = state();
  assert.equal(personView(s, BOB).name, 'Looking up name…');
  s.people[BOB] = { name: '', specialty: '', npi: '', listed: false };
  assert.equal(personView(s, BOB).name, 'Unknown sender (not in the directory)');
  s.people[BOB] = { name: 'Dr. Bob Brennan', specialty: 'Dermatology', npi: '', listed: true };
  assert.equal(personView(s, BOB).name, 'Dr. Bob Brennan');
});

test('the enrollment form: each field says what to fix; the invite from the link’s fragment', () => {
  assert.equal(inviteFromFragment('#invite=cbs_inv_AbC-12_x'), 'cbs_inv_AbC-12_x');
  assert.equal(inviteFromFragment('#other=1&invite=cbs_dev_z'), 'cbs_dev_z');
  assert.equal(inviteFromFragment('#invite=<script>'), undefined);
  assert.ok(npiValid(npi('123456789')));
  assert.ok(!npiValid('1234567890'));
  const ok = { invite: 'cbs_inv_x', name: 'Dr. A', npi: npi('123456789'), specialty: 'Cardiology', passphrase: 'twelve chars!', confirmation: 'twelve chars!' };
  assert.deepEqual(checkEnrollForm(ok), {});
  const bad = checkEnrollForm({ invite: 'hello', name: ' ', npi: '123', specialty: '', passphrase: 'short', confirmation: 'other' });
  assert.deepEqual(Object.keys(bad).sort(), ['confirmation', 'invite', 'name', 'npi', 'passphrase', 'specialty']);
  assert.match(bad.npi ?? '', /10 digits/);
});
