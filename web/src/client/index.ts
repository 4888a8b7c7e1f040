/**
 * The web client's protocol logic (no DOM): enrollment, the connection kept
 * up with backoff, sending and receiving, the outbox, receipts, prekeys and
 * the directory. State is JSON (`Account.toJSON`, `Client.stateJSON`) for
 * the sealed store; it holds secrets and plaintext and is never logged.
 *
 * - `account.ts`: identity, prekeys, sessions and their JSON form.
 * - `enroll.ts`: enrollment with an invite.
 * - `sessions.ts`: bundles → X3DH sessions, accepting and routing prekey messages.
 * - `content.ts`: the message content JSON of `client/src/content.rs`.
 * - `attachments.ts`: files encrypted as they are read and uploaded; downloads verified before any plaintext is returned.
 * - `outbox.ts`, `backoff.ts`: the outbox entries and the reconnection delays.
 * - `client.ts`: the {@link Client}.
 * - `teams.ts`, `team-seal.ts`: care teams (team_update / team_message, sealed once; a team message's priority and recall), interoperable with the CLI's.
 * - `devices.ts`: linked devices (a device code from one device enrolls another; listing, revocation).
 * - `oncall.ts`: on-call roles and curbside consults over HTTP (sending to a role or on a consult: {@link Client.send}'s options).
 * - `audit-source.ts`: the compliance API over an officer's device session, for the audit verifier.
 */

export { Account, addressKey, PREKEY_BATCH, type ServerInfo, type StoredAccount } from './account.js';
export { Backoff, type BackoffOptions } from './backoff.js';
export {
  attachmentStream,
  downloadAttachment,
  uploadAttachment,
  type AttachmentSource,
  type Uploaded,
  type UploadOptions,
} from './attachments.js';
export { CONSULT_MAX_ATTACHMENTS, decodeContent, encodeContent, ROLE_NAME_MAX, roleTagOf, type AttachmentRef, type Content, type RoleTag } from './content.js';
export { enroll, type EnrollOptions, type UserDetails } from './enroll.js';
export { newMessageId, type Outgoing, type StoredOutgoing } from './outbox.js';
export { acceptSession, decryptFrom, openSessions } from './sessions.js';
export {
  Client,
  SEEN_CAPACITY,
  type ClientOptions,
  type ClientStateJSON,
  type ConnectionState,
  type DeliveryReceipt,
  type Received,
  type SendOptions,
  type SendOutcome,
} from './client.js';
export {
  newTeamId,
  openTeamMessage,
  sealTeamMessage,
  Teams,
  type MemberDelivery,
  type Team,
  type TeamContent,
  type TeamEvent,
  type TeamMessage,
  type TeamMessageStatus,
  type TeamsJSON,
} from './teams.js';
export {
  displayDeviceCode,
  enrollDevice,
  issueDeviceCode,
  listDevices,
  parseDeviceCode,
  revokeDevice,
  type DeviceCode,
  type DeviceInfo,
} from './devices.js';
export { DeviceAuditSource, type AuditFilters, type LogVerified, type ProvenPage } from './audit-source.js';
export { OnCallApi, parseConsult, parseRole, type ConsultJson, type OnCallRoleJson, type ShiftJson } from './oncall.js';
