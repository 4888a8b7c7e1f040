/**
 * What the views show of urgent messages and recalls (names and times,
 * never ids): the pinned message's status ("Acknowledged by Dr X at
 * 10:42", "Not yet acknowledged — escalates to Dr Y at 10:47"), the mark
 * of an escalated copy at the backup, the recalled placeholder and whether
 * Recall is offered; the in-app alert.
 */

import { durationWords, type AppState, type StoredMessage } from './state.js';
import { isOpen, openAlerts, recallable, type OpenAlert } from './urgent.js';

const CLOCK = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

/** A time as the message list shows it (the user's locale). */
export function clockWords(ms: number): string {
  return CLOCK.format(ms);
}

export interface UrgentView {
  readonly level: 'urgent' | 'stat';
  /** `URGENT` or `STAT`. */
  readonly label: string;
  /** Not yet acknowledged: pinned at the top of the conversation, in red. */
  readonly open: boolean;
  /** A colleague's message this user may acknowledge. */
  readonly canAcknowledge: boolean;
  /** Its acknowledgement (or the wait for it) in words. */
  readonly status: string;
  /** At the backup: whose message escalated to them, and why. */
  readonly escalated: string | undefined;
}

/** A delay in words: seconds, minutes (`5 min`), hours. */
function shortDelay(secs: number): string {
  if (secs < 60) return durationWords(secs);
  const min = Math.round(secs / 60);
  return min >= 120 && min % 60 === 0 ? durationWords(min * 60) : `${min} min`;
}

export function urgentView(state: AppState, m: StoredMessage, nameOf: (user: string) => string, now: number): UrgentView | undefined {
  if (m.priority === undefined || m.body.type === 'recalled') return undefined;
  const me = state.me.userId;
  const mine = m.from === me;
  const open = isOpen(m);
  let status: string;
  if (m.ack !== undefined) {
    const by = m.ack.by === me ? 'you' : nameOf(m.ack.by);
    status = m.ack.pending === true ? 'Acknowledged by you — the sender is told as soon as the connection is back' : `Acknowledged by ${by} at ${clockWords(m.ack.at)}`;
  } else if (!mine) {
    status = 'Waiting for your acknowledgement';
  } else if (m.status === 'queued') {
    status = 'Queued — it is sent as soon as the connection is back';
  } else if (m.escalation !== undefined) {
    const due = (m.acceptedAt ?? m.at) + m.escalation.afterSecs * 1000;
    const backup = nameOf(m.escalation.backup);
    status = due > now ? `Not yet acknowledged — escalates to ${backup} at ${clockWords(due)}` : `Not acknowledged in time — escalated to ${backup} at ${clockWords(due)}`;
  } else {
    status = 'Not yet acknowledged';
  }
  return {
    level: m.priority,
    label: m.priority === 'stat' ? 'STAT' : 'URGENT',
    open,
    canAcknowledge: !mine && open,
    status,
    escalated: m.escalated === undefined ? undefined : `Escalated from ${nameOf(m.from)} (no one acknowledged in ${shortDelay(m.escalated.afterSecs)})`,
  };
}

export function canRecall(state: AppState, m: StoredMessage, now: number): boolean {
  return recallable(m, state.me.userId, state.policy, now);
}

/** The in-app alert: received urgent messages waiting for this user's acknowledgement. */
export interface UrgentAlert {
  /** The conversation of the most urgent one. */
  readonly peer: string;
  readonly text: string;
  /** Grows at each re-alert (the view announces it again). */
  readonly round: number;
}

/** The in-app alert over the colleagues' conversations and `more` (the care teams' open messages). */
export function urgentAlert(state: AppState, nameOf: (user: string) => string, round: number, more: readonly OpenAlert[] = []): UrgentAlert | undefined {
  const open = openAlerts(state, more);
  const first = open[0];
  if (first === undefined) return undefined;
  const level = first.priority === 'stat' ? 'STAT' : 'Urgent';
  const others = open.length > 1 ? ` (and ${open.length - 1} more)` : '';
  const where = first.where === undefined ? '' : ` in ${first.where}`;
  return { peer: first.peer, text: `${level} message from ${nameOf(first.from)}${where} is waiting for your acknowledgement${others}.`, round };
}
