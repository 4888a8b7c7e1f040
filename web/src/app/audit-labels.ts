/** The audit log's actions in words, for the compliance console's action filter (the value stays the action). */

import { ACTIONS, type Action } from '../audit/entry.js';

export const ACTION_LABELS: Readonly<Record<Action, string>> = {
  'user.enrolled': 'User enrolled',
  'user.verified': 'User verified',
  'role.granted': 'Role granted',
  'invite.created': 'Invite created',
  'users.listed': 'Users listed',
  'user.deactivated': 'User deactivated',
  'device.added': 'Device added',
  'device.revoked': 'Device revoked',
  'identity_key.published': 'Identity key published',
  'identity_key.changed': 'Identity key changed',
  'auth.succeeded': 'Authentication succeeded',
  'auth.failed': 'Authentication failed',
  'session.expired': 'Session expired',
  'prekey_bundle.fetched': 'Prekey bundle fetched',
  'message.accepted': 'Message accepted',
  'message.delivered': 'Message delivered',
  'message.expired': 'Message expired',
  'attachment.stored': 'Attachment stored',
  'attachment.fetched': 'Attachment fetched',
  'referral.created': 'Referral created',
  'referral.status_changed': 'Referral status changed',
  'audit.queried': 'Audit log queried',
  'audit.exported': 'Audit log exported',
  'audit.tree_head_requested': 'Audit tree head requested',
  'audit.proof_requested': 'Audit proof requested',
  'message.acknowledged': 'Urgent message acknowledged',
  'escalation.released': 'Escalation released to the backup',
  'escalation.withdrawn': 'Escalation withdrawn (acknowledged in time)',
  'message.recalled': 'Message recalled',
  'retention.changed': 'Retention policy changed',
  'oncall.role_created': 'On-call role created',
  'oncall.shift_scheduled': 'On-call shift scheduled',
  'oncall.handed_off': 'On-call role handed off',
  'oncall.resolved': 'Message to an on-call role delivered to its holder',
  'consult.posted': 'Curbside consult posted',
  'consult.answered': 'Curbside consult answered',
  'consult.closed': 'Curbside consult closed',
};

/** Every action with its label, in the log's order. */
export const ACTION_CHOICES: readonly { readonly value: Action; readonly label: string }[] = ACTIONS.map((a) => ({ value: a, label: ACTION_LABELS[a] }));
