"""The order of work in one tick, declared once. The watcher runs this list, nothing else.

Each stage is a function of the tick context. `needs_disk` stages are skipped when the
library is stale (they would read its files or judge what is missing from a failed walk);
`full_only` stages run on full scans only. A stage with a `drain` name runs in every
process that runs that drain (`imageserver worker --drains ...`); the others (the walk and
what judges it) run only in the one process holding the walker lock. An `idle_key` stage
(a hash-keyed drain reporting `t.pending[idle_key]`) is skipped while nothing it depends on
has changed since it last found no work (scan/idle.py). Adding a stage is one entry here
plus its module.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from imageserver.faces import drain as faces_drain
from imageserver.libraries import health
from imageserver.media import drains
from imageserver.media import repo as media_repo
from imageserver.ml import drain as ml_drain
from imageserver.ocr import drain as ocr_drain
from imageserver.places import drain as places_drain
from imageserver.scan import companions, findwalk, ingest, missing, sidecars
from imageserver.scan.tick import ScanTick
from imageserver.scan.walker import WalkResult, walk
from imageserver.video import stage as video_stage

log = logging.getLogger("imageserver.scan")


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[[ScanTick], None]
    needs_disk: bool = True
    full_only: bool = False
    idle_key: str | None = None
    drain: str | None = None  # None: part of the walk (walker-lock holder only)
    always: bool = False  # runs in every process (the health probe)


def probe_stage(t: ScanTick) -> None:
    def live_rows() -> int:
        with t.app.engine.connect() as conn:
            return media_repo.count_live(conn, t.library.id)

    result = health.probe(t.library.root, live_rows)
    t.stale, t.stale_reason = not result.reachable, result.reason
    with t.app.engine.begin() as conn:
        health.record(conn, t.library.id, t.library.name, result, t.now)
    if t.stale:
        log.warning("event=library_stale library=%s reason=%r", t.library.name, result.reason)


WALK = walk
QUICK_WALK = findwalk.changed_since if findwalk.available() else None
# ctime look-back beyond the previous walk's start: covers a file server whose clock runs
# up to this much behind ours, and writes racing that walk.
QUICK_WALK_MARGIN_SECONDS = 120.0


def walk_stage(t: ScanTick) -> None:
    """A full walk; or on a quick tick, only what changed since the previous walk."""
    cache = t.walk_cache
    memory = None if t.full or cache is None else cache.get(t.library.id)
    owned = t.app.settings.owned_dirs()
    t.walk_started = time.time()
    if QUICK_WALK is not None and memory is not None and memory.excludes == t.library.excludes:
        since = memory.started - QUICK_WALK_MARGIN_SECONDS
        changed = QUICK_WALK(t.library.root, t.library.excludes, owned, since, memory.dirs)
        files = dict(memory.files)
        files.update(changed.files)
        t.walk = WalkResult(files, changed.unreadable_dirs, changed.dirs_walked)
        t.walk.dirs = memory.dirs | changed.dirs
        t.changed_paths = list(changed.files)
        t.walk.sidecars = changed.sidecars
        t.changed_dirs = changed.dirs
    else:
        t.walk = WALK(t.library.root, t.library.excludes, owned)
    # The root can vanish mid-walk (a disk unplugged): probe again before trusting the walk.
    if t.walk.unreadable_dirs:
        found = max(1, len(t.walk.files))
        missing.root_still_reachable(t, lambda: found, "walk")


STAGES: list[Stage] = [
    Stage("probe", probe_stage, needs_disk=False, always=True),
    Stage("walk", walk_stage),
    Stage("diff", ingest.diff_stage),
    Stage("ingest", ingest.ingest_stage),
    Stage("reconcile", ingest.reconcile_stage),
    Stage("excluded", missing.excluded_stage, needs_disk=False),
    Stage("hash", drains.hash_stage, drain="hash"),
    Stage("metadata", drains.metadata_stage, drain="metadata"),
    Stage("companions", companions.companions_stage),
    Stage("sidecars", sidecars.sidecars_stage),
    Stage("places", places_drain.places_stage, needs_disk=False, drain="places"),
    Stage("thumbnails", drains.thumbnail_stage, idle_key="thumbnails", drain="thumbnails"),
    Stage("embeddings", ml_drain.embeddings_stage, idle_key="embeddings", drain="embeddings"),
    Stage("hls", video_stage.hls_stage, idle_key="hls", drain="video"),
    Stage("faces", faces_drain.faces_stage, idle_key="faces", drain="faces"),
    Stage("ocr", ocr_drain.ocr_stage, idle_key="ocr", drain="ocr"),
    Stage("missing", missing.missing_stage, full_only=True),
]


DRAIN_NAMES: tuple[str, ...] = tuple(s.drain for s in STAGES if s.drain is not None)
