/**
 * The people an audit log names, as names (no DOM). Entries hold user ids
 * only (metadata, never names). Verified clinicians are named by the
 * directory; the officer by their own name; everyone the directory does not
 * list (administrators, compliance officers, unverified or deactivated
 * accounts) by the role the log shows them enrolled with, granted or acting
 * in ("Administrator", "Compliance officer"), numbered in order of
 * enrollment when several share one. Learned from every record the console
 * sees (a verification streams them all; a query, the enrollments and role
 * grants).
 */

import type { AuditEntry } from '../audit/index.js';

/** A person to filter by: their user id, how they are shown, and a detail line. */
export interface PersonChoice {
  readonly key: string;
  readonly name: string;
  readonly detail: string;
}

/** What the directory says of a user (undefined: not known, or not listed). */
export interface Directory {
  readonly me: string;
  readonly myName: string;
  nameOf(user: string): string | undefined;
  /** The directory is still being asked about this user (their name is shown as being looked up, not as a role). */
  pending?(user: string): boolean;
}

const ROLE_NAME: Record<string, string> = {
  admin: 'Administrator',
  compliance_officer: 'Compliance officer',
  clinician: 'Clinician not in the directory',
};
const DETAIL: Record<string, string> = {
  admin: 'An administrator (not in the directory)',
  compliance_officer: 'A compliance officer (not in the directory)',
  clinician: 'A clinician not in the directory (unverified or deactivated)',
};
/** A name the directory has not answered for yet (as the conversation list shows it). */
export const LOOKING_UP = 'Looking up name…';
/** The label a user gets from the strongest role seen. */
const ROLE_ORDER = ['admin', 'compliance_officer', 'clinician'] as const;

export class AuditPeople {
  private readonly roles = new Map<string, Set<string>>();
  /** The first sequence number naming each user (their enrollment, usually). */
  private readonly first = new Map<string, number>();

  constructor(private readonly dir: Directory) {}

  private see(user: string | null, seq: number, role?: unknown): void {
    if (user === null) return;
    const at = this.first.get(user);
    if (at === undefined || seq < at) this.first.set(user, seq);
    if (typeof role === 'string' && role in ROLE_NAME) {
      const set = this.roles.get(user) ?? new Set<string>();
      set.add(role);
      this.roles.set(user, set);
    }
  }

  /** Learns who an entry names and in which role. */
  learn(e: AuditEntry): void {
    this.see(e.actor_user, e.seq, e.actor_role);
    if (e.outcome === 'success' && e.action === 'user.enrolled') this.see(e.actor_user, e.seq, e.details['role']);
    if (e.outcome === 'success' && e.action === 'role.granted') this.see(e.counterpart_user, e.seq, e.details['role']);
    else this.see(e.counterpart_user, e.seq);
  }

  /** Users the log names (sorted by first appearance). */
  get known(): string[] {
    return [...this.first.entries()].sort((a, b) => a[1] - b[1]).map(([u]) => u);
  }

  private roleOf(user: string): string | undefined {
    const set = this.roles.get(user);
    return set === undefined ? undefined : ROLE_ORDER.find((r) => set.has(r));
  }

  /** The role words for a user the directory does not name, numbered when several share them; undefined if the log shows no role. */
  private roleLabel(user: string): string | undefined {
    const role = this.roleOf(user);
    if (role === undefined) return undefined;
    const base = ROLE_NAME[role] as string;
    const peers = this.known.filter((u) => u !== this.dir.me && this.listedName(u) === undefined && this.roleOf(u) === role);
    return peers.length <= 1 ? base : `${base} ${peers.indexOf(user) + 1}`;
  }

  private listedName(user: string): string | undefined {
    if (user === this.dir.me) return this.dir.myName || undefined;
    const n = this.dir.nameOf(user);
    return n === undefined || n === '' ? undefined : n;
  }

  /** How a user is shown: a name, "Looking up name…" while the directory is asked, the role words, or (never seen in any role) "Unknown user". */
  name(user: string): string {
    const listed = this.listedName(user);
    if (listed !== undefined) return listed;
    if (user !== this.dir.me && this.dir.pending?.(user) === true) return LOOKING_UP;
    return this.roleLabel(user) ?? 'Unknown user';
  }

  /** The actor of an entry in words (null: anonymous, or the server's own action). */
  actor(e: AuditEntry): string {
    if (e.actor_user === null) return e.action === 'message.expired' || e.action === 'escalation.released' ? 'The server' : 'Anonymous';
    return e.actor_device === null ? this.name(e.actor_user) : `${this.name(e.actor_user)} (device ${e.actor_device})`;
  }

  /** The counterpart of an entry in words ('—' when there is none). */
  counterpart(e: AuditEntry): string {
    if (e.counterpart_user === null) return '—';
    return e.counterpart_device === null ? this.name(e.counterpart_user) : `${this.name(e.counterpart_user)} (device ${e.counterpart_device})`;
  }

  /** People the log names but the directory does not list (and the officer), whose shown name contains `text`. */
  unlisted(text: string): PersonChoice[] {
    const q = text.trim().toLowerCase();
    if (q === '') return [];
    const out: PersonChoice[] = [];
    for (const u of this.known) {
      if (u !== this.dir.me && this.listedName(u) !== undefined) continue;
      const name = this.name(u);
      if (!name.toLowerCase().includes(q)) continue;
      out.push({ key: u, name, detail: u === this.dir.me ? 'You' : (DETAIL[this.roleOf(u) ?? ''] ?? 'Seen in the audit log') });
    }
    return out;
  }
}
