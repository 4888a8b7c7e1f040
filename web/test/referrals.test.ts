// Referrals offline: the form's field-by-field validation, the FHIR content
// (as client/src/fhir.rs and bundle.rs write it: same fields, keys sorted as
// serde_json does, fullUrls derived alike), the lifecycle's rules, the inbox
// binding content to its envelope, and the EHR export valid against HL7's
// FHIR R4 JSON schema for every status.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { AttachmentRef } from '../src/client/content.js';
import {
  allowedTransitions,
  applyTransition,
  buildReferral,
  canonicalJson,
  checkPatient,
  FhirError,
  fullUrl,
  parseReferralBundle,
  ReferralInbox,
  STATUSES,
  TRANSITIONS,
  type BuiltReferral,
  type ReferralEnvelope,
  type ReferralInput,
  type Status,
} from '../src/client/referrals/index.js';
import { fhirR4Problems } from './referrals-fhir.js';

const ALICE = { user_id: 'u000000000000000000000a11', display_name: 'Dr. Alice Adeyemi', npi: '1234567893', specialty: 'Internal Medicine' };
const BOB = { user_id: 'u000000000000000000000b0b', display_name: 'Dr. Bob Brennan', npi: '1245319599', specialty: 'Dermatology' };
const FILE: AttachmentRef = { attachment_id: '0123456789abcdef0123456789abcdef', key: 'A'.repeat(43) + '=', digest: 'B'.repeat(42) + 'A=', name: 'rash.jpg', size: 100_000 };

function form(over: Partial<ReferralInput> = {}): ReferralInput {
  return {
    patient: {
      family: 'Roe',
      given: ['Jane', 'Q.'],
      birthDate: '1961-04-02',
      sex: 'female',
      identifiers: [{ system: 'urn:oid:2.16.840.1.113883.19.5', value: 'MRN-451|234', type: 'MR' }],
    },
    reason: 'Pruritic rash, 3 weeks',
    note: 'No response to topical steroids.',
    priority: 'urgent',
    specialty: 'Dermatology',
    from: ALICE,
    to: BOB,
    attachments: [FILE],
    referralId: 'r0011223344556677',
    authoredAtMs: Date.UTC(2026, 10, 23, 10, 0, 0, 0),
    ...over,
  };
}

function built(over: Partial<ReferralInput> = {}): BuiltReferral {
  const r = buildReferral(form(over));
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.referral;
}

test("each form field's error names the field and says what to do", () => {
  const p = form().patient;
  const cases: [Partial<ReferralInput>, string, RegExp][] = [
    [{ patient: { ...p, family: ' ', given: [], text: '' } }, 'patient.name', /Enter the patient's name/],
    [{ patient: { ...p, birthDate: '04/02/1961' } }, 'patient.birthDate', /^Birth date must be a date like 1961-04-02$/],
    [{ patient: { ...p, birthDate: '1961-02-30' } }, 'patient.birthDate', /like 1961-04-02/],
    [{ patient: { ...p, birthDate: '2999-01-01' } }, 'patient.birthDate', /future: check the year/],
    [{ patient: { ...p, sex: 'f' as never } }, 'patient.sex', /male, female, other or unknown/],
    [{ patient: { ...p, identifiers: [{ system: '', value: '1' }] } }, 'patient.identifiers[0].system', /Give the system/],
    [{ patient: { ...p, identifiers: [{ system: 'hospital mrn', value: '1' }] } }, 'patient.identifiers[0].system', /must be a URI/],
    [{ patient: { ...p, identifiers: [{ system: 'urn:mrn', value: '' }] } }, 'patient.identifiers[0].value', /Enter the identifier/],
    [{ patient: { ...p, identifiers: [{ system: 'urn:mrn', value: '1', type: 'XX' as never }] } }, 'patient.identifiers[0].type', /must be MR/],
    [{ reason: '  ' }, 'reason', /Say why you are referring/],
    [{ priority: 'asap' }, 'priority', /routine, urgent or stat/],
    [{ specialty: '' }, 'specialty', /Choose the specialty/],
    [{ specialty: 'x'.repeat(101) }, 'specialty', /at most 100/],
    [{ to: undefined }, 'to', /Choose the receiving clinician/],
    [{ to: ALICE }, 'to', /another clinician/],
    [{ specialty: 'Cardiology' }, 'to', /Dr. Bob Brennan is not listed in Cardiology/],
    [{ attachments: [{ ...FILE, key: 'short' }] }, 'attachments[0]', /upload it again/],
    [{ attachments: [{ ...FILE, name: ' ' }] }, 'attachments[0].name', /Give the attached file a name/],
    [{ referralId: 'no spaces allowed' }, 'referralId', /A-Z a-z 0-9 - _/],
  ];
  for (const [over, field, message] of cases) {
    const r = buildReferral(form(over));
    assert.equal(r.ok, false, `${field} should be refused`);
    if (r.ok) continue;
    assert.deepEqual(
      r.errors.map((e) => e.field),
      [field],
      `${JSON.stringify(over)}: ${JSON.stringify(r.errors)}`,
    );
    assert.match(r.errors[0]?.message ?? '', message);
  }
  // Several faults at once: every field named, in form order.
  const r = buildReferral(form({ patient: { ...p, birthDate: 'x', sex: 'q' as never }, reason: '', to: undefined }));
  assert.ok(!r.ok);
  if (!r.ok) assert.deepEqual(r.errors.map((e) => e.field), ['patient.sex', 'patient.birthDate', 'reason', 'to']);
  // Partial dates are FHIR dates; a name given as text alone is a name.
  assert.ok(buildReferral(form({ patient: { text: 'Jane Q. Roe', birthDate: '1961-04' } })).ok);
  assert.ok(buildReferral(form({ patient: { text: 'Jane Q. Roe', birthDate: '1961' } })).ok);
});

test('the form builds the Patient, the collection Bundle and the referral content as refer create does', () => {
  const r = built();
  assert.deepEqual(r.patient, {
    resourceType: 'Patient',
    name: [{ family: 'Roe', given: ['Jane', 'Q.'] }],
    gender: 'female',
    birthDate: '1961-04-02',
    identifier: [
      {
        system: 'urn:oid:2.16.840.1.113883.19.5',
        value: 'MRN-451|234',
        type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR', display: 'Medical record number' }], text: 'MRN' },
      },
    ],
  });
  // The CLI would accept it as a patient file.
  assert.doesNotThrow(() => checkPatient(JSON.parse(JSON.stringify(r.patient))));
  assert.deepEqual(Object.keys(r.content), ['type', 'referral_id', 'bundle', 'attachments']);
  assert.equal(r.content.referral_id, 'r0011223344556677');
  assert.deepEqual(r.content.attachments, [FILE]);
  assert.equal(r.content.bundle, r.bundleJson);
  // serde_json's bytes: compact, every object's keys sorted.
  assert.equal(r.bundleJson, canonicalJson(JSON.parse(r.bundleJson)));
  assert.ok(r.bundleJson.startsWith('{"entry":[{"fullUrl":"urn:uuid:'), r.bundleJson.slice(0, 60));
  const b = JSON.parse(r.bundleJson);
  assert.equal(b.type, 'collection');
  assert.deepEqual(b.entry.map((e: { resource: { resourceType: string } }) => e.resource.resourceType), ['ServiceRequest', 'Patient', 'Practitioner', 'Practitioner', 'Task']);
  const sr = b.entry[0].resource;
  assert.equal(sr.status, 'active');
  assert.equal(sr.priority, 'urgent');
  assert.equal(sr.authoredOn, '2026-11-23T10:00:00.000Z');
  assert.deepEqual(sr.code, { text: 'Referral to Dermatology' });
  assert.deepEqual(sr.note, [{ text: 'Pruritic rash, 3 weeks\n\nNo response to topical steroids.' }]);
  assert.deepEqual(sr.subject, { reference: fullUrl('r0011223344556677', 'patient'), display: 'Jane Q. Roe' });
  assert.deepEqual(b.entry[3].resource.identifier, [
    { system: 'http://hl7.org/fhir/sid/us-npi', value: '1245319599' },
    { system: 'urn:curbside:user', value: BOB.user_id },
  ]);
  assert.equal(b.entry[4].resource.status, 'requested');
  assert.ok(b.entry.every((e: object) => !('request' in e)));
  // Read back as the receiving client reads it.
  const read = parseReferralBundle(r.bundleJson);
  assert.equal(read.note, sr.note[0].text);
  assert.deepEqual(read.practitioners.map((p) => p.userId), [ALICE.user_id, BOB.user_id]);
  // Without a note, the reason alone; without a random source or id, no referral.
  assert.deepEqual(JSON.parse(built({ note: undefined }).bundleJson).entry[0].resource.note, [{ text: 'Pruritic rash, 3 weeks' }]);
  assert.throws(() => buildReferral(form({ referralId: undefined })), TypeError);
  const made = buildReferral(form({ referralId: undefined }), (n) => new Uint8Array(n).fill(0xab));
  assert.ok(made.ok && made.referral.referralId === 'rabababababababab');
});

test('fullUrls are version-8 UUIDs of the referral id and role, one per role and referral', () => {
  const u = fullUrl('r1', 'patient');
  assert.match(u, /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(u.length, 45);
  assert.equal(u, fullUrl('r1', 'patient'));
  assert.notEqual(u, fullUrl('r2', 'patient'));
  assert.notEqual(u, fullUrl('r1', 'task'));
});

test("canonicalJson writes serde_json's bytes: sorted keys, compact, its escapes", () => {
  assert.equal(canonicalJson({ b: 1, a: [true, null, { z: 'x', A: '"\\\n\u0001é/' }] }), '{"a":[true,null,{"A":"\\"\\\\\\n\\u0001é/","z":"x"}],"b":1}');
});

test('checkPatient refuses what Patient::parse refuses, naming the same field', () => {
  const cases: [unknown, string][] = [
    ['not an object', 'Patient'],
    [{ resourceType: 'Practitioner', name: [{ family: 'X' }] }, 'Patient.resourceType'],
    [{ resourceType: 'Patient' }, 'Patient.name'],
    [{ resourceType: 'Patient', name: [{ use: 'official' }] }, 'Patient.name[0]'],
    [{ resourceType: 'Patient', name: [{ text: '  ' }] }, 'Patient.name[0]'],
    [{ resourceType: 'Patient', name: [{ text: ['Jane'] }] }, 'Patient.name[0].text'],
    [{ resourceType: 'Patient', name: [{ family: ['Roe'] }] }, 'Patient.name[0].family'],
    [{ resourceType: 'Patient', name: [{ given: 'Jane' }] }, 'Patient.name[0].given'],
    [{ resourceType: 'Patient', name: [{ family: 'R' }], gender: 'f' }, 'Patient.gender'],
    [{ resourceType: 'Patient', name: [{ family: 'R' }], birthDate: '04/02/1961' }, 'Patient.birthDate'],
    [{ resourceType: 'Patient', name: [{ family: 'R' }], birthDate: '1961-13-02' }, 'Patient.birthDate'],
    [{ resourceType: 'Patient', name: [{ family: 'R' }], id: 'has space' }, 'Patient.id'],
  ];
  for (const [v, field] of cases) {
    assert.throws(() => checkPatient(v), (e: unknown) => e instanceof FhirError && e.field === field, JSON.stringify(v));
  }
  assert.throws(() => parseReferralBundle('{"resourceType":"Bundle","entry":[]}'), (e: unknown) => e instanceof FhirError && e.field === 'Bundle.entry');
});

test('the lifecycle allows exactly the documented transitions, each to its party', () => {
  const allowed: string[] = [];
  for (const t of TRANSITIONS) for (const s of STATUSES) if (applyTransition(t, s)) allowed.push(`${s} ${t} ${applyTransition(t, s)}`);
  assert.deepEqual(allowed, ['requested accept accepted', 'requested decline declined', 'requested cancel cancelled', 'accepted complete completed']);
  const r = (status: Status) => ({ referring: 'a', receiving: 'b', status });
  assert.deepEqual(allowedTransitions(r('requested'), 'a'), ['cancel']);
  assert.deepEqual(allowedTransitions(r('requested'), 'b'), ['accept', 'decline']);
  assert.deepEqual(allowedTransitions(r('accepted'), 'a'), []);
  assert.deepEqual(allowedTransitions(r('accepted'), 'b'), ['complete']);
  for (const s of ['declined', 'cancelled', 'completed'] as const) assert.deepEqual([...allowedTransitions(r(s), 'a'), ...allowedTransitions(r(s), 'b')], []);
});

function envelope(over: Partial<ReferralEnvelope> = {}): ReferralEnvelope {
  return {
    referral_id: 'r0011223344556677',
    referring: ALICE.user_id,
    receiving: BOB.user_id,
    specialty: 'Dermatology',
    priority: 'urgent',
    status: 'requested',
    message_id: 'm-content',
    reason_message_id: null,
    created_at: Date.UTC(2026, 10, 23, 10, 0, 1),
    updated_at: Date.UTC(2026, 10, 23, 10, 0, 1),
    ...over,
  };
}

test('the inbox joins envelopes with content bound to them, and says what this clinician may do', () => {
  const r = built();
  const inbox = new ReferralInbox(BOB.user_id);
  const events: string[] = [];
  inbox.onChange((e) => events.push(`${e.type} ${e.item.status}`));
  const from = (user_id: string) => ({ user_id, device_id: 1 });
  // Content first (as the CLI sends it), from someone else under the same referral id: not bound.
  inbox.applyMessage({ messageId: 'm-forged', sender: from('u_mallory'), content: r.content });
  assert.equal(inbox.applyMessage({ messageId: 'm-content', sender: from(ALICE.user_id), content: r.content }), true);
  assert.equal(inbox.applyMessage({ messageId: 'm-text', sender: from(ALICE.user_id), content: { type: 'text', to: [], text: 'hi' } }), false);
  assert.deepEqual(inbox.list(), []);
  inbox.applyEnvelope(envelope());
  let item = inbox.item(r.referralId);
  assert.ok(item);
  assert.equal(item.direction, 'in');
  assert.deepEqual(item.allowed, ['accept', 'decline']);
  assert.deepEqual(item.patient, { name: 'Jane Q. Roe', birthDate: '1961-04-02', sex: 'female', identifiers: [{ system: 'urn:oid:2.16.840.1.113883.19.5', value: 'MRN-451|234' }] });
  assert.equal(item.referring.name, 'Dr. Alice Adeyemi');
  assert.equal(item.attachments.length, 1);
  // An envelope naming the forged message shows no content.
  const other = new ReferralInbox(BOB.user_id);
  other.applyMessage({ messageId: 'm-forged', sender: from('u_mallory'), content: r.content });
  other.applyEnvelope(envelope({ message_id: 'm-forged' }));
  assert.equal(other.item(r.referralId)?.patient, undefined);
  // Declined, with its reason; an older envelope after it changes nothing.
  inbox.applyMessage({ messageId: 'm-why-forged', sender: from(ALICE.user_id), content: { type: 'referral_reason', referral_id: r.referralId, reason: 'forged' } });
  inbox.recordSent('m-why', { type: 'referral_reason', referral_id: r.referralId, reason: 'Not accepting new patients' });
  inbox.applyEnvelope(envelope({ status: 'declined', reason_message_id: 'm-why', updated_at: envelope().updated_at + 5 }));
  inbox.applyEnvelope(envelope());
  item = inbox.item(r.referralId);
  assert.equal(item?.status, 'declined');
  assert.equal(item?.reason, 'Not accepting new patients');
  assert.deepEqual(item?.allowed, []);
  assert.deepEqual(events, ['created requested', 'changed declined']);
  // The sealed store's JSON round-trips.
  const back = new ReferralInbox(BOB.user_id, JSON.parse(JSON.stringify(inbox.toJSON())));
  assert.deepEqual(back.list(), inbox.list());
  // Not a party: ignored.
  assert.equal(new ReferralInbox('u_someone').applyEnvelope(envelope()), undefined);
});

test("the EHR export is refer export's transaction Bundle and valid FHIR R4 (HL7's JSON schema) in every status", () => {
  const r = built();
  const statuses: [Status, string, string, string | undefined][] = [
    ['requested', 'active', 'requested', undefined],
    ['accepted', 'active', 'accepted', undefined],
    ['declined', 'revoked', 'rejected', 'Not accepting new patients'],
    ['cancelled', 'revoked', 'cancelled', 'Patient moved'],
    ['completed', 'completed', 'completed', undefined],
  ];
  for (const [status, sr, task, reason] of statuses) {
    const author = status === 'cancelled' ? ALICE.user_id : BOB.user_id;
    const inbox = new ReferralInbox(BOB.user_id);
    inbox.applyMessage({ messageId: 'm-content', sender: { user_id: ALICE.user_id, device_id: 1 }, content: r.content });
    if (reason !== undefined) inbox.applyMessage({ messageId: 'm-why', sender: { user_id: author, device_id: 1 }, content: { type: 'referral_reason', referral_id: r.referralId, reason } });
    inbox.applyEnvelope(envelope({ status, reason_message_id: reason === undefined ? null : 'm-why', updated_at: Date.UTC(2026, 10, 24, 9, 0, 0) }));
    const b = inbox.exportBundle(r.referralId, Date.UTC(2026, 10, 24, 9, 30, 0)) as Record<string, any>;
    assert.ok(b);
    assert.deepEqual(fhirR4Problems(b), [], status);
    assert.equal(b['type'], 'transaction');
    assert.equal(b['timestamp'], '2026-11-24T09:30:00.000Z');
    assert.equal(b['entry'][0].resource.status, sr);
    assert.equal(b['entry'][4].resource.status, task);
    assert.equal(b['entry'][4].resource.lastModified, '2026-11-24T09:00:00.000Z');
    assert.deepEqual(b['entry'][4].resource.statusReason, reason === undefined ? undefined : { text: reason });
    assert.deepEqual(b['entry'][0].request, { method: 'PUT', url: `ServiceRequest?identifier=urn:curbside:referral|${r.referralId}` });
    assert.deepEqual(b['entry'][1].request, { method: 'POST', url: 'Patient', ifNoneExist: 'identifier=urn:oid:2.16.840.1.113883.19.5|MRN-451\\|234' });
    assert.deepEqual(b['entry'][3].request, { method: 'POST', url: 'Practitioner', ifNoneExist: 'identifier=http://hl7.org/fhir/sid/us-npi|1245319599' });
    assert.equal(b['entry'][0].resource.authoredOn, '2026-11-23T10:00:00.000Z');
  }
  // The validator is not vacuous: a bad code, an unknown element and a dangling reference are named.
  const inbox = new ReferralInbox(BOB.user_id);
  inbox.applyMessage({ messageId: 'm-content', sender: { user_id: ALICE.user_id, device_id: 1 }, content: r.content });
  inbox.applyEnvelope(envelope());
  const bad = JSON.parse(JSON.stringify(inbox.exportBundle(r.referralId)));
  bad.entry[1].resource.gender = 'f';
  bad.entry[0].resource.priority = 'whenever';
  bad.entry[4].resource.focus.reference = 'urn:uuid:00000000-0000-8000-8000-000000000000';
  const problems = fhirR4Problems(bad);
  assert.ok(problems.some((p) => p.startsWith('entry[1] Patient')), problems.join('\n'));
  assert.ok(problems.some((p) => p.includes('priority (ServiceRequest)')), problems.join('\n'));
  assert.ok(problems.some((p) => p.startsWith('unresolved reference')), problems.join('\n'));
});

test('src/client/referrals has no DOM, no I/O of its own and no logging; it imports only the crypto core, the protocol and the client', async () => {
  const { readdirSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { readText, WEB_DIR } = await import('./helpers.js');
  const dir = join(WEB_DIR, 'src', 'client', 'referrals');
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
  assert.ok(files.length >= 4, 'the referral module was found');
  const forbidden = /\b(window|document|indexedDB|localStorage|sessionStorage|fetch|XMLHttpRequest|WebSocket|process|require|Buffer|console)\b/;
  for (const f of files) {
    const source = readText(join(dir, f));
    for (const [, spec] of source.matchAll(/(?:from|import)\s*'([^']+)'/g)) {
      assert.ok(spec !== undefined && /^(\.\/|\.\.\/(content|client)\.js$|\.\.\/\.\.\/(crypto|protocol)\/)/.test(spec), `${f} imports ${spec}`);
    }
    const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    const hit = forbidden.exec(code);
    assert.equal(hit, null, `${f} uses ${hit?.[0]}`);
    assert.ok(source.split('\n').length < 600, `${f} is ${source.split('\n').length} lines`);
  }
});
