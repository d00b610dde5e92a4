// The timeline: filters (library, kind, camera, GPS, folder), a folder browser, a month jump
// and the windowed grid. Filters live in the URL (#/timeline?kind=video&library=2), so every
// view of the library can be bookmarked and the back button undoes a filter.

import { get } from '../api.js';
import { selectionActions } from '../collections.js';
import { debounce, fmtCount, fmtMonth, h } from '../dom.js';
import { VirtualGrid } from '../grid.js';
import { hashFor, replaceHash } from '../router.js';
import { Selection, selectionBar } from '../selection.js';
import { tile } from '../tiles.js';
import { TimelineModel } from '../timeline-model.js';

const FOLDERS_OPEN_KEY = 'imageserver.foldersOpen';

/** URL query -> the API's filter parameters. */
export function filtersFrom(query) {
  const f = {};
  const library = query.get('library');
  if (library) f.library = library;
  const kind = query.get('kind');
  if (kind === 'photo' || kind === 'video') f.kind = kind;
  const camera = query.get('camera');
  if (camera) f.camera = camera;
  const gps = query.get('gps');
  if (gps === 'yes') f.has_gps = true;
  if (gps === 'no') f.has_gps = false;
  const folder = query.get('folder');
  if (folder && library) {
    f.folder = folder;
    if (query.get('sub') === 'no') f.recursive = false;
  }
  return f;
}

export function mount(root, route) {
  let query = route.query;
  let grid = null;
  let libraries = [];
  const state = () => Object.fromEntries(query.entries());
  const setQuery = (changes) => {
    const next = { ...state(), ...changes };
    if (!next.library) { delete next.folder; delete next.sub; }
    replaceHash(hashFor('/timeline', next));
  };

  // ---- controls ----
  const library = h('select', { id: 'f-library', 'aria-label': 'Library', onchange: () => setQuery({ library: library.value, folder: '' }) },
    h('option', { value: '' }, 'All libraries'));
  const kind = h('select', { id: 'f-kind', 'aria-label': 'Kind', onchange: () => setQuery({ kind: kind.value }) },
    h('option', { value: '' }, 'Photos & videos'), h('option', { value: 'photo' }, 'Photos'), h('option', { value: 'video' }, 'Videos'));
  const camera = h('input', { id: 'f-camera', type: 'search', placeholder: 'Camera', 'aria-label': 'Camera make or model',
    oninput: debounce(() => setQuery({ camera: camera.value.trim() }), 400) });
  const gps = h('select', { id: 'f-gps', 'aria-label': 'Location', onchange: () => setQuery({ gps: gps.value }) },
    h('option', { value: '' }, 'Any location'), h('option', { value: 'yes' }, 'With GPS'), h('option', { value: 'no' }, 'Without GPS'));
  const folderToggle = h('button', { type: 'button', class: 'small', 'aria-expanded': 'false', 'aria-controls': 'folders', onclick: () => toggleFolders() }, 'Folders');
  const jump = h('select', { id: 'f-jump', 'aria-label': 'Jump to month', onchange: () => { if (jump.value !== '') grid?.scrollToSection(Number(jump.value)); jump.value = ''; } },
    h('option', { value: '' }, 'Jump to…'));
  const count = h('span', { class: 'count muted small', 'aria-live': 'polite' });
  const opts = h('div', { class: 'opts', id: 'filter-options' }, library, kind, camera, gps, jump);
  const filtersToggle = h('button', { type: 'button', class: 'small filters-toggle', 'aria-expanded': 'false', 'aria-controls': 'filter-options',
    onclick: () => { const open = !filters.classList.contains('open'); filters.classList.toggle('open', open); filtersToggle.setAttribute('aria-expanded', String(open)); } }, 'Filters');
  const selection = new Selection();
  const bar = selectionBar(selection, selectionActions({ after: () => grid?.refresh() }));
  const memories = h('section', { class: 'memories', id: 'memories', 'aria-label': 'On this day', hidden: true });
  const filters = h('div', { class: 'filters', role: 'search', 'aria-label': 'Filters' }, filtersToggle, opts, folderToggle, bar.toggle, count);
  const crumbs = h('div', { class: 'crumbs', hidden: true });
  const folders = h('aside', { class: 'folders', id: 'folders', 'aria-label': 'Folders', hidden: true });
  const body = h('div', { class: 'timeline-body' }, folders);
  const gridHost = h('div', { style: { flex: '1', display: 'flex', minWidth: '0', position: 'relative' } });
  body.append(gridHost);
  root.append(h('div', { class: 'timeline' }, h('h1', { class: 'visually-hidden' }, 'Photos'), memories, filters, bar.el, crumbs, body));

  function syncControls() {
    const s = state();
    library.value = s.library || '';
    kind.value = s.kind || '';
    if (document.activeElement !== camera) camera.value = s.camera || '';
    gps.value = s.gps || '';
    const active = ['library', 'kind', 'camera', 'gps'].filter((k) => s[k]).length;
    filtersToggle.textContent = active ? `Filters (${active})` : 'Filters';
  }

  function drawCrumbs() {
    const s = state();
    if (!s.library || !s.folder) { crumbs.hidden = true; return; }
    const lib = libraries.find((l) => String(l.id) === s.library);
    const parts = s.folder.split('/');
    const items = [h('button', { type: 'button', onclick: () => setQuery({ folder: '' }) }, lib ? lib.name : 'Library')];
    parts.forEach((name, n) => {
      items.push(h('span', { 'aria-hidden': 'true' }, '›'));
      const path = parts.slice(0, n + 1).join('/');
      items.push(h('button', { type: 'button', onclick: () => setQuery({ folder: path }), 'aria-current': n === parts.length - 1 ? 'true' : null }, name));
    });
    const sub = h('input', { type: 'checkbox', checked: s.sub !== 'no', onchange: () => setQuery({ sub: sub.checked ? '' : 'no' }) });
    crumbs.replaceChildren(h('span', { class: 'muted' }, 'Folder:'), ...items,
      h('label', { class: 'small', style: { marginLeft: 'auto' } }, sub, 'Include sub-folders'));
    crumbs.hidden = false;
  }

  async function drawFolders() {
    if (folders.hidden) return;
    const s = state();
    if (!s.library) {
      folders.replaceChildren(h('h2', {}, 'Libraries'), h('ul', {}, libraries.filter((l) => l.enabled).map((l) =>
        h('li', {}, h('button', { type: 'button', onclick: () => setQuery({ library: String(l.id), folder: '' }) }, h('span', {}, l.name))))));
      return;
    }
    const parent = s.folder || '';
    try {
      const listing = await get('/folders', { library: s.library, parent });
      const lib = libraries.find((l) => String(l.id) === s.library);
      const up = parent.includes('/') ? parent.slice(0, parent.lastIndexOf('/')) : '';
      const list = listing.folders.map((f) => h('li', {}, h('button', { type: 'button', onclick: () => setQuery({ folder: f.path }) },
        h('span', {}, f.name), h('span', { class: 'muted small' }, fmtCount(f.count)))));
      folders.replaceChildren(
        h('h2', {}, lib ? lib.name : 'Folders'),
        parent ? h('button', { type: 'button', class: 'small up', onclick: () => setQuery({ folder: up }) }, '↑ Up') : null,
        h('p', { class: 'muted small' }, parent ? `${parent} · ${fmtCount(listing.count)} items` : `${fmtCount(listing.count)} items`),
        list.length ? h('ul', {}, list) : h('p', { class: 'muted small' }, 'No sub-folders.'),
      );
    } catch (err) {
      folders.replaceChildren(h('p', { class: 'error' }, err.message));
    }
  }

  function toggleFolders(force) {
    const open = force ?? folders.hidden;
    folders.hidden = !open;
    folderToggle.setAttribute('aria-expanded', String(open));
    sessionStorage.setItem(FOLDERS_OPEN_KEY, open ? '1' : '');
    if (open) drawFolders();
  }

  function startGrid() {
    grid?.destroy();
    const f = filtersFrom(query);
    const filtered = Object.keys(f).length > 0;
    grid = new VirtualGrid(gridHost, new TimelineModel(f), {
      label: 'Photos and videos by month',
      selection,
      empty: filtered ? 'No photos or videos match these filters.' : 'Nothing here yet. Add a library on the Libraries page; new files appear as they are indexed.',
      onCount: (total, model) => {
        count.textContent = `${fmtCount(total)} ${total === 1 ? 'item' : 'items'}`;
        jump.replaceChildren(h('option', { value: '' }, 'Jump to…'),
          ...model.sections.map((s, n) => h('option', { value: String(n) }, `${fmtMonth(s.key, true)} (${fmtCount(s.count)})`)));
      },
    });
    grid.start();
  }

  async function loadLibraries() {
    try {
      libraries = await get('/libraries');
    } catch { return; }
    const current = state().library || '';
    library.replaceChildren(h('option', { value: '' }, 'All libraries'),
      ...libraries.filter((l) => l.enabled || String(l.id) === current).map((l) => h('option', { value: String(l.id) }, l.name)));
    library.value = current;
    drawCrumbs();
    drawFolders();
  }

  // "N years ago today": a strip above the grid, one group per earlier year. "Today" is
  // the viewer's own calendar day (the server's clock may sit in another zone).
  async function loadMemories() {
    const now = new Date();
    const today = `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}-${String(now.getDate()).padStart(2, '0')}`;
    try {
      const found = await get('/memories', { window: 1, date: today });
      const years = found.years.filter((y) => y.items.length);
      if (!years.length) return;
      memories.replaceChildren(...years.map((y) => h('div', { class: 'memory', dataset: { year: String(y.year) } },
        h('h2', {}, y.years_ago === 1 ? '1 year ago' : `${y.years_ago} years ago`),
        h('div', { class: 'memory-tiles' }, y.items.slice(0, 6).map((m) => tile({ id: m.item.id, kind: m.item.kind, label: m.item.name }))))));
      memories.hidden = false;
    } catch (err) {
      if (err.status !== 401) console.warn('memories failed to load', err);
    }
  }

  syncControls();
  startGrid();
  loadMemories();
  setTimeout(loadLibraries, 300); // after the first screen's requests
  if (sessionStorage.getItem(FOLDERS_OPEN_KEY) === '1' && window.innerWidth > 760) toggleFolders(true);

  return {
    title: 'Photos',
    update(next) {
      query = next.query;
      syncControls();
      drawCrumbs();
      drawFolders();
      startGrid();
    },
    reveal(id) { grid?.reveal(id); },
    navFor() { return grid?.navFor(); },
    unmount() { grid?.destroy(); grid = null; selection.clear(); },
  };
}
