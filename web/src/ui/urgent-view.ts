/**
 * Urgent messages and recall in a conversation: the open urgent and stat
 * messages pinned at the top in red (with Acknowledge for a colleague's;
 * the acknowledgement or the escalation's deadline for ours), each
 * message's priority and acknowledgement in the list, the escalated mark at
 * a backup, and Recall on our own messages, confirmed in a dialog that is
 * honest about what a recall cannot undo.
 */

import type { MessageView } from '../app/index.js';
import { openDialog } from './dialogs.js';
import { h, replace, srOnly } from './dom.js';
import { clock } from './format.js';

function snippet(m: MessageView): string {
  return m.body.type === 'file' ? `File: ${m.body.name}` : m.body.text;
}

/** What the list adds to an urgent or recallable message. */
export function decorateUrgent(m: MessageView, li: HTMLLIElement, onRecall: (key: string) => void): void {
  const u = m.urgent;
  if (u !== undefined) {
    li.classList.add('urgent', `urgent-${u.level}`);
    if (u.open) li.classList.add('urgent-open');
    const meta = li.querySelector('.meta');
    meta?.prepend(h('span', { class: `chip chip-${u.level}` }, u.label));
    if (u.escalated !== undefined) li.insertBefore(h('p', { class: 'escalated-note' }, u.escalated), meta?.nextSibling ?? null);
    li.appendChild(h('p', { class: `ack-status${u.open ? ' ack-open' : ''}` }, u.status));
  }
  if (m.mine && m.canRecall === true && m.body.type !== 'recalled') {
    li.appendChild(h('button', { type: 'button', class: 'small recall', 'aria-label': `Recall your message sent at ${clock(m.at)}`, onclick: () => onRecall(m.key) }, 'Recall'));
  }
}

/** The pinned region: open urgent and stat messages, until acknowledged. */
export class UrgentPins {
  readonly el = h('section', { class: 'pinned', 'aria-labelledby': 'pinned-title', hidden: true });
  private readonly heading = h('h3', { id: 'pinned-title' }, 'Waiting for acknowledgement');
  private readonly list = h('ul', { class: 'pinned-list' });

  constructor(private readonly onAcknowledge: (key: string) => void) {
    this.el.append(this.heading, this.list);
  }

  update(messages: readonly MessageView[]): void {
    const open = messages.filter((m) => m.urgent?.open === true);
    this.el.hidden = open.length === 0;
    replace(
      this.list,
      ...open.map((m) => {
        const u = m.urgent as NonNullable<MessageView['urgent']>;
        return h(
          'li',
          { class: `pinned-item urgent-${u.level}` },
          h('p', { class: 'pinned-meta' }, h('span', { class: `chip chip-${u.level}` }, u.label), ' ', h('span', { class: 'sender' }, m.mine ? 'You' : m.sender), ' · ', h('time', { datetime: new Date(m.at).toISOString() }, clock(m.at))),
          u.escalated !== undefined ? h('p', { class: 'escalated-note' }, u.escalated) : null,
          h('p', { class: 'pinned-text' }, snippet(m)),
          h('p', { class: 'ack-status' }, u.status),
          u.canAcknowledge ? h('button', { type: 'button', class: 'acknowledge', onclick: () => this.onAcknowledge(m.key) }, 'Acknowledge', srOnly(` the ${u.label.toLowerCase()} message from ${m.sender}`)) : null,
        );
      }),
    );
  }
}

/** Asks before recalling, honestly (`team`: the message went to a care team's members); whether to go on. */
export async function confirmRecall(name: string, team = false): Promise<boolean> {
  const who = team ? `the members of ${name}` : name;
  const whose = team ? "the members' devices" : `the devices of ${name}`;
  const choice = await openDialog(
    'Recall this message?',
    [
      h('p', {}, `Curbside deletes it from the server ${team ? 'where' : 'if'} it has not reached ${who} yet, and tells ${whose} to delete their copy and show “Message recalled”.`),
      h('p', { class: 'warning' }, `If ${team ? 'a member' : name} already read it, they may remember it or have copied it: a recall removes copies, not what a colleague has read.`),
    ],
    [
      { value: 'cancel', label: 'Cancel' },
      { value: 'recall', label: 'Recall message', kind: 'danger' },
    ],
    'cancel',
  ).result;
  return choice === 'recall';
}
