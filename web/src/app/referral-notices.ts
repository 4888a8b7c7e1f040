/**
 * Referral notifications (no DOM): what the {@link ReferralInbox}'s changes
 * are worth telling the clinician while the page is hidden, from the
 * server-visible envelope only — who (the directory's name), the priority,
 * the new status — never the patient or anything else of the encrypted
 * content:
 *
 * - a new referral to me, waiting for my answer: "New referral from Dr X — urgent";
 * - a referral I sent, accepted, declined or completed by the colleague:
 *   "Your referral was accepted by Dr Y".
 *
 * Referrals already known (the sealed inbox at unlock) are not news; one
 * first seen in another state than requested (answered meanwhile, e.g. on
 * another of my devices) is not either. Each notification's tag is per
 * referral: its later news replaces the earlier one.
 */

import type { Client } from '../client/client.js';
import type { InboxEvent, Priority, ReferralInbox } from '../client/referrals/index.js';
import type { AppState } from './state.js';

export const PRIORITY_WORDS: Record<Priority, string> = { routine: 'routine', urgent: 'urgent', stat: 'STAT' };

const DONE: Partial<Record<string, string>> = { accepted: 'accepted', declined: 'declined', completed: 'completed' };

export interface ReferralNotice {
  /** Whose name the text needs (the other clinician). */
  readonly userId: string;
  /** The notification's text, given that clinician's name. */
  text(name: string): string;
  /** One per referral (a later notice of the same referral replaces it). */
  readonly tag: string;
}

/** What an inbox change is worth notifying, if anything. */
export function referralNotice(e: InboxEvent): ReferralNotice | undefined {
  const i = e.item;
  const tag = `curbside-referral-${i.id}`;
  if (e.type === 'created' && i.direction === 'in' && i.status === 'requested') {
    return { userId: i.referring.userId, tag, text: (name) => `New referral from ${name} — ${PRIORITY_WORDS[i.priority]}` };
  }
  const done = DONE[i.status];
  if (e.type === 'changed' && i.direction === 'out' && e.from !== i.status && done !== undefined) {
    return { userId: i.receiving.userId, tag, text: (name) => `Your referral was ${done} by ${name}` };
  }
  return undefined;
}

export interface NoticeHost {
  readonly client: Pick<Client, 'directory'>;
  readonly state: AppState;
}

/** The directory's name of a clinician (asked if not yet known); "a colleague" if it cannot be had. */
async function nameOf(host: NoticeHost, user: string): Promise<string> {
  const known = host.state.people[user];
  if (known?.listed === true) return known.name;
  try {
    const e = (await host.client.directory({ user_id: user })).find((x) => x.user_id === user);
    if (e !== undefined && e.display_name !== '') return e.display_name;
  } catch {
    // offline: no name
  }
  return 'a colleague';
}

/** Calls `notify` for each change worth a notification (the model shows it only while the page is hidden). Returns the unsubscribe. */
export function watchReferrals(inbox: ReferralInbox, host: NoticeHost, notify: (title: string, body: string, tag: string) => void): () => void {
  return inbox.onChange((e) => {
    const n = referralNotice(e);
    if (n === undefined) return;
    void nameOf(host, n.userId).then((name) => notify('Curbside', n.text(name), n.tag));
  });
}
