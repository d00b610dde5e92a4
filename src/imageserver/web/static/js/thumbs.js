// Authenticated images: <img> cannot send a bearer header, so thumbnails, previews and face
// crops are fetched with it and shown through blob: URLs. A small queue bounds parallel
// requests (visible tiles first come first), callers abort what scrolled away, and an LRU of
// object URLs keeps memory flat however far the grid is scrolled. The browser's HTTP cache
// (thumbnails are immutable) makes a second fetch of the same picture nearly free.

import { api, ApiError } from './api.js';

const MAX_PARALLEL = 6;
const MAX_CACHED = 1500;

const cache = new Map(); // path -> object URL (insertion order = LRU order)
const inflight = new Map(); // path -> {promise, controller, waiters, started}
const queue = [];
let active = 0;

/** Not an error of the page: the image does not exist (yet), or cannot be made. */
export class ImageMissing extends Error {
  constructor(state, message) {
    super(message);
    this.state = state; // 'pending' | 'unsupported' | 'error'
  }
}

export const thumbPath = (id, size = 'small') => `/media/${id}/thumbnail?size=${size}`;

function remember(path, objectUrl) {
  cache.set(path, objectUrl);
  while (cache.size > MAX_CACHED) {
    const [oldest, old] = cache.entries().next().value;
    cache.delete(oldest);
    URL.revokeObjectURL(old);
  }
}

/** The cached object URL of `path`, if any (no request). */
export function cached(path) {
  const hit = cache.get(path);
  if (hit) { cache.delete(path); cache.set(path, hit); }
  return hit;
}

/** The queued job wanted most: the lowest priority value of any of its callers. */
function next() {
  let best = -1;
  let bestValue = Infinity;
  for (let i = 0; i < queue.length; i += 1) {
    const value = Math.min(...queue[i].priorities.map((p) => p()));
    if (value < bestValue) { best = i; bestValue = value; }
  }
  return best < 0 ? queue.shift() : queue.splice(best, 1)[0];
}

function pump() {
  while (active < MAX_PARALLEL && queue.length) {
    const job = next();
    if (job.waiters <= 0) continue;
    job.started = true;
    active += 1;
    api(job.path, { raw: true, signal: job.controller.signal })
      .then((res) => res.blob())
      .then((blob) => {
        const objectUrl = URL.createObjectURL(blob);
        remember(job.path, objectUrl);
        job.resolve(objectUrl);
      })
      .catch((err) => {
        if (err instanceof ApiError && err.status === 404) {
          job.reject(new ImageMissing('pending', err.message));
        } else if (err instanceof ApiError && err.status === 422) {
          job.reject(new ImageMissing('unsupported', err.message));
        } else {
          job.reject(err);
        }
      })
      .finally(() => {
        active -= 1;
        inflight.delete(job.path);
        pump();
      });
  }
}

const FIRST = () => 0;

/**
 * Object URL of an authenticated image. `signal` aborting drops this caller's interest;
 * the request itself is cancelled when nobody waits for it any more. `priority` is a
 * function read when a request slot frees up (lower first: 0 = on screen now), so tiles
 * that scrolled into view overtake those that scrolled out.
 */
export function loadImage(path, { signal, priority = FIRST } = {}) {
  const hit = cached(path);
  if (hit) return Promise.resolve(hit);
  let job = inflight.get(path);
  if (!job) {
    job = { path, waiters: 0, started: false, controller: new AbortController(), priorities: [] };
    job.promise = new Promise((resolve, reject) => { job.resolve = resolve; job.reject = reject; });
    job.promise.catch(() => {});
    inflight.set(path, job);
    queue.push(job);
  }
  job.waiters += 1;
  job.priorities.push(priority);
  const current = job;
  return new Promise((resolve, reject) => {
    let settled = false;
    const onAbort = () => {
      if (settled) return;
      settled = true;
      current.waiters -= 1;
      current.priorities = current.priorities.filter((p) => p !== priority);
      if (!current.priorities.length) current.priorities.push(() => Infinity);
      if (current.waiters <= 0) {
        if (current.started) current.controller.abort();
        else inflight.delete(current.path);
      }
      reject(new DOMException('aborted', 'AbortError'));
    };
    if (signal) {
      if (signal.aborted) { onAbort(); return; }
      signal.addEventListener('abort', onAbort, { once: true });
    }
    current.promise.then(
      (v) => { if (!settled) { settled = true; resolve(v); } },
      (e) => { if (!settled) { settled = true; reject(e); } },
    );
    pump();
  });
}

/**
 * Show an authenticated image in `img` (which keeps its alt text). Resolves to 'ok',
 * 'pending' (not made yet: try again on a later tick), 'unsupported' or 'aborted'.
 */
export async function showImage(img, path, { signal, priority } = {}) {
  try {
    const objectUrl = await loadImage(path, { signal, priority });
    if (signal?.aborted) return 'aborted';
    img.addEventListener('load', () => img.classList.add('loaded'), { once: true });
    img.src = objectUrl;
    if (img.complete && img.naturalWidth) img.classList.add('loaded');
    return 'ok';
  } catch (err) {
    if (err.name === 'AbortError') return 'aborted';
    if (err instanceof ImageMissing) return err.state;
    if (err instanceof ApiError && err.status === 401) return 'aborted';
    console.warn('image failed', path, err);
    return 'error';
  }
}
