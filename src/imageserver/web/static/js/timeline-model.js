// The data behind a photo grid: month sections from /timeline (exact counts, so the whole
// layout is known before any item is loaded) and each month's items loaded on demand from
// /media with a cursor. Filters are the API's own query parameters.

import { get } from './api.js';

const FIRST_PAGE = 60;
const MAX_PAGE = 500;

function monthRange(bucket) {
  const [y, m] = bucket.split('-').map(Number);
  const last = new Date(y, m, 0).getDate();
  const mm = String(m).padStart(2, '0');
  return { from: `${y}-${mm}-01`, to: `${y}-${mm}-${String(last).padStart(2, '0')}` };
}

export class TimelineModel {
  constructor(filters = {}) {
    this.filters = filters;
    this.sections = [];
    this.total = 0;
    this.signature = '';
    this.index = new Map(); // media id -> [section, index]
    this.generation = 0;
  }

  async fetchBuckets(signal) {
    return get('/timeline', this.filters, { signal });
  }

  /** Replace the sections; months seen before keep their items as a stale preview. */
  reset(buckets) {
    const previous = new Map(this.sections.map((s) => [s.key, s]));
    this.generation += 1;
    this.signature = JSON.stringify(buckets);
    this.index = new Map();
    this.total = 0;
    this.sections = buckets.map((b, n) => {
      const old = previous.get(b.bucket);
      this.total += b.count;
      return {
        n,
        key: b.bucket,
        count: b.count,
        items: [],
        stale: old ? (old.items.length ? old.items : old.stale) : [],
        cursor: null,
        done: b.count === 0,
        loading: null,
        top: 0,
        height: 0,
        rows: 0,
      };
    });
  }

  async load(signal) {
    this.reset(await this.fetchBuckets(signal));
  }

  /** New buckets if the server's counts changed since the last load, else null. */
  async changed(signal) {
    const buckets = await this.fetchBuckets(signal);
    return JSON.stringify(buckets) === this.signature ? null : buckets;
  }

  item(section, i) {
    return section.items[i] || section.stale[i] || null;
  }

  /** Load pages of `section` until item `upto` is there (or the month is exhausted). */
  ensure(section, upto) {
    if (section.done || section.items.length > upto) return Promise.resolve();
    if (section.loading) return section.loading.then(() => this.ensure(section, upto));
    const generation = this.generation;
    const want = upto + 1 - section.items.length;
    const limit = Math.min(MAX_PAGE, Math.max(section.items.length ? 200 : FIRST_PAGE, want + 30));
    const query = { ...this.filters, ...monthRange(section.key), limit, cursor: section.cursor };
    section.loading = get('/media', query)
      .then((page) => {
        if (generation !== this.generation) return;
        for (const item of page.items) {
          this.index.set(item.id, [section.n, section.items.length]);
          section.items.push(item);
        }
        section.cursor = page.next_cursor;
        section.done = !page.next_cursor;
        if (section.done) section.stale = [];
      })
      .finally(() => { section.loading = null; });
    return section.loading.then(() => (generation === this.generation ? this.ensure(section, upto) : undefined));
  }

  locate(id) {
    return this.index.get(Number(id)) || null;
  }

  /** The item before (-1) or after (+1) `id` in grid order, loading months as needed. */
  async neighbour(id, dir) {
    const at = this.locate(id);
    if (!at) return null;
    let [s, i] = at;
    i += dir;
    while (s >= 0 && s < this.sections.length) {
      const section = this.sections[s];
      if (i < 0) { s -= 1; if (s >= 0) i = this.sections[s].count - 1; continue; }
      if (i >= section.count) { s += 1; i = 0; continue; }
      await this.ensure(section, i);
      if (section.items[i]) return section.items[i];
      if (dir > 0) { s += 1; i = 0; } else { s -= 1; if (s >= 0) i = this.sections[s].count - 1; }
    }
    return null;
  }

  /** Find the month holding an item the grid never loaded (a deep link into the viewer). */
  async find(item) {
    if (this.locate(item.id)) return this.locate(item.id);
    const key = item.taken_at.slice(0, 7);
    const section = this.sections.find((s) => s.key === key);
    if (!section) return null;
    while (!this.locate(item.id) && !section.done) {
      await this.ensure(section, section.items.length + 199);
    }
    return this.locate(item.id);
  }
}
