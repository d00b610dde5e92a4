// What the map page and the viewer's mini map share: vendored Leaflet loaded once, and the
// base layer. Tiles come from the configured URL; with none, or once three tiles fail (no
// internet), the server's own country outlines are drawn instead, so a map always shows.

import { api, get } from './api.js';
import { h } from './dom.js';

let leaflet = null;
let config = null;

/** Load Leaflet (a classic script, global L) and its CSS once. */
export function loadLeaflet() {
  leaflet ||= new Promise((resolve, reject) => {
    document.head.append(h('link', { rel: 'stylesheet', href: '/static/vendor/leaflet/leaflet.css' }));
    const script = h('script', { src: '/static/vendor/leaflet/leaflet.js' });
    script.addEventListener('load', () => resolve(window.L));
    script.addEventListener('error', () => { leaflet = null; reject(new Error('the map library did not load')); });
    document.head.append(script);
  });
  return leaflet;
}

/** The server's map settings (tile URL, attribution), asked once per page load. */
export function mapConfig() {
  config ||= get('/map/config').catch((err) => { config = null; throw err; });
  return config;
}

let outlineData = null;

/** Draw the server's country outlines under everything else on `map`. */
export async function drawOutlines(L, map, host) {
  outlineData ||= api('/map/outlines', { raw: true }).then((res) => res.json()).catch((err) => { outlineData = null; throw err; });
  const data = await outlineData;
  if (!host.isConnected) return; // the view was left meanwhile
  L.geoJSON(data, { interactive: false, style: { color: '#7a8a99', weight: 1, fillColor: '#2b3440', fillOpacity: 1 } }).addTo(map).bringToBack();
  host.dataset.base = 'outlines';
}

/** Tiles with the outlines as their fallback, or the outlines alone when no URL is set. */
export async function addBase(L, map, host, cfg, onError = () => {}) {
  map.attributionControl.setPrefix(false);
  map.attributionControl.addAttribution(cfg.attribution);
  if (!cfg.tile_url) {
    await drawOutlines(L, map, host).catch(onError);
    return;
  }
  let failed = 0;
  const tiles = L.tileLayer(cfg.tile_url, { attribution: cfg.tile_attribution, maxZoom: 19 });
  tiles.on('tileerror', () => {
    failed += 1;
    if (failed === 3) { tiles.remove(); drawOutlines(L, map, host).catch(onError); }
  });
  tiles.addTo(map);
  host.dataset.base = 'tiles';
}
