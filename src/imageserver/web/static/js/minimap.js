// The viewer's mini map: where this photo was taken, on the same base layer as the map
// page (tiles, or the server's outlines when there is no internet). Not interactive beyond
// zooming; clicking it opens the map page.

import { addBase, loadLeaflet, mapConfig } from './basemap.js';
import { h } from './dom.js';
import { go } from './router.js';

/** Mount a mini map for (lat, lon) into `parent`; returns a handle whose remove() ends it. */
export function mountMiniMap(parent, lat, lon) {
  const host = h('div', { class: 'minimap', id: 'viewer-minimap', 'aria-label': 'Where it was taken' });
  parent.append(host);
  let map = null;
  let gone = false;
  (async () => {
    let L;
    let cfg;
    try {
      [L, cfg] = await Promise.all([loadLeaflet(), mapConfig()]);
    } catch {
      host.remove(); // no map library or settings: the coordinates above still say it
      return;
    }
    if (gone || !host.isConnected) return;
    map = L.map(host, { zoomControl: false, dragging: false, scrollWheelZoom: false, doubleClickZoom: false,
      boxZoom: false, keyboard: false, touchZoom: false, zoomAnimation: false, fadeAnimation: false, markerZoomAnimation: false });
    map.setView([lat, lon], 12);
    L.circleMarker([lat, lon], { radius: 7, color: '#fff', weight: 2, fillColor: '#d33', fillOpacity: 1 }).addTo(map);
    map.on('click', () => go('#/map'));
    await addBase(L, map, host, cfg, () => {});
    host.dataset.ready = '1';
  })();
  return { remove() { gone = true; map?.off(); map?.remove(); map = null; host.remove(); } };
}
