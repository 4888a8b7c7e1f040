/**
 * What a received message does to the state (`sync` in the CLI's
 * `messages/receive.rs`): text and files join the conversation with their
 * sender (our own other devices' messages join the conversation their `to`
 * names), read receipts raise our messages to read, a timer message sets
 * the conversation's timer from its server time on. Team content is
 * `teams.ts`'s (it runs first; a `read` may concern both), referral
 * content `referrals.ts`'s.
 */

import type { Received } from '../client/client.js';
import { addMessage, conversation, raiseStatus, setTimer, type AppState, type Body, type StoredMessage } from './state.js';
import { applyAcknowledge, applyRecall, wasRecalled } from './urgent.js';

export interface Effect {
  /** The conversation it concerns. */
  readonly peer: string | undefined;
  /** A new message from a colleague (unread, worth a notification). */
  readonly incoming: boolean;
  /** Message keys (`from:id`) whose copy was deleted (a recall): their decrypted files go too. */
  readonly deleted?: string[];
}

const NONE: Effect = { peer: undefined, incoming: false };

export function applyReceived(state: AppState, r: Received, now = Date.now()): Effect {
  const me = state.me.userId;
  const sender = r.sender.user_id;
  const fromMe = sender === me;
  const content = r.content;
  if (content === undefined) {
    if (fromMe) return NONE;
    const c = conversation(state, sender);
    const added = addMessage(c, { id: r.messageId, from: sender, at: r.sentAt, body: { type: 'undecryptable' }, status: 'received' });
    if (added) c.unread++;
    return { peer: sender, incoming: added };
  }
  switch (content.type) {
    case 'text':
    case 'attachment':
    case 'timer': {
      if (wasRecalled(state, sender, r.messageId)) return NONE; // it came after its recall
      const peers = fromMe ? content.to.filter((u) => u !== me) : [sender];
      const body: Body =
        content.type === 'text'
          ? { type: 'text', text: content.text }
          : content.type === 'attachment'
            ? { type: 'attachment', file: content.file }
            : { type: 'timer', seconds: content.seconds };
      let incoming = false;
      for (const peer of peers) {
        const c = conversation(state, peer);
        if (content.type === 'timer') setTimer(c, content.seconds, r.sentAt);
        const m: StoredMessage = { id: r.messageId, from: sender, at: r.sentAt, body, status: fromMe ? 'sent' : 'received' };
        const role = content.type === 'timer' ? undefined : content.role;
        // To an on-call role: the holder sees which; our own other devices keep it in the role's thread too.
        if (role !== undefined && r.kind === 'message') {
          if (fromMe) m.oncall = { role: role.role_id, name: role.name, to: [...peers] };
          else m.toRole = { role: role.role_id, name: role.name };
        }
        if (r.kind === 'message' && r.priority !== 'routine' && content.type !== 'timer') m.priority = r.priority;
        if (r.escalated && !fromMe) m.escalated = { afterSecs: Math.max(0, Math.round((now - r.sentAt) / 1000)) };
        const added = addMessage(c, m);
        if (added && !fromMe && content.type !== 'timer') {
          c.unread++;
          incoming = true;
        }
      }
      return { peer: peers[0], incoming };
    }
    case 'read': {
      if (fromMe) {
        // Read on another of our devices: nothing to send from here.
        for (const c of Object.values(state.conversations)) {
          for (const m of c.messages) if (m.from !== me && content.message_ids.includes(m.id)) m.readSent = true;
          c.unread = c.messages.filter((m) => m.from !== me && m.status === 'received' && m.readSent !== true && m.body.type !== 'timer').length;
        }
        return NONE;
      }
      const c = state.conversations[sender];
      if (c !== undefined) raiseStatus(c, me, content.message_ids, 'read');
      return { peer: sender, incoming: false };
    }
    case 'acknowledge':
      applyAcknowledge(state, sender, content.message_ids, r.sentAt);
      return NONE;
    case 'recall':
      return { peer: undefined, incoming: false, deleted: applyRecall(state, sender, content.message_ids) };
    default:
      return NONE;
  }
}
