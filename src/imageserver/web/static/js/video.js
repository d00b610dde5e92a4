// Video in the viewer: ask /video/{id} for its state; a ready video plays its signed HLS
// playlist through hls.js (loaded with import() only now) or natively where the browser has
// HLS but no MediaSource (iPhone Safari before iOS 17.1). Opening a video whose stream is
// not made yet asks for it at once (POST /video/generate, first in the queue) and plays it
// when ready; "Generate now" stays for a later retry. Unsupported ones give the reason and
// the original to download. A video
// with a bitrate ladder gets a quality menu: Auto (hls.js picks by the measured network,
// and the menu names the level it plays) or one fixed rendition.

import { api, download } from './api.js';
import { h } from './dom.js';
import { videoInfo } from './preview.js';
import { loadImage, thumbPath } from './thumbs.js';

const HLS_MODULE = '/static/vendor/hls.js/hls.light.min.mjs';
const POLL_MS = 2000;
let hlsModule = null;

function loadHls() {
  hlsModule ||= import(HLS_MODULE).then((m) => m.default);
  return hlsModule;
}

const hasMediaSource = () => Boolean(window.MediaSource || window.ManagedMediaSource);

/** Mount the player for `item` in `stage`; returns {destroy()}. */
export function mountVideo(stage, item) {
  let hls = null;
  let pollTimer = 0;
  let destroyed = false;
  let asked = false; // the one automatic request of this opening
  const video = h('video', {
    controls: true, playsInline: true, preload: 'metadata',
    'aria-label': `Video ${item.name}`, id: 'viewer-video',
  });
  const box = h('div', { class: 'state', role: 'status', hidden: true });
  stage.append(video, box);
  stage.dataset.videoState = 'loading';

  loadImage(thumbPath(item.id, 'large')).then((url) => { if (!destroyed && !video.poster) video.poster = url; }, () => {});

  const setState = (state, ...content) => {
    stage.dataset.videoState = state;
    if (!content.length) { box.hidden = true; box.replaceChildren(); return; }
    box.replaceChildren(...content);
    box.hidden = false;
  };

  /** The quality menu, once the master playlist lists more than one rendition. */
  function qualityMenu(Hls) {
    const heights = hls.levels.map((l) => Math.min(l.width || 0, l.height || 0) || l.height || 0);
    const order = heights.map((_, i) => i).sort((a, b) => heights[b] - heights[a]);
    const auto = h('option', { value: '-1' }, 'Auto');
    const menu = h('select', { id: 'viewer-quality', class: 'quality', 'aria-label': 'Video quality' },
      auto, ...order.map((i) => h('option', { value: String(i) }, `${heights[i]}p`)));
    menu.addEventListener('change', () => { hls.currentLevel = Number(menu.value); });
    hls.on(Hls.Events.LEVEL_SWITCHED, (_event, data) => {
      auto.textContent = hls.autoLevelEnabled ? `Auto (${heights[data.level]}p)` : 'Auto';
      video.dataset.level = String(heights[data.level]);
    });
    stage.append(menu);
  }

  const downloadButton = () => h('button', { type: 'button', onclick: () => download(`/media/${item.id}/original`, item.name) }, 'Download original');

  function playNative(url) {
    video.dataset.engine = 'native';
    video.src = url;
    video.play().catch(() => {});
  }

  async function play(url) {
    setState('ready');
    const nativeHls = video.canPlayType('application/vnd.apple.mpegurl') !== '';
    // hls.js wherever MediaSource exists (the same player everywhere, errors we can handle);
    // sessionStorage 'imageserver.player' = 'native' prefers the browser's own HLS instead.
    if (nativeHls && sessionStorage.getItem('imageserver.player') === 'native') { playNative(url); return; }
    if (hasMediaSource()) {
      const Hls = await loadHls();
      if (destroyed) return;
      if (Hls.isSupported()) {
        video.dataset.engine = 'hls.js';
        hls = new Hls({ enableWorker: true, backBufferLength: 60 });
        let recovered = false;
        hls.on(Hls.Events.ERROR, (_event, data) => {
          if (!data.fatal) return;
          if (data.type === Hls.ErrorTypes.MEDIA_ERROR && !recovered) {
            recovered = true;
            hls.recoverMediaError();
            return;
          }
          setState('error', h('p', {}, `Playback failed: ${data.details}`), downloadButton());
        });
        hls.on(Hls.Events.MANIFEST_PARSED, () => { if (!destroyed && hls.levels.length > 1) qualityMenu(Hls); });
        hls.loadSource(url);
        hls.attachMedia(video);
        video.play().catch(() => { /* autoplay refused: the controls are there */ });
        return;
      }
    }
    if (nativeHls) { playNative(url); return; }
    setState('error', h('p', {}, 'This browser cannot play streamed video.'), downloadButton());
  }

  async function check(fresh) {
    let info;
    try {
      info = await videoInfo(item.id, { fresh });
    } catch (err) {
      if (!destroyed && err.status !== 401) setState('error', h('p', {}, err.message));
      return;
    }
    if (destroyed) return;
    clearTimeout(pollTimer);
    if (info.status === 'ready') { play(info.playlist_url); return; }
    if (info.status === 'unsupported') {
      setState('unsupported', h('p', {}, `This video can't be played in the browser: ${info.reason || 'unsupported format'}.`), downloadButton());
      return;
    }
    const waiting = info.status === 'queued'
      ? 'The video is being prepared for streaming…'
      : info.status === 'waiting_for_hash'
        ? 'This video has not been indexed yet.'
        : 'This video is being prepared for streaming.';
    const generate = h('button', { type: 'button', class: 'primary', id: 'generate-now' }, 'Generate now');
    generate.addEventListener('click', async () => {
      generate.disabled = true;
      try {
        const res = await api('/video/generate', { method: 'POST', body: { media_id: item.id } });
        if (res.status === 'ready') { check(true); return; }
        setState('queued', h('p', {}, 'Queued: the stream is being made…'));
      } catch (err) {
        if (err.status === 422) setState('unsupported', h('p', {}, err.message), downloadButton());
        else { generate.disabled = false; if (err.status !== 401) box.append(h('p', { class: 'error' }, err.message)); }
        return;
      }
      pollTimer = setTimeout(() => check(true), POLL_MS);
    });
    setState(info.status, h('p', {}, waiting), info.reason ? h('p', { class: 'small' }, info.reason) : null,
      info.status === 'queued' ? null : generate);
    if (info.status === 'pending' && !asked) { asked = true; generate.click(); return; }
    pollTimer = setTimeout(() => check(true), POLL_MS);
  }

  check(true);

  return {
    video,
    destroy() {
      destroyed = true;
      clearTimeout(pollTimer);
      if (hls) { hls.destroy(); hls = null; }
      video.pause();
      video.removeAttribute('src');
      video.load();
    },
  };
}
