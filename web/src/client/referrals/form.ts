/**
 * The referral form → the FHIR R4 content the CLI sends (`refer create`):
 * typed fields, validated one by one (each error names its field and says
 * what to do), then the Patient resource, the `collection` Bundle and the
 * `referral` content, byte for byte as `client/src/fhir/bundle.rs` writes them.
 *
 * The CLI takes the patient as a FHIR Patient file and one `--note`
 * ("reason for referral and history, in words"); the form's `reason` and
 * `note` become that one ServiceRequest note: the reason alone, or the
 * reason, a blank line and the note.
 */

import type { DirectoryEntry } from '../../protocol/frames.js';
import { utf8 } from '../../crypto/bytes.js';
import { fromBase64 } from '../../protocol/base64.js';
import type { AttachmentRef, Content } from '../content.js';
import {
  canonicalJson,
  checkPatient,
  FhirError,
  formatTimeMs,
  isFhirDate,
  PRIORITIES,
  referralBundle,
  type BundleRequest,
  type Json,
  type JsonObject,
  type Priority,
} from './fhir.js';

export type AdministrativeSex = 'male' | 'female' | 'other' | 'unknown';

/** A patient identifier, e.g. an MRN: `{ system: 'urn:oid:1.2.36.146.595.217.0.1', value: '12345', type: 'MRN' }`. */
export interface PatientIdentifier {
  /** The issuing system (a URI). */
  system: string;
  value: string;
  /** Optional: the identifier's type code of HL7 v2 table 0203 (`MR`), sent as `type.coding`. */
  type?: 'MR' | undefined;
}

export interface PatientInput {
  /** Family name. */
  family?: string | undefined;
  /** Given names, in order. */
  given?: string[] | undefined;
  /** The whole name as written, if it does not split into given and family. */
  text?: string | undefined;
  /** YYYY-MM-DD (or YYYY-MM, YYYY). */
  birthDate?: string | undefined;
  sex?: AdministrativeSex | undefined;
  identifiers?: PatientIdentifier[] | undefined;
}

/** A clinician as the directory lists them (`DirectoryEntry`). */
export type Clinician = Pick<DirectoryEntry, 'user_id' | 'display_name' | 'npi'> & { specialty?: string };

export interface ReferralInput {
  patient: PatientInput;
  /** Why the patient is referred, in words. */
  reason: string;
  /** History and anything else the receiving clinician should know. */
  note?: string | undefined;
  priority: Priority | string;
  /** The target specialty (as the directory spells it). */
  specialty: string;
  /** The referring clinician (oneself), from the directory. */
  from: Clinician;
  /** The receiving clinician, chosen from the directory. */
  to: Clinician | undefined;
  /** Files already uploaded (`uploadAttachment`). */
  attachments?: AttachmentRef[] | undefined;
  /** Chosen by the client (1 to 64 of A-Z a-z 0-9 - _); random if omitted. */
  referralId?: string | undefined;
  /** When it was written (ms since the epoch); now if omitted. */
  authoredAtMs?: number | undefined;
}

/** A field at fault, and what to do about it. */
export interface FieldError {
  /** The form field's path, e.g. `patient.birthDate`, `patient.identifiers[0].system`. */
  readonly field: string;
  readonly message: string;
}

export interface BuiltReferral {
  readonly referralId: string;
  readonly priority: Priority;
  readonly specialty: string;
  readonly to: string;
  readonly patient: JsonObject;
  /** The Bundle (type `collection`). */
  readonly bundle: JsonObject;
  /** Its JSON as the CLI writes it: the `bundle` of the content. */
  readonly bundleJson: string;
  readonly content: Extract<Content, { type: 'referral' }>;
}

export type BuildResult = { ok: true; referral: BuiltReferral } | { ok: false; errors: FieldError[] };

const REFERRAL_ID = /^[A-Za-z0-9_-]{1,64}$/;
const bytesOf = (s: string): number => utf8(s).length;

/** A random referral id as the CLI makes them: `r` and 16 hex digits. */
export function newReferralId(random: (n: number) => Uint8Array): string {
  return `r${[...random(8)].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

function realDate(s: string): boolean {
  if (!isFhirDate(s)) return false;
  const [y, m, d] = s.split('-').map(Number) as [number, number | undefined, number | undefined];
  if (m === undefined || d === undefined) return true;
  const dt = new Date(Date.UTC(y, m - 1, d));
  return dt.getUTCMonth() === m - 1 && dt.getUTCDate() === d;
}

/** The Patient resource of the form's patient (keys as FHIR names them); errors by field. */
export function patientResource(p: PatientInput, errors: FieldError[] = [], today: string = formatTimeMs(Date.now()).slice(0, 10)): JsonObject {
  const family = p.family?.trim() ?? '';
  const given = (p.given ?? []).map((g) => g.trim()).filter((g) => g !== '');
  const text = p.text?.trim() ?? '';
  if (family === '' && given.length === 0 && text === '') {
    errors.push({ field: 'patient.name', message: "Enter the patient's name: a family name, given names, or the name as written" });
  }
  const name: JsonObject = {};
  if (family !== '') name['family'] = family;
  if (given.length > 0) name['given'] = given;
  if (text !== '') name['text'] = text;
  const r: JsonObject = { resourceType: 'Patient', name: [name] };
  if (p.sex !== undefined) {
    if (!['male', 'female', 'other', 'unknown'].includes(p.sex)) {
      errors.push({ field: 'patient.sex', message: 'Choose the administrative sex: male, female, other or unknown' });
    } else r['gender'] = p.sex;
  }
  const bd = p.birthDate?.trim();
  if (bd !== undefined && bd !== '') {
    if (!realDate(bd)) errors.push({ field: 'patient.birthDate', message: 'Birth date must be a date like 1961-04-02' });
    else if (bd > today) errors.push({ field: 'patient.birthDate', message: 'Birth date is in the future: check the year' });
    else r['birthDate'] = bd;
  }
  const ids: Json[] = [];
  (p.identifiers ?? []).forEach((id, i) => {
    const at = `patient.identifiers[${i}]`;
    const system = id.system.trim();
    const value = id.value.trim();
    let ok = true;
    if (system === '') {
      errors.push({ field: `${at}.system`, message: 'Give the system that issued this identifier, e.g. your hospital\'s MRN URI (urn:oid:… or https://…)' });
      ok = false;
    } else if (!/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(system)) {
      errors.push({ field: `${at}.system`, message: 'The identifier system must be a URI, e.g. urn:oid:2.16.840.1.113883.19.5 or https://hospital.example/mrn' });
      ok = false;
    }
    if (value === '') {
      errors.push({ field: `${at}.value`, message: 'Enter the identifier itself (e.g. the MRN), or remove this identifier' });
      ok = false;
    }
    if (id.type !== undefined && id.type !== 'MR') {
      errors.push({ field: `${at}.type`, message: 'The identifier type must be MR (medical record number), or left out' });
      ok = false;
    }
    if (!ok) return;
    const out: JsonObject = { system, value };
    if (id.type === 'MR') {
      out['type'] = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR', display: 'Medical record number' }], text: 'MRN' };
    }
    ids.push(out);
  });
  if (ids.length > 0) r['identifier'] = ids;
  return r;
}

function checkAttachment(a: AttachmentRef, at: string, errors: FieldError[]): void {
  const is32 = (s: string): boolean => {
    try {
      return fromBase64(s).length === 32;
    } catch {
      return false;
    }
  };
  if (!/^[0-9a-f]{32}$/.test(a.attachment_id) || !is32(a.key) || !is32(a.digest) || !Number.isSafeInteger(a.size) || a.size < 0) {
    errors.push({ field: at, message: `${a.name || 'This file'} is not a finished upload: upload it again, then attach it` });
  } else if (a.name.trim() === '') {
    errors.push({ field: `${at}.name`, message: 'Give the attached file a name' });
  }
}

/**
 * Validates the form field by field and builds what `refer create` sends.
 * `random` is used only for the referral id when none is given.
 */
export function buildReferral(input: ReferralInput, random?: (n: number) => Uint8Array): BuildResult {
  const errors: FieldError[] = [];
  const authoredMs = input.authoredAtMs ?? Date.now();
  const patient = patientResource(input.patient, errors, formatTimeMs(authoredMs).slice(0, 10));
  const reason = input.reason.trim();
  if (reason === '') errors.push({ field: 'reason', message: 'Say why you are referring the patient (the reason for referral)' });
  const extra = input.note?.trim() ?? '';
  const priority = input.priority as Priority;
  if (!PRIORITIES.includes(priority)) errors.push({ field: 'priority', message: 'Choose a priority: routine, urgent or stat' });
  const specialty = input.specialty.trim();
  const specialtyOk = specialty !== '' && bytesOf(specialty) <= 100;
  if (specialty === '') errors.push({ field: 'specialty', message: 'Choose the specialty you are referring to, e.g. Dermatology' });
  else if (bytesOf(specialty) > 100) errors.push({ field: 'specialty', message: 'The specialty is too long (at most 100 characters): choose it from the directory' });
  const to = input.to;
  if (to === undefined || to.user_id === '') {
    errors.push({ field: 'to', message: 'Choose the receiving clinician from the directory' });
  } else if (to.user_id === input.from.user_id) {
    errors.push({ field: 'to', message: 'A referral goes to another clinician: choose someone else' });
  } else if (to.specialty !== undefined && specialtyOk && to.specialty.toLowerCase() !== specialty.toLowerCase()) {
    errors.push({ field: 'to', message: `${to.display_name} is not listed in ${specialty}: choose a clinician of that specialty, or change the specialty` });
  }
  (input.attachments ?? []).forEach((a, i) => checkAttachment(a, `attachments[${i}]`, errors));
  let referralId = input.referralId;
  if (referralId === undefined) {
    if (random === undefined) throw new TypeError('buildReferral: give a referralId or a random source');
    referralId = newReferralId(random);
  } else if (!REFERRAL_ID.test(referralId)) {
    errors.push({ field: 'referralId', message: 'A referral id is 1 to 64 of A-Z a-z 0-9 - _ (leave it out to have one made)' });
  }
  if (errors.length > 0) return { ok: false, errors };
  // What the CLI checks of a patient file (never fails for a form-built one).
  try {
    checkPatient(patient);
  } catch (e) {
    if (e instanceof FhirError) return { ok: false, errors: [{ field: 'patient', message: `${e.message}: check the patient's details` }] };
    throw e;
  }
  const practitioner = (c: Clinician) => ({ userId: c.user_id, npi: c.npi === '' ? undefined : c.npi, name: c.display_name });
  const req: BundleRequest = {
    referralId,
    status: 'requested',
    priority,
    specialty,
    requester: practitioner(input.from),
    performer: practitioner(to as Clinician),
    note: extra === '' ? reason : `${reason}\n\n${extra}`,
    authoredOn: formatTimeMs(authoredMs),
  };
  const bundle = referralBundle(patient, req);
  const bundleJson = canonicalJson(bundle);
  const attachments = [...(input.attachments ?? [])];
  return {
    ok: true,
    referral: {
      referralId,
      priority,
      specialty,
      to: (to as Clinician).user_id,
      patient,
      bundle,
      bundleJson,
      content: { type: 'referral', referral_id: referralId, bundle: bundleJson, attachments },
    },
  };
}
