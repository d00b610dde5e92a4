// Multi-select for photo grids: "Select" turns it on (then a click on a tile toggles it),
// shift- or ctrl-click selects without turning it on first. A bar above the grid shows the
// count and the actions (add to album, favorite, archive, share ...), which get the ids.

import { h, toast } from './dom.js';

export class Selection {
  constructor() {
    this.ids = new Set();
    this.active = false;
    this.listeners = new Set();
  }

  has(id) { return this.ids.has(Number(id)); }

  toggle(id) {
    const n = Number(id);
    if (this.ids.has(n)) this.ids.delete(n); else this.ids.add(n);
    this.active = true;
    this.changed();
  }

  setActive(on) {
    this.active = on;
    if (!on) this.ids.clear();
    this.changed();
  }

  clear() { this.setActive(false); }

  onChange(fn) { this.listeners.add(fn); return () => this.listeners.delete(fn); }

  changed() { for (const fn of this.listeners) fn(this); }

  /**
   * Handle clicks on the tiles inside `container`: returns the remover. A click toggles the
   * tile instead of opening the viewer while selecting (or with shift / ctrl / cmd).
   */
  attach(container) {
    const onClick = (event) => {
      const tile = event.target.closest?.('.tile[data-id]');
      if (!tile || !container.contains(tile)) return;
      if (!this.active && !event.shiftKey && !event.ctrlKey && !event.metaKey) return;
      event.preventDefault();
      event.stopPropagation();
      this.toggle(tile.dataset.id);
    };
    const paint = () => {
      for (const el of container.querySelectorAll('.tile[data-id]')) mark(el, this.has(el.dataset.id));
    };
    container.addEventListener('click', onClick, true);
    const off = this.onChange(paint);
    return () => { container.removeEventListener('click', onClick, true); off(); };
  }
}

/** Show a tile as selected or not. */
export function mark(el, on) {
  el.classList.toggle('selected', on);
  if (on) el.setAttribute('aria-selected', 'true'); else el.removeAttribute('aria-selected');
}

/**
 * The selection bar: `actions` is [{label, id, run(ids)}]; a run that resolves clears the
 * selection. Returns {el, toggle} (toggle: the "Select" button for the view's toolbar).
 */
export function selectionBar(selection, actions) {
  const count = h('span', { class: 'sel-count', id: 'sel-count' });
  const buttons = actions.map((a) => h('button', { type: 'button', class: 'small', id: a.id, onclick: async () => {
    const ids = [...selection.ids];
    if (!ids.length) return;
    for (const b of buttons) b.disabled = true;
    try {
      if (await a.run(ids) !== false) selection.clear();
    } catch (err) {
      if (err.status !== 401) toast(err.message, { error: true });
    } finally {
      for (const b of buttons) b.disabled = false;
    }
  } }, a.label));
  const done = h('button', { type: 'button', class: 'small', id: 'sel-cancel', onclick: () => selection.clear() }, 'Cancel');
  const el = h('div', { class: 'selbar', id: 'selbar', role: 'toolbar', 'aria-label': 'Selected items', hidden: true }, count, ...buttons, done);
  const toggle = h('button', { type: 'button', class: 'small', id: 'sel-toggle', 'aria-pressed': 'false',
    onclick: () => selection.setActive(!selection.active) }, 'Select');
  selection.onChange(() => {
    el.hidden = !selection.active;
    toggle.setAttribute('aria-pressed', String(selection.active));
    const n = selection.ids.size;
    count.textContent = n ? `${n} selected` : 'Click photos to select them';
    for (const b of buttons) b.disabled = n === 0;
  });
  return { el, toggle };
}
