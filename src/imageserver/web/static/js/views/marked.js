// Favorites (#/favorites) and Archive (#/archive): the timeline grid of the caller's marked
// items, with the selection bar (an archived item comes back with "Unarchive").

import { selectionActions } from '../collections.js';
import { fmtCount, h } from '../dom.js';
import { VirtualGrid } from '../grid.js';
import { Selection, selectionBar } from '../selection.js';
import { TimelineModel } from '../timeline-model.js';

export function mountMarked(root, { archived }) {
  const title = archived ? 'Archive' : 'Favorites';
  const selection = new Selection();
  let grid = null;
  const bar = selectionBar(selection, selectionActions({ archived, after: () => grid?.refresh() }));
  const count = h('span', { class: 'count muted small', id: 'marked-count' });
  const gridHost = h('div', { style: { flex: '1', display: 'flex', minWidth: '0', minHeight: '0', position: 'relative' } });
  root.append(h('div', { class: 'timeline' },
    h('div', { class: 'filters' }, h('h1', { class: 'inline-title' }, title), bar.toggle, count),
    bar.el, gridHost));
  grid = new VirtualGrid(gridHost, new TimelineModel(archived ? { archived: true } : { favorite: true }), {
    label: title,
    selection,
    empty: archived ? 'Nothing archived. Archived photos leave the timeline and wait here.' : 'No favorites yet: star a photo in the viewer (or press f).',
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
