// The authenticated API: bearer token in sessionStorage, JSON helpers, a 401 anywhere ends
// the session (back to the login page with a message), and the page-wide refresh tick.

const TOKEN_KEY = 'imageserver.token';
const EXPIRES_KEY = 'imageserver.expires';
const FLASH_KEY = 'imageserver.flash';
const TICK_KEY = 'imageserver.tickMs';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  get expiresAt() { return Number(sessionStorage.getItem(EXPIRES_KEY) || 0); },
  user: null,
  save(token, expiresIn) {
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(EXPIRES_KEY, String(Date.now() + expiresIn * 1000));
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(EXPIRES_KEY);
    this.user = null;
    document.body.classList.remove('is-admin');
  },
  /** A one-time message for the login page ("session expired"). */
  flash(message) {
    if (message === undefined) {
      const m = sessionStorage.getItem(FLASH_KEY);
      sessionStorage.removeItem(FLASH_KEY);
      return m;
    }
    sessionStorage.setItem(FLASH_KEY, message);
    return message;
  },
};

const expiredListeners = new Set();
export function onExpired(fn) { expiredListeners.add(fn); }

/** End the session: every view stops, the login page shows why. */
export function expire(message = 'Your session has expired. Please log in again.') {
  session.clear();
  session.flash(message);
  for (const fn of expiredListeners) fn(message);
}

function url(path, query) {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue;
    if (Array.isArray(value)) value.forEach((v) => params.append(key, v));
    else params.append(key, String(value));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

async function errorOf(res) {
  let code = 'http_' + res.status;
  let message = res.statusText || `HTTP ${res.status}`;
  try {
    const body = await res.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    } else if (body && body.detail) {
      message = Array.isArray(body.detail)
        ? body.detail.map((d) => `${(d.loc || []).slice(1).join('.')}: ${d.msg}`).join('; ')
        : String(body.detail);
    }
  } catch { /* not JSON */ }
  return new ApiError(res.status, code, message);
}

/**
 * fetch() with the bearer token. Returns parsed JSON (or the Response when raw), throws
 * ApiError for a non-2xx status; a 401 also ends the session.
 */
export async function api(path, { method = 'GET', query, body, signal, raw = false, auth = true } = {}) {
  const headers = {};
  const token = session.token;
  if (auth) {
    if (!token) throw new ApiError(401, 'unauthorized', 'not logged in');
    headers.Authorization = `Bearer ${token}`;
  }
  let payload = body;
  if (body !== undefined && !(body instanceof FormData)) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch(url(path, query), { method, headers, body: payload, signal });
  if (res.status === 401 && auth) {
    // Only the first 401 of a session ends it: requests still in flight with the same
    // token answer 401 too, and must not unmount the login page that replaced the view.
    if (session.token === token) expire();
    throw new ApiError(401, 'unauthorized', 'session expired');
  }
  if (!res.ok) throw await errorOf(res);
  if (raw) return res;
  if (res.status === 204) return null;
  return res.json();
}

export const get = (path, query, opts = {}) => api(path, { ...opts, query });

export async function login(username, password) {
  const res = await fetch('/auth/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!res.ok) throw await errorOf(res);
  const body = await res.json();
  session.save(body.access_token, body.expires_in);
  return body;
}

/** Download a file the API serves (the original) under its own name. */
export async function download(path, filename, options = {}) {
  const res = await api(path, { ...options, raw: true });
  const blob = await res.blob();
  const href = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = href;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 30_000);
}

// ---- the refresh tick -------------------------------------------------------------------
// Views that show live state (grid, libraries, dashboard) subscribe; one timer drives them
// all, paused while the tab is hidden. sessionStorage 'imageserver.tickMs' overrides the
// interval (tests use a short one).

const tickers = new Set();
let tickTimer = 0;

export function tickMs() {
  const v = Number(sessionStorage.getItem(TICK_KEY));
  return v >= 250 ? v : 5000;
}

function runTick() {
  if (document.hidden || !session.token) return;
  for (const fn of [...tickers]) {
    fn().catch((err) => console.error('tick handler failed', err));
  }
}

function schedule() {
  clearInterval(tickTimer);
  tickTimer = setInterval(runTick, tickMs());
}

/**
 * Call fn on every tick until the returned function is called. An async fn is not called
 * again while it runs, nor sooner than 20x its last duration: a page left open on a big
 * library never keeps the server busy with its own refreshes.
 */
export function onTick(fn) {
  let busy = false;
  let notBefore = 0;
  const wrapped = async () => {
    if (busy || performance.now() < notBefore) return;
    busy = true;
    const started = performance.now();
    try {
      await fn();
    } finally {
      busy = false;
      notBefore = performance.now() + 19 * (performance.now() - started);
    }
  };
  tickers.add(wrapped);
  if (!tickTimer) schedule();
  return () => tickers.delete(wrapped);
}

document.addEventListener('visibilitychange', () => { if (!document.hidden) runTick(); });
