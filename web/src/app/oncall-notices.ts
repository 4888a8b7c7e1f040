/**
 * Hand-off notices (pure, no I/O): what to tell the user when an on-call
 * role they held, or now hold, changed hands: on the server's
 * `oncall_changed` frame (sent to the previous and the new holders' connected
 * devices), and at each connection by comparing `GET /v1/oncall` with the
 * roles remembered held (in the sealed state: a hand-off while this device
 * was offline or locked is told too). In words with names, never ids:
 * "You now hold On-call dermatology (until 08:00)." or "On-call
 * dermatology is now held by Dr. Bob Ames."
 */

import { parseRole, type OnCallRoleJson } from '../client/oncall.js';
import { shortTime } from './oncall.js';
import { namesWords } from './urgent-session.js';

/** A role this user held when last seen. */
export interface HeldRole {
  readonly roleId: string;
  readonly name: string;
}

/** What a comparison found: the notices to show (maybe none), and the roles to remember held from now on. */
export interface HandoffNews {
  readonly notices: string[];
  readonly held: HeldRole[];
}

/** The `oncall_changed` frame's role, checked; `undefined` if it is not a role (the frame is then ignored). */
export function decodeOnCallChanged(role: unknown): OnCallRoleJson | undefined {
  try {
    return parseRole(role);
  } catch {
    return undefined;
  }
}

function holds(role: OnCallRoleJson, me: string): boolean {
  return role.holders.some((h) => h.user_id === me);
}

/** The roles `me` holds among `roles`. */
export function heldRoles(roles: readonly OnCallRoleJson[], me: string): HeldRole[] {
  return roles.filter((r) => holds(r, me)).map((r) => ({ roleId: r.role_id, name: r.name }));
}

/** "You now hold On-call dermatology (until 08:00)." — until the end of this user's shift covering `now`, when there is one. */
export function gainedWords(role: OnCallRoleJson, me: string, now: number): string {
  const ends = role.shifts.filter((s) => s.user_id === me && s.starts_at <= now && s.ends_at > now).map((s) => s.ends_at);
  return ends.length === 0 ? `You now hold ${role.name}.` : `You now hold ${role.name} (until ${shortTime(Math.max(...ends), now)}).`;
}

/** "On-call dermatology is now held by Dr. Bob Ames." (or by nobody). */
export function lostWords(role: OnCallRoleJson): string {
  const names = role.holders.map((h) => h.display_name.trim()).filter((n) => n !== '');
  return names.length === 0 ? `Nobody holds ${role.name} now: messages to it are refused until it is scheduled again.` : `${role.name} is now held by ${namesWords(names)}.`;
}

/**
 * At a connection: the roles read now against those remembered held.
 * `remembered` undefined (never compared on this device: a fresh
 * enrollment or an older state) says nothing and starts remembering. A
 * role remembered held that no longer exists is forgotten silently.
 */
export function compareHeld(remembered: readonly HeldRole[] | undefined, roles: readonly OnCallRoleJson[], me: string, now: number): HandoffNews {
  const held = heldRoles(roles, me);
  if (remembered === undefined) return { notices: [], held };
  const before = new Set(remembered.map((r) => r.roleId));
  const notices: string[] = [];
  for (const r of roles) {
    const was = before.has(r.role_id);
    if (holds(r, me) && !was) notices.push(gainedWords(r, me, now));
    else if (!holds(r, me) && was) notices.push(lostWords(r));
  }
  return { notices, held };
}

/**
 * On `oncall_changed`: this user was the previous or is the new holder.
 * Holding it now and not before: "You now hold …"; not holding it: "… is
 * now held by …" (the server tells previous holders, remembered or not).
 */
export function applyOnCallChanged(remembered: readonly HeldRole[] | undefined, role: OnCallRoleJson, me: string, now: number): HandoffNews {
  const others = (remembered ?? []).filter((r) => r.roleId !== role.role_id);
  const was = (remembered ?? []).some((r) => r.roleId === role.role_id);
  if (holds(role, me)) return { notices: was ? [] : [gainedWords(role, me, now)], held: [...others, { roleId: role.role_id, name: role.name }] };
  return { notices: [lostWords(role)], held: others };
}
