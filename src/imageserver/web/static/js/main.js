// The page's controller: login gate, navigation between views, the viewer overlay.

import { api, expire, onExpired, session } from './api.js';
import { DEFAULT_HASH, go, match, parseHash } from './router.js';

const main = document.getElementById('main');
const overlay = document.getElementById('overlay');
const topbar = document.getElementById('topbar');
const nav = document.getElementById('mainnav');
const menuToggle = document.getElementById('menu-toggle');

let current = null; // the mounted view: {name, params, hash, view}
let viewer = null; // the open viewer overlay: {api, pushed}
let seq = 0;
let expiryTimer = 0;

function showChrome(on) {
  topbar.hidden = !on;
  document.body.classList.toggle('anon', !on);
}

function highlight(name) {
  const section = { person: 'people', album: 'albums', shares: 'albums', archive: 'albums', unreadable: 'albums' }[name] || name;
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.nav === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

let userRequest = null;
async function ensureUser() {
  if (session.user) return session.user;
  userRequest ||= api('/auth/me').finally(() => { userRequest = null; });
  session.user = await userRequest;
  document.getElementById('username').textContent = session.user.username;
  // Admin controls are marked data-admin-only and hidden by CSS unless this class is set
  // (the server refuses their requests to a member anyway: 403).
  document.body.classList.toggle('is-admin', session.user.is_admin === true);
  clearTimeout(expiryTimer);
  const left = session.expiresAt - Date.now();
  if (left > 0 && left < 2 ** 31 - 1) expiryTimer = setTimeout(() => expire(), left);
  return session.user;
}

function unmountCurrent() {
  if (current) {
    try { current.view.unmount?.(); } catch (err) { console.error(err); }
    current = null;
  }
  main.replaceChildren();
}

function closeViewer() {
  if (!viewer) return null;
  // The id last routed to, even if the viewer has not started showing it yet (a key
  // pressed right after the hash changed): that is the tile the grid gives focus back to.
  const id = viewer.target ?? viewer.api.currentId;
  viewer.api.close();
  viewer = null;
  return id;
}

async function mountView(name, route, params, loc, my) {
  const mod = await route.load();
  if (my !== seq) return false;
  unmountCurrent();
  const root = document.createElement('div');
  root.className = 'view view-' + name;
  main.append(root);
  const view = mod.mount(root, { params, query: loc.query, hash: loc.hash });
  current = { name, params: params.join('/'), hash: loc.hash, view };
  highlight(name);
  document.title = (view.title || name[0].toUpperCase() + name.slice(1)) + ' · imageserver';
  return true;
}

async function navigate() {
  const my = ++seq;
  const loc = parseHash();
  const found = match(loc.path);
  if (!found) { go(DEFAULT_HASH); return; }
  const { route, params } = found;
  if (!route.public && !session.token) {
    closeViewer();
    unmountCurrent();
    go('#/login?next=' + encodeURIComponent(loc.hash));
    return;
  }
  if (route.name === 'login' && session.token) { go(DEFAULT_HASH); return; }
  if (!route.public && !session.user) {
    // Not awaited: the view's own requests start at once; a 401 from any of them (or from
    // /auth/me) ends the session the same way.
    ensureUser().catch((err) => { if (err.status !== 401) console.error(err); });
  }
  showChrome(!route.public);
  nav.classList.remove('open');
  menuToggle.setAttribute('aria-expanded', 'false');

  if (route.overlay) {
    const id = Number(params[0]);
    if (viewer) viewer.target = id;
    if (!current) {
      const bg = parseHash(DEFAULT_HASH);
      const bgMatch = match(bg.path);
      if (!(await mountView(bgMatch.route.name, bgMatch.route, [], bg, my))) return;
    }
    const mod = await route.load();
    if (my !== seq) return;
    if (viewer) viewer.api.show(id);
    else {
      viewer = {
        pushed: history.state?.fromView === true,
        target: id,
        api: mod.open(overlay, { id, background: current, onClose: requestClose }),
      };
    }
    return;
  }

  const lastViewed = closeViewer();
  if (current && current.name === route.name && current.params === params.join('/')) {
    if (current.hash !== loc.hash && current.view.update) {
      current.view.update({ params, query: loc.query, hash: loc.hash });
      current.hash = loc.hash;
    } else if (current.hash !== loc.hash) {
      await mountView(route.name, route, params, loc, my);
      return;
    }
    if (lastViewed) current.view.reveal?.(lastViewed);
    return;
  }
  if (await mountView(route.name, route, params, loc, my)) {
    if (!route.public) main.focus({ preventScroll: true });
  }
}

/** Esc / the close button: back to the view under the viewer. */
function requestClose() {
  if (!viewer) return;
  if (viewer.pushed) history.back();
  else location.replace(current ? current.hash : DEFAULT_HASH);
}

// Links into the viewer from a mounted view push a history entry we can go back to.
document.addEventListener('click', (event) => {
  const a = event.target.closest?.('a[href^="#/viewer/"]');
  if (!a || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey) return;
  event.preventDefault();
  history.pushState({ fromView: true }, '', a.getAttribute('href'));
  window.dispatchEvent(new HashChangeEvent('hashchange'));
});

onExpired(() => {
  clearTimeout(expiryTimer);
  const here = parseHash();
  closeViewer();
  unmountCurrent();
  const next = here.path === '/login' ? '' : '?next=' + encodeURIComponent(here.hash);
  location.replace('#/login' + next);
});

document.getElementById('logout').addEventListener('click', () => {
  clearTimeout(expiryTimer);
  // End the session on the server too (its token and stream URLs stop at once); the page
  // does not wait for the answer.
  if (session.token) api('/auth/logout', { method: 'POST' }).catch(() => {});
  session.clear();
  document.body.classList.remove('is-admin');
  closeViewer();
  unmountCurrent();
  session.flash('You have logged out.');
  go('#/login');
});

menuToggle.addEventListener('click', () => {
  const open = !nav.classList.contains('open');
  nav.classList.toggle('open', open);
  menuToggle.setAttribute('aria-expanded', String(open));
});

document.getElementById('skip-link').addEventListener('click', () => {
  const target = main.querySelector('[data-skip-target]') || main;
  target.focus();
});

window.addEventListener('hashchange', () => { navigate(); });
navigate();
