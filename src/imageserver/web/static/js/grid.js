// A windowed photo grid over a TimelineModel: month headers and square tiles positioned
// absolutely inside one tall canvas whose height comes from the month counts, so only the
// tiles within about a screen of the viewport exist (a few hundred elements for 100k items).
// Months load when they come near the viewport; thumbnails load per tile and are cancelled
// when the tile scrolls away. A scrubber on the right jumps through the years.

import { onTick } from './api.js';
import { fmtCount, fmtDate, fmtDuration, fmtMonth, h } from './dom.js';
import { attachPreview } from './preview.js';
import { mark } from './selection.js';
import { showImage, thumbPath } from './thumbs.js';

const HEADER = 44;
const GAP = 4;

export class VirtualGrid {
  /**
   * host: element to fill; model: TimelineModel;
   * opts.empty: text when nothing matches; opts.onCount(total, model): after each (re)load;
   * opts.label: accessible name of the grid.
   */
  constructor(host, model, opts = {}) {
    this.host = host;
    this.model = model;
    this.opts = opts;
    this.live = new Map(); // key -> element (headers and tiles)
    this.active = null; // [section, index] of the tile that takes Tab focus
    this.pendingFocus = null; // item id to focus once its tile is filled (after a reload)
    this.cols = 4;
    this.tile = 160;
    this.rowH = 164;
    this.total = 0;
    this.frame = 0;
    this.loadTimer = 0;
    this.destroyed = false;

    this.scroller = h('div', { class: 'scroller', tabindex: '0', role: 'region', 'aria-label': opts.label || 'Photos', 'data-skip-target': '' });
    this.canvas = h('div', { class: 'canvas' });
    this.emptyEl = h('p', { class: 'empty', hidden: true });
    this.scroller.append(this.canvas, this.emptyEl);
    this.scrubber = h('div', { class: 'scrubber', 'aria-hidden': 'true' });
    this.hoverLabel = h('div', { class: 'hover' });
    this.thumbLine = h('div', { class: 'thumbline' });
    host.append(this.scroller, this.scrubber);

    this.onScroll = () => this.schedule();
    this.scroller.addEventListener('scroll', this.onScroll, { passive: true });
    this.resizeObserver = new ResizeObserver(() => { this.layout(); this.schedule(); });
    this.resizeObserver.observe(this.scroller);
    this.scroller.addEventListener('keydown', (e) => this.onKey(e));
    // Once the user moves on, a focus still waiting for a reload must not jump back later.
    this.scroller.addEventListener('pointerdown', () => { this.pendingFocus = null; });
    this.scroller.addEventListener('keydown', () => { this.pendingFocus = null; }, { capture: true });
    this.scroller.addEventListener('focus', (e) => { if (e.target === this.scroller) this.focusFirstVisible(); });
    this.setupScrubber();
    this.stopTick = onTick(() => this.refresh());
    // opts.selection: a Selection (selection.js); tiles show it and clicks toggle it.
    this.stopSelection = opts.selection ? opts.selection.attach(this.canvas) : null;
  }

  async start() {
    try {
      await this.model.load();
    } catch (err) {
      if (err.status !== 401) this.showEmpty(`Could not load the timeline: ${err.message}`);
      return;
    }
    if (this.destroyed) return;
    this.afterLoad();
  }

  afterLoad() {
    this.layout();
    this.drawScrubber();
    this.render(true);
    if (this.model.total === 0) this.showEmpty(this.opts.empty || 'Nothing to show.');
    else this.emptyEl.hidden = true;
    this.opts.onCount?.(this.model.total, this.model);
  }

  showEmpty(text) {
    this.emptyEl.textContent = text;
    this.emptyEl.hidden = false;
  }

  destroy() {
    this.destroyed = true;
    this.stopTick();
    this.stopSelection?.();
    cancelAnimationFrame(this.frame);
    clearTimeout(this.loadTimer);
    this.resizeObserver.disconnect();
    for (const el of this.live.values()) this.release(el);
    this.live.clear();
    this.host.replaceChildren();
  }

  // ---- geometry ------------------------------------------------------------------------

  layout() {
    const width = this.canvas.clientWidth || this.scroller.clientWidth || 800;
    const target = width < 520 ? 110 : width < 900 ? 150 : 190;
    this.cols = Math.max(3, Math.round((width + GAP) / (target + GAP)));
    this.tile = Math.floor((width - GAP * (this.cols - 1)) / this.cols);
    this.rowH = this.tile + GAP;
    let top = 0;
    for (const s of this.model.sections) {
      s.rows = Math.ceil(s.count / this.cols);
      s.top = top;
      s.height = HEADER + s.rows * this.rowH;
      top += s.height;
    }
    this.total = top;
    this.canvas.style.height = `${top + 24}px`;
    for (const [key, el] of this.live) this.position(key, el);
    this.drawScrubber();
  }

  sectionAt(y) {
    const sections = this.model.sections;
    let lo = 0;
    let hi = sections.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (sections[mid].top <= y) lo = mid; else hi = mid - 1;
    }
    return lo;
  }

  tileXY(section, i) {
    const r = Math.floor(i / this.cols);
    const c = i % this.cols;
    return [c * (this.tile + GAP), section.top + HEADER + r * this.rowH];
  }

  position(key, el) {
    if (key[0] === 'h') {
      const s = this.model.sections[Number(key.slice(1))];
      if (s) el.style.transform = `translateY(${s.top}px)`;
      return;
    }
    const [sn, i] = key.split(':').map(Number);
    const s = this.model.sections[sn];
    if (!s) return;
    const [x, y] = this.tileXY(s, i);
    el._y = y;
    el.style.transform = `translate(${x}px, ${y}px)`;
    el.style.width = el.style.height = `${this.tile}px`;
  }

  // ---- rendering -------------------------------------------------------------------------

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => { this.frame = 0; this.render(false); });
  }

  render(immediateLoad) {
    if (this.destroyed) return;
    const sections = this.model.sections;
    const top = this.scroller.scrollTop;
    const vh = this.scroller.clientHeight || 800;
    const lo = top - vh * 0.75;
    const hi = top + vh * 1.75;
    const want = new Set();
    const loads = [];
    if (sections.length) {
      for (let sn = this.sectionAt(Math.max(0, lo)); sn < sections.length && sections[sn].top < hi; sn += 1) {
        const s = sections[sn];
        if (s.top + s.height < lo) continue;
        const hkey = 'h' + sn;
        want.add(hkey);
        if (!this.live.has(hkey)) this.addHeader(hkey, s);
        const r0 = Math.max(0, Math.floor((lo - s.top - HEADER) / this.rowH));
        const r1 = Math.min(s.rows - 1, Math.floor((hi - s.top - HEADER) / this.rowH));
        let needed = -1;
        for (let r = r0; r <= r1; r += 1) {
          for (let c = 0; c < this.cols; c += 1) {
            const i = r * this.cols + c;
            if (i >= s.count) break;
            const key = `${sn}:${i}`;
            want.add(key);
            let el = this.live.get(key);
            if (!el) { el = this.addTile(key); }
            const item = this.model.item(s, i);
            if (item && el._itemId !== item.id) this.fill(el, item, sn, i);
            if (this.pendingFocus !== null && s.items[i] && s.items[i].id === this.pendingFocus) {
              this.pendingFocus = null;
              this.active = [sn, i];
              el.tabIndex = 0;
              el.focus({ preventScroll: true });
            }
            if (!s.items[i]) needed = i;
          }
        }
        if (needed >= 0) loads.push([s, needed]);
      }
    }
    for (const [key, el] of this.live) {
      if (!want.has(key)) { this.release(el); el.remove(); this.live.delete(key); }
    }
    this.updateThumbLine();
    if (loads.length) {
      clearTimeout(this.loadTimer);
      const run = () => {
        for (const [s, upto] of loads) {
          this.model.ensure(s, upto).then(() => this.render(false), (err) => {
            if (err.status !== 401) console.warn('month failed to load', s.key, err);
          });
        }
      };
      if (immediateLoad) run(); else this.loadTimer = setTimeout(run, 60);
    }
  }

  addHeader(key, s) {
    const el = h('h2', { class: 'month' }, fmtMonth(s.key), h('span', { class: 'n' }, fmtCount(s.count)));
    this.live.set(key, el);
    this.position(key, el);
    this.canvas.append(el);
    return el;
  }

  addTile(key) {
    const el = h('a', { class: 'tile', tabindex: '-1', dataset: { key } });
    this.live.set(key, el);
    this.position(key, el);
    attachPreview(el);
    this.canvas.append(el);
    return el;
  }

  release(el) {
    el._ctrl?.abort();
    el._ctrl = null;
    el._stopPreview?.();
  }

  fill(el, item, sn, i) {
    this.release(el);
    el._itemId = item.id;
    el._item = item;
    el.href = `#/viewer/${item.id}`;
    el.dataset.id = item.id;
    el.dataset.kind = item.kind;
    const isActive = this.active && this.active[0] === sn && this.active[1] === i;
    el.tabIndex = isActive ? 0 : -1;
    // A date that fell back to the file's time is a guess: the tile says so.
    const guessed = item.taken_at_source === 'file_mtime';
    const label = `${item.name}, ${fmtDate(item.taken_at)}${guessed ? ' (file time)' : ''}`;
    const img = h('img', { alt: label, decoding: 'async', draggable: 'false' });
    const parts = [img];
    if (guessed) parts.push(h('span', { class: 'meta filetime', title: 'No date in the file: this is the time the file was copied' }, 'file date'));
    if (item.kind === 'video') parts.push(h('span', { class: 'meta', 'aria-hidden': 'true' }, '▶ ' + fmtDuration(item.duration)));
    const score = this.opts.scoreOf?.(item);
    if (score !== undefined) parts.push(h('span', { class: 'meta score' }, score));
    el.replaceChildren(...parts);
    if (this.opts.selection) mark(el, this.opts.selection.has(item.id));
    this.loadThumb(el, item);
  }

  loadThumb(el, item) {
    const ctrl = new AbortController();
    el._ctrl = ctrl;
    delete el.dataset.thumb;
    const priority = () => this.distance(el);
    showImage(el.firstChild, thumbPath(item.id, 'small'), { signal: ctrl.signal, priority }).then((state) => {
      if (state === 'ok' || state === 'aborted' || el._itemId !== item.id) return;
      el.dataset.thumb = state;
      const text = state === 'pending' ? 'preparing…' : item.name;
      if (!el.querySelector('.ph')) el.append(h('span', { class: 'ph', 'aria-hidden': 'true' }, text));
    });
  }

  /** Pixels between a tile and the viewport (0: on screen): thumbnails load nearest first. */
  distance(el) {
    const top = this.scroller.scrollTop;
    const bottom = top + this.scroller.clientHeight;
    if (el._y + this.tile < top) return top - el._y - this.tile;
    if (el._y > bottom) return el._y - bottom;
    return 0;
  }

  // ---- live refresh ------------------------------------------------------------------------

  async refresh() {
    if (this.destroyed || this.refreshing) return;
    this.refreshing = true;
    try {
      const buckets = await this.model.changed();
      if (this.destroyed) return;
      if (!buckets) {
        // Same items: only retry thumbnails that were not made yet.
        for (const el of this.live.values()) {
          if (el.dataset.thumb === 'pending' && el._item) {
            el.querySelector('.ph')?.remove();
            this.loadThumb(el, el._item);
          }
        }
        return;
      }
      const anchor = this.anchor();
      // A reload replaces every tile: the focused one gets its focus back once refilled.
      const focused = this.canvas.contains(document.activeElement) ? document.activeElement.dataset.id : undefined;
      if (focused) this.pendingFocus = Number(focused);
      this.model.reset(buckets);
      for (const el of this.live.values()) { this.release(el); el.remove(); }
      this.live.clear();
      this.layout();
      if (anchor) {
        const s = this.model.sections.find((x) => x.key === anchor.key);
        if (s) this.scroller.scrollTop = s.top + Math.min(anchor.offset, s.height);
      }
      this.render(true);
      this.emptyEl.hidden = this.model.total > 0;
      if (!this.model.total) this.showEmpty(this.opts.empty || 'Nothing to show.');
      this.opts.onCount?.(this.model.total, this.model);
    } catch (err) {
      if (err.status !== 401) console.warn('refresh failed', err);
    } finally {
      this.refreshing = false;
    }
  }

  anchor() {
    const sections = this.model.sections;
    if (!sections.length) return null;
    const top = this.scroller.scrollTop;
    const s = sections[this.sectionAt(top)];
    return { key: s.key, offset: top - s.top };
  }

  // ---- navigation --------------------------------------------------------------------------

  scrollToSection(n) {
    const s = this.model.sections[n];
    if (s) this.scroller.scrollTop = s.top;
  }

  /** Scroll an item into view and give its tile the focus (after the viewer closes). */
  async reveal(id) {
    const at = this.model.locate(id);
    if (at) { this.focusTile(at[0], at[1]); return; }
    // Reloading (the counts changed while the viewer was open): focus the tile once the
    // item's month is loaded again; meanwhile its stale preview tile, if one shows it.
    this.pendingFocus = Number(id);
    for (const el of this.live.values()) {
      if (el._itemId === this.pendingFocus) { el.tabIndex = 0; el.focus({ preventScroll: true }); }
    }
  }

  focusTile(sn, i) {
    const s = this.model.sections[sn];
    if (!s) return;
    const [, y] = this.tileXY(s, i);
    const top = this.scroller.scrollTop;
    const vh = this.scroller.clientHeight;
    if (y < top + (i < this.cols ? HEADER : 0) || y + this.tile > top + vh) {
      this.scroller.scrollTop = Math.max(0, y - (i < this.cols ? HEADER : vh / 3));
    }
    this.active = [sn, i];
    this.render(true);
    for (const el of this.live.values()) if (el.classList.contains('tile')) el.tabIndex = -1;
    const el = this.live.get(`${sn}:${i}`);
    if (el) { el.tabIndex = 0; el.focus({ preventScroll: true }); }
  }

  focusFirstVisible() {
    const sections = this.model.sections;
    if (!sections.length) return;
    const top = this.scroller.scrollTop;
    const sn = this.sectionAt(top);
    const s = sections[sn];
    const r = Math.max(0, Math.ceil((top - s.top - HEADER) / this.rowH));
    const i = Math.min(s.count - 1, r * this.cols);
    this.focusTile(sn, Math.max(0, i));
  }

  onKey(event) {
    const el = event.target.closest?.('.tile');
    if (!el || !el.dataset.key) return;
    let [sn, i] = el.dataset.key.split(':').map(Number);
    const sections = this.model.sections;
    const s = sections[sn];
    switch (event.key) {
      case 'ArrowRight':
        if (i + 1 < s.count) i += 1; else if (sn + 1 < sections.length) { sn += 1; i = 0; }
        break;
      case 'ArrowLeft':
        if (i > 0) i -= 1; else if (sn > 0) { sn -= 1; i = sections[sn].count - 1; }
        break;
      case 'ArrowDown':
        if (i + this.cols < s.count) i += this.cols;
        else if (Math.floor(i / this.cols) < s.rows - 1) i = s.count - 1;
        else if (sn + 1 < sections.length) { sn += 1; i = Math.min(i % this.cols, sections[sn].count - 1); }
        break;
      case 'ArrowUp':
        if (i - this.cols >= 0) i -= this.cols;
        else if (sn > 0) {
          sn -= 1;
          const p = sections[sn];
          i = Math.min(p.count - 1, (p.rows - 1) * this.cols + (i % this.cols));
        }
        break;
      case 'Home': sn = 0; i = 0; break;
      case 'End': sn = sections.length - 1; i = sections[sn].count - 1; break;
      default: return;
    }
    event.preventDefault();
    this.focusTile(sn, i);
  }

  // ---- scrubber ------------------------------------------------------------------------------

  scrollRange() {
    return Math.max(1, this.total + 24 - this.scroller.clientHeight);
  }

  drawScrubber() {
    const height = this.scrubber.clientHeight;
    this.scrubber.replaceChildren(this.thumbLine, this.hoverLabel);
    if (!height || !this.model.sections.length) return;
    const range = this.scrollRange();
    // One label per year at its first section; the oldest year always gets one (it may sit
    // at the very bottom, clamped together with other old years), the others only where
    // they keep 16 px from their neighbours.
    const years = [];
    for (const s of this.model.sections) {
      const year = s.key.slice(0, 4);
      if (years.length && years[years.length - 1].year === year) continue;
      years.push({ year, y: Math.min(height - 8, Math.max(8, (s.top / range) * height)) });
    }
    const last = years[years.length - 1];
    let lastY = -100;
    for (const label of years) {
      const isLast = label === last;
      if (!isLast && (label.y - lastY < 16 || last.y - label.y < 16)) continue;
      const y = isLast ? Math.max(label.y, lastY + 16) : label.y;
      lastY = y;
      this.scrubber.append(h('div', { class: 'year', style: { top: `${Math.min(y, height - 8)}px` } }, label.year));
    }
    this.updateThumbLine();
  }

  updateThumbLine() {
    const height = this.scrubber.clientHeight;
    if (!height) return;
    const f = Math.min(1, this.scroller.scrollTop / this.scrollRange());
    this.thumbLine.style.top = `${f * (height - 2)}px`;
  }

  setupScrubber() {
    const fractionOf = (event) => {
      const rect = this.scrubber.getBoundingClientRect();
      return Math.min(1, Math.max(0, (event.clientY - rect.top) / rect.height));
    };
    const label = (event) => {
      const f = fractionOf(event);
      const sections = this.model.sections;
      if (!sections.length) return f;
      const s = sections[this.sectionAt(f * this.scrollRange())];
      this.hoverLabel.textContent = fmtMonth(s.key);
      this.hoverLabel.style.top = `${f * this.scrubber.clientHeight}px`;
      return f;
    };
    let dragging = false;
    this.scrubber.addEventListener('pointerdown', (event) => {
      dragging = true;
      this.scrubber.setPointerCapture(event.pointerId);
      this.scrubber.classList.add('drag');
      this.scroller.scrollTop = label(event) * this.scrollRange();
    });
    this.scrubber.addEventListener('pointermove', (event) => {
      const f = label(event);
      if (dragging) this.scroller.scrollTop = f * this.scrollRange();
    });
    const end = () => { dragging = false; this.scrubber.classList.remove('drag'); };
    this.scrubber.addEventListener('pointerup', end);
    this.scrubber.addEventListener('pointercancel', end);
  }

  // ---- the viewer's neighbours ------------------------------------------------------------

  navFor() {
    return {
      neighbour: (id, dir) => this.model.neighbour(id, dir),
      find: (item) => this.model.find(item),
    };
  }
}
