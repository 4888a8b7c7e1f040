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
