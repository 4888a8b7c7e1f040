// Notifications for referrals (issue 17): what each change of a real
// ReferralInbox says (the colleague's name from the directory and the
// priority, never the patient), and which changes say nothing.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { referralNotice, watchReferrals } from '../src/app/referral-notices.js';
import { newState } from '../src/app/state.js';
import { ReferralInbox, type InboxEvent, type ReferralEnvelope } from '../src/client/referrals/index.js';
import { npi } from './live-helpers.js';

const ME = 'u_me';
const BOB = 'u_bob';
function envelope(over: Partial<ReferralEnvelope> = {}): ReferralEnvelope {
  return { referral_id: 'r0011223344556677', referring: BOB, receiving: ME, specialty: 'Cardiology', priority: 'urgent', status: 'requested', message_id: 'm1', reason_message_id: null, created_at: 1_000, updated_at: 1_000, ...over };
}

test('referral notices: a new referral to me names the referrer and the priority; one I sent, the colleague who answered; nothing else', () => {
  const inbox = new ReferralInbox(ME);
  const events: InboxEvent[] = [];
  inbox.onChange((e) => events.push(e));
  inbox.applyEnvelope(envelope());
  inbox.applyEnvelope(envelope({ status: 'accepted', updated_at: 2_000 })); // my own answer (another device): no notice
  inbox.applyEnvelope(envelope({ referral_id: 'r1', referring: ME, receiving: BOB, priority: 'stat' })); // sent by me
  inbox.applyEnvelope(envelope({ referral_id: 'r1', referring: ME, receiving: BOB, priority: 'stat', status: 'declined', updated_at: 3_000 }));
  inbox.applyEnvelope(envelope({ referral_id: 'r2', referring: ME, receiving: BOB, status: 'cancelled' })); // cancelled: by me
  inbox.applyEnvelope(envelope({ referral_id: 'r3', status: 'completed' })); // first seen answered already
  inbox.applyEnvelope(envelope({ referral_id: 'r4', priority: 'stat' }));
  const notices = events.map(referralNotice).map((n) => n && { user: n.userId, text: n.text('Dr. Bob Brennan'), tag: n.tag });
  assert.deepEqual(notices, [
    { user: BOB, text: 'New referral from Dr. Bob Brennan — urgent', tag: 'curbside-referral-r0011223344556677' },
    undefined,
    undefined,
    { user: BOB, text: 'Your referral was declined by Dr. Bob Brennan', tag: 'curbside-referral-r1' },
    undefined,
    undefined,
    { user: BOB, text: 'New referral from Dr. Bob Brennan — STAT', tag: 'curbside-referral-r4' },
  ]);
});

test('watchReferrals: the directory’s name (asked when not known; “a colleague” when it cannot be had), never the patient', async () => {
  const state = newState({ userId: ME, name: 'Dr. Me', npi: '', specialty: 'Cardiology' });
  const inbox = new ReferralInbox(ME);
  const shown: [string, string, string][] = [];
  let asked = 0;
  let offline = false;
  const client = {
    directory: async (q: { user_id?: string }) => {
      asked++;
      if (offline) throw new Error('offline');
      return q.user_id === BOB ? [{ user_id: BOB, display_name: 'Dr. Bob Brennan', specialty: 'Cardiology', npi: npi('123456789') }] : [];
    },
  };
  watchReferrals(inbox, { client, state }, (...a) => shown.push(a));
  inbox.applyEnvelope(envelope());
  await new Promise((r) => setTimeout(r, 10));
  state.people[BOB] = { name: 'Dr. Bob Brennan', specialty: 'Cardiology', npi: npi('123456789'), listed: true };
  inbox.applyEnvelope(envelope({ referral_id: 'r5', referring: ME, receiving: BOB }));
  inbox.applyEnvelope(envelope({ referral_id: 'r5', referring: ME, receiving: BOB, status: 'accepted', updated_at: 5_000 }));
  offline = true;
  inbox.applyEnvelope(envelope({ referral_id: 'r6', referring: 'u_carol' }));
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(shown, [
    ['Curbside', 'New referral from Dr. Bob Brennan — urgent', 'curbside-referral-r0011223344556677'],
    ['Curbside', 'Your referral was accepted by Dr. Bob Brennan', 'curbside-referral-r5'],
    ['Curbside', 'New referral from a colleague — urgent', 'curbside-referral-r6'],
  ]);
  assert.equal(asked, 2, 'a known name is not asked again');
});
