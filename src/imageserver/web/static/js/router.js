// Hash routing (#/timeline, #/search?q=, #/people/3, #/viewer/123 ...): no server support
// needed, every URL is shareable. Views are ES modules loaded on first use, each exporting
// mount(root, route) -> {update?(route), unmount(), navFor?(id), reveal?(id)}.
// The viewer is an overlay route: the view under it stays mounted (scroll position, loaded
// months), and closing it returns there.

const ROUTES = [
  { name: 'login', re: /^\/login$/, load: () => import('./views/login.js'), public: true },
  { name: 'timeline', re: /^\/timeline$/, load: () => import('./views/timeline.js') },
  { name: 'search', re: /^\/search$/, load: () => import('./views/search.js') },
  { name: 'people', re: /^\/people$/, load: () => import('./views/people.js') },
  { name: 'person', re: /^\/people\/(\d+)$/, load: () => import('./views/person.js') },
  { name: 'duplicates', re: /^\/duplicates$/, load: () => import('./views/duplicates.js') },
  { name: 'libraries', re: /^\/libraries$/, load: () => import('./views/libraries.js') },
  { name: 'dashboard', re: /^\/dashboard$/, load: () => import('./views/dashboard.js') },
  { name: 'users', re: /^\/users$/, load: () => import('./views/users.js') },
  { name: 'account', re: /^\/account$/, load: () => import('./views/account.js') },
  { name: 'favorites', re: /^\/favorites$/, load: () => import('./views/favorites.js') },
  { name: 'archive', re: /^\/archive$/, load: () => import('./views/archive.js') },
  { name: 'unreadable', re: /^\/unreadable$/, load: () => import('./views/unreadable.js') },
  { name: 'albums', re: /^\/albums$/, load: () => import('./views/albums.js') },
  { name: 'album', re: /^\/albums\/(\d+)$/, load: () => import('./views/album.js') },
  { name: 'shares', re: /^\/shares$/, load: () => import('./views/shares.js') },
  { name: 'places', re: /^\/places$/, load: () => import('./views/places.js') },
  { name: 'tags', re: /^\/tags$/, load: () => import('./views/tags.js') },
  { name: 'map', re: /^\/map$/, load: () => import('./views/map.js') },
  // The public page of a share link: no login, no navigation bar.
  { name: 'share', re: /^\/s\/([A-Za-z0-9_-]{1,64})$/, load: () => import('./views/share.js'), public: true },
  { name: 'viewer', re: /^\/viewer\/(\d+)$/, load: () => import('./viewer.js'), overlay: true },
];

export const DEFAULT_HASH = '#/timeline';

/** '#/people/3?x=1' -> {path: '/people/3', query: URLSearchParams, hash} */
export function parseHash(hash = location.hash) {
  const raw = hash.replace(/^#/, '') || '/timeline';
  const [path, qs = ''] = raw.split('?');
  return { path, query: new URLSearchParams(qs), hash: '#' + raw };
}

export function match(path) {
  for (const route of ROUTES) {
    const m = route.re.exec(path);
    if (m) return { route, params: m.slice(1) };
  }
  return null;
}

/** '#/timeline' + {kind: 'video'} -> '#/timeline?kind=video' (empty values dropped) */
export function hashFor(path, query = {}) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '' && v !== false) params.set(k, String(v));
  }
  const qs = params.toString();
  return `#${path}${qs ? '?' + qs : ''}`;
}

/** Change the URL without a new history entry (filters, viewer next/previous). */
export function replaceHash(hash) {
  if (location.hash === hash) return;
  history.replaceState(history.state, '', hash);
  window.dispatchEvent(new HashChangeEvent('hashchange'));
}

export function go(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
}
