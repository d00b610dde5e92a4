// Dashboard: what every drain still owes, per library: hashing, metadata, thumbnails
// (/stats/backlogs), HLS (/hls/stats), embeddings (/ml/stats) and faces (/faces/stats).
// Refreshed on every tick.

import { get, onTick } from '../api.js';
import { fmtAgo, fmtCount, h } from '../dom.js';

const DRAINS = [
  ['hash', 'Hashing'],
  ['metadata', 'Metadata'],
  ['thumbs', 'Thumbnails'],
  ['hls', 'Video (HLS)'],
  ['clip', 'Embeddings'],
  ['faces', 'Faces'],
];

/** {done, pending, failed, total, note} per drain for one library. */
function drains(b, hls, ml, faces, mlVersion) {
  const out = {};
  out.hash = { pending: b.hash_pending, failed: b.hash_failing, total: b.media, done: b.media - b.hash_pending - b.hash_failing };
  out.metadata = { pending: b.metadata_pending, failed: b.metadata_failed, total: b.media, done: b.media - b.metadata_pending - b.metadata_failed };
  const thumbsTotal = b.thumbnails_done + b.thumbnails_pending + b.thumbnails_failed;
  out.thumbs = { pending: b.thumbnails_pending, failed: b.thumbnails_failed, total: thumbsTotal, done: b.thumbnails_done };
  out.hls = hls
    ? { pending: hls.pending, failed: hls.unsupported, total: hls.total, done: hls.with_playlist, note: hls.hashless_videos ? `${fmtCount(hls.hashless_videos)} not hashed` : '', failedWord: 'unsupported' }
    : null;
  out.clip = !mlVersion
    ? { off: 'no model configured' }
    : ml ? { pending: ml.pending + ml.retrying, failed: ml.failed, total: ml.images, done: ml.embedded } : null;
  out.faces = faces ? { pending: faces.pending, failed: faces.failed, total: faces.images, done: faces.scanned } : null;
  return out;
}

function cell(d, drainKey, libraryName) {
  const label = DRAINS.find(([key]) => key === drainKey)[1];
  if (!d) return h('td', { class: 'muted', dataset: { label } }, '—');
  if (d.off) return h('td', { class: 'muted small', dataset: { label } }, d.off);
  const pct = d.total ? Math.round((100 * d.done) / d.total) : 100;
  const main = d.pending ? `${fmtCount(d.pending)} pending` : d.total ? 'done' : '—';
  return h('td', { dataset: { label, drain: drainKey, pending: String(d.pending) }, 'aria-label': `${libraryName}, ${drainKey}: ${main}, ${fmtCount(d.failed)} ${d.failedWord || 'failed'}` },
    h('div', { class: 'big' + (d.pending ? '' : ' muted') }, main),
    d.failed ? h('div', { class: 'small', style: { color: 'var(--danger)' } }, `${fmtCount(d.failed)} ${d.failedWord || 'failed'}`) : null,
    d.note ? h('div', { class: 'small muted' }, d.note) : null,
    h('div', { class: 'bar-meter', title: `${pct}% done`, 'aria-hidden': 'true' }, h('span', { style: { width: `${pct}%` } })),
    h('div', { class: 'small muted' }, `${fmtCount(d.done)} / ${fmtCount(d.total)}`));
}

function sum(rows) {
  const total = {};
  for (const [key] of DRAINS) {
    const parts = rows.map((r) => r[key]).filter((d) => d && !d.off);
    if (!parts.length) { total[key] = rows.find((r) => r[key]?.off)?.[key] || null; continue; }
    total[key] = { pending: 0, failed: 0, total: 0, done: 0, failedWord: parts[0].failedWord };
    for (const d of parts) for (const k of ['pending', 'failed', 'total', 'done']) total[key][k] += d[k];
  }
  return total;
}

const SKIP_LABELS = {
  unknown_type: 'unknown type', ignored_type: 'not media (sidecars, documents)', hidden: 'hidden',
  unreadable: 'unreadable', not_regular: 'not a regular file', symlink_outside: 'link leading out',
  name_not_utf8: 'name not UTF-8', name_too_long: 'path too long',
};

// Files the last complete walk did not index, by reason with example paths: none vanishes silently.
function skippedFiles(b) {
  if (!b.skipped) return null;
  return h('details', { class: 'small skipped', dataset: { skipped: String(b.skipped) } },
    h('summary', {}, `${fmtCount(b.skipped)} files not indexed`),
    h('ul', {}, (b.skipped_by_reason || []).map((s) => h('li', { title: s.description, dataset: { reason: s.reason } },
      `${SKIP_LABELS[s.reason] || s.reason}: ${fmtCount(s.count)}`,
      s.examples.length ? h('div', { class: 'muted' }, `e.g. ${s.examples.join(', ')}`) : null))));
}

export function mount(root) {
  let alive = true;
  const updated = h('span', { class: 'muted small', id: 'dashboard-updated' });
  const table = h('table', { class: 'stats cards-on-phone', id: 'backlogs' });
  const note = h('p', { class: 'muted small' },
    'Counts are per library; thumbnails, video, embeddings and faces count distinct files (a copy at two paths is made once). Hashing and metadata count paths.');
  root.append(h('div', { class: 'page' },
    h('div', { class: 'toolbar' }, h('h1', {}, 'Dashboard'), h('span', { class: 'spacer' }), updated),
    h('div', { class: 'table-wrap' }, table), note));

  async function refresh() {
    try {
      const [backlogs, hls, ml, faces] = await Promise.all([
        get('/stats/backlogs'),
        get('/hls/stats').catch(() => null),
        get('/ml/stats').catch(() => null),
        get('/faces/stats').catch(() => null),
      ]);
      if (!alive) return;
      const hlsBy = new Map((hls?.libraries || []).map((x) => [x.library_id, x]));
      const facesBy = new Map((faces?.libraries || []).map((x) => [x.library_id, x]));
      const rows = backlogs.libraries.map((b) => ({
        b,
        ...drains(b, hlsBy.get(b.library_id), ml?.libraries?.[b.library], facesBy.get(b.library_id), ml?.model_version),
      }));
      const head = h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Library'), h('th', { scope: 'col' }, 'Items'),
        ...DRAINS.map(([, label]) => h('th', { scope: 'col' }, label))));
      const body = h('tbody', {}, rows.map((r) => h('tr', { dataset: { library: r.b.library } },
        h('th', { scope: 'row' }, r.b.library, h('div', { class: 'small' },
          r.b.enabled ? null : h('span', { class: 'badge' }, 'disabled'), ' ',
          r.b.health === 'stale' ? h('span', { class: 'badge bad', title: r.b.health_reason || '' }, 'stale') : null,
          h('div', { class: 'muted' }, `scanned ${fmtAgo(r.b.last_quick_scan_at)}`))),
        h('td', { dataset: { label: 'Items' } }, h('div', { class: 'big' }, fmtCount(r.b.media)), h('div', { class: 'small muted' }, `${fmtCount(r.b.photos)} photos · ${fmtCount(r.b.videos)} videos`), skippedFiles(r.b)),
        ...DRAINS.map(([key]) => cell(r[key], key, r.b.library)))));
      const totals = sum(rows);
      const foot = rows.length > 1
        ? h('tfoot', {}, h('tr', {}, h('td', {}, 'All libraries'), h('td', { dataset: { label: 'Items' } }, fmtCount(rows.reduce((n, r) => n + r.b.media, 0))),
          ...DRAINS.map(([key]) => cell(totals[key], key, 'all'))))
        : null;
      table.replaceChildren(h('caption', { class: 'visually-hidden' }, 'Backlogs per library'), head, body, ...(foot ? [foot] : []));
      if (!rows.length) table.replaceChildren(h('caption', {}, 'No libraries yet.'));
      updated.textContent = `Updated ${new Date().toLocaleTimeString()} · refreshes automatically`;
    } catch (err) {
      if (err.status !== 401 && alive) updated.textContent = `Refresh failed: ${err.message}`;
    }
  }

  refresh();
  const stop = onTick(refresh);
  return { title: 'Dashboard', unmount() { alive = false; stop(); } };
}
