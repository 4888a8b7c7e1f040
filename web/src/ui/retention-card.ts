/**
 * The Admin screen's retention setting: the organisation's maximum message
 * lifespan (whole days, or no limit), changed only after a confirmation
 * that says what it deletes, and the result saying that it was audited.
 */

import type { AdminConsole, AdminOutcome } from '../app/index.js';
import { openDialog } from './dialogs.js';
import { h, uid } from './dom.js';

export class RetentionCard {
  readonly el: HTMLElement;
  private readonly current = h('p', { class: 'retention-current' });
  private readonly limit: HTMLInputElement;
  private readonly days: HTMLInputElement;
  private readonly save = h('button', { type: 'button', class: 'primary' }, 'Apply retention');
  private started = false;

  constructor(
    private readonly console: () => AdminConsole | undefined,
    private readonly show: (o: AdminOutcome) => void,
  ) {
    const limitId = uid('retention-limit');
    const daysId = uid('retention-days');
    const hintId = `${daysId}-hint`;
    this.limit = h('input', { id: limitId, type: 'checkbox', onchange: () => (this.days.disabled = !this.limit.checked) });
    this.days = h('input', { id: daysId, type: 'number', min: 1, max: 36500, step: 1, inputmode: 'numeric', value: '30', 'aria-describedby': hintId });
    this.save.addEventListener('click', () => void this.apply());
    this.el = h(
      'section',
      { class: 'card admin-card', 'aria-labelledby': 'admin-retention-title' },
      h('h3', { id: 'admin-retention-title' }, 'Message retention'),
      this.current,
      h('div', { class: 'check' }, this.limit, h('label', { for: limitId }, 'Delete messages after a maximum lifespan')),
      h('div', { class: 'field retention-days' }, h('label', { for: daysId }, 'Lifespan in days'), this.days),
      h('p', { id: hintId, class: 'hint' }, 'The server deletes older queued messages and attachments; every clinician’s devices delete older history and refuse longer disappearing-message timers. The change is recorded in the audit log.'),
      this.save,
    );
  }

  update(): void {
    const c = this.console();
    if (c === undefined) return;
    if (!this.started) {
      this.started = true;
      void c.loadRetention().then(() => {
        const r = c.retention;
        if (r === undefined) return;
        this.limit.checked = r.days !== null;
        this.days.disabled = r.days === null;
        if (r.days !== null) this.days.value = String(r.days);
      });
    }
    this.current.textContent = c.retention === undefined ? 'Reading the policy in effect…' : `In effect: ${c.retention.words}`;
  }

  private async apply(): Promise<void> {
    const c = this.console();
    if (c === undefined) return;
    const days = this.limit.checked ? Number(this.days.value) : null;
    if (days !== null && (!Number.isInteger(days) || days < 1)) {
      this.show({ ok: false, text: 'Enter a whole number of days (1 or more), or untick the limit.' });
      this.days.focus();
      return;
    }
    const what = days === null ? 'Remove the retention limit?' : `Delete messages after ${days} day${days === 1 ? '' : 's'}?`;
    const body =
      days === null
        ? 'Messages will be kept until a conversation timer (if any) deletes them. The change is recorded in the audit log.'
        : `Every message and attachment older than ${days} day${days === 1 ? '' : 's'} will be deleted from the server and from every clinician’s devices, including what is already older. This cannot be undone. The change is recorded in the audit log.`;
    const answer = await openDialog(what, [h('p', {}, body)], [{ value: 'cancel', label: 'Cancel' }, { value: 'apply', label: days === null ? 'Remove the limit' : 'Apply retention', kind: 'danger' }], 'cancel').result;
    if (answer !== 'apply') return;
    this.save.disabled = true;
    try {
      this.show(await c.setRetention(days));
    } finally {
      this.save.disabled = false;
    }
  }
}
