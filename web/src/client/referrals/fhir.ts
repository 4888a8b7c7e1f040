/**
 * The FHIR R4 resources of a referral, as `client/src/fhir.rs` and
 * `client/src/fhir/bundle.rs` build them, byte for byte:
 *
 * - {@link referralBundle}: the Bundle of type `collection` sent end to end
 *   encrypted (the `bundle` of a `referral` content);
 * - {@link ehrBundle}: the Bundle of type `transaction` `refer export` writes
 *   for an EHR (each entry with its conditional `request`).
 *
 * The entries, in order: ServiceRequest, Patient, requester and performer
 * Practitioners (by NPI and Curbside user id), Task. Every `fullUrl` is a
 * `urn:uuid:` derived from the referral id and the entry's role.
 *
 * The Rust client serializes with serde_json's default map (a BTreeMap):
 * every object's keys sorted by their bytes, no whitespace. {@link canonicalJson}
 * writes the same bytes, so a Bundle built here equals the CLI's.
 */

import { utf8 } from '../../crypto/bytes.js';
import { sha256 } from '../../crypto/primitives.js';

export const NPI_SYSTEM = 'http://hl7.org/fhir/sid/us-npi';
export const USER_SYSTEM = 'urn:curbside:user';
export const REFERRAL_SYSTEM = 'urn:curbside:referral';

export type Status = 'requested' | 'accepted' | 'declined' | 'cancelled' | 'completed';
export type Priority = 'routine' | 'urgent' | 'stat';
export const STATUSES: readonly Status[] = ['requested', 'accepted', 'declined', 'cancelled', 'completed'];
export const PRIORITIES: readonly Priority[] = ['routine', 'urgent', 'stat'];

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

/** Why a FHIR document was refused; `field` is its path (e.g. `Patient.birthDate`). */
export class FhirError extends Error {
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${field}: ${problem}`);
    this.name = 'FhirError';
  }
}

// ---- canonical JSON (serde_json's bytes) -------------------------------

function byBytes(a: string, b: string): number {
  // Code point order is UTF-8 byte order (Rust's String ordering).
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i] as string).codePointAt(0)! - (y[i] as string).codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/** JSON as serde_json writes a `Value` without `preserve_order`: keys sorted, compact. */
export function canonicalJson(v: Json): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(v).sort(byBytes);
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k] as Json)}`).join(',')}}`;
}

// ---- Patient ----------------------------------------------------------------

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const nonBlank = (s: unknown): boolean => typeof s === 'string' && s.trim() !== '';

/** A FHIR date: YYYY, YYYY-MM or YYYY-MM-DD (as `is_fhir_date`). */
export function isFhirDate(s: string): boolean {
  const parts = s.split('-');
  const digits = (p: string | undefined, n: number): boolean => p !== undefined && p.length === n && /^[0-9]+$/.test(p);
  const month = (p: string): boolean => Number(p) >= 1 && Number(p) <= 12;
  const day = (p: string): boolean => Number(p) >= 1 && Number(p) <= 31;
  const [y, m, d] = parts;
  if (parts.length === 1) return digits(y, 4);
  if (parts.length === 2) return digits(y, 4) && digits(m, 2) && month(m as string);
  if (parts.length === 3) return digits(y, 4) && digits(m, 2) && digits(d, 2) && month(m as string) && day(d as string);
  return false;
}

/**
 * Validates a Patient resource as `Patient::parse` does (same fields, same
 * order of checks); throws a {@link FhirError} naming the field.
 */
export function checkPatient(v: unknown): JsonObject {
  if (!isObject(v)) throw new FhirError('Patient', 'must be a JSON object');
  const t = v['resourceType'];
  if (t === undefined) throw new FhirError('Patient.resourceType', 'missing');
  if (t !== 'Patient') throw new FhirError('Patient.resourceType', `must be "Patient", not ${JSON.stringify(t)}`);
  const names = v['name'];
  if (names === undefined) throw new FhirError('Patient.name', "missing: a referral needs the patient's name");
  if (!Array.isArray(names) || names.length === 0) throw new FhirError('Patient.name', 'must be a non-empty array of HumanName');
  names.forEach((n, i) => {
    const field = `Patient.name[${i}]`;
    if (!isObject(n)) throw new FhirError(field, 'must be a HumanName object');
    if (n['text'] !== undefined && typeof n['text'] !== 'string') throw new FhirError(`${field}.text`, 'must be a string');
    if (n['family'] !== undefined && typeof n['family'] !== 'string') throw new FhirError(`${field}.family`, 'must be a string');
    const g = n['given'];
    if (g !== undefined && !(Array.isArray(g) && g.every((x) => typeof x === 'string'))) {
      throw new FhirError(`${field}.given`, 'must be an array of strings');
    }
    const given = Array.isArray(g) && g.some(nonBlank);
    if (!nonBlank(n['text']) && !nonBlank(n['family']) && !given) throw new FhirError(field, 'needs text, family or given');
  });
  const gender = v['gender'];
  if (gender !== undefined && !['male', 'female', 'other', 'unknown'].includes(gender as string)) {
    throw new FhirError('Patient.gender', 'must be male, female, other or unknown');
  }
  const bd = v['birthDate'];
  if (bd !== undefined && !(typeof bd === 'string' && isFhirDate(bd))) {
    throw new FhirError('Patient.birthDate', 'must be a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD)');
  }
  const id = v['id'];
  if (id !== undefined && !(typeof id === 'string' && /^[A-Za-z0-9.-]{1,64}$/.test(id))) {
    throw new FhirError('Patient.id', 'must be 1 to 64 of A-Z a-z 0-9 - .');
  }
  return v;
}

/** The first name: its `text` if it has one, else "Given Family" (as `display_name`). */
export function patientDisplayName(p: JsonObject): string {
  const names = p['name'];
  const n = Array.isArray(names) ? names[0] : undefined;
  if (!isObject(n)) return '';
  if (nonBlank(n['text'])) return (n['text'] as string).trim();
  const parts: string[] = Array.isArray(n['given']) ? n['given'].filter((g): g is string => typeof g === 'string') : [];
  if (typeof n['family'] === 'string') parts.push(n['family']);
  return parts.filter((x) => x.trim() !== '').join(' ');
}

/** `system|value` of the first identifier with both, escaped as a FHIR search parameter. */
export function searchIdentifier(p: JsonObject): string | undefined {
  const esc = (s: string): string => s.replace(/[\\|,$]/g, (c) => `\\${c}`);
  const ids = p['identifier'];
  if (!Array.isArray(ids)) return undefined;
  for (const i of ids) {
    if (isObject(i) && typeof i['system'] === 'string' && typeof i['value'] === 'string') return `${esc(i['system'])}|${esc(i['value'])}`;
  }
  return undefined;
}

// ---- the Bundle ---------------------------------------------------------------

/** A clinician in the Bundle: Curbside user id, NPI and name as the directory gives them. */
export interface Practitioner {
  readonly userId: string;
  readonly npi?: string | undefined;
  readonly name?: string | undefined;
}

/** What the Bundle says besides the patient (`bundle::Request`). */
export interface BundleRequest {
  readonly referralId: string;
  readonly status: Status;
  readonly priority: Priority;
  readonly specialty: string;
  readonly requester: Practitioner;
  readonly performer: Practitioner;
  readonly note?: string | undefined;
  readonly statusReason?: string | undefined;
  /** A FHIR dateTime, as `format_time_ms` writes it (`2026-11-23T10:00:00.000Z`). */
  readonly authoredOn: string;
  readonly lastModified?: string | undefined;
}

/** `format_time_ms`: milliseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`. */
export function formatTimeMs(ms: number): string {
  return new Date(ms).toISOString();
}

export function serviceRequestStatus(s: Status): string {
  return s === 'requested' || s === 'accepted' ? 'active' : s === 'completed' ? 'completed' : 'revoked';
}

export function taskStatus(s: Status): string {
  return { requested: 'requested', accepted: 'accepted', declined: 'rejected', cancelled: 'cancelled', completed: 'completed' }[s];
}

/** The `urn:uuid:` of an entry: SHA-256 of a versioned label, the referral id and the role, as a version-8 UUID. */
export function fullUrl(referralId: string, role: string): string {
  const label = utf8('curbside fhir fullUrl v1\0');
  const id = utf8(referralId);
  const r = utf8(role);
  const input = new Uint8Array(label.length + id.length + 1 + r.length);
  input.set(label, 0);
  input.set(id, label.length);
  input[label.length + id.length] = 0;
  input.set(r, label.length + id.length + 1);
  const b = sha256(input);
  b[6] = ((b[6] as number) & 0x0f) | 0x80;
  b[8] = ((b[8] as number) & 0x3f) | 0x80;
  const hex = [...b.subarray(0, 16)].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `urn:uuid:${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

const identifier = (system: string, value: string): JsonObject => ({ system, value });

function practitionerResource(p: Practitioner): JsonObject {
  const ids: Json[] = [];
  if (p.npi !== undefined && p.npi !== '') ids.push(identifier(NPI_SYSTEM, p.npi));
  ids.push(identifier(USER_SYSTEM, p.userId));
  const r: JsonObject = { resourceType: 'Practitioner', identifier: ids };
  if (p.name !== undefined && p.name.trim() !== '') r['name'] = [{ text: p.name }];
  return r;
}

function reference(url: string, display: string | undefined): JsonObject {
  return display !== undefined && display.trim() !== '' ? { reference: url, display } : { reference: url };
}

type Entry = { fullUrl: string; resource: JsonObject; request: JsonObject };

function entries(patient: JsonObject, req: BundleRequest): Entry[] {
  const id = req.referralId;
  const [srUrl, patientUrl, requesterUrl, performerUrl, taskUrl] = ['service-request', 'patient', 'requester', 'performer', 'task'].map((r) =>
    fullUrl(id, r),
  ) as [string, string, string, string, string];
  const referralId = identifier(REFERRAL_SYSTEM, id);
  const subject = reference(patientUrl, patientDisplayName(patient));
  const requester = reference(requesterUrl, req.requester.name);
  const performer = reference(performerUrl, req.performer.name);
  const sr: JsonObject = {
    resourceType: 'ServiceRequest',
    identifier: [referralId],
    status: serviceRequestStatus(req.status),
    intent: 'order',
    category: [{ coding: [{ system: 'http://snomed.info/sct', code: '3457005', display: 'Patient referral' }], text: 'Referral' }],
    priority: req.priority,
    code: { text: `Referral to ${req.specialty}` },
    subject,
    authoredOn: req.authoredOn,
    requester,
    performer: [performer],
    performerType: { text: req.specialty },
  };
  const task: JsonObject = {
    resourceType: 'Task',
    identifier: [referralId],
    status: taskStatus(req.status),
    intent: 'order',
    priority: req.priority,
    code: { text: 'Fulfill the referral' },
    focus: { reference: srUrl },
    basedOn: [{ reference: srUrl }],
    for: subject,
    authoredOn: req.authoredOn,
    requester,
    owner: performer,
  };
  if (req.note !== undefined) sr['note'] = [{ text: req.note }];
  if (req.lastModified !== undefined) task['lastModified'] = req.lastModified;
  if (req.statusReason !== undefined) task['statusReason'] = { text: req.statusReason };
  // The patient's own id names it in the sender's system, not the receiver's.
  const patientResource: JsonObject = { ...patient };
  delete patientResource['id'];
  const patientRequest: JsonObject = { method: 'POST', url: 'Patient' };
  const q = searchIdentifier(patient);
  if (q !== undefined) patientRequest['ifNoneExist'] = `identifier=${q}`;
  const practitionerRequest = (p: Practitioner): JsonObject =>
    p.npi !== undefined && p.npi !== ''
      ? { method: 'POST', url: 'Practitioner', ifNoneExist: `identifier=${NPI_SYSTEM}|${p.npi}` }
      : { method: 'POST', url: 'Practitioner', ifNoneExist: `identifier=${USER_SYSTEM}|${p.userId}` };
  const byReferral = (kind: string): JsonObject => ({ method: 'PUT', url: `${kind}?identifier=${REFERRAL_SYSTEM}|${id}` });
  return [
    { fullUrl: srUrl, resource: sr, request: byReferral('ServiceRequest') },
    { fullUrl: patientUrl, resource: patientResource, request: patientRequest },
    { fullUrl: requesterUrl, resource: practitionerResource(req.requester), request: practitionerRequest(req.requester) },
    { fullUrl: performerUrl, resource: practitionerResource(req.performer), request: practitionerRequest(req.performer) },
    { fullUrl: taskUrl, resource: task, request: byReferral('Task') },
  ];
}

/**
 * The referral's content as sent: a Bundle of type `collection` (serialize
 * it with {@link canonicalJson}; the Patient without its `id`, as the CLI's).
 */
export function referralBundle(patient: JsonObject, req: BundleRequest): JsonObject {
  const es = entries(patient, req).map((e) => ({ fullUrl: e.fullUrl, resource: e.resource }));
  return { resourceType: 'Bundle', type: 'collection', entry: es };
}

/** The referral for an EHR: a Bundle of type `transaction`, with `timestamp` (as `refer export`). */
export function ehrBundle(patient: JsonObject, req: BundleRequest, timestamp: string): JsonObject {
  const es = entries(patient, req).map((e) => ({ fullUrl: e.fullUrl, resource: e.resource, request: e.request }));
  return { resourceType: 'Bundle', type: 'transaction', timestamp, entry: es };
}

/** What a received referral Bundle holds (`bundle::Received`). */
export interface ReceivedBundle {
  readonly patient: JsonObject;
  readonly note: string | undefined;
  readonly authoredOn: string | undefined;
  /** The Practitioners it names, by Curbside user id. */
  readonly practitioners: readonly Practitioner[];
}

/** Reads a referral Bundle (JSON text), as `Received::parse`; throws a {@link FhirError}. */
export function parseReferralBundle(text: string): ReceivedBundle {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new FhirError('Bundle', `not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!isObject(v) || v['resourceType'] !== 'Bundle') throw new FhirError('Bundle.resourceType', 'must be "Bundle"');
  const es = v['entry'];
  if (!Array.isArray(es)) throw new FhirError('Bundle.entry', 'missing');
  const resources = es.map((e) => (isObject(e) && isObject(e['resource']) ? e['resource'] : undefined)).filter((r): r is JsonObject => r !== undefined);
  const ofType = (t: string): JsonObject[] => resources.filter((r) => r['resourceType'] === t);
  const p = ofType('Patient')[0];
  if (p === undefined) throw new FhirError('Bundle.entry', 'no Patient');
  const patient = checkPatient(p);
  const sr = ofType('ServiceRequest')[0] ?? {};
  const note = Array.isArray(sr['note']) && isObject(sr['note'][0]) && typeof sr['note'][0]['text'] === 'string' ? sr['note'][0]['text'] : undefined;
  const authoredOn = typeof sr['authoredOn'] === 'string' ? sr['authoredOn'] : undefined;
  const practitioners: Practitioner[] = [];
  for (const r of ofType('Practitioner')) {
    const ids = Array.isArray(r['identifier']) ? r['identifier'].filter(isObject) : [];
    const valueOf = (system: string): string | undefined => {
      const f = ids.find((i) => i['system'] === system)?.['value'];
      return typeof f === 'string' ? f : undefined;
    };
    const userId = valueOf(USER_SYSTEM);
    if (userId === undefined) continue;
    const names = r['name'];
    const name = Array.isArray(names) && isObject(names[0]) && typeof names[0]['text'] === 'string' ? names[0]['text'] : undefined;
    practitioners.push({ userId, npi: valueOf(NPI_SYSTEM), name });
  }
  return { patient, note, authoredOn, practitioners };
}
