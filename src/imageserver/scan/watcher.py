"""The watcher loop: quick ticks and full scans over every enabled library.

The library list is read live from the database at the top of every tick, so a PATCH
(enable, disable, excludes) applies on the next tick without a restart. The first tick
after start is a full scan. While a drain still has a backlog, the next quick tick comes
after a short pause instead of a whole quick interval, so a new library is indexed at
full speed while each single tick stays short.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import anyio

from imageserver.db.engine import read_only
from imageserver.libraries import repo as libraries_repo
from imageserver.media import repo as media_repo
from imageserver.scan.idle import IdleTracker, read_watermark
from imageserver.scan.lock import WalkerLock
from imageserver.scan.pipeline import STAGES, Stage
from imageserver.scan.tick import LibraryView, NonMediaCache, ScanTick, WalkCache
from imageserver.scan.walker import Excludes
from imageserver.telemetry.metrics import MEDIA_COUNT, STAGE_SECONDS, TICK_FAILURES, TICK_SECONDS
from imageserver.work.context import AppContext
from imageserver.work.tick import TickContext

log = logging.getLogger("imageserver.watcher")

BACKLOG_PAUSE_SECONDS = 1.0
SUMMARY_KEYS = (
    "seen",
    "new",
    "changed",
    "retired",
    "hashed",
    "described",
    "thumbnailed",
    "failed",
)


class Watcher:
    """Runs the pipeline; `drains` limits which drains this process runs (None: all), and
    `lock` decides whether it also walks (None: always, as a single process does)."""

    def __init__(
        self,
        ctx: AppContext,
        stages: list[Stage] | None = None,
        drains: frozenset[str] | None = None,
        lock: WalkerLock | None = None,
    ) -> None:
        self.ctx = ctx
        self.stages = stages if stages is not None else STAGES
        self.drains = drains
        self.lock = lock
        self.walking = lock is None
        self.non_media = NonMediaCache()
        self.walk_cache = WalkCache()
        self.excludes_applied: dict[int, Excludes] = {}
        self.idle = IdleTracker()
        self.last_full_at: float | None = None
        self.ticks = 0
        self._wake = anyio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        # Called with the tick contexts after every full scan (gauges refresh, ...).
        self.after_full: list[Callable[[Sequence[TickContext]], None]] = []

    # --- one tick ------------------------------------------------------------------------

    def libraries(self, only: str | None = None) -> list[LibraryView]:
        """The live list of enabled libraries (never a cached snapshot)."""
        with read_only(self.ctx.engine) as conn:
            rows = libraries_repo.list_enabled(conn)
        return [
            LibraryView(
                r["id"], r["name"], Path(r["root_path"]), Excludes.parse(r["excluded_dirs"] or [])
            )
            for r in rows
            if only is None or r["name"] == only
        ]

    def tick(self, full: bool, only: str | None = None) -> list[ScanTick]:
        """Run the pipeline once over every enabled library (blocking: call from a thread)."""
        started = self.ctx.clock()
        results = []
        self.walking = self.lock is None or self.lock.try_acquire()
        for library in self.libraries(only):
            t = self.run_library(library, full)
            if t is not None:
                results.append(t)
        self.ticks += 1
        if full:
            self.last_full_at = started
            for hook in self.after_full:
                try:
                    hook(results)
                except Exception:
                    log.exception(
                        "event=after_full_hook_failed hook=%s", getattr(hook, "__name__", hook)
                    )
        self.refresh_counts()
        return results

    def run_library(self, library: LibraryView, full: bool) -> ScanTick | None:
        t = ScanTick(
            app=self.ctx,
            library=library,
            full=full,
            started_at=self.ctx.clock(),
            non_media=self.non_media,
            walk_cache=self.walk_cache,
            excludes_applied=self.excludes_applied,
        )
        wall = time.perf_counter()
        mark = None
        try:
            for stage in self.stages:
                if not self.runs(stage):
                    continue
                if stage.full_only and not full:
                    continue
                if stage.needs_disk and t.stale:
                    continue
                if stage.idle_key is not None:
                    if mark is None:
                        with read_only(self.ctx.engine) as conn:
                            mark = read_watermark(conn)
                    if not full and self.idle.can_skip(library.id, stage.idle_key, mark, t.now):
                        t.pending.setdefault(stage.idle_key, 0)
                        continue
                stage_start = time.perf_counter()
                stage.run(t)
                STAGE_SECONDS.labels(stage.name).observe(time.perf_counter() - stage_start)
                if stage.idle_key is not None and mark is not None:
                    pending = t.pending.get(stage.idle_key, 0)
                    self.idle.update(library.id, stage.idle_key, mark, pending)
        except Exception as exc:
            self.walk_cache.forget(library.id)
            self.excludes_applied.pop(library.id, None)
            self.idle.forget(library.id)
            TICK_FAILURES.labels(library.name).inc()
            log.error(
                "event=tick_failed library=%s tick=%s stage_error=%r",
                library.name,
                "full" if full else "quick",
                exc,
                exc_info=exc,
            )
            return None
        elapsed = time.perf_counter() - wall
        TICK_SECONDS.labels(library.name, "full" if full else "quick").observe(elapsed)
        self._record_scan_time(t)
        log.info(summary_line(t, elapsed))
        return t

    def runs(self, stage: Stage) -> bool:
        """Whether this process runs `stage` this tick (its role: walker and/or drains)."""
        if stage.always:
            return True
        if stage.drain is None:
            return self.walking
        return self.drains is None or stage.drain in self.drains

    def _record_scan_time(self, t: ScanTick) -> None:
        if t.stale or not self.walking:
            return
        column = "last_full_scan_at" if t.full else "last_quick_scan_at"
        with self.ctx.engine.begin() as conn:
            libraries_repo.update_fields(conn, t.library.id, {column: t.now})

    def refresh_counts(self) -> None:
        with read_only(self.ctx.engine) as conn:
            counts = media_repo.count_by_kind(conn)
            names = {r["id"]: r["name"] for r in libraries_repo.list_all(conn)}
        for library_id, name in names.items():
            for kind in ("photo", "video"):
                MEDIA_COUNT.labels(name, kind).set(counts.get((library_id, kind), 0))

    # --- the loop ------------------------------------------------------------------------

    def wake(self) -> None:
        """Start the next tick now (a library was added or changed); safe from any thread."""
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closing
            loop.call_soon_threadsafe(self._wake.set)

    def due_full(self, now: float) -> bool:
        interval = self.ctx.settings.watch_full_interval_seconds
        return self.last_full_at is None or now - self.last_full_at >= interval

    async def run_forever(self) -> None:
        settings = self.ctx.settings
        self._loop = asyncio.get_running_loop()
        while True:
            full = self.due_full(self.ctx.clock())
            results = await anyio.to_thread.run_sync(self.tick, full)
            backlog = any(sum(t.pending.values()) for t in results)
            delay = BACKLOG_PAUSE_SECONDS if backlog else settings.watch_quick_interval_seconds
            with anyio.move_on_after(delay):
                await self._wake.wait()
            self._wake = anyio.Event()


def _rows_changed(t: ScanTick) -> bool:
    return any(t.counts[k] for k in ("new", "changed", "retired", "restored", "excluded"))


def summary_line(t: ScanTick, elapsed: float) -> str:
    parts = [
        "event=tick_done",
        f"library={t.library.name.replace(' ', '_')}",
        f"tick={'full' if t.full else 'quick'}",
        f"stale={str(t.stale).lower()}",
    ]
    parts += [f"{key}={t.counts[key]}" for key in SUMMARY_KEYS]
    parts.append(f"pending={sum(t.pending.values())}")
    parts += [f"pending_{k}={v}" for k, v in sorted(t.pending.items())]
    parts += [f"{k}={v}" for k, v in sorted(t.counts.items()) if k not in SUMMARY_KEYS]
    parts.append(f"seconds={elapsed:.3f}")
    return " ".join(parts)
