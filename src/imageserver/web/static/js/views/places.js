// Places (#/places): countries -> regions -> places with counts and a cover each; choosing
// one shows its items in the timeline grid (#/places?country=PT&region=Lisbon&place=...).

import { get } from '../api.js';
import { fmtCount, h } from '../dom.js';
import { VirtualGrid } from '../grid.js';
import { hashFor } from '../router.js';
import { showImage, thumbPath } from '../thumbs.js';
import { TimelineModel } from '../timeline-model.js';

function chosen(query) {
  const f = {};
  for (const k of ['country', 'region', 'place']) if (query.get(k)) f[k] = query.get(k);
  return f;
}

export function mount(root, route) {
  let alive = true;
  let grid = null;
  let tree = null;
  const crumbs = h('div', { class: 'crumbs', id: 'places-crumbs' });
  const list = h('ul', { class: 'places-list', id: 'places-list' });
  const status = h('p', { class: 'muted small', role: 'status', id: 'places-status' });
  const gridHost = h('div', { style: { flex: '1', display: 'flex', minWidth: '0', minHeight: '0', position: 'relative' } });
  root.append(h('div', { class: 'timeline' },
    h('div', { class: 'page places-head' }, h('h1', {}, 'Places'), crumbs, status, list), gridHost));

  function entry(label, count, cover, query) {
    const img = h('img', { alt: '' });
    showImage(img, thumbPath(cover, 'small'));
    return h('li', {}, h('a', { href: hashFor('/places', query), dataset: { label } },
      h('span', { class: 'cover' }, img), h('span', {}, label), h('span', { class: 'muted small' }, fmtCount(count))));
  }

  function draw(f) {
    const country = tree.countries.find((c) => c.country_code === f.country);
    const region = country?.regions.find((r) => r.region === f.region);
    const parts = [h('a', { href: '#/places' }, 'All countries')];
    if (country) parts.push(' › ', h('a', { href: hashFor('/places', { country: country.country_code }) }, country.country || country.country_code));
    if (region) parts.push(' › ', h('a', { href: hashFor('/places', { country: f.country, region: region.region }) }, region.region));
    if (f.place) parts.push(' › ', f.place);
    crumbs.replaceChildren(...parts);
    let entries = [];
    if (!country) {
      entries = tree.countries.map((c) => entry(c.country || 'At sea', c.count, c.cover, { country: c.country_code }));
    } else if (!region) {
      entries = country.regions.map((r) => entry(r.region || '(no region)', r.count, r.cover, { country: f.country, region: r.region }));
    } else if (!f.place) {
      entries = region.places.filter((p) => p.place).map((p) => entry(p.place, p.count, p.cover, { country: f.country, region: f.region, place: p.place }));
    }
    list.replaceChildren(...entries);
    status.textContent = tree.countries.length ? '' : 'No places yet: photos with GPS get their place once indexed.';
  }

  function startGrid(f) {
    grid?.destroy();
    grid = null;
    if (!f.country) return;
    grid = new VirtualGrid(gridHost, new TimelineModel(f), { label: 'Photos of this place', empty: 'Nothing here.' });
    grid.start();
  }

  async function show(query) {
    const f = chosen(query);
    try {
      tree ||= await get('/places');
    } catch (err) {
      if (err.status !== 401) status.textContent = err.message;
      return;
    }
    if (!alive) return;
    draw(f);
    startGrid(f);
  }
  show(route.query);
  return {
    title: 'Places',
    update(next) { show(next.query); },
    reveal(id) { grid?.reveal(id); },
    navFor() { return grid?.navFor() || null; },
    unmount() { alive = false; grid?.destroy(); },
  };
}
