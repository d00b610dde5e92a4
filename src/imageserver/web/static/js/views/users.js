// Users (admin only): list, create, change role, disable / enable, reset password, delete.
// Disabling, deleting and a password reset end that user's sessions at once (server side).

import { api, get, session } from '../api.js';
import { fmtAgo, h, toast } from '../dom.js';

export function mount(root) {
  let alive = true;
  const status = h('p', { class: 'muted', role: 'status', id: 'users-status' });
  const body = h('tbody', { id: 'users-rows' });
  const table = h('table', { class: 'users-table card' },
    h('caption', { class: 'visually-hidden' }, 'Users'),
    h('thead', {}, h('tr', {}, ...['User', 'Role', 'State', 'Created', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
    body);

  const newName = h('input', { id: 'new-username', required: true, maxlength: '150', autocomplete: 'off' });
  const newPass = h('input', { id: 'new-password', type: 'password', required: true, minlength: '8', autocomplete: 'new-password' });
  const newRole = h('select', { id: 'new-role' }, h('option', { value: 'member' }, 'member'), h('option', { value: 'admin' }, 'admin'));
  const addError = h('p', { class: 'error', role: 'alert', id: 'add-user-error' });
  const addForm = h('form', { class: 'card', id: 'add-user', 'aria-labelledby': 'add-user-title' },
    h('h2', { id: 'add-user-title' }, 'Add a user'),
    h('label', { class: 'field', for: 'new-username' }, h('span', {}, 'User name'), newName),
    h('label', { class: 'field', for: 'new-password' }, h('span', {}, 'Password (at least 8 characters)'), newPass),
    h('label', { class: 'field', for: 'new-role' }, h('span', {}, 'Role'), newRole),
    addError,
    h('button', { type: 'submit', class: 'primary' }, 'Add user'));
  addForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    addError.textContent = '';
    try {
      const user = await api('/users', { method: 'POST', body: { username: newName.value.trim(), password: newPass.value, role: newRole.value } });
      addForm.reset();
      toast(`User ${user.username} added.`);
      await refresh();
    } catch (err) {
      if (err.status !== 401) addError.textContent = err.message;
    }
  });

  root.append(h('div', { class: 'page' }, h('h1', {}, 'Users'), status, table, h('div', { style: { marginTop: '1rem' } }, addForm)));

  async function change(user, patch, done) {
    try {
      await api(`/users/${user.id}`, { method: 'PATCH', body: patch });
      toast(done);
    } catch (err) {
      if (err.status !== 401) toast(err.message, { error: true });
    }
    await refresh();
  }

  function row(user) {
    const me = session.user && session.user.id === user.id;
    const role = h('select', { 'aria-label': `Role of ${user.username}`, class: 'role-select' },
      h('option', { value: 'member', selected: user.role === 'member' }, 'member'),
      h('option', { value: 'admin', selected: user.role === 'admin' }, 'admin'));
    role.addEventListener('change', () => change(user, { role: role.value }, `${user.username} is now ${role.value}.`));
    const toggle = h('button', { type: 'button', class: 'small', dataset: { action: 'toggle' },
      onclick: () => change(user, { disabled: !user.disabled }, `${user.username} ${user.disabled ? 'enabled' : 'disabled'}.`) },
    user.disabled ? 'Enable' : 'Disable');
    const reset = h('button', { type: 'button', class: 'small', dataset: { action: 'reset' }, onclick: () => {
      const password = window.prompt(`New password for ${user.username} (at least 8 characters). Their sessions end.`);
      if (password) change(user, { password }, `Password of ${user.username} reset; their sessions ended.`);
    } }, 'Reset password');
    const remove = h('button', { type: 'button', class: 'danger small', dataset: { action: 'delete' }, onclick: async () => {
      if (!window.confirm(`Delete the user “${user.username}”? Their sessions and API keys go too.`)) return;
      try {
        await api(`/users/${user.id}`, { method: 'DELETE' });
        toast(`User ${user.username} deleted.`);
      } catch (err) {
        if (err.status !== 401) toast(err.message, { error: true });
      }
      await refresh();
    } }, 'Delete');
    return h('tr', { dataset: { username: user.username, id: String(user.id) } },
      h('td', {}, user.username, me ? h('span', { class: 'muted small' }, ' (you)') : null),
      h('td', {}, role),
      h('td', { class: 'state' }, user.disabled ? 'disabled' : 'active'),
      h('td', { class: 'small muted' }, fmtAgo(user.created_at)),
      h('td', {}, h('div', { class: 'toolbar' }, toggle, reset, remove)));
  }

  async function refresh() {
    try {
      const users = await get('/users');
      if (!alive) return;
      body.replaceChildren(...users.map(row));
      status.textContent = `${users.length} ${users.length === 1 ? 'user' : 'users'}. Members see the libraries they are given; only admins manage libraries and users.`;
    } catch (err) {
      if (err.status === 403) status.textContent = 'Only admins manage users.';
      else if (err.status !== 401) status.textContent = err.message;
    }
  }

  refresh();
  return { title: 'Users', unmount() { alive = false; } };
}
