// Duplicates: the same bytes at several paths (same content hash), biggest files first.

import { get } from '../api.js';
import { baseName, fmtBytes, fmtCount, h } from '../dom.js';
import { listNav, tile } from '../tiles.js';

const PAGE = 50;

export function mount(root) {
  let offset = 0;
  let names = new Map();
  const ids = [];
  let alive = true;
  const status = h('p', { class: 'muted', role: 'status' });
  const list = h('div', { class: 'list', id: 'duplicate-groups' });
  const more = h('button', { type: 'button', hidden: true, onclick: () => load() }, 'Show more');
  root.append(h('div', { class: 'page' }, h('h1', {}, 'Duplicates'), status, list, h('p', {}, more)));

  async function load() {
    more.disabled = true;
    try {
      if (!names.size) names = new Map((await get('/libraries')).map((l) => [l.id, l.name]));
      const page = await get('/duplicates', { limit: PAGE, offset });
      if (!alive) return;
      offset += page.groups.length;
      let wasted = 0;
      for (const group of page.groups) {
        wasted += group.size * (group.items.length - 1);
        const first = group.items[0];
        ids.push(first.id);
        list.append(h('section', { class: 'card dup', 'aria-label': `${group.items.length} copies of ${baseName(first.path)}` },
          tile({ id: first.id, label: `${baseName(first.path)} (${group.items.length} copies)` }),
          h('div', {},
            h('h2', {}, `${baseName(first.path)} `, h('span', { class: 'muted small' }, `${group.items.length} copies · ${fmtBytes(group.size)} each`)),
            h('ul', {}, group.items.map((m) => h('li', {},
              h('a', { href: `#/viewer/${m.id}` }, `${names.get(m.library_id) || 'library ' + m.library_id}: ${m.path}`)))))));
      }
      status.textContent = page.total_groups
        ? `${fmtCount(page.total_groups)} files exist at more than one path${offset < page.total_groups ? ` (showing ${fmtCount(offset)})` : ''}.`
        : 'No duplicates: every file is stored once.';
      if (wasted && offset <= PAGE) status.textContent += ` The extra copies on this page take ${fmtBytes(wasted)}.`;
      more.hidden = offset >= page.total_groups;
    } catch (err) {
      if (err.status !== 401) status.textContent = err.message;
    } finally {
      more.disabled = false;
    }
  }

  load();
  return {
    title: 'Duplicates',
    navFor() { return listNav(ids); },
    unmount() { alive = false; },
  };
}
