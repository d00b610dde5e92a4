// One person (#/people/3): rename, hide, and every photo they appear in (the timeline grid
// filtered by ?person=).

import { api, get } from '../api.js';
import { fmtCount, h, toast } from '../dom.js';
import { VirtualGrid } from '../grid.js';
import { showImage } from '../thumbs.js';
import { TimelineModel } from '../timeline-model.js';

export function mount(root, { params }) {
  const id = Number(params[0]);
  let person = null;
  const avatar = h('img', { alt: '' });
  const name = h('input', { id: 'person-name', 'aria-label': 'Name', placeholder: 'Add a name', maxlength: '200' });
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save name');
  const hide = h('button', { type: 'button', onclick: () => toggleHidden() });
  const counts = h('span', { class: 'muted small' });
  const form = h('form', { class: 'toolbar', style: { margin: '0' }, 'data-admin-only': true }, name, save, hide);
  const head = h('div', { class: 'person-head' },
    h('div', { class: 'avatar' }, avatar),
    h('div', {}, h('h1', { id: 'person-title' }, 'Person'), counts, h('p', { class: 'small', style: { margin: '.25rem 0 0' } }, h('a', { href: '#/people' }, '← All people'))),
    form);
  const gridHost = h('div', { style: { flex: '1', display: 'flex', minHeight: '0', position: 'relative' } });
  root.append(h('div', { class: 'person-page' }, h('div', { class: 'page' }, head), gridHost));

  function draw() {
    const label = person.name || `Unnamed #${person.id}`;
    root.querySelector('#person-title').textContent = label;
    avatar.alt = `Face of ${label}`;
    if (document.activeElement !== name) name.value = person.name || '';
    hide.textContent = person.hidden ? 'Unhide' : 'Hide';
    counts.textContent = `${fmtCount(person.image_count)} photos · ${fmtCount(person.face_count)} faces${person.hidden ? ' · hidden' : ''}`;
  }

  async function load() {
    try {
      person = await get(`/people/${id}`, { limit: 1 });
      draw();
      if (person.cover_url) showImage(avatar, person.cover_url);
    } catch (err) {
      if (err.status !== 401) root.querySelector('#person-title').textContent = err.status === 404 ? 'No such person' : err.message;
    }
  }

  async function patch(changes, message) {
    try {
      person = await api(`/people/${id}`, { method: 'PATCH', body: changes });
      draw();
      toast(message);
    } catch (err) {
      if (err.status !== 401) toast(err.message, { error: true });
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    patch({ name: name.value.trim() || null }, 'Name saved.');
  });
  function toggleHidden() { if (person) patch({ hidden: !person.hidden }, person.hidden ? 'Shown again.' : 'Hidden from People.'); }

  const grid = new VirtualGrid(gridHost, new TimelineModel({ person: id }), {
    label: 'Photos of this person',
    empty: 'No photos of this person right now.',
  });
  grid.start();
  load();

  return {
    title: 'Person',
    reveal(mediaId) { grid.reveal(mediaId); },
    navFor() { return grid.navFor(); },
    unmount() { grid.destroy(); },
  };
}
