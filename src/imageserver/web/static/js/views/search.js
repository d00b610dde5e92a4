// One search (#/search?q=anna beach year:2019): the query language of GET /search (words
// ranked by CLIP when the server has a model, "phrases", person:, place:, is:favorite ...),
// shown as removable chips, each hit saying why it matched. Similar photos
// (#/search?similar=12) and an uploaded picture use the older similarity routes.

import { api, get } from '../api.js';
import { baseName, h } from '../dom.js';
import { hashFor, replaceHash } from '../router.js';
import { listNav, tile } from '../tiles.js';

const PAGE = 60;

// Quick filters offered under the box: one click adds the clause to the query.
const QUICK = [
  ['Favorites', 'is:favorite'],
  ['Videos', 'type:video'],
  ['Photos', 'type:photo'],
  ['With text', 'has:text'],
  ['With GPS', 'has:gps'],
  ['Archived', 'is:archived'],
];

// The clauses of a query as the server splits them (sign, weight, key, quoted value or
// word); the server stays the authority and answers 422 for anything malformed.
const CLAUSE = /[-+]?(?:\d{1,3}(?:\.\d{1,3})?:)?(?:[A-Za-z]+:)?(?:"[^"]*"?|[^\s"]+)/g;
export const clauses = (q) => q.match(CLAUSE) || [];

/** Where the clause being typed starts (an open quote keeps its spaces), as the server's
 * suggestions count it: the suggestion replaces the text from there. */
export function lastClauseStart(text) {
  const open = (text.match(/"/g) || []).length % 2 === 1;
  const cut = open ? text.lastIndexOf('"') : text.length;
  const head = text.slice(0, cut);
  return Math.max(head.lastIndexOf(' '), head.lastIndexOf('\t')) + 1;
}

// "why it matched", short: `person:Anna`, `"exit" (text)`, `beach (clip)`.
export function why(matched) {
  return matched.map((m) => (m.how === 'filter' ? m.clause : `${m.clause} (${m.how})`)).join(' · ');
}

// Search by description needs a CLIP model. A family member gets a plain sentence; the
// admin, who can do something about it, also gets the server's how-to (settings and the
// pull command), shown by the admin-only rule of the CSS: the answer may come before
// /auth/me has said who is logged in.
function unavailable(err) {
  const plain = /not configured/.test(err.message)
    ? 'Searching by description is not set up on this server yet. Ask the person who runs it to turn it on.'
    : 'Searching by description is not available right now. Try again later.';
  return [plain, h('br', { 'data-admin-only': '' }), h('span', { class: 'admin-howto', 'data-admin-only': '' }, `For the admin: ${err.message}`)];
}

export function mount(root, route) {
  let query = route.query;
  let ids = [];
  let limit = PAGE;
  let seq = 0;

  let cursor = null;
  let shown = [];
  const input = h('input', { type: 'search', id: 'search-input', name: 'q', placeholder: 'Describe a photo, or filter: dog beach person:Anna year:2019 "exit"', 'aria-label': 'Search text', autocomplete: 'off' });
  const min = h('input', { type: 'number', id: 'search-min', step: '0.01', min: '-1', max: '1', placeholder: 'min score', 'aria-label': 'Lowest score (empty: server default)', style: { width: '7.5rem' } });
  const file = h('input', { type: 'file', accept: 'image/*', class: 'visually-hidden', id: 'search-file' });
  const fileBtn = h('label', { class: 'btn', for: 'search-file', tabindex: '0' }, 'Search by picture…');
  const form = h('form', { class: 'search-form', role: 'search' }, input, min, h('button', { type: 'submit', class: 'primary' }, 'Search'), fileBtn, file);
  const offers = h('ul', { class: 'search-suggest', id: 'search-suggest', 'aria-label': 'Suggestions' });
  const chips = h('div', { class: 'search-chips', id: 'search-chips', 'aria-label': 'Search terms and filters' });
  const quick = h('div', { class: 'search-chips quick', id: 'search-quick', 'aria-label': 'Add a filter' },
    ...QUICK.map(([label, clause]) => h('button', { type: 'button', class: 'chip add', dataset: { clause }, onclick: () => submit(`${input.value.trim()} ${clause}`) }, `+ ${label}`)));
  const status = h('p', { class: 'muted', role: 'status', id: 'search-status' });
  const results = h('div', { class: 'simple-grid', id: 'search-results' });
  const more = h('button', { type: 'button', hidden: true, id: 'search-more', onclick: () => { if (query.get('similar')) { limit += PAGE; run(); } else runMore(); } }, 'Show more');
  root.append(h('div', { class: 'page' }, h('h1', {}, 'Search'), form, offers, chips, quick, status, results, h('p', {}, more)));

  function submit(q) {
    offers.replaceChildren();
    q = q.trim();
    if (!q) return;
    limit = PAGE;
    replaceHash(hashFor('/search', { q, min: min.value }));
  }

  function showChips(q) {
    const parts = clauses(q);
    chips.replaceChildren(...parts.map((clause, i) => h('span', { class: 'chip' + (clause.startsWith('-') ? ' exclude' : ''), dataset: { clause } },
      clause,
      h('button', { type: 'button', class: 'chip-x', 'aria-label': `Remove ${clause}`, onclick: () => {
        const rest = parts.filter((_, j) => j !== i).join(' ');
        if (rest) submit(rest); else replaceHash(hashFor('/search', {}));
      } }, '×'))));
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit(input.value);
  });
  // Autocomplete: people, places, countries, cameras, albums and tags for the clause being
  // typed (person:an, or a bare word), from GET /search/suggest; a pick replaces it.
  let suggestTimer = 0;
  let asked = 0;
  const pick = (clause) => {
    const text = input.value;
    input.value = `${text.slice(0, lastClauseStart(text))}${clause} `;
    offers.replaceChildren();
    input.focus();
  };
  input.addEventListener('input', () => {
    input.classList.remove('invalid');
    clearTimeout(suggestTimer);
    const text = input.value;
    suggestTimer = setTimeout(async () => {
      const mine = ++asked;
      let found = [];
      try { found = (await get('/search/suggest', { q: text })).suggestions; } catch { /* none */ }
      if (mine !== asked) return;
      offers.replaceChildren(...found.map((s) => h('li', {},
        h('button', { type: 'button', class: 'chip add', dataset: { clause: s.clause }, onclick: () => pick(s.clause) },
          h('span', { class: 'muted small' }, `${s.key}: `), s.value))));
    }, 150);
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowDown') { offers.querySelector('button')?.focus(); event.preventDefault(); }
    if (event.key === 'Escape') offers.replaceChildren();
  });
  offers.addEventListener('keydown', (event) => {
    const at = [...offers.querySelectorAll('button')];
    const i = at.indexOf(document.activeElement);
    if (event.key === 'ArrowDown' && i < at.length - 1) { at[i + 1].focus(); event.preventDefault(); }
    if (event.key === 'ArrowUp') { (i > 0 ? at[i - 1] : input).focus(); event.preventDefault(); }
    if (event.key === 'Escape') { offers.replaceChildren(); input.focus(); }
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

  // GET /search: tiles with "why it matched"; the cursor pages on.
  function hitTile(hit) {
    const item = hit.item;
    const reason = why(hit.matched);
    const el = tile({
      id: item.id,
      kind: item.kind,
      label: `${item.name}${hit.score === null ? '' : `, score ${hit.score.toFixed(3)}`}: ${reason}`,
      badge: hit.score === null ? null : hit.score.toFixed(2),
    });
    el.title = reason;
    el.append(h('span', { class: 'meta why' }, reason));
    return el;
  }

  function showOne(res, q, append) {
    shown = append ? shown.concat(res.hits) : res.hits;
    ids = shown.map((x) => x.item.id);
    cursor = res.next_cursor;
    const tiles = res.hits.map(hitTile);
    if (append) results.append(...tiles); else results.replaceChildren(...tiles);
    const n = shown.length;
    const noun = n === 1 ? 'item' : 'items';
    const order = res.mode === 'clip' ? 'best match first' : 'newest first';
    status.textContent = n
      ? `${n}${cursor ? '+' : ''} ${noun} matching “${q}”, ${order}.`
      : `Nothing matches “${q}”. Remove a filter or try other words.`;
    more.hidden = !cursor;
  }

  function syntaxError(err) {
    const found = /^q: position (\d+): (.*)$/.exec(err.message);
    if (!found) return false;
    const at = Number(found[1]);
    input.classList.add('invalid');
    input.focus();
    input.setSelectionRange(at, at);
    status.textContent = `The search has a mistake at character ${at + 1}: ${found[2]}.`;
    return true;
  }

  async function runMore() {
    const my = ++seq;
    const q = query.get('q') || '';
    try {
      const res = await get('/search', { q, limit: PAGE, cursor, threshold: query.get('min') || undefined });
      if (my === seq) showOne(res, q, true);
    } catch (err) {
      if (my === seq && err.status !== 401) status.textContent = err.message;
    }
  }

  async function run() {
    const my = ++seq;
    const q = query.get('q') || '';
    showChips(q);
    const similar = query.get('similar');
    const threshold = query.get('min') || undefined;
    input.value = q;
    min.value = query.get('min') || '';
    if (!q && !similar) {
      results.replaceChildren();
      more.hidden = true;
      status.textContent = 'Search by what photos show, by the words in them ("quoted"), or filter: person:Anna place:Lyon year:2019 camera:pixel in:Holidays tag:Family -is:favorite.';
      input.focus();
      return;
    }
    status.textContent = 'Searching…';
    input.classList.remove('invalid');
    try {
      if (similar) {
        const res = await get(`/photos/${similar}/similar`, { limit, threshold });
        if (my === seq) show(res.hits, 'similar to that one');
      } else {
        const res = await get('/search', { q, limit: PAGE, threshold });
        if (my === seq) showOne(res, q, false);
      }
    } catch (err) {
      if (my !== seq || err.status === 401) return;
      results.replaceChildren();
      more.hidden = true;
      if (err.status === 422 && syntaxError(err)) return;
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
