"""The watcher loop: quick ticks and full scans over every enabled library.

The library list is read live from the database at the top of every tick, so a PATCH
(enable, disable, excludes) applies on the next tick without a restart. The first tick
after start is a full scan. While a drain still has a backlog, the next quick tick comes
after a short pause instead of a whole quick interval, so a new library is indexed at
full speed while each single tick stays short.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import anyio

from imageserver.context import AppContext
from imageserver.db.engine import read_only
from imageserver.libraries import repo as libraries_repo
from imageserver.media import repo as media_repo
from imageserver.scan.context import LibraryView, TickContext
from imageserver.scan.ingest import NonMediaCache
from imageserver.scan.pipeline import STAGES, Stage
from imageserver.scan.walker import Excludes
from imageserver.telemetry.metrics import MEDIA_COUNT, STAGE_SECONDS, TICK_FAILURES, TICK_SECONDS

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
    def __init__(self, ctx: AppContext, stages: list[Stage] | None = None) -> None:
        self.ctx = ctx
        self.stages = stages if stages is not None else STAGES
        self.non_media = NonMediaCache()
        self.last_full_at: float | None = None
        self.ticks = 0
        self._wake = anyio.Event()
        # Called with the tick contexts after every full scan (gauges refresh, ...).
        self.after_full: list[Callable[[list[TickContext]], None]] = []

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

    def tick(self, full: bool, only: str | None = None) -> list[TickContext]:
        """Run the pipeline once over every enabled library (blocking: call from a thread)."""
        started = self.ctx.clock()
        results = []
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

    def run_library(self, library: LibraryView, full: bool) -> TickContext | None:
        t = TickContext(app=self.ctx, library=library, full=full, started_at=self.ctx.clock())
        t.scratch["non_media"] = self.non_media
        wall = time.perf_counter()
        try:
            for stage in self.stages:
                if stage.full_only and not full:
                    continue
                if stage.needs_disk and t.stale:
                    continue
                stage_start = time.perf_counter()
                stage.run(t)
                STAGE_SECONDS.labels(stage.name).observe(time.perf_counter() - stage_start)
        except Exception as exc:
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

    def _record_scan_time(self, t: TickContext) -> None:
        if t.stale:
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
        """Start the next tick now (a library was added or changed)."""
        self._wake.set()

    def due_full(self, now: float) -> bool:
        interval = self.ctx.settings.watch_full_interval_seconds
        return self.last_full_at is None or now - self.last_full_at >= interval

    async def run_forever(self) -> None:
        settings = self.ctx.settings
        while True:
            full = self.due_full(self.ctx.clock())
            results = await anyio.to_thread.run_sync(self.tick, full)
            backlog = any(sum(t.pending.values()) for t in results)
            delay = BACKLOG_PAUSE_SECONDS if backlog else settings.watch_quick_interval_seconds
            with anyio.move_on_after(delay):
                await self._wake.wait()
            self._wake = anyio.Event()


def summary_line(t: TickContext, elapsed: float) -> str:
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
