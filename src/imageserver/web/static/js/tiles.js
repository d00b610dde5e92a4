// Tiles for short lists (search results, duplicates): plain elements in a CSS grid, each
// thumbnail fetched when it scrolls near the viewport (IntersectionObserver).

import { h } from './dom.js';
import { attachPreview } from './preview.js';
import { showImage, thumbPath } from './thumbs.js';

let observer = null;

function lazy() {
  observer ||= new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      observer.unobserve(entry.target);
      entry.target._load?.();
    }
  }, { rootMargin: '400px' });
  return observer;
}

/** A tile linking to the viewer: {id, kind?, label, badge?} */
export function tile({ id, kind, label, badge, extraClass }) {
  const img = h('img', { alt: label, decoding: 'async', draggable: 'false' });
  const el = h('a', { class: 'tile' + (extraClass ? ' ' + extraClass : ''), href: `#/viewer/${id}`, dataset: { id: String(id) } }, img,
    badge ? h('span', { class: 'meta score' }, badge) : null);
  el._item = { id, kind };
  if (kind === 'video') attachPreview(el);
  el._load = () => {
    showImage(img, thumbPath(id, 'small')).then((state) => {
      if (state === 'pending' || state === 'unsupported' || state === 'error') {
        el.append(h('span', { class: 'ph', 'aria-hidden': 'true' }, state === 'pending' ? 'preparing…' : label));
      }
    });
  };
  lazy().observe(el);
  return el;
}

/** Viewer navigation over a fixed list of media ids. */
export function listNav(ids) {
  return {
    async neighbour(id, dir) {
      const i = ids.indexOf(Number(id));
      if (i < 0) return null;
      const next = ids[i + dir];
      return next === undefined ? null : { id: next };
    },
    async find() {},
  };
}
