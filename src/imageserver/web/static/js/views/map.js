// The map (#/map): vendored Leaflet, markers clustered by the server (/map/markers for the
// view's bbox and zoom), a thumbnail on each. Clicking a cluster zooms to its items, a
// single item opens the viewer. Tiles come from the configured URL; with none (or when
// they fail to load) the server's own country outlines are the base layer, so the map
// works without internet.

import { get } from '../api.js';
import { addBase, loadLeaflet, mapConfig } from '../basemap.js';
import { h } from '../dom.js';
import { go } from '../router.js';
import { showImage, thumbPath } from '../thumbs.js';

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

export function mount(root) {
  let alive = true;
  let map = null;
  let seq = 0;
  const status = h('p', { class: 'muted small map-status', role: 'status', id: 'map-status' });
  const host = h('div', { class: 'map', id: 'map' });
  root.append(h('div', { class: 'map-page' }, h('h1', { class: 'visually-hidden' }, 'Map'), host, status));

  function icon(L, cluster) {
    const img = h('img', { alt: '' });
    showImage(img, thumbPath(cluster.media_id, 'small'));
    const el = h('div', { class: 'map-marker' + (cluster.count > 1 ? ' cluster' : '') }, img,
      cluster.count > 1 ? h('span', { class: 'n' }, String(cluster.count)) : null);
    return L.divIcon({ html: el, className: 'map-icon', iconSize: [48, 48], iconAnchor: [24, 24] });
  }

  let layer = null;
  async function refresh(L) {
    const my = ++seq;
    const b = map.getBounds();
    const bbox = [clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -90, 90), clamp(b.getEast(), -180, 180), clamp(b.getNorth(), -90, 90)].map((v) => v.toFixed(5)).join(',');
    let found;
    try {
      found = await get('/map/markers', { bbox, zoom: clamp(Math.round(map.getZoom()), 0, 20) });
    } catch (err) {
      if (err.status !== 401) status.textContent = err.message;
      return;
    }
    if (!alive || my !== seq) return;
    layer?.remove();
    layer = L.layerGroup();
    for (const c of found.clusters) {
      const marker = L.marker([c.lat, c.lon], { icon: icon(L, c), title: c.count > 1 ? `${c.count} items` : 'Open', keyboard: true });
      marker.on('click', () => {
        const [s, w, n, e] = c.bounds;
        if (c.count > 1 && (n - s > 1e-6 || e - w > 1e-6) && map.getZoom() < map.getMaxZoom()) map.fitBounds([[s, w], [n, e]], { padding: [40, 40], animate: false });
        else go(`#/viewer/${c.media_id}`);
      });
      layer.addLayer(marker);
    }
    layer.addTo(map);
    const total = found.clusters.reduce((n, c) => n + c.count, 0);
    status.textContent = `${total} ${total === 1 ? 'item' : 'items'} in view${found.truncated ? ' (zoom in for more)' : ''}`;
    host.dataset.markers = String(found.clusters.length);
  }

  async function start() {
    let L;
    let config;
    try {
      [L, config] = await Promise.all([loadLeaflet(), mapConfig()]);
    } catch (err) {
      if (err.status !== 401) status.textContent = err.message;
      return;
    }
    if (!alive) return;
    // No zoom animations: an animation still running when the view is left would touch the
    // removed map (Leaflet's "_leaflet_pos" error).
    map = L.map(host, { worldCopyJump: true, minZoom: 1, maxZoom: 18, attributionControl: true,
      zoomAnimation: false, fadeAnimation: false, markerZoomAnimation: false });
    map.setView([30, 0], 2);
    await addBase(L, map, host, config, (err) => { status.textContent = err.message; });
    map.on('moveend', () => refresh(L));
    await refresh(L);
    // Zoom to the items once: the bounds of the first answer's clusters.
    const markers = layer ? layer.getLayers() : [];
    if (markers.length && alive) map.fitBounds(L.latLngBounds(markers.map((m) => m.getLatLng())).pad(0.3), { maxZoom: 10, animate: false });
  }
  start();
  return { title: 'Map', unmount() { alive = false; seq += 1; map?.stop(); map?.off(); map?.remove(); map = null; } };
}
