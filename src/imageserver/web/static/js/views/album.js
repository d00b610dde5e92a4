// One album (#/albums/3): its items, rename / delete / cover, members and their roles (the
// owner), share links (owner and editors), remove items with the selection bar.

import { api, get, session } from '../api.js';
import { addToAlbum, markMany, shareDialog } from '../collections.js';
import { fmtCount, h, toast } from '../dom.js';
import { go } from '../router.js';
import { Selection, selectionBar } from '../selection.js';
import { listNav, tile } from '../tiles.js';

const PAGE = 1000;

export function mount(root, { params }) {
  const id = Number(params[0]);
  let alive = true;
  let album = null;
  let ids = [];
  const selection = new Selection();
  const title = h('h1', { id: 'album-title', class: 'inline-title' }, 'Album');
  const meta = h('p', { class: 'muted small', id: 'album-meta' });
  const tools = h('div', { class: 'toolbar', id: 'album-tools' });
  const members = h('section', { class: 'card', id: 'album-members', hidden: true });
  const items = h('div', { class: 'simple-grid', id: 'album-items' });
  const bar = selectionBar(selection, [
    { id: 'sel-cover', label: 'Set as cover', run: async (sel) => { await patch({ cover_media_id: sel[0] }, 'Cover set.'); } },
    { id: 'sel-remove', label: 'Remove from album', run: async (sel) => {
      await api(`/albums/${id}/items`, { method: 'DELETE', body: { ids: sel } });
      toast(`${sel.length} removed from the album.`);
      await load();
    } },
    { id: 'sel-album', label: 'Add to another album', run: async (sel) => Boolean(await addToAlbum(sel)) },
    { id: 'sel-favorite', label: 'Favorite', run: async (sel) => { await markMany('favorite', sel); toast(`${sel.length} marked as favorite.`); } },
  ]);
  const stopSelection = selection.attach(items);
  root.append(h('div', { class: 'page' },
    h('p', { class: 'small' }, h('a', { href: '#/albums' }, '← All albums')),
    h('div', { class: 'toolbar' }, title, bar.toggle), meta, tools, bar.el, items, members));

  async function patch(changes, message) {
    try {
      await api(`/albums/${id}`, { method: 'PATCH', body: changes });
      toast(message);
      await load();
    } catch (err) {
      if (err.status !== 401) toast(err.message, { error: true });
    }
  }

  function drawTools() {
    const canEdit = album.role === 'owner' || album.role === 'editor';
    const rename = h('button', { type: 'button', class: 'small', id: 'album-rename', onclick: () => {
      const name = window.prompt('New name of the album', album.name);
      if (name && name.trim()) patch({ name: name.trim() }, 'Album renamed.');
    } }, 'Rename');
    const share = h('button', { type: 'button', class: 'small', id: 'album-share', onclick: () => shareDialog({ albumId: id }) }, 'Create share link');
    const remove = h('button', { type: 'button', class: 'small danger', id: 'album-delete', onclick: async () => {
      if (!window.confirm(`Delete the album “${album.name}”? Its photos stay in the library.`)) return;
      try {
        await api(`/albums/${id}`, { method: 'DELETE' });
        toast('Album deleted.');
        go('#/albums');
      } catch (err) {
        if (err.status !== 401) toast(err.message, { error: true });
      }
    } }, 'Delete album');
    tools.replaceChildren(...(canEdit ? [rename, share] : []), ...(album.role === 'owner' ? [remove] : []));
    bar.toggle.hidden = !canEdit;
  }

  async function drawMembers() {
    if (album.role !== 'owner') { members.hidden = true; return; }
    const rows = album.members.map((m) => {
      const role = h('select', { 'aria-label': `Role of ${m.username}`, class: 'member-role' },
        h('option', { value: 'viewer', selected: m.role === 'viewer' }, 'viewer'),
        h('option', { value: 'editor', selected: m.role === 'editor' }, 'editor'));
      role.addEventListener('change', () => member(m.user_id, role.value));
      return h('li', { dataset: { username: m.username } }, m.username, ' ', role, ' ',
        h('button', { type: 'button', class: 'small danger', onclick: async () => {
          try { await api(`/albums/${id}/members/${m.user_id}`, { method: 'DELETE' }); await load(); } catch (err) { if (err.status !== 401) toast(err.message, { error: true }); }
        } }, 'Remove'));
    });
    let users = [];
    if (session.user?.is_admin !== false) { try { users = await get('/users'); } catch { /* members cannot list users */ } }
    const taken = new Set([album.owner.id, ...album.members.map((m) => m.user_id)]);
    const who = users.length
      ? h('select', { id: 'member-user', 'aria-label': 'User' }, users.filter((u) => !taken.has(u.id)).map((u) => h('option', { value: String(u.id) }, u.username)))
      : h('input', { id: 'member-user', inputmode: 'numeric', placeholder: 'user id', 'aria-label': 'User id' });
    const role = h('select', { id: 'member-role', 'aria-label': 'Role' }, h('option', { value: 'viewer' }, 'viewer'), h('option', { value: 'editor' }, 'editor'));
    const form = h('form', { class: 'toolbar' }, who, role, h('button', { type: 'submit', class: 'small' }, 'Add member'));
    form.addEventListener('submit', (event) => { event.preventDefault(); if (Number(who.value)) member(Number(who.value), role.value); });
    members.replaceChildren(h('h2', {}, 'Members'),
      h('p', { class: 'muted small' }, 'Members see the album’s items; editors may also add and remove items and share it.'),
      rows.length ? h('ul', { id: 'member-list' }, rows) : h('p', { class: 'muted small' }, 'Only you.'), form);
    members.hidden = false;
  }

  async function member(userId, role) {
    try {
      await api(`/albums/${id}/members`, { method: 'POST', body: { user_id: userId, role } });
      toast('Members saved.');
      await load();
    } catch (err) {
      if (err.status !== 401) toast(err.message, { error: true });
    }
  }

  async function load() {
    try {
      const found = await get(`/albums/${id}`, { limit: PAGE });
      if (!alive) return;
      album = found;
      title.textContent = album.name;
      document.title = `${album.name} · imageserver`;
      meta.textContent = `${fmtCount(album.item_count)} ${album.item_count === 1 ? 'item' : 'items'} · ${album.role === 'owner' ? 'yours' : `shared by ${album.owner.username} (${album.role})`}`;
      ids = album.items.map((i) => i.id);
      items.replaceChildren(...album.items.map((i) => {
        const el = tile({ id: i.id, kind: i.kind, label: i.name, extraClass: i.id === album.cover_media_id ? 'cover' : '' });
        if (selection.has(i.id)) el.classList.add('selected');
        return el;
      }));
      if (!album.items.length) items.append(h('p', { class: 'muted' }, 'No items yet: select photos in the timeline and choose “Add to album”.'));
      drawTools();
      drawMembers();
    } catch (err) {
      if (err.status !== 401) title.textContent = err.status === 404 ? 'No such album' : err.message;
    }
  }
  load();
  return {
    title: 'Album',
    navFor() { return listNav(ids); },
    reveal(mediaId) { items.querySelector(`.tile[data-id="${mediaId}"]`)?.focus(); },
    unmount() { alive = false; stopSelection(); },
  };
}
