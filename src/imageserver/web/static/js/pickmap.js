// The edit dialog's map: shows the location being edited and sets it where it is clicked
// (on the same base layer as the map page: tiles, or the server's outlines offline).

import { addBase, loadLeaflet, mapConfig } from './basemap.js';
import { h } from './dom.js';

const MARK = { radius: 7, color: '#fff', weight: 2, fillColor: '#d33', fillOpacity: 1 };

/**
 * Mount a location picker into `parent`, centred on (lat, lon) when both are numbers;
 * `onPick(lat, lon)` is called for a click. Returns { moveTo(lat, lon), remove() }.
 */
export function mountPickMap(parent, lat, lon, onPick) {
  const host = h('div', { class: 'pickmap', id: 'edit-map', role: 'application', 'aria-label': 'Click the map to set the location' });
  parent.append(host);
  let map = null;
  let marker = null;
  let L = null;
  let pending = Number.isFinite(lat) && Number.isFinite(lon) ? [lat, lon] : null;
  const place = (at, zoom) => {
    if (!map) { pending = at; return; }
    if (marker) marker.setLatLng(at); else marker = L.circleMarker(at, MARK).addTo(map);
    map.setView(at, zoom ?? Math.max(map.getZoom(), 10));
  };
  (async () => {
    let cfg;
    try {
      [L, cfg] = await Promise.all([loadLeaflet(), mapConfig()]);
    } catch {
      host.remove(); // no map library or settings: the coordinate fields still work
      return;
    }
    if (!host.isConnected) return;
    map = L.map(host, { zoomAnimation: false, fadeAnimation: false, markerZoomAnimation: false, worldCopyJump: true });
    map.setView([20, 0], 1);
    if (pending) place(pending, 10);
    map.on('click', (event) => {
      const { lat: la, lng } = event.latlng.wrap();
      const at = [Number(la.toFixed(6)), Number(lng.toFixed(6))];
      place(at, map.getZoom());
      onPick(at[0], at[1]);
    });
    await addBase(L, map, host, cfg, () => {});
    requestAnimationFrame(() => map?.invalidateSize()); // the dialog had no size at first
    host.dataset.ready = '1';
  })();
  return {
    moveTo(la, lo) { if (Number.isFinite(la) && Number.isFinite(lo)) place([la, lo]); },
    remove() { map?.off(); map?.remove(); map = null; host.remove(); },
  };
}
