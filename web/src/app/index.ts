/**
 * The application model, all the views may import (they never reach
 * crypto/, protocol/ or client/):
 *
 * - `model.ts`: {@link AppModel}: screens, enrollment, unlock, lock, idle lock, the main screen's data and actions.
 * - `session.ts`: an unlocked session: the client, the sealed writes, sending, receipts, people, safety numbers, files.
 * - `receive.ts`: what a received message does to the state.
 * - `state.ts`: the sealed application state and its pure operations (statuses, timers).
 * - `trust.ts`: safety numbers, pinned keys, the QR code.
 * - `views.ts`: what the views show (names, never ids).
 * - `device-link.ts`: this browser linked to an account with a device code, and the lock-out when revoked; `devices.ts`: the Devices screen.
 * - `compliance.ts`: the compliance officer's console (verify the log, proven audit queries, inclusion proofs, exports);
 *   `audit-people.ts` (who the log names, as names), `audit-charts.ts` (the charts' counts), `audit-export.ts` (exports streamed into a sink).
 * - `teams.ts`, `team-views.ts`, `team-membership.ts`, `team-urgent.ts`: care teams (team messages, per-member delivery; what the views show; membership; urgent team messages' acknowledgement and recall).
 * - `referral-notices.ts`: what referral changes are worth a notification (names and priority, never the patient).
 * - `admin.ts`: the administrator's console (invites, users, verification, roles, devices, deactivation).
 * - `urgent.ts`, `urgent-session.ts`, `urgent-views.ts`: urgent and stat messages (acknowledgement, alerting again, escalation), recall, the retention policy.
 * - `oncall.ts`, `oncall-session.ts`: on-call roles (their holders and shifts, messages to a role, its thread, hand-off, the administrator's roles and shifts).
 * - `consults.ts`, `consult-session.ts`: curbside consults (opt-in, ask a specialty with optional images, answers, close).
 * - `explain.ts`: a refused send or a connection's end in words, with what to do next.
 * - `enroll-form.ts`: the enrollment form's checks, the invite link's role, the server's refusals in words; `ports.ts`: what the host provides; `events.ts`: change events.
 */

export { AppModel, IDLE_LOCK_CHOICES, WRONG_PASSPHRASE, type Screen } from './model.js';
export type { SendResult } from './session.js';
export { inviteFromFragment, MIN_PASSPHRASE, parseInvite, roleFromFragment, roleNeedsNoNpi, type EnrollField, type EnrollForm, type FieldErrors, type LinkRole } from './enroll-form.js';
export type { Host, Vault, VaultOpener } from './ports.js';
export type {
  Clinician,
  ConversationSummary,
  LinkState,
  MessageBody,
  MessageView,
  PersonView,
  SafetyView,
  Status,
  Trust,
} from './views.js';
export type { CreateResult, FieldError, Priority, ReferralFormInput, ReferralStatus, ReferralView, SessionReferrals, Transition } from './referrals.js';
export { isTeamKey } from './teams.js';
export type {
  DeliveryView,
  MemberDeliveryView,
  MemberStatus,
  SessionTeams,
  TeamCreateResult,
  TeamMemberView,
  TeamMessageView,
  TeamSendResult,
  TeamSummary,
  TeamView,
} from './teams.js';
export { AUDIT_ACTIONS } from './compliance.js';
export { ACTION_CHOICES, ACTION_LABELS } from './audit-labels.js';
export type { ComplianceConsole, EntryRow, ExportState, PersonField, PickerState, ProofState, QueryForm, VerifyState } from './compliance.js';
export { describeEntries, describeFailedAuth, OTHER, type Activity, type ChartSeries } from './audit-charts.js';
export type { ExportSink } from './audit-export.js';
export type { PersonChoice } from './audit-people.js';
export { ALERT_INTERVAL_MS } from './urgent.js';
export type { RecallOutcome, SessionUrgent, UrgentOptions, UrgentResult } from './urgent-session.js';
export type { UrgentAlert, UrgentView } from './urgent-views.js';
export type { AdminConsole, AdminDevice, AdminOutcome, AdminUser, InviteRole, InviteView, RetentionView } from './admin.js';
export type { CodeView, DeviceOutcome, DeviceRow, DevicesConsole, LockOutReason } from './devices.js';
export type { DeviceEnrollForm, DeviceField, DeviceFieldErrors, DeviceLinking } from './device-link.js';
export { isRoleKey } from './oncall.js';
export type { RoleMessageView, RoleView, ShiftView } from './oncall.js';
export type { OnCallOutcome, RoleSendResult, SessionOnCall } from './oncall-session.js';
export type { ConsultFileView, ConsultView } from './consults.js';
export { CONSULT_MAX_ATTACHMENTS, type ConsultFile, type ConsultOutcome, type SessionConsults } from './consult-session.js';
