// The administrator's console model without a browser (a fake server): the
// users with their NPI check digit, pending clinicians first, the requests
// each action makes, the "recorded in the audit log" results naming the
// person, errors that say what to do, and the enrollment form accepting the
// bootstrap token without NPI or specialty.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { AdminConsole } from '../src/app/admin.js';
import { checkEnrollForm } from '../src/app/enroll-form.js';
import { ServerError } from '../src/protocol/errors.js';
import { npi } from './live-helpers.js';

const ME = 'u00000000000000000000000a';
const BOB = 'u00000000000000000000000b';
const EVE = 'u00000000000000000000000e';

function fake(): { calls: string[]; http: { json(m: string, p: string, b?: unknown): Promise<unknown> }; fail?: string } {
  const calls: string[] = [];
  const f: { calls: string[]; http: { json(m: string, p: string, b?: unknown): Promise<unknown> }; fail?: string } = {
    calls,
    http: {
      async json(m, p, b) {
        calls.push(`${m} ${p}${b === undefined ? '' : ` ${JSON.stringify(b)}`}`);
        if (f.fail !== undefined && m === 'POST') throw new ServerError(f.fail, 'refused');
        if (p === '/v1/admin/users')
          return [
            { user_id: ME, display_name: 'Ada Admin', npi: null, specialty: null, roles: ['admin'], verified: false, devices: [{ device_id: 1, created_at: 1, revoked_at: null }] },
            { user_id: EVE, display_name: 'Dr. Eve Evans', npi: '1234567890', specialty: 'Oncology', roles: ['clinician'], verified: true, devices: [] },
            { user_id: BOB, display_name: 'Dr. Bob Brennan', npi: npi('123456789'), specialty: 'Dermatology', roles: ['clinician'], verified: false, devices: [{ device_id: 2, created_at: 1, revoked_at: 5 }] },
          ];
        if (p === '/v1/admin/invites') return { invite: 'cbs_inv_abc', expires_at: 10_000 };
        if (p.endsWith('/deactivate')) return { user_id: BOB, deactivated_at: 9, devices_revoked: [3], messages_dropped: 0 };
        return null;
      },
    },
  };
  return f;
}

test('the users: pending clinicians first, the NPI check digit computed, roles in words, devices active or revoked', async () => {
  const f = fake();
  const c = new AdminConsole(f.http, 'https://curbside.example', ME, () => undefined);
  await c.refresh();
  assert.deepEqual(c.users.map((u) => u.name), ['Dr. Bob Brennan', 'Ada Admin', 'Dr. Eve Evans']);
  const [bob, ada, eve] = c.users;
  assert.equal(bob?.pending, true);
  assert.equal(bob?.npiValid, true);
  assert.equal(eve?.npiValid, false, '1234567890 fails the 80840 Luhn check');
  assert.equal(ada?.npiValid, undefined);
  assert.deepEqual(ada?.roles, ['Administrator']);
  assert.equal(ada?.isMe, true);
  assert.equal(bob?.devices[0]?.active, false);
});

test('each action makes its request and says, naming the person, that it was audited', async () => {
  const f = fake();
  const c = new AdminConsole(f.http, 'https://curbside.example', ME, () => undefined);
  await c.refresh();
  assert.equal((await c.verify(BOB)).text, 'Verified Dr. Bob Brennan — recorded in the audit log.');
  assert.equal((await c.grantOfficer(BOB)).text, 'Granted compliance officer to Dr. Bob Brennan — recorded in the audit log.');
  assert.equal((await c.revokeDevice(BOB, 2)).text, 'Revoked device 2 of Dr. Bob Brennan — recorded in the audit log.');
  assert.equal((await c.deactivate(BOB)).text, 'Deactivated Dr. Bob Brennan (1 device revoked) — recorded in the audit log.');
  const inv = await c.invite('compliance_officer', 24);
  assert.equal(inv.invite?.link, 'https://curbside.example/#invite=cbs_inv_abc&role=compliance_officer', 'the link says the role: the form asks no NPI');
  assert.ok((inv.invite?.qr.length ?? 0) > 20);
  await c.deviceInvite(BOB);
  const posts = f.calls.filter((x) => x.startsWith('POST'));
  assert.deepEqual(posts, [
    `POST /v1/admin/users/${BOB}/verify`,
    `POST /v1/admin/users/${BOB}/roles {"role":"compliance_officer"}`,
    `POST /v1/admin/users/${BOB}/devices/2/revoke`,
    `POST /v1/admin/users/${BOB}/deactivate`,
    'POST /v1/admin/invites {"target":{"for":"new_user","role":"compliance_officer"},"expires_in_secs":86400}',
    `POST /v1/admin/invites {"target":{"for":"new_device","user_id":"${BOB}"},"expires_in_secs":259200}`,
  ]);
});

test('a refusal names the person and says what to do; the id only in the details', async () => {
  const f = fake();
  const c = new AdminConsole(f.http, 'https://curbside.example', ME, () => undefined);
  await c.refresh();
  f.fail = 'forbidden';
  const r = await c.verify(BOB);
  assert.equal(r.ok, false);
  assert.match(r.text, /^Verifying Dr\. Bob Brennan failed\. .*Ask another administrator\.$/);
  assert.doesNotMatch(r.text, /u0000/);
  assert.equal(r.details, `User ${BOB}`);
});

test('the enrollment form: the bootstrap token needs no NPI or specialty; an invite still does', () => {
  const base = { name: 'Ada Admin', npi: '', specialty: '', passphrase: 'a long passphrase', confirmation: 'a long passphrase' };
  assert.deepEqual(checkEnrollForm({ ...base, invite: 'cbs_boot_abcDEF-1' }), {});
  const e = checkEnrollForm({ ...base, invite: 'cbs_inv_abcDEF-1' });
  assert.ok(e.npi !== undefined && e.specialty !== undefined);
  assert.ok(checkEnrollForm({ ...base, invite: 'cbs_boot_abc', npi: '1234567890' }).npi, 'an NPI given is still checked');
});
