// Tags (#/tags): the household's keywords as a tree (levels joined by "/", from sidecars,
// embedded XMP/IPTC and edits) with counts; choosing one shows its items, and the items of
// the tags below it, in the timeline grid (#/tags?tag=Family/Grandma).

import { get } from '../api.js';
import { fmtCount, h } from '../dom.js';
import { VirtualGrid } from '../grid.js';
import { hashFor } from '../router.js';
import { TimelineModel } from '../timeline-model.js';

/** The node at a "/"-joined path, and the nodes on the way to it. */
function walk(tree, path) {
  const trail = [];
  let level = tree;
  for (const name of path ? path.split('/') : []) {
    const node = level.find((n) => n.name === name);
    if (!node) break;
    trail.push(node);
    level = node.children;
  }
  return trail;
}

export function mount(root, route) {
  let alive = true;
  let grid = null;
  let tree = null;
  const crumbs = h('div', { class: 'crumbs', id: 'tags-crumbs' });
  const list = h('ul', { class: 'tags-list', id: 'tags-list' });
  const status = h('p', { class: 'muted small', role: 'status', id: 'tags-status' });
  const gridHost = h('div', { style: { flex: '1', display: 'flex', minWidth: '0', minHeight: '0', position: 'relative' } });
  root.append(h('div', { class: 'timeline' },
    h('div', { class: 'page places-head' }, h('h1', {}, 'Tags'), crumbs, status, list), gridHost));

  function entry(node) {
    const below = node.children.length ? h('span', { class: 'muted small' }, ` › ${node.children.length}`) : '';
    return h('li', {}, h('a', { href: hashFor('/tags', { tag: node.path }), dataset: { tag: node.path } },
      h('span', {}, node.name), h('span', { class: 'muted small count' }, fmtCount(node.count)), below));
  }

  function draw(tag) {
    const trail = walk(tree, tag);
    const parts = [h('a', { href: '#/tags' }, 'All tags')];
    for (const node of trail) parts.push(' › ', h('a', { href: hashFor('/tags', { tag: node.path }) }, node.name));
    crumbs.replaceChildren(...parts);
    const here = trail.length ? trail[trail.length - 1].children : tree;
    list.replaceChildren(...here.map(entry));
    if (!tree.length) status.textContent = 'No tags yet: keywords from sidecars and photos, and tags you add in the viewer, appear here.';
    else if (tag && !trail.length) status.textContent = `No photo carries the tag “${tag}”.`;
    else status.textContent = '';
  }

  function startGrid(tag) {
    grid?.destroy();
    grid = null;
    if (!tag) return;
    grid = new VirtualGrid(gridHost, new TimelineModel({ tag }), { label: `Photos tagged ${tag}`, empty: 'Nothing here.' });
    grid.start();
  }

  async function show(query) {
    const tag = query.get('tag') || '';
    try {
      tree = (await get('/tags')).tags;
    } catch (err) {
      if (err.status !== 401) status.textContent = err.message;
      return;
    }
    if (!alive) return;
    draw(tag);
    startGrid(tag);
  }
  show(route.query);
  return {
    title: 'Tags',
    update(next) { show(next.query); },
    reveal(id) { grid?.reveal(id); },
    navFor() { return grid?.navFor() || null; },
    unmount() { alive = false; grid?.destroy(); },
  };
}
