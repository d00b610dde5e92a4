// The viewer overlay (#/viewer/ID): a large preview or the video player, previous / next
// in the order of the view underneath (arrow keys), Esc to close, a metadata panel, the
// original to download and "similar photos".

import { api, download, get } from './api.js';
import { fmtBytes, fmtDateTime, fmtDuration, fmtExposure, h, toast } from './dom.js';
import { go, replaceHash } from './router.js';
import { cached, loadImage, showImage, thumbPath } from './thumbs.js';
import { mountMiniMap } from './minimap.js';
import { mountVideo } from './video.js';
import { curationRows, editDialog, undoEdit } from './edits.js';

const INFO_KEY = 'imageserver.viewerInfo';
let libraryNames = null;

async function libraryName(id) {
  if (!libraryNames) {
    libraryNames = get('/libraries').then((libs) => new Map(libs.map((l) => [l.id, l.name])), () => new Map());
  }
  return (await libraryNames).get(id) || `library ${id}`;
}

function camera(item) {
  const make = (item.make || '').trim();
  const model = (item.model || '').trim();
  if (!model) return make;
  return make && !model.toLowerCase().startsWith(make.split(' ')[0].toLowerCase()) ? `${make} ${model}` : model;
}

function offset(minutes) {
  if (minutes === null || minutes === undefined) return '';
  const sign = minutes < 0 ? '−' : '+';
  const m = Math.abs(minutes);
  return ` (UTC${sign}${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')})`;
}

function rows(item, libName) {
  const out = [];
  const add = (label, value) => { if (value !== '' && value !== null && value !== undefined) out.push(h('dt', {}, label), h('dd', {}, value)); };
  const source = { exif_offset: ' · offset from the camera', gps_zone: ' · time zone from the location', server_default: " · the server's time zone" }[item.taken_at_offset_source] || '';
  const tz = item.taken_at_utc_offset_min ?? item.taken_at_offset_min;
  add('Date', fmtDateTime(item.taken_at) + offset(tz) + (item.taken_at_source === 'file_mtime' ? ' (file time)' : '') + source);
  if (item.place) {
    const p = item.place;
    const text = [p.place, p.region, p.country].filter(Boolean).join(', ') || 'At sea';
    const href = p.country_code ? `#/places?country=${encodeURIComponent(p.country_code)}` : null;
    add('Place', h('span', { id: 'viewer-place' }, href ? h('a', { href }, text) : text));
  }
  add('Camera', camera(item));
  add('Lens', item.lens);
  const exposure = [
    item.f_number ? `f/${Number(item.f_number.toFixed(1))}` : '',
    fmtExposure(item.exposure_time),
    item.iso ? `ISO ${item.iso}` : '',
    item.focal_length ? `${Number(item.focal_length.toFixed(1))} mm` : '',
  ].filter(Boolean).join(' · ');
  add('Exposure', exposure);
  if (item.width && item.height) {
    const mp = (item.width * item.height) / 1e6;
    add('Dimensions', `${item.width} × ${item.height}${item.kind === 'photo' && mp >= 0.1 ? ` (${mp.toFixed(1)} MP)` : ''}`);
  }
  if (item.kind === 'video') {
    add('Duration', fmtDuration(item.duration));
    add('Codecs', [item.video_codec, item.audio_codec].filter(Boolean).join(' + '));
    add('Frame rate', item.fps ? `${Number(item.fps.toFixed(2))} fps` : '');
  }
  if (item.gps) {
    const { latitude: lat, longitude: lon, altitude: alt } = item.gps;
    const text = `${lat.toFixed(6)}, ${lon.toFixed(6)}${alt !== null && alt !== undefined ? ` · ${Math.round(alt)} m` : ''}`;
    const map = `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=15/${lat}/${lon}`;
    add('Location', h('span', { id: 'viewer-gps' }, text, ' ', h('a', { href: map, target: '_blank', rel: 'noopener noreferrer' }, 'map')));
  }
  add('File', item.name);
  add('Path', h('span', { id: 'viewer-path' }, `${libName}: ${item.path}`));
  add('Size', `${fmtBytes(item.size)} · ${item.format.toUpperCase()}`);
  if (item.meta_error) add('Metadata', h('span', { class: 'muted small' }, item.meta_error));
  if (item.thumbnail_error) add('Preview', h('span', { class: 'muted small' }, item.thumbnail_error));
  return out;
}

export function open(overlay, { id, background, onClose }) {
  let seq = 0;
  let currentId = null;
  let item = null;
  let player = null;
  let mini = null;
  let ctrl = null;
  const restoreFocus = document.activeElement;

  const title = h('span', { class: 'title', id: 'viewer-title' });
  const closeBtn = h('button', { type: 'button', 'aria-label': 'Close (Esc)', title: 'Close (Esc)', onclick: () => onClose() }, '✕');
  const infoBtn = h('button', { type: 'button', 'aria-pressed': 'true', onclick: () => toggleInfo() }, 'Info');
  const similarBtn = h('button', { type: 'button', onclick: () => item && go(`#/search?similar=${item.id}`) }, 'Similar');
  const downloadBtn = h('button', { type: 'button', id: 'viewer-download', onclick: () => onDownload() }, 'Download');
  const favBtn = h('button', { type: 'button', id: 'viewer-favorite', 'aria-pressed': 'false', title: 'Favorite (f)', onclick: () => toggleMark('favorite') }, '☆ Favorite');
  const archBtn = h('button', { type: 'button', id: 'viewer-archive', 'aria-pressed': 'false', title: 'Archive', onclick: () => toggleMark('archive') }, 'Archive');
  let marks = null;
  const prevBtn = h('button', { type: 'button', class: 'nav prev', 'aria-label': 'Previous (←)', title: 'Previous (←)', onclick: () => step(-1) }, '‹');
  const nextBtn = h('button', { type: 'button', class: 'nav next', 'aria-label': 'Next (→)', title: 'Next (→)', onclick: () => step(1) }, '›');
  const stage = h('div', { class: 'stage' });
  const info = h('aside', { class: 'info', 'aria-label': 'Details' });
  const root = h('div', { class: 'viewer', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'viewer-title', tabindex: '-1' },
    h('div', { class: 'bar' }, closeBtn, title, favBtn, archBtn, similarBtn, downloadBtn, infoBtn),
    stage, info);
  overlay.append(root);
  document.body.classList.add('viewing');
  if (sessionStorage.getItem(INFO_KEY) === 'off') toggleInfo(false);

  function toggleInfo(force) {
    const on = force ?? root.classList.contains('noinfo');
    root.classList.toggle('noinfo', !on);
    infoBtn.setAttribute('aria-pressed', String(on));
    sessionStorage.setItem(INFO_KEY, on ? 'on' : 'off');
  }

  const nav = () => background?.view?.navFor?.() || null;

  async function step(dir) {
    const n = nav();
    if (!n || currentId === null) return;
    const from = currentId;
    const next = await n.neighbour(from, dir);
    if (next && currentId === from) replaceHash(`#/viewer/${next.id}`);
  }

  function drawMarks() {
    const fav = Boolean(marks?.favorite);
    const arch = Boolean(marks?.archived);
    favBtn.disabled = archBtn.disabled = marks === null;
    favBtn.setAttribute('aria-pressed', String(fav));
    favBtn.textContent = fav ? '★ Favorite' : '☆ Favorite';
    archBtn.setAttribute('aria-pressed', String(arch));
    archBtn.textContent = arch ? 'Archived' : 'Archive';
  }

  // The item detail carries the caller's own marks.
  function loadMarks(shown) {
    marks = { favorite: Boolean(shown.favorite), archived: Boolean(shown.archived) };
    drawMarks();
  }

  async function toggleMark(kind) {
    if (!item || !marks) return;
    const key = kind === 'favorite' ? 'favorite' : 'archived';
    const on = !marks[key];
    const shown = item.id;
    try {
      await api(`/media/${shown}/${kind}`, { method: on ? 'PUT' : 'DELETE' });
      if (item?.id !== shown) return;
      marks = { ...marks, [key]: on };
      drawMarks();
      if (kind === 'archive') toast(on ? 'Archived: hidden from the timeline.' : 'Back in the timeline.');
    } catch (err) {
      if (err.status !== 401) toast(err.message, { error: true });
    }
  }

  async function onDownload() {
    if (!item) return;
    downloadBtn.disabled = true;
    downloadBtn.textContent = 'Downloading…';
    try {
      await download(`/media/${item.id}/original`, item.name);
    } catch (err) {
      if (err.status !== 401) stage.append(h('p', { class: 'loading error' }, err.message));
    } finally {
      downloadBtn.disabled = false;
      downloadBtn.textContent = 'Download';
    }
  }

  async function show(mediaId) {
    if (mediaId === currentId) return;
    const my = ++seq;
    currentId = mediaId;
    ctrl?.abort();
    ctrl = new AbortController();
    player?.destroy();
    player = null;
    mini?.remove();
    mini = null;
    stage.replaceChildren(prevBtn, nextBtn);
    delete stage.dataset.videoState;
    info.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
    marks = null; // the buttons wait for this item's own marks
    drawMarks();
    let detail;
    try {
      detail = await get(`/media/${mediaId}`, undefined, { signal: ctrl.signal });
    } catch (err) {
      if (my !== seq || err.name === 'AbortError' || err.status === 401) return;
      title.textContent = 'Not found';
      info.replaceChildren(h('p', { class: 'error' }, err.message));
      return;
    }
    if (my !== seq) return;
    item = detail;
    title.textContent = item.name;
    similarBtn.hidden = item.kind !== 'photo';
    loadMarks(item);
    const alt = `${item.name}, ${fmtDateTime(item.taken_at)}`;
    if (item.kind === 'video') {
      player = mountVideo(stage, item);
    } else {
      const img = h('img', { alt, id: 'viewer-image' });
      const small = cached(thumbPath(item.id, 'small'));
      if (small) { img.src = small; img.classList.add('loaded'); }
      stage.append(img);
      const status = h('p', { class: 'loading', role: 'status' }, 'Loading preview…');
      stage.append(status);
      showImage(img, thumbPath(item.id, 'large'), { signal: ctrl.signal }).then((state) => {
        if (state === 'ok' || state === 'aborted') { status.remove(); return; }
        status.textContent = state === 'pending' ? 'The preview is not made yet.' : 'No preview can be made of this file; download the original.';
      });
    }
    const libName = await libraryName(item.library_id);
    if (my !== seq) return;
    const dl = h('dl', {}, curationRows(item), rows(item, libName));
    const edits = h('div', { class: 'toolbar' },
      h('button', { type: 'button', class: 'small', id: 'viewer-edit', onclick: () => onEdit() }, 'Edit'),
      h('button', { type: 'button', class: 'small', id: 'viewer-undo', onclick: () => onUndo() }, 'Undo edit'));
    info.replaceChildren(h('h2', { class: 'visually-hidden' }, 'Details'), edits, dl);
    if (item.gps) mini = mountMiniMap(info, item.gps.latitude, item.gps.longitude);
    peopleOf(item, dl, my);
    // Deep link: find the item in the view underneath so previous / next work.
    const n = nav();
    prevBtn.hidden = nextBtn.hidden = !n;
    if (n) {
      await n.find?.(item);
      if (my !== seq) return;
      const [prev, next] = await Promise.all([n.neighbour(item.id, -1), n.neighbour(item.id, 1)]);
      if (my !== seq) return;
      prevBtn.disabled = !prev;
      nextBtn.disabled = !next;
      if (next && next.kind === 'photo') loadImage(thumbPath(next.id, 'large')).catch(() => {});
    }
  }

  // Edits change the date, place and curation: show the item again from the server.
  function reshow(mediaId) {
    if (item?.id !== mediaId) return;
    currentId = null;
    show(mediaId);
  }

  async function onEdit() {
    if (!item) return;
    const shown = item.id;
    const saved = await editDialog({ item });
    if (saved && saved !== item) reshow(shown);
  }

  async function onUndo() {
    if (!item) return;
    const shown = item.id;
    try {
      if (await undoEdit(shown)) reshow(shown);
    } catch (err) {
      if (err.status !== 401) toast(err.message, { error: true });
    }
  }

  async function peopleOf(media, dl, my) {
    if (media.kind !== 'photo') return;
    try {
      const found = await get(`/media/${media.id}/faces`);
      if (my !== seq) return;
      const people = new Map();
      for (const f of found.faces) if (f.person_id) people.set(f.person_id, f.person_name || 'Unnamed person');
      if (!people.size) return;
      const links = [...people].flatMap(([pid, name], n) => [n ? ', ' : '', h('a', { href: `#/people/${pid}` }, name)]);
      dl.append(h('dt', {}, 'People'), h('dd', {}, links));
    } catch { /* faces are optional */ }
  }

  function onKey(event) {
    if (event.target.closest?.('input, textarea, select')) return;
    if (event.key === 'f' && !event.ctrlKey && !event.metaKey && !event.altKey) { event.preventDefault(); toggleMark('favorite'); return; }
    if (event.key === 'Escape') { event.preventDefault(); onClose(); } else if (event.key === 'ArrowLeft') { event.preventDefault(); step(-1); } else if (event.key === 'ArrowRight') { event.preventDefault(); step(1); } else if (event.key === 'Tab') {
      const focusable = [...root.querySelectorAll('button:not([hidden]):not(:disabled), a[href], video')].filter((el) => el.offsetParent !== null);
      if (!focusable.length) return;
      const first = focusable[0];
      const last = focusable[focusable.length - 1];
      if (event.shiftKey && document.activeElement === first) { event.preventDefault(); last.focus(); } else if (!event.shiftKey && document.activeElement === last) { event.preventDefault(); first.focus(); }
    }
  }
  document.addEventListener('keydown', onKey);
  // A horizontal swipe on the picture goes to the previous / next one (phones).
  let touchX = null;
  stage.addEventListener('touchstart', (e) => { touchX = e.touches.length === 1 ? e.touches[0].clientX : null; }, { passive: true });
  stage.addEventListener('touchend', (e) => {
    if (touchX === null || e.target.closest('video, button')) return;
    const dx = e.changedTouches[0].clientX - touchX;
    touchX = null;
    if (Math.abs(dx) > 60) step(dx < 0 ? 1 : -1);
  });
  root.focus();
  show(id);

  return {
    get currentId() { return currentId; },
    show,
    close() {
      seq += 1;
      ctrl?.abort();
      player?.destroy();
      mini?.remove();
      document.removeEventListener('keydown', onKey);
      document.body.classList.remove('viewing');
      root.remove();
      if (restoreFocus && document.contains(restoreFocus)) restoreFocus.focus({ preventScroll: true });
    },
  };
}
