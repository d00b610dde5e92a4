// Video state (/video/{id}: status + signed playlist and preview URLs) with a short cache,
// and the muted preview clip that plays while the pointer rests on a video tile.

import { get } from './api.js';
import { h } from './dom.js';

const HOVER_DELAY_MS = 250;
const infos = new Map(); // id -> {info, until}

/** /video/{id}, cached while its signed URLs are valid (never longer than a minute). */
export async function videoInfo(id, { fresh = false } = {}) {
  const hit = infos.get(id);
  const now = Date.now();
  if (!fresh && hit && hit.until > now) return hit.info;
  const info = await get(`/video/${id}`);
  const signedUntil = info.token_expires_at ? info.token_expires_at * 1000 - 60_000 : now;
  const until = info.status === 'ready' ? Math.min(signedUntil, now + 60_000) : now + 5_000;
  infos.set(id, { info, until });
  return info;
}

/** Hovering a video tile (after a short pause) plays its preview clip in place. */
export function attachPreview(tile) {
  let timer = 0;
  let video = null;
  const stop = () => {
    clearTimeout(timer);
    if (video) { video.pause(); video.removeAttribute('src'); video.load(); video.remove(); video = null; }
  };
  tile._stopPreview = stop;
  tile.addEventListener('pointerenter', (event) => {
    if (event.pointerType === 'touch' || tile._item?.kind !== 'video') return;
    const id = tile._item.id;
    timer = setTimeout(async () => {
      try {
        const info = await videoInfo(id);
        if (!info.preview_url || tile._item?.id !== id || !tile.matches(':hover')) return;
        stop();
        video = h('video', {
          class: 'preview', muted: true, loop: true, playsInline: true, autoplay: true,
          preload: 'auto', src: info.preview_url, 'aria-hidden': 'true',
        });
        video.defaultMuted = true;
        tile.append(video);
        video.play().catch(() => {});
      } catch { /* no preview: the thumbnail stays */ }
    }, HOVER_DELAY_MS);
  });
  tile.addEventListener('pointerleave', stop);
}
