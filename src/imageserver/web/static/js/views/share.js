// The public share page (#/s/TOKEN): no login. Asks for the password when the link has
// one, shows the shared items' thumbnails (the link's own URLs), a larger view on click and
// the zip of the originals when the link allows downloads.

import { api } from '../api.js';
import { fmtDate, h } from '../dom.js';

const KEY = (token) => `imageserver.share.${token}`;

const withSize = (url, size) => `${url}${url.includes('?') ? '&' : '?'}size=${size}`;
const HLS_MODULE = '/static/vendor/hls.js/hls.light.min.mjs';

/** A shared video: its signed playlist through hls.js (or the browser's own HLS). */
async function playShared(video, url) {
  if (!(window.MediaSource || window.ManagedMediaSource) && video.canPlayType('application/vnd.apple.mpegurl')) {
    video.src = url;
    return null;
  }
  const Hls = (await import(HLS_MODULE)).default;
  if (!Hls.isSupported()) { video.src = url; return null; }
  const hls = new Hls({ enableWorker: true });
  hls.on(Hls.Events.ERROR, (_e, data) => {
    if (data.fatal) video.closest('.share-big')?.querySelector('.video-error')?.replaceChildren(`The video cannot be played right now (${data.details}).`);
  });
  hls.loadSource(url);
  hls.attachMedia(video);
  return hls;
}

export function mount(root, { params }) {
  const token = params[0];
  let alive = true;
  const title = h('h1', { id: 'share-title' }, 'Shared photos');
  const status = h('p', { class: 'muted', role: 'status', id: 'share-status' }, 'Loading…');
  const actions = h('div', { class: 'toolbar', id: 'share-actions' });
  const grid = h('div', { class: 'simple-grid', id: 'share-items' });
  const big = h('div', { class: 'share-big', id: 'share-big', hidden: true });
  root.append(h('div', { class: 'page share-page' }, title, status, actions, grid, big));

  function key() { return sessionStorage.getItem(KEY(token)) || ''; }

  function passwordForm(message) {
    const input = h('input', { id: 'share-password-input', type: 'password', required: true, autocomplete: 'current-password' });
    const error = h('p', { class: 'error', role: 'alert', id: 'share-password-error' }, message || '');
    const form = h('form', { class: 'card', id: 'share-unlock' },
      h('label', { class: 'field' }, h('span', {}, 'This link is protected. Password'), input),
      error, h('button', { type: 'submit', class: 'primary' }, 'Open'));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      error.textContent = '';
      try {
        const out = await api(`/s/${encodeURIComponent(token)}/unlock`, { method: 'POST', body: { password: input.value }, auth: false });
        sessionStorage.setItem(KEY(token), out.key);
        load();
      } catch (err) {
        error.textContent = err.status === 403 ? 'Wrong password.' : err.message;
      }
    });
    status.textContent = '';
    grid.replaceChildren(form);
    input.focus();
  }

  let player = null;

  function close() {
    player?.destroy();
    player = null;
    big.querySelector('video')?.pause();
    big.hidden = true;
  }

  function show(item) {
    close();
    let media;
    if (item.kind === 'video' && item.stream_url) {
      media = h('video', { controls: true, playsInline: true, id: 'share-video', poster: withSize(item.thumbnail_url, 'large'), 'aria-label': `Video ${item.name}` });
      playShared(media, item.stream_url).then((hls) => { player = hls; media.play().catch(() => {}); });
    } else {
      media = h('img', { src: withSize(item.thumbnail_url, 'large'), alt: item.name });
    }
    big.replaceChildren(
      h('button', { type: 'button', class: 'small', onclick: close }, '✕ Close'),
      media, h('p', { class: 'small video-error', role: 'status' }), h('p', { class: 'small' }, `${item.name} · ${fmtDate(item.taken_at)}`),
      item.original_url ? h('a', { class: 'btn small', href: item.original_url, download: item.name }, 'Download original') : null);
    big.hidden = false;
  }

  async function load() {
    const k = key();
    let page;
    try {
      page = await api(`/s/${encodeURIComponent(token)}`, { auth: false, query: { key: k || undefined } });
    } catch (err) {
      if (!alive) return;
      if (err.status === 403) { sessionStorage.removeItem(KEY(token)); passwordForm(k ? 'The key expired: enter the password again.' : ''); return; }
      title.textContent = 'Link not available';
      status.textContent = err.status === 404 ? 'This link does not exist, has expired or was revoked.' : err.message;
      return;
    }
    if (!alive) return;
    title.textContent = page.name;
    document.title = `${page.name} · shared`;
    status.textContent = `${page.item_count} ${page.item_count === 1 ? 'item' : 'items'}${page.description ? ' · ' + page.description : ''}`;
    actions.replaceChildren(page.download_url ? h('a', { class: 'btn', id: 'share-download', href: page.download_url, download: '' }, 'Download all (zip)') : '');
    grid.replaceChildren(...page.items.map((item) => {
      const img = h('img', { alt: `${item.name}, ${fmtDate(item.taken_at)}`, loading: 'lazy', src: item.thumbnail_url });
      img.addEventListener('load', () => img.classList.add('loaded'));
      img.addEventListener('error', () => { img.replaceWith(h('span', { class: 'ph' }, item.name)); });
      return h('button', { type: 'button', class: 'tile shared-tile', dataset: { id: String(item.id) }, onclick: () => show(item) }, img,
        item.kind === 'video' ? h('span', { class: 'meta', 'aria-hidden': 'true' }, '▶') : null);
    }));
  }
  load();
  return { title: 'Shared', unmount() { alive = false; close(); } };
}
