// Libraries: health (reachable / stale and why), enable / disable, excluded folders,
// rename, add and remove (those controls are data-admin-only: a member sees the list).
// Refreshed on every tick, without touching a form being edited.

import { api, get, onTick } from '../api.js';
import { fmtAgo, fmtCount, h, toast } from '../dom.js';

function healthBadge(health) {
  if (health.status === 'reachable') return h('span', { class: 'badge ok' }, 'reachable');
  if (health.status === 'stale') return h('span', { class: 'badge bad' }, 'stale');
  return h('span', { class: 'badge' }, 'not checked yet');
}

const lines = (text) => text.split('\n').map((s) => s.trim()).filter(Boolean);

export function mount(root) {
  const cards = new Map(); // id -> {el, refs, lib}
  let alive = true;
  const status = h('p', { class: 'muted', role: 'status', id: 'libraries-status' });
  const list = h('div', { class: 'list', id: 'library-list' });

  // ---- add form ----
  const addName = h('input', { id: 'add-name', required: true, maxlength: '200', autocomplete: 'off' });
  const addPath = h('input', { id: 'add-path', required: true, placeholder: '/mnt/photos', autocomplete: 'off' });
  const addExcl = h('textarea', { id: 'add-excluded', placeholder: '@eaDir\n2019/raw', rows: '3' });
  const addError = h('p', { class: 'error', role: 'alert' });
  const addForm = h('form', { class: 'card', id: 'add-library', 'aria-labelledby': 'add-title', 'data-admin-only': true },
    h('h2', { id: 'add-title' }, 'Add a library'),
    h('label', { class: 'field', for: 'add-name' }, h('span', {}, 'Name'), addName),
    h('label', { class: 'field', for: 'add-path' }, h('span', {}, 'Folder on the server'), addPath),
    h('label', { class: 'field', for: 'add-excluded' }, h('span', {}, 'Excluded folders (one per line: a folder name or a path inside the library)'), addExcl),
    addError,
    h('button', { type: 'submit', class: 'primary' }, 'Add library'));
  addForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    addError.textContent = '';
    try {
      const lib = await api('/libraries', { method: 'POST', body: { name: addName.value.trim(), root_path: addPath.value.trim(), excluded_dirs: lines(addExcl.value) } });
      addForm.reset();
      toast(`Library ${lib.name} added; it is indexed in the background.`);
      await refresh();
    } catch (err) {
      if (err.status !== 401) addError.textContent = err.message;
    }
  });

  root.append(h('div', { class: 'page' }, h('h1', {}, 'Libraries'), status, list, h('div', { style: { marginTop: '1rem' } }, addForm)));

  function card(lib) {
    const refs = {};
    refs.health = h('span', { class: 'health' });
    refs.reason = h('p', { class: 'error small', hidden: true });
    refs.enabled = h('input', { type: 'checkbox', class: 'enabled-toggle', 'aria-label': `Enabled: ${lib.name}` });
    refs.enabled.addEventListener('change', () => patch(lib.id, { enabled: refs.enabled.checked }, refs.enabled));
    refs.title = h('h2', {});
    refs.path = h('div', { class: 'path' });
    refs.items = h('span', {});
    refs.scans = h('span', {});
    refs.name = h('input', { maxlength: '200', 'aria-label': 'Name' });
    refs.excluded = h('textarea', { rows: '3', 'aria-label': `Excluded folders of ${lib.name}`, class: 'excluded' });
    refs.error = h('p', { class: 'error', role: 'alert' });
    const form = h('form', { 'data-admin-only': true },
      h('label', { class: 'field' }, h('span', {}, 'Name'), refs.name),
      h('label', { class: 'field' }, h('span', {}, 'Excluded folders (one per line)'), refs.excluded),
      refs.error,
      h('div', { class: 'toolbar' },
        h('button', { type: 'submit', class: 'primary small' }, 'Save'),
        h('span', { class: 'spacer' }),
        h('button', { type: 'button', class: 'danger small', onclick: () => remove(lib.id) }, 'Remove library')));
    form.addEventListener('input', () => { form.dataset.dirty = '1'; });
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      refs.error.textContent = '';
      const ok = await patch(lib.id, { name: refs.name.value.trim(), excluded_dirs: lines(refs.excluded.value) }, null, refs.error);
      if (ok) { delete form.dataset.dirty; toast('Saved. The change applies on the next scan tick.'); }
    });
    refs.form = form;
    const el = h('section', { class: 'card lib', dataset: { id: String(lib.id) }, 'aria-labelledby': `lib-title-${lib.id}` },
      h('div', { class: 'lib-head' }, refs.title, refs.health, h('span', { class: 'spacer', style: { flex: '1' } }),
        h('label', { class: 'switch', 'data-admin-only': true }, refs.enabled, 'Enabled')),
      refs.path, refs.reason,
      h('div', { class: 'lib-grid' },
        h('div', {}, h('div', { class: 'small muted' }, 'Items'), refs.items, h('div', { class: 'small muted', style: { marginTop: '.5rem' } }, 'Scans'), refs.scans),
        form));
    refs.title.id = `lib-title-${lib.id}`;
    return { el, refs };
  }

  function update(entry, lib, stats) {
    const { refs } = entry;
    entry.lib = lib;
    refs.title.textContent = lib.name;
    refs.health.replaceChildren(healthBadge(lib.health));
    refs.reason.hidden = !lib.health.reason;
    refs.reason.textContent = lib.health.reason ? `Stale: ${lib.health.reason}. Nothing is retired while it is unreachable.` : '';
    if (!refs.enabled.disabled) refs.enabled.checked = lib.enabled;
    refs.path.textContent = lib.root_path ?? '';
    refs.items.textContent = stats
      ? `${fmtCount(stats.media)} (${fmtCount(stats.photos)} photos, ${fmtCount(stats.videos)} videos)`
      : '…';
    refs.scans.textContent = `quick ${fmtAgo(lib.last_quick_scan_at)}, full ${fmtAgo(lib.last_full_scan_at)}`;
    const editing = refs.form.dataset.dirty || refs.form.contains(document.activeElement);
    if (!editing) {
      refs.name.value = lib.name;
      refs.excluded.value = (lib.excluded_dirs || []).join('\n');
    }
    entry.el.classList.toggle('disabled', !lib.enabled);
  }

  async function patch(id, body, toggle, errorEl) {
    if (toggle) toggle.disabled = true;
    try {
      const lib = await api(`/libraries/${id}`, { method: 'PATCH', body });
      const entry = cards.get(id);
      if (entry) update(entry, lib, entry.stats);
      if (toggle) toast(lib.enabled ? `${lib.name} enabled: its items come back on the next tick.` : `${lib.name} disabled: its items are hidden.`);
      return true;
    } catch (err) {
      if (err.status === 401) return false;
      if (errorEl) errorEl.textContent = err.message; else toast(err.message, { error: true });
      if (toggle) toggle.checked = !toggle.checked;
      return false;
    } finally {
      if (toggle) toggle.disabled = false;
    }
  }

  async function remove(id) {
    const entry = cards.get(id);
    const name = entry?.lib.name || id;
    if (!window.confirm(`Remove the library “${name}”?\n\nIts files on disk are not touched; its entries in the index are dropped.`)) return;
    try {
      await api(`/libraries/${id}`, { method: 'DELETE' });
      toast(`Library ${name} removed.`);
      await refresh();
    } catch (err) {
      if (err.status !== 401) toast(err.message, { error: true });
    }
  }

  async function refresh() {
    try {
      const [libs, backlogs] = await Promise.all([get('/libraries'), get('/stats/backlogs').catch(() => ({ libraries: [] }))]);
      if (!alive) return;
      const stats = new Map(backlogs.libraries.map((b) => [b.library_id, b]));
      const seen = new Set();
      libs.forEach((lib, index) => {
        seen.add(lib.id);
        let entry = cards.get(lib.id);
        if (!entry) { entry = card(lib); cards.set(lib.id, entry); }
        entry.stats = stats.get(lib.id);
        update(entry, lib, entry.stats);
        // Keep the server's order, moving nothing already in place (a move would blur a form).
        if (list.children[index] !== entry.el) list.insertBefore(entry.el, list.children[index] || null);
      });
      for (const [id, entry] of cards) if (!seen.has(id)) { entry.el.remove(); cards.delete(id); }
      const stale = libs.filter((l) => l.health.status === 'stale').length;
      status.textContent = libs.length
        ? `${libs.length} ${libs.length === 1 ? 'library' : 'libraries'}${stale ? `, ${stale} stale` : ''}. Changes apply on the next scan tick, without a restart.`
        : 'No libraries yet: add the folder where your photos are.';
    } catch (err) {
      if (err.status !== 401) status.textContent = err.message;
    }
  }

  refresh();
  const stop = onTick(refresh);
  return { title: 'Libraries', unmount() { alive = false; stop(); } };
}
