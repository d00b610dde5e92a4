// Albums (#/albums): the caller's albums and those shared with them, a new album, and the
// way to the Archive and the share links.

import { api, get } from '../api.js';
import { fmtCount, fmtDate, h, toast } from '../dom.js';
import { go } from '../router.js';
import { showImage, thumbPath } from '../thumbs.js';

export function mount(root) {
  let alive = true;
  const status = h('p', { class: 'muted', role: 'status', id: 'albums-status' });
  const list = h('div', { class: 'cards albums', id: 'albums-list' });
  const name = h('input', { id: 'new-album-name', required: true, maxlength: '200', placeholder: 'Name', 'aria-label': 'Name of the new album' });
  const form = h('form', { class: 'toolbar', id: 'new-album' }, name, h('button', { type: 'submit', class: 'primary' }, 'New album'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const album = await api('/albums', { method: 'POST', body: { name: name.value.trim() } });
      toast(`Album ${album.name} created.`);
      go(`#/albums/${album.id}`);
    } catch (err) {
      if (err.status !== 401) toast(err.message, { error: true });
    }
  });
  root.append(h('div', { class: 'page' },
    h('div', { class: 'toolbar' }, h('h1', { class: 'inline-title' }, 'Albums'), h('span', { class: 'spacer' }),
      h('a', { class: 'btn small', href: '#/favorites' }, 'Favorites'),
      h('a', { class: 'btn small', href: '#/archive' }, 'Archive'),
      h('a', { class: 'btn small', href: '#/unreadable', title: 'Files no picture could be made of' }, 'Could not read'),
      h('a', { class: 'btn small', href: '#/shares' }, 'Share links')),
    form, status, list));

  function card(album) {
    const img = h('img', { alt: '' });
    if (album.cover_media_id) showImage(img, thumbPath(album.cover_media_id, 'small'));
    const dates = album.date_from ? `${fmtDate(album.date_from)}${album.date_to && album.date_to.slice(0, 10) !== album.date_from.slice(0, 10) ? ' – ' + fmtDate(album.date_to) : ''}` : '';
    return h('a', { class: 'card album-card', href: `#/albums/${album.id}`, dataset: { id: String(album.id), name: album.name } },
      h('div', { class: 'cover' }, img),
      h('strong', {}, album.name),
      h('span', { class: 'muted small' }, `${fmtCount(album.item_count)} items${dates ? ' · ' + dates : ''}`),
      album.role !== 'owner' ? h('span', { class: 'muted small' }, `shared by ${album.owner.username} · ${album.role}`) : null);
  }

  async function refresh() {
    try {
      const albums = await get('/albums');
      if (!alive) return;
      list.replaceChildren(...albums.map(card));
      status.textContent = albums.length ? '' : 'No albums yet. Name one above, or select photos in the timeline and choose “Add to album”.';
    } catch (err) {
      if (err.status !== 401) status.textContent = err.message;
    }
  }
  refresh();
  return { title: 'Albums', unmount() { alive = false; } };
}
