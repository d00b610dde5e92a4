// Share links (#/shares): the caller's links with their views and expiry; copy or revoke.

import { api, get } from '../api.js';
import { shareUrl } from '../collections.js';
import { fmtAgo, fmtEpoch, h, toast } from '../dom.js';

export function mount(root) {
  let alive = true;
  const status = h('p', { class: 'muted', role: 'status', id: 'shares-status' });
  const body = h('tbody', { id: 'shares-rows' });
  root.append(h('div', { class: 'page' },
    h('p', { class: 'small' }, h('a', { href: '#/albums' }, '← Albums')),
    h('h1', {}, 'Share links'), status,
    h('table', { class: 'users-table card' },
      h('caption', { class: 'visually-hidden' }, 'Share links'),
      h('thead', {}, h('tr', {}, ...['Link', 'Shows', 'Expires', 'Protection', 'Views', ''].map((t) => h('th', { scope: 'col' }, t)))),
      body)));

  function row(share) {
    const url = shareUrl(share);
    const what = share.album_id ? h('a', { href: `#/albums/${share.album_id}` }, share.album_name || 'album') : `${share.item_count} items`;
    const revoke = h('button', { type: 'button', class: 'small danger', onclick: async () => {
      if (!window.confirm('Revoke this link? Anyone who has it loses access at once.')) return;
      try {
        await api(`/shares/${share.id}`, { method: 'DELETE' });
        toast('Link revoked.');
      } catch (err) {
        if (err.status !== 401) toast(err.message, { error: true });
      }
      refresh();
    } }, 'Revoke');
    return h('tr', { dataset: { id: String(share.id), token: share.token } },
      h('td', {}, h('a', { href: url, target: '_blank', rel: 'noopener' }, `#/s/${share.token.slice(0, 8)}…`)),
      h('td', {}, what),
      h('td', { class: 'small' }, share.expires_at ? fmtEpoch(share.expires_at) : 'never'),
      h('td', { class: 'small' }, [share.has_password ? 'password' : 'open', share.allow_download ? 'download' : null].filter(Boolean).join(' · ')),
      h('td', { class: 'small' }, `${share.view_count}${share.last_viewed_at ? ` · last ${fmtAgo(share.last_viewed_at)}` : ''}`),
      h('td', {}, revoke));
  }

  async function refresh() {
    try {
      const shares = await get('/shares');
      if (!alive) return;
      body.replaceChildren(...shares.map(row));
      status.textContent = shares.length ? `${shares.length} ${shares.length === 1 ? 'link' : 'links'}.` : 'No share links. Open an album or select photos and choose “Share”.';
    } catch (err) {
      if (err.status !== 401) status.textContent = err.message;
    }
  }
  refresh();
  return { title: 'Share links', unmount() { alive = false; } };
}
