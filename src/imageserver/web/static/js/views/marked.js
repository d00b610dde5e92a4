// Favorites (#/favorites), Archive (#/archive) and Could not read (#/unreadable): the
// timeline grid of the caller's marked items, with the selection bar (an archived item comes
// back with "Unarchive"). Unreadable files are the ones no thumbnail could be made of: they
// wait here instead of leading the timeline under the day they were copied.

import { selectionActions } from '../collections.js';
import { fmtCount, h } from '../dom.js';
import { VirtualGrid } from '../grid.js';
import { Selection, selectionBar } from '../selection.js';
import { TimelineModel } from '../timeline-model.js';

const KINDS = {
  favorites: { title: 'Favorites', filters: { favorite: true }, empty: 'No favorites yet: star a photo in the viewer (or press f).' },
  archive: { title: 'Archive', filters: { archived: true }, empty: 'Nothing archived. Archived photos leave the timeline and wait here.' },
  unreadable: { title: 'Could not read', filters: { unreadable: true }, empty: 'Every file could be read: nothing waits here.' },
};

export function mountMarked(root, { kind }) {
  const { title, filters, empty } = KINDS[kind];
  const archived = kind === 'archive';
  const selection = new Selection();
  let grid = null;
  const bar = selectionBar(selection, selectionActions({ archived, after: () => grid?.refresh() }));
  const count = h('span', { class: 'count muted small', id: 'marked-count' });
  const gridHost = h('div', { style: { flex: '1', display: 'flex', minWidth: '0', minHeight: '0', position: 'relative' } });
  root.append(h('div', { class: 'timeline' },
    h('div', { class: 'filters' }, h('h1', { class: 'inline-title' }, title), bar.toggle, count),
    bar.el, gridHost));
  grid = new VirtualGrid(gridHost, new TimelineModel(filters), {
    label: title,
    selection,
    empty,
    onCount: (total) => { count.textContent = `${fmtCount(total)} ${total === 1 ? 'item' : 'items'}`; },
  });
  grid.start();
  return {
    title,
    reveal(id) { grid.reveal(id); },
    navFor() { return grid.navFor(); },
    unmount() { grid.destroy(); },
  };
}
