// Favorites, archive, albums and share links as the views use them: the calls, the
// "add to album" picker and the share-link dialog (shared by the grid, album and viewer).

import { api, download, get } from './api.js';
import { h, toast } from './dom.js';
import { editDialog } from './edits.js';

/** Set (value=true) or clear a mark ('favorite' | 'archive') on many items at once. */
export async function markMany(kind, ids, value = true) {
  const out = await api(`/media/${kind}`, { method: 'POST', body: { ids, value } });
  return out.changed;
}

/** A modal <dialog> with a form; resolves with the submit's value or null (cancelled). */
export function dialog(title, fields, { submit = 'OK', id } = {}) {
  return new Promise((resolve) => {
    const error = h('p', { class: 'error', role: 'alert' });
    const form = h('form', { method: 'dialog' }, h('h2', {}, title), ...fields.nodes, error,
      h('div', { class: 'toolbar' },
        h('button', { type: 'submit', class: 'primary', value: 'ok' }, submit),
        h('button', { type: 'button', onclick: () => { el.close(); } }, 'Cancel')));
    const el = h('dialog', { id }, form);
    let result = null;
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      error.textContent = '';
      try {
        result = await fields.value();
        el.close();
      } catch (err) {
        if (err.status !== 401) error.textContent = err.message;
      }
    });
    el.addEventListener('close', () => { el.remove(); resolve(result); });
    document.body.append(el);
    el.showModal();
    el.querySelector('input, select')?.focus();
  });
}

/** Ask which album (or a new one) and add the ids there. Resolves true when added. */
export async function addToAlbum(ids) {
  let albums = [];
  try { albums = (await get('/albums')).filter((a) => a.role !== 'viewer'); } catch { /* none */ }
  const select = h('select', { id: 'album-pick', 'aria-label': 'Album' },
    h('option', { value: '' }, 'A new album…'),
    ...albums.map((a) => h('option', { value: String(a.id) }, `${a.name} (${a.item_count})`)));
  const name = h('input', { id: 'album-new-name', maxlength: '200', placeholder: 'Name of the new album' });
  select.addEventListener('change', () => { name.hidden = select.value !== ''; });
  const done = await dialog(`Add ${ids.length} ${ids.length === 1 ? 'item' : 'items'} to an album`, {
    nodes: [h('label', { class: 'field' }, h('span', {}, 'Album'), select), h('label', { class: 'field' }, name)],
    async value() {
      let albumId = Number(select.value);
      let label = select.selectedOptions[0]?.textContent || '';
      if (!albumId) {
        const n = name.value.trim();
        if (!n) throw new Error('Give the new album a name.');
        const album = await api('/albums', { method: 'POST', body: { name: n } });
        albumId = album.id;
        label = album.name;
      }
      await api(`/albums/${albumId}/items`, { method: 'POST', body: { ids } });
      return { albumId, label };
    },
  }, { submit: 'Add', id: 'album-dialog' });
  if (done) toast(`Added to ${done.label}.`);
  return done;
}

/** The share-link dialog for an album or a list of ids; shows the link to copy. */
export async function shareDialog({ albumId = null, mediaIds = [] }) {
  const expires = h('input', { id: 'share-expires', type: 'date' });
  const password = h('input', { id: 'share-password', type: 'password', minlength: '4', autocomplete: 'new-password' });
  const allow = h('input', { id: 'share-download', type: 'checkbox' });
  const meta = h('input', { id: 'share-metadata', type: 'checkbox' });
  const share = await dialog('Create a share link', {
    nodes: [
      h('p', { class: 'muted small' }, 'Anyone with the link sees these items, without an account.'),
      h('label', { class: 'field' }, h('span', {}, 'Expires (optional)'), expires),
      h('label', { class: 'field' }, h('span', {}, 'Password (optional, at least 4 characters)'), password),
      h('label', {}, allow, ' Allow downloading the originals'),
      h('label', {}, meta, ' Show camera and location details'),
    ],
    value: () => api('/shares', { method: 'POST', body: {
      album_id: albumId,
      media_ids: mediaIds,
      expires_at: expires.value ? new Date(`${expires.value}T23:59:59`).toISOString() : null,
      password: password.value || null,
      allow_download: allow.checked,
      show_metadata: meta.checked,
    } }),
  }, { submit: 'Create link', id: 'share-dialog' });
  if (!share) return null;
  await showLink(share);
  return share;
}

export const shareUrl = (share) => `${location.origin}/#/s/${share.token}`;

function showLink(share) {
  const link = h('input', { id: 'share-link', readonly: true, value: shareUrl(share) });
  return dialog('Share link', {
    nodes: [
      h('p', {}, share.has_password ? 'The link asks for its password.' : 'Anyone with this link can open it.'),
      h('label', { class: 'field' }, h('span', {}, 'Link'), link),
      h('button', { type: 'button', class: 'small', onclick: async () => {
        link.select();
        try { await navigator.clipboard.writeText(link.value); toast('Link copied.'); } catch { toast('Select the link and copy it.'); }
      } }, 'Copy'),
    ],
    value: () => true,
  }, { submit: 'Done', id: 'share-link-dialog' });
}

/** The grid actions every photo view offers for its selection. */
export function selectionActions({ archived = false, after = () => {} } = {}) {
  return [
    { id: 'sel-album', label: 'Add to album', run: async (ids) => Boolean(await addToAlbum(ids)) },
    { id: 'sel-favorite', label: 'Favorite', run: async (ids) => { await markMany('favorite', ids); toast(`${ids.length} marked as favorite.`); after(); } },
    archived
      ? { id: 'sel-unarchive', label: 'Unarchive', run: async (ids) => { await markMany('archive', ids, false); toast(`${ids.length} back in the timeline.`); after(); } }
      : { id: 'sel-archive', label: 'Archive', run: async (ids) => { await markMany('archive', ids); toast(`${ids.length} archived.`); after(); } },
    { id: 'sel-edit', label: 'Edit', run: async (ids) => {
      const changed = await editDialog({ ids });
      if (changed === null) return false;
      after();
      return true;
    } },
    { id: 'sel-share', label: 'Share', run: async (ids) => Boolean(await shareDialog({ mediaIds: ids })) },
    { id: 'sel-download', label: 'Download', run: async (ids) => {
      toast(`Preparing ${ids.length} ${ids.length === 1 ? 'original' : 'originals'}…`);
      await download('/media/download', `imageserver-${ids.length}-items.zip`, { method: 'POST', body: { ids } });
    } },
  ];
}
