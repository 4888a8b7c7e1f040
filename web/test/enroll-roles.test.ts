// The enrollment form for the roles that give no NPI or specialty (issue
// 17): the invite link's `&role=`, a pasted link, the "I am a compliance
// officer" choice, and the server's refusal of a clinician's invite so made
// (the words on the NPI field).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { checkEnrollForm, enrollProfile, enrollRefusal, inviteFromFragment, parseInvite, roleFromFragment, roleNeedsNoNpi } from '../src/app/enroll-form.js';
import { npi } from './live-helpers.js';

const PASS = 'a long passphrase indeed';
const base = { invite: 'cbs_inv_AbC-12_x', name: 'Olga Officer', npi: '', specialty: '', passphrase: PASS, confirmation: PASS };

test('invite links: the role after the token, in either order; a link without one, or another role word, says none', () => {
  assert.equal(roleFromFragment('#invite=cbs_inv_AbC-12_x&role=compliance_officer'), 'compliance_officer');
  assert.equal(inviteFromFragment('#invite=cbs_inv_AbC-12_x&role=compliance_officer'), 'cbs_inv_AbC-12_x');
  assert.equal(roleFromFragment('#role=admin&invite=cbs_inv_z'), 'admin');
  assert.equal(roleFromFragment('#invite=cbs_inv_z&role=clinician'), 'clinician');
  assert.equal(roleFromFragment('#invite=cbs_inv_z'), undefined);
  assert.equal(roleFromFragment('#invite=cbs_inv_z&role=compliance_officerX'), undefined);
  assert.equal(roleFromFragment('#invite=cbs_inv_z&role=root'), undefined);
  assert.ok(roleNeedsNoNpi('compliance_officer') && roleNeedsNoNpi('admin'));
  assert.ok(!roleNeedsNoNpi('clinician') && !roleNeedsNoNpi(undefined));
});

test('a pasted link gives its token and role; a bare token stays as it is', () => {
  assert.deepEqual(parseInvite(' https://curbside.example:8443/#invite=cbs_inv_AbC&role=compliance_officer '), { token: 'cbs_inv_AbC', role: 'compliance_officer' });
  assert.deepEqual(parseInvite('https://curbside.example/#invite=cbs_inv_AbC'), { token: 'cbs_inv_AbC', role: undefined });
  assert.deepEqual(parseInvite('  cbs_inv_AbC\n'), { token: 'cbs_inv_AbC', role: undefined });
  assert.deepEqual(checkEnrollForm({ ...base, invite: 'https://h/#invite=cbs_inv_AbC&role=compliance_officer', officer: true }), {});
  assert.equal(enrollProfile({ ...base, invite: 'https://h/#invite=cbs_inv_AbC&role=compliance_officer', officer: true }).invite, 'cbs_inv_AbC');
});

test('a compliance officer is asked no NPI or specialty, and none is sent even if typed; a clinician still is', () => {
  assert.deepEqual(checkEnrollForm({ ...base, officer: true }), {});
  assert.deepEqual(checkEnrollForm({ ...base, officer: true, npi: '12', specialty: 'x'.repeat(101) }), {}, 'hidden fields are not checked');
  assert.deepEqual(enrollProfile({ ...base, officer: true, npi: npi('723456789'), specialty: 'Compliance' }), { invite: base.invite, displayName: 'Olga Officer', npi: '', specialty: '' });
  const clinician = checkEnrollForm(base);
  assert.equal(clinician.npi, 'Enter your 10-digit NPI.');
  assert.equal(clinician.specialty, 'Enter your specialty (for example Cardiology).');
  assert.deepEqual(enrollProfile({ ...base, npi: ` ${npi('723456789')} `, specialty: ' Cardiology ' }), { invite: base.invite, displayName: 'Olga Officer', npi: npi('723456789'), specialty: 'Cardiology' });
  assert.equal(checkEnrollForm({ ...base, officer: true, name: ' ' }).name, 'Enter your full name as colleagues know it.');
});

test('the server refusing an officer’s enrollment because the invite is a clinician’s: on the NPI field, saying so', () => {
  const message = 'invalid_request: a new user needs display_name; a clinician also needs a valid npi and a specialty';
  const r = enrollRefusal('invalid_request', message, true);
  assert.match(r.fields?.npi ?? '', /^This invite is for a clinician, not a compliance officer: enter your 10-digit NPI and your specialty/);
  assert.equal(r.error, undefined);
  assert.match(enrollRefusal('invalid_request', message, false).error ?? '', /^Enrollment failed/, 'not an officer: a general error');
  assert.match(enrollRefusal('invalid_invite', 'x', true).fields?.invite ?? '', /unknown or was already used/);
  assert.match(enrollRefusal('invite_expired', 'x', false).fields?.invite ?? '', /expired/);
  assert.match(enrollRefusal(undefined, 'network', true).error ?? '', /check your connection/);
});

test('any other refusal shows the server’s own words (they say what to do), not “check your connection”; only no answer at all says that', () => {
  // The server's refusals at enrollment (server/src/http/enroll.rs), as the model passes a ServerError's message.
  const cases: [string, string, RegExp][] = [
    ['invalid_request', 'invalid_request: a new user needs display_name; a clinician also needs a valid npi and a specialty', /the server says “a new user needs display_name; a clinician also needs a valid npi and a specialty”/],
    ['invalid_request', 'invalid_request: display_name must be 1 to 200 characters', /“display_name must be 1 to 200 characters”/],
    ['invalid_request', 'invalid_request: identity_key must be 128 bytes', /“identity_key must be 128 bytes”/],
    ['auth_failed', "auth_failed: the enrollment proof does not verify: sign this server's name, this invite and its purpose with the identity key", /“the enrollment proof does not verify: sign this server's name/],
  ];
  for (const officer of [false, true]) {
    for (const [code, message, words] of cases) {
      if (officer && /clinician/.test(message)) continue; // on the NPI field (the test above)
      const r = enrollRefusal(code, message, officer);
      assert.equal(r.fields, undefined, message);
      assert.match(r.error ?? '', words);
      assert.match(r.error ?? '', /the invite was not used/);
      assert.doesNotMatch(r.error ?? '', /check your connection/, message);
      assert.doesNotMatch(r.error ?? '', new RegExp(`${code}:`), 'without the code prefix');
    }
  }
  assert.match(enrollRefusal('internal', 'internal: storage failed', false).error ?? '', /“storage failed”.*Try again in a moment/);
  assert.match(enrollRefusal('internal', 'internal: HTTP 502', false).error ?? '', /answered HTTP 502; try again in a moment/);
  assert.match(enrollRefusal('invalid_npi', 'invalid_npi: the NPI check digit is wrong', false).fields?.npi ?? '', /\(the NPI check digit is wrong\)/);
  assert.match(enrollRefusal(undefined, 'POST /v1/enroll: fetch failed', false).error ?? '', /^Enrollment failed: check your connection and try again/);
});
