"""Start-up passes (legacy migration, crash leftovers) and the slow orphan-cleanup loop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

import anyio

from imageserver.db.engine import read_only
from imageserver.video import accel, generator, legacy, orphans, stats
from imageserver.work.context import AppContext
from imageserver.work.tick import TickContext

log = logging.getLogger("imageserver.video")

_STARTUP_LOCK = threading.Lock()


def startup_once(ctx: AppContext) -> None:
    """Once per process, before its first video job: legacy files reported, crash leftovers
    of our own generations removed, the hardware encoder chosen."""
    with _STARTUP_LOCK:
        if ctx.video_startup_done:
            return
        video_root = ctx.settings.resolved_video_path
        legacy.report_legacy(video_root)
        # Another host's generation older than twice the ffmpeg timeout cannot be alive.
        generator.clean_leftovers(video_root, time.time(), 2 * ctx.settings.hls_timeout_seconds)
        accel.resolve(ctx.settings.hls_accel)  # `auto` probes the encoders now, once
        ctx.video_startup_done = True


class OrphanLoop:
    """Every ORPHAN_CLEANUP_INTERVAL_SECONDS, the first cycle one interval after start."""

    def __init__(self, ctx: AppContext, should_run: Callable[[], bool] = lambda: True) -> None:
        self.ctx = ctx
        self.cycles = 0
        self.last: orphans.CleanupResult | None = None
        # Only the walker-lock holder cleans: one process deletes, the others never race it.
        self.should_run = should_run

    async def run_forever(self) -> None:
        while True:
            await anyio.sleep(self.ctx.settings.orphan_cleanup_interval_seconds)
            if not self.should_run():
                continue
            self.last = await anyio.to_thread.run_sync(
                orphans.cleanup_cycle, self.ctx.engine, self.ctx.settings.resolved_video_path
            )
            self.cycles += 1


def gauges_after_full(ctx: AppContext) -> Callable[[Sequence[TickContext]], None]:
    """A watcher `after_full` hook refreshing the HLS gauges from the database."""

    def refresh_hls_gauges(_: Sequence[TickContext]) -> None:
        with read_only(ctx.engine) as conn:
            stats.refresh(conn)

    return refresh_hls_gauges
