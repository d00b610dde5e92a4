// People: everyone the face clustering found, with a face crop; select several to merge.

import { api, get } from '../api.js';
import { fmtCount, h, toast } from '../dom.js';
import { showImage } from '../thumbs.js';

export function mount(root) {
  let people = [];
  const selected = new Set();
  let seq = 0;

  const hidden = h('input', { type: 'checkbox', id: 'people-hidden', onchange: () => load() });
  const target = h('select', { 'aria-label': 'Merge into', id: 'merge-target' });
  const mergeBtn = h('button', { type: 'button', class: 'primary', id: 'merge-button', onclick: () => merge() }, 'Merge');
  const mergeBar = h('div', { class: 'toolbar card', hidden: true, id: 'merge-bar', 'data-admin-only': true },
    h('span', { id: 'merge-count' }), h('label', {}, 'into', target), mergeBtn,
    h('button', { type: 'button', onclick: () => { selected.clear(); draw(); } }, 'Cancel'));
  const status = h('p', { class: 'muted', role: 'status' });
  const cards = h('div', { class: 'cards', id: 'people-cards' });
  root.append(h('div', { class: 'page' },
    h('div', { class: 'toolbar' }, h('h1', {}, 'People'), h('span', { class: 'spacer' }), h('label', { class: 'small' }, hidden, 'Show hidden')),
    mergeBar, status, cards));

  const nameOf = (p) => p.name || `Unnamed #${p.id}`;

  function drawMergeBar() {
    mergeBar.hidden = selected.size < 2;
    if (mergeBar.hidden) return;
    const chosen = people.filter((p) => selected.has(p.id));
    const keep = target.value;
    target.replaceChildren(...chosen.map((p) => h('option', { value: String(p.id) }, nameOf(p))));
    const named = chosen.find((p) => p.name);
    target.value = chosen.some((p) => String(p.id) === keep) ? keep : String((named || chosen[0]).id);
    mergeBar.querySelector('#merge-count').textContent = `Merge ${chosen.length} people`;
  }

  function draw() {
    cards.replaceChildren(...people.map((p) => {
      const img = h('img', { alt: `Face of ${nameOf(p)}` });
      if (p.cover_url) showImage(img, p.cover_url);
      const pick = h('input', { type: 'checkbox', 'aria-label': `Select ${nameOf(p)} to merge`, checked: selected.has(p.id),
        onchange: () => { if (pick.checked) selected.add(p.id); else selected.delete(p.id); drawMergeBar(); } });
      return h('div', { class: 'card person', dataset: { id: String(p.id) } },
        h('label', { class: 'pick', 'data-admin-only': true }, pick),
        h('a', { class: 'face', href: `#/people/${p.id}`, 'aria-label': `${nameOf(p)}: open photos` }, img),
        h('div', { class: 'name' }, h('a', { href: `#/people/${p.id}` }, nameOf(p))),
        h('div', { class: 'muted small' }, `${fmtCount(p.image_count)} photos${p.hidden ? ' · hidden' : ''}`));
    }));
    drawMergeBar();
  }

  async function load() {
    const my = ++seq;
    try {
      const page = await get('/people', { limit: 1000, hidden: hidden.checked });
      if (my !== seq) return;
      people = page.items;
      for (const id of [...selected]) if (!people.some((p) => p.id === id)) selected.delete(id);
      status.textContent = people.length
        ? `${fmtCount(page.total)} people. Tick two or more to merge them.`
        : 'No people yet: faces are grouped once at least two pictures show the same person.';
      draw();
    } catch (err) {
      if (err.status !== 401) status.textContent = err.message;
    }
  }

  async function merge() {
    const into = Number(target.value);
    const ids = [...selected].filter((id) => id !== into);
    if (!ids.length) return;
    mergeBtn.disabled = true;
    try {
      await api(`/people/${into}/merge`, { method: 'POST', body: { ids } });
      toast(`Merged ${ids.length + 1} people.`);
      selected.clear();
      await load();
    } catch (err) {
      if (err.status !== 401) toast(err.message, { error: true });
    } finally {
      mergeBtn.disabled = false;
    }
  }

  load();
  return { title: 'People', unmount() { seq += 1; } };
}
