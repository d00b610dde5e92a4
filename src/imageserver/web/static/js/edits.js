// The household's edits of an item's date, place, title, description, tags and rating:
// the rows the viewer's info panel shows, and one dialog for one item (the viewer) or many
// (the selection bar). PATCH /media/{id} or PATCH /media {ids}: a changed field is sent,
// an emptied one is sent as null (the sidecar's or the file's value shows again), an
// untouched one is left out.

import { api, get } from './api.js';
import { h, toast } from './dom.js';
import { dialog } from './collections.js';
import { mountPickMap } from './pickmap.js';

const STARS = (n) => '★'.repeat(n) + '☆'.repeat(5 - n);

/** dt/dd rows of the effective curation (title, description, tags, rating). */
export function curationRows(item) {
  const c = item.curation;
  if (!c) return [];
  const out = [];
  const add = (label, value, id) => { if (value !== '' && value !== null && value !== undefined) out.push(h('dt', {}, label), h('dd', { id }, value)); };
  add('Title', c.title, 'viewer-caption');
  add('Description', c.description, 'viewer-description');
  if (c.tags?.length) add('Tags', c.tags.map((t, n) => [n ? ', ' : '', h('a', { href: `#/tags?tag=${encodeURIComponent(t)}` }, t)]), 'viewer-tags');
  if (c.rating !== null && c.rating !== undefined) add('Rating', c.rating < 0 ? 'Rejected' : STARS(c.rating), 'viewer-rating');
  return out;
}

const withSeconds = (local) => (local.length === 16 ? `${local}:00` : local);

function field(label, input) {
  return h('label', { class: 'field' }, h('span', {}, label), input);
}

const placeLabel = (p) => [p.name, p.region, p.country].filter(Boolean).join(', ');

/**
 * "Find a place": a typed town name offers the places it may mean (GET /places/search);
 * choosing one fills the latitude and longitude inputs. Enter picks the first offer
 * instead of submitting the form.
 */
function placeFinder(latitude, longitude, onChoose = () => {}) {
  const input = h('input', { id: 'edit-place', type: 'search', autocomplete: 'off', placeholder: 'Lisbon, or Paris, US' });
  const offers = h('ul', { class: 'place-offers', id: 'edit-place-offers', 'aria-label': 'Places' });
  let timer = 0;
  let asked = 0;
  const choose = (p) => {
    latitude.value = String(p.latitude);
    longitude.value = String(p.longitude);
    input.value = placeLabel(p);
    offers.replaceChildren();
    onChoose(p.latitude, p.longitude);
  };
  const offer = (places) => offers.replaceChildren(...places.map((p) => h('li', {},
    h('button', { type: 'button', class: 'small', onclick: () => choose(p) }, placeLabel(p)))));
  input.addEventListener('input', () => {
    clearTimeout(timer);
    const text = input.value.trim();
    if (text.length < 2) { offer([]); return; }
    timer = setTimeout(async () => {
      const mine = ++asked;
      try {
        const found = await get('/places/search', { q: text, limit: 8 });
        if (mine === asked) offer(found.places);
      } catch { /* leave the offers as they were */ }
    }, 200);
  });
  input.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter') return;
    event.preventDefault();
    offers.querySelector('button')?.click();
  });
  return [input, offers];
}

/** The form's current values, keyed like the PATCH body ('' where empty). */
function initial(item) {
  const c = item?.curation || {};
  const gps = c.gps || item?.gps;
  return {
    local: item ? withSeconds((c.taken_at || item.taken_at || '').slice(0, 19)) : '',
    offset: item ? String(c.taken_at_offset_min ?? item.taken_at_offset_min ?? '') : '',
    latitude: gps ? String(gps.latitude) : '',
    longitude: gps ? String(gps.longitude) : '',
    title: c.title || '',
    description: c.description || '',
    tags: (c.tags || []).join(', '),
    rating: c.rating !== null && c.rating !== undefined && c.rating >= 0 ? String(c.rating) : '',
  };
}

function body(start, now, many) {
  const changed = (...keys) => keys.some((k) => now[k] !== start[k]);
  const out = {};
  const number = (text, what) => {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n)) throw new Error(`${what}: a number, please`);
    return n;
  };
  if (changed('local', 'offset')) {
    out.taken_at = now.local ? { local: now.local, offset_min: now.offset === '' ? null : number(now.offset, 'UTC offset') } : null;
  }
  if (changed('latitude', 'longitude')) {
    out.location = now.latitude || now.longitude ? { latitude: number(now.latitude, 'Latitude'), longitude: number(now.longitude, 'Longitude') } : null;
  }
  for (const key of ['title', 'description']) if (changed(key)) out[key] = now[key] === '' ? null : now[key];
  if (changed('tags')) out.tags = now.tags.trim() === '' ? null : now.tags.split(',').map((t) => t.trim()).filter(Boolean);
  if (changed('rating')) out.rating = now.rating === '' ? null : Number(now.rating);
  if (many) for (const [k, v] of Object.entries(out)) if (v === null) delete out[k]; // blank: untouched
  return out;
}

/**
 * Edit one item (`item`, its detail) or many (`ids`): resolves with the item's new detail
 * (one), the number changed (many), or null when cancelled.
 */
export function editDialog({ item = null, ids = [] }) {
  const many = !item;
  const start = initial(item);
  const inputs = {
    local: h('input', { id: 'edit-date', type: 'datetime-local', step: '1', value: start.local }),
    offset: h('input', { id: 'edit-offset', type: 'number', min: '-900', max: '900', step: '15', value: start.offset, placeholder: 'e.g. 120' }),
    latitude: h('input', { id: 'edit-lat', type: 'text', inputmode: 'decimal', value: start.latitude, placeholder: '48.8584' }),
    longitude: h('input', { id: 'edit-lon', type: 'text', inputmode: 'decimal', value: start.longitude, placeholder: '2.2945' }),
    title: h('input', { id: 'edit-title', type: 'text', maxlength: '10000', value: start.title }),
    description: h('textarea', { id: 'edit-description', rows: '3', maxlength: '10000' }, start.description),
    tags: h('input', { id: 'edit-tags', type: 'text', value: start.tags, placeholder: 'Family/Grandma, Holidays' }),
    rating: h('select', { id: 'edit-rating' }, h('option', { value: '' }, '—'),
      [0, 1, 2, 3, 4, 5].map((n) => h('option', { value: String(n), selected: start.rating === String(n) }, n ? STARS(n) : 'No stars'))),
  };
  // The map shows the location and sets it where clicked; typing coordinates moves it.
  const mapHost = h('div', { class: 'field' });
  const picker = mountPickMap(mapHost, parseFloat(start.latitude), parseFloat(start.longitude), (la, lo) => {
    inputs.latitude.value = String(la);
    inputs.longitude.value = String(lo);
  });
  const follow = () => picker.moveTo(parseFloat(inputs.latitude.value), parseFloat(inputs.longitude.value));
  inputs.latitude.addEventListener('change', follow);
  inputs.longitude.addEventListener('change', follow);
  const note = many
    ? h('p', { class: 'muted small' }, `The same change to ${ids.length} items; blank fields are left as they are.`)
    : h('p', { class: 'muted small' }, 'Stored on the server for the whole household; the files are never changed. An emptied field shows the file\'s own value again.');
  const nodes = [
    note,
    field('Date and time (camera clock)', inputs.local),
    field('UTC offset in minutes (optional)', inputs.offset),
    field('Find a place (sets latitude and longitude)', placeFinder(inputs.latitude, inputs.longitude, (la, lo) => picker.moveTo(la, lo))),
    mapHost,
    field('Latitude', inputs.latitude),
    field('Longitude', inputs.longitude),
    field('Title', inputs.title),
    field('Description', inputs.description),
    field('Tags (comma separated, levels with /)', inputs.tags),
    field('Rating', inputs.rating),
  ];
  const done = dialog(many ? `Edit ${ids.length} items` : 'Edit details', {
    nodes,
    value: async () => {
      const now = Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value]));
      now.local = withSeconds(now.local); // the input drops ":00" seconds
      const changes = body(many ? initial(null) : start, now, many);
      if (!Object.keys(changes).length) return many ? 0 : item;
      if (many) {
        const out = await api('/media', { method: 'PATCH', body: { ids, ...changes } });
        toast(`${out.changed} ${out.changed === 1 ? 'item' : 'items'} changed.`);
        return out.changed;
      }
      const out = await api(`/media/${item.id}`, { method: 'PATCH', body: changes });
      toast('Saved.');
      return out;
    },
  }, { submit: 'Save', id: 'edit-dialog' });
  done.finally(() => picker.remove());
  return done;
}

/** Walk back the newest edit of an item; resolves true when one was undone. */
export async function undoEdit(mediaId) {
  try {
    await api(`/media/${mediaId}/edits/undo`, { method: 'POST' });
    toast('Undone.');
    return true;
  } catch (err) {
    if (err.status === 409) { toast('Nothing to undo.'); return false; }
    throw err;
  }
}
