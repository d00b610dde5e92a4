// My account: change password, sessions (log one out, log out everywhere), API keys
// (create, shown once; list; revoke).

import { api, expire, get } from '../api.js';
import { fmtAgo, h, toast } from '../dom.js';

export function mount(root) {
  let alive = true;

  // ---- password ----
  const current = h('input', { id: 'current-password', type: 'password', required: true, autocomplete: 'current-password' });
  const next = h('input', { id: 'new-password', type: 'password', required: true, minlength: '8', autocomplete: 'new-password' });
  const passError = h('p', { class: 'error', role: 'alert', id: 'password-error' });
  const passForm = h('form', { class: 'card', id: 'password-form', 'aria-labelledby': 'password-title' },
    h('h2', { id: 'password-title' }, 'Change password'),
    h('label', { class: 'field', for: 'current-password' }, h('span', {}, 'Current password'), current),
    h('label', { class: 'field', for: 'new-password' }, h('span', {}, 'New password (at least 8 characters)'), next),
    passError,
    h('button', { type: 'submit', class: 'primary' }, 'Change password'));
  passForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    passError.textContent = '';
    try {
      await api('/auth/password', { method: 'POST', body: { current_password: current.value, new_password: next.value } });
      passForm.reset();
      toast('Password changed; your other sessions were logged out.');
      await refreshSessions();
    } catch (err) {
      if (err.status !== 401) passError.textContent = err.message;
    }
  });

  // ---- sessions ----
  const sessionRows = h('ul', { class: 'list', id: 'session-list' });
  const everywhere = h('button', { type: 'button', class: 'danger', id: 'logout-everywhere', onclick: async () => {
    if (!window.confirm('Log out every session, this one included?')) return;
    try {
      await api('/auth/logout-all', { method: 'POST' });
    } finally {
      expire('You have logged out everywhere.');
    }
  } }, 'Log out everywhere');
  const sessionsCard = h('section', { class: 'card', 'aria-labelledby': 'sessions-title' },
    h('h2', { id: 'sessions-title' }, 'Sessions'), sessionRows, everywhere);

  async function refreshSessions() {
    const list = await get('/auth/sessions');
    if (!alive) return;
    sessionRows.replaceChildren(...list.map((s) => h('li', { class: 'session', dataset: { id: String(s.id), current: String(s.current) } },
      h('span', {}, `${s.user_agent || 'unknown client'} · ${s.address || '?'} · since ${fmtAgo(s.created_at)}, last seen ${fmtAgo(s.last_seen_at)}`),
      s.current ? h('strong', { class: 'small' }, ' (this session)') : h('button', { type: 'button', class: 'small', onclick: async () => {
        await api(`/auth/sessions/${s.id}`, { method: 'DELETE' });
        toast('Session logged out.');
        await refreshSessions();
      } }, 'Log out'))));
  }

  // ---- API keys ----
  const keyName = h('input', { id: 'key-name', required: true, maxlength: '100', autocomplete: 'off' });
  const keyRO = h('input', { id: 'key-read-only', type: 'checkbox' });
  const shown = h('div', { id: 'new-key', hidden: true, role: 'status' });
  const keyError = h('p', { class: 'error', role: 'alert' });
  const keyRows = h('ul', { class: 'list', id: 'key-list' });
  const keyForm = h('form', { id: 'key-form' },
    h('label', { class: 'field', for: 'key-name' }, h('span', {}, 'Name (what the key is for)'), keyName),
    h('label', { class: 'small' }, keyRO, ' Read-only (may only read, never change anything)'),
    keyError,
    h('button', { type: 'submit', class: 'primary' }, 'Create API key'));
  keyForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    keyError.textContent = '';
    try {
      const made = await api('/auth/api-keys', { method: 'POST', body: { name: keyName.value.trim(), read_only: keyRO.checked } });
      keyForm.reset();
      shown.hidden = false;
      shown.replaceChildren(h('p', {}, `Key “${made.name}” — copy it now, it is not shown again:`), h('code', { class: 'secret', id: 'new-key-secret' }, made.key),
        h('p', { class: 'small muted' }, 'Send it as "Authorization: Bearer <key>" or "x-api-key: <key>".'));
      await refreshKeys();
    } catch (err) {
      if (err.status !== 401) keyError.textContent = err.message;
    }
  });
  const keysCard = h('section', { class: 'card', 'aria-labelledby': 'keys-title' },
    h('h2', { id: 'keys-title' }, 'API keys'), keyRows, shown, keyForm);

  async function refreshKeys() {
    const keys = await get('/auth/api-keys');
    if (!alive) return;
    keyRows.replaceChildren(...keys.map((k) => h('li', { class: 'api-key', dataset: { id: String(k.id), name: k.name } },
      h('span', {}, `${k.name} · ${k.prefix}… · ${k.read_only ? 'read-only' : 'read-write'} · created ${fmtAgo(k.created_at)} · last used ${k.last_used_at ? fmtAgo(k.last_used_at) : 'never'}`),
      h('button', { type: 'button', class: 'danger small', onclick: async () => {
        if (!window.confirm(`Revoke the key “${k.name}”? Programs using it stop at once.`)) return;
        await api(`/auth/api-keys/${k.id}`, { method: 'DELETE' });
        toast(`Key ${k.name} revoked.`);
        await refreshKeys();
      } }, 'Revoke'))));
  }

  const who = h('p', { class: 'muted', id: 'account-who' });
  root.append(h('div', { class: 'page' }, h('h1', {}, 'My account'), who, passForm, sessionsCard, keysCard));
  api('/auth/me').then((me) => { if (alive) who.textContent = `${me.username} · ${me.role}`; }).catch(() => {});
  Promise.all([refreshSessions(), refreshKeys()]).catch((err) => { if (err.status !== 401) toast(err.message, { error: true }); });
  return { title: 'My account', unmount() { alive = false; } };
}
