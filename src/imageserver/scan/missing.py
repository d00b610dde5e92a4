"""The missing-file scan: retire rows whose file is gone (full scans only, never when stale).

A row is retired only when the walk did not see its file, its folder was readable, its
path is not excluded (excluded rows stay, hidden by the walk but not "deleted"), a final
lstat confirms the file is gone, and the root still passes the health probe. Retirement
is soft: `retired_at` is set and the row comes back if the file reappears.

The last probe matters: a disk unmounted between the tick's probe and the walk's first
listing leaves an empty mount point, which the walk reads without any error; every row
would then look deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from imageserver.libraries import health
from imageserver.media import repo
from imageserver.scan.ingest import still_there
from imageserver.scan.tick import ScanTick
from imageserver.telemetry.metrics import RETIRED

log = logging.getLogger("imageserver.scan")


def root_still_reachable(
    t: ScanTick, live_rows: Callable[[], int], during: str, **context: int
) -> bool:
    """Probe the root again mid-tick (a disk can go between the probe stage and now); when
    it is gone the tick turns stale, the health is recorded and logged, and False returns."""
    result = health.probe(t.library.root, live_rows)
    if result.reachable:
        return True
    t.stale, t.stale_reason = True, result.reason
    with t.app.engine.begin() as conn:
        health.record(conn, t.library.id, t.library.name, result, t.now)
    extra = "".join(f" {key}={value}" for key, value in context.items())
    log.warning(
        "event=library_stale library=%s reason=%r during=%s%s",
        t.library.name,
        result.reason,
        during,
        extra,
    )
    return False


def _under(rel_path: str, folders: list[str]) -> bool:
    return any(f == "" or rel_path.startswith(f + "/") for f in folders)


def missing_stage(t: ScanTick) -> None:
    assert t.walk is not None
    if t.stale:
        return
    unreadable = t.walk.unreadable_dirs
    seen = t.walk.files
    with t.app.engine.connect() as conn:
        live = repo.live_rows_for(conn, t.library.id)
    gone: list[int] = []
    for media_id, rel_path in live:
        if rel_path in seen or _under(rel_path, unreadable):
            continue
        if t.library.excludes.covers(rel_path):
            continue
        if still_there(t.library.root, rel_path):
            continue
        gone.append(media_id)
    if not gone:
        return
    if not root_still_reachable(t, lambda: len(live), "missing", would_retire=len(gone)):
        return
    with t.app.engine.begin() as conn:
        repo.retire(conn, gone, t.now)
    RETIRED.labels(t.library.name).inc(len(gone))
    t.counts["retired"] += len(gone)
    log.info("event=retired library=%s count=%d", t.library.name, len(gone))


def excluded_stage(t: ScanTick) -> None:
    """Rows under a now-excluded folder leave the listings at once (every tick, soft).

    They are retired like missing files; when the exclusion is lifted the next walk sees
    the files again and restores the same rows.
    """
    applied = t.excludes_applied
    if not t.full and applied is not None and applied.get(t.library.id) == t.library.excludes:
        return  # nothing can have come back under these excludes since they were applied
    if applied is not None:
        applied[t.library.id] = t.library.excludes
    if not t.library.excludes.names and not t.library.excludes.paths:
        return
    with t.app.engine.connect() as conn:
        live = repo.live_rows_for(conn, t.library.id)
    covered = [mid for mid, rel in live if t.library.excludes.covers(rel)]
    if not covered:
        return
    with t.app.engine.begin() as conn:
        repo.retire(conn, covered, t.now)
    t.counts["excluded"] += len(covered)
    log.info("event=excluded library=%s count=%d", t.library.name, len(covered))
