/**
 * Referrals in the web client (no DOM), interoperable with `curbside refer`:
 *
 * - `form.ts`: the referral form's typed fields, validated field by field,
 *   → the FHIR R4 Patient, the `collection` Bundle and the `referral` content
 *   the CLI sends, byte for byte;
 * - `fhir.ts`: the Bundle builders of `client/src/fhir/bundle.rs` (also the
 *   `transaction` Bundle `refer export` writes for an EHR) and the reader;
 * - `lifecycle.ts`: create / accept / decline / cancel / complete through the
 *   server, reasons sent end to end encrypted;
 * - `inbox.ts`: the envelopes the server pushes joined with the decrypted
 *   content, with what this clinician may do next.
 */

export {
  canonicalJson,
  checkPatient,
  ehrBundle,
  FhirError,
  formatTimeMs,
  fullUrl,
  NPI_SYSTEM,
  parseReferralBundle,
  patientDisplayName,
  PRIORITIES,
  REFERRAL_SYSTEM,
  referralBundle,
  serviceRequestStatus,
  STATUSES,
  taskStatus,
  USER_SYSTEM,
  type BundleRequest,
  type Json,
  type JsonObject,
  type Practitioner,
  type Priority,
  type ReceivedBundle,
  type Status,
} from './fhir.js';
export {
  buildReferral,
  newReferralId,
  patientResource,
  type AdministrativeSex,
  type BuildResult,
  type BuiltReferral,
  type Clinician,
  type FieldError,
  type PatientIdentifier,
  type PatientInput,
  type ReferralInput,
} from './form.js';
export {
  allowedTransitions,
  applyTransition,
  needsReason,
  parseEnvelope,
  ReferralApi,
  ReferralError,
  TRANSITIONS,
  transitionParty,
  type ReferralEnvelope,
  type Transition,
} from './lifecycle.js';
export { ReferralInbox, type InboxEvent, type PatientSummary, type ReferralInboxJSON, type ReferralItem } from './inbox.js';
