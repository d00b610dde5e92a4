// The login page: username + password -> bearer token kept in sessionStorage.

import { login, session } from '../api.js';
import { h } from '../dom.js';
import { DEFAULT_HASH, go } from '../router.js';

export function mount(root, { query }) {
  const message = session.flash();
  const error = h('p', { class: 'error', role: 'alert', id: 'login-error' });
  const user = h('input', { id: 'username-input', name: 'username', autocomplete: 'username', required: true });
  const pass = h('input', { id: 'password-input', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Log in');
  const form = h('form', { class: 'login', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, 'imageserver'),
    message ? h('p', { class: 'notice', role: 'status', id: 'login-notice' }, message) : null,
    h('label', { class: 'field', for: 'username-input' }, h('span', {}, 'User name'), user),
    h('label', { class: 'field', for: 'password-input' }, h('span', {}, 'Password'), pass),
    error,
    submit,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    submit.disabled = true;
    try {
      await login(user.value.trim(), pass.value);
      const next = query.get('next');
      go(next && next.startsWith('#/') && !next.startsWith('#/login') ? next : DEFAULT_HASH);
    } catch (err) {
      error.textContent = err.status === 401 ? 'Wrong user name or password.' : err.message;
      pass.select();
    } finally {
      submit.disabled = false;
    }
  });
  root.append(form);
  user.focus();
  return { title: 'Log in', unmount() {} };
}
