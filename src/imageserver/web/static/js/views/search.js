// Semantic search: text (#/search?q=dog on a beach), similar photos (#/search?similar=12)
// or an uploaded picture; results ranked by cosine similarity, each with its score.

import { api, get } from '../api.js';
import { baseName, h } from '../dom.js';
import { hashFor, replaceHash } from '../router.js';
import { listNav, tile } from '../tiles.js';

const PAGE = 60;

// Search needs a CLIP model. A family member gets a plain sentence; the admin, who can do
// something about it, also gets the server's how-to (settings and the pull command).
function unavailable(err) {
  const plain = /not configured/.test(err.message)
    ? 'Searching by description is not set up on this server yet. Ask the person who runs it to turn it on.'
    : 'Searching by description is not available right now. Try again later.';
  if (!document.body.classList.contains('is-admin')) return [plain];
  return [plain, h('br'), h('span', { class: 'admin-howto' }, `For the admin: ${err.message}`)];
}

export function mount(root, route) {
  let query = route.query;
  let ids = [];
  let limit = PAGE;
  let seq = 0;

  const input = h('input', { type: 'search', id: 'search-input', name: 'q', placeholder: 'Describe a photo: “dog on a beach at sunset”', 'aria-label': 'Search text', autocomplete: 'off' });
  const min = h('input', { type: 'number', id: 'search-min', step: '0.01', min: '-1', max: '1', placeholder: 'min score', 'aria-label': 'Lowest score (empty: server default)', style: { width: '7.5rem' } });
  const file = h('input', { type: 'file', accept: 'image/*', class: 'visually-hidden', id: 'search-file' });
  const fileBtn = h('label', { class: 'btn', for: 'search-file', tabindex: '0' }, 'Search by picture…');
  const form = h('form', { class: 'search-form', role: 'search' }, input, min, h('button', { type: 'submit', class: 'primary' }, 'Search'), fileBtn, file);
  const status = h('p', { class: 'muted', role: 'status', id: 'search-status' });
  const results = h('div', { class: 'simple-grid', id: 'search-results' });
  const more = h('button', { type: 'button', hidden: true, onclick: () => { limit += PAGE; run(); } }, 'Show more');
  root.append(h('div', { class: 'page' }, h('h1', {}, 'Search'), form, status, results, h('p', {}, more)));

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const q = input.value.trim();
    if (!q) return;
    limit = PAGE;
    replaceHash(hashFor('/search', { q, min: min.value }));
  });
  fileBtn.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); file.click(); } });
  file.addEventListener('change', () => {
    if (file.files?.length) runImage(file.files[0]);
  });

  function show(hits, what) {
    ids = hits.map((x) => x.media_id);
    results.replaceChildren(...hits.map((hit) => tile({
      id: hit.media_id,
      label: `${baseName(hit.path)}, score ${hit.score.toFixed(3)}`,
      badge: hit.score.toFixed(2),
    })));
    status.textContent = hits.length
      ? `${hits.length} ${hits.length === 1 ? 'photo' : 'photos'} ${what}, best match first.`
      : `No photos ${what} above the score threshold. Try other words or a lower minimum score.`;
    more.hidden = hits.length < limit;
  }

  async function run() {
    const my = ++seq;
    const q = query.get('q') || '';
    const similar = query.get('similar');
    const threshold = query.get('min') || undefined;
    input.value = q;
    min.value = query.get('min') || '';
    if (!q && !similar) {
      results.replaceChildren();
      more.hidden = true;
      status.textContent = 'Search your photos by what they show. Matches come from the CLIP model, so plain descriptions work best.';
      input.focus();
      return;
    }
    status.textContent = 'Searching…';
    try {
      const res = similar
        ? await get(`/photos/${similar}/similar`, { limit, threshold })
        : await get('/photos/search', { q, limit, threshold });
      if (my !== seq) return;
      show(res.hits, similar ? 'similar to that one' : `matching “${q}”`);
    } catch (err) {
      if (my !== seq || err.status === 401) return;
      results.replaceChildren();
      more.hidden = true;
      status.replaceChildren(...(err.status === 503 ? unavailable(err) : [err.message]));
    }
  }

  async function runImage(picture) {
    const my = ++seq;
    status.textContent = 'Searching…';
    const body = new FormData();
    body.append('image', picture);
    try {
      const res = await api('/photos/search/image', { method: 'POST', body, query: { limit, threshold: min.value || undefined } });
      if (my === seq) show(res.hits, `like ${picture.name}`);
    } catch (err) {
      if (my === seq && err.status !== 401) status.textContent = err.message;
    }
  }

  run();
  return {
    title: 'Search',
    update(next) { query = next.query; run(); },
    navFor() { return listNav(ids); },
    reveal(id) { results.querySelector(`[data-id="${id}"]`)?.focus(); },
    unmount() { seq += 1; },
  };
}
