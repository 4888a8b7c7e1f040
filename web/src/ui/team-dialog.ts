/**
 * The "New team" dialog: the team's name and its members, chosen from the
 * directory by name. It stays open while something needs fixing (each
 * problem beside its field, the focus on the first); on success the new
 * team's conversation opens.
 */

import type { AppModel } from '../app/index.js';
import { field } from './fields.js';
import { h, uid } from './dom.js';
import { MemberPicker } from './team-picker.js';

/** Opens the dialog; resolves with the new team's key, or `undefined` if cancelled. */
export function newTeamDialog(model: AppModel): Promise<string | undefined> {
  const titleId = uid('dialog-title');
  const name = field('Team name', { type: 'text', autocomplete: 'off', maxlength: '80' }, 'Members see this name, such as “Ward 4 consults”.');
  const picker = new MemberPicker(model, 'Members');
  const formError = h('p', { class: 'form-error', role: 'alert' });
  const create = h('button', { type: 'submit', class: 'primary' }, 'Create team');
  const cancel = h('button', { type: 'button' }, 'Cancel');
  const form = h(
    'form',
    { class: 'team-form', novalidate: true },
    h('p', { class: 'hint' }, 'Team messages are end-to-end encrypted to each member; the server never learns the team exists.'),
    name.row,
    picker.el,
    formError,
    h('div', { class: 'dialog-actions' }, cancel, create),
  );
  const el = h('dialog', { 'aria-labelledby': titleId, class: 'team-dialog' }, h('h2', { id: titleId }, 'New team'), form);
  let resolve: (v: string | undefined) => void = () => undefined;
  const result = new Promise<string | undefined>((r) => (resolve = r));
  let done = false;
  const close = (value: string | undefined): void => {
    if (done) return;
    done = true;
    el.close();
    el.remove();
    resolve(value);
  };
  el.addEventListener('cancel', (e) => {
    e.preventDefault();
    close(undefined);
  });
  cancel.addEventListener('click', () => close(undefined));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void submit();
  });
  const submit = async (): Promise<void> => {
    const teams = model.teams;
    if (teams === undefined) return close(undefined);
    name.setError(undefined);
    picker.setError(undefined);
    formError.textContent = '';
    create.disabled = true;
    create.textContent = 'Creating…';
    const r = await teams.create(name.input.value, picker.chosen);
    create.disabled = false;
    create.textContent = 'Create team';
    if (r.ok) {
      close(r.key);
      return;
    }
    if (r.field === 'name') {
      name.setError(r.message);
      name.input.focus();
    } else if (r.field === 'members') {
      picker.setError(r.message);
      picker.input.focus();
    } else {
      formError.textContent = r.message;
    }
  };
  document.body.appendChild(el);
  el.showModal();
  name.input.focus();
  return result;
}
