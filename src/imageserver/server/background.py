"""The background loops of a process: the watcher and the slower housekeeping loops.

Each loop is an asyncio task; a loop that crashes is logged and restarted after a pause,
so one bad tick never stops indexing for good. Blocking work inside a loop runs in
threads (the watcher's tick, ffmpeg waits), never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from imageserver.scan.lock import walker_lock
from imageserver.scan.watcher import Watcher
from imageserver.video.housekeeping import OrphanLoop, gauges_after_full
from imageserver.video.queue import VideoQueue
from imageserver.work.context import AppContext

log = logging.getLogger("imageserver.server.background")

RESTART_PAUSE_SECONDS = 5.0

LoopFactory = Callable[[AppContext], Awaitable[None]]


class Background:
    """`drains=None` runs every drain (the single-process default); the walk and the orphan
    cleanup run only while this process holds the walker lock (scan/lock.py)."""

    def __init__(self, ctx: AppContext, drains: frozenset[str] | None = None) -> None:
        self.ctx = ctx
        self.lock = walker_lock(ctx.engine, ctx.settings.data_dir)
        self.watcher = Watcher(ctx, drains=drains, lock=self.lock)
        ctx.watcher = self.watcher
        self.runs_video = drains is None or "video" in drains
        self.video_queue = VideoQueue(ctx)
        self.orphans = OrphanLoop(ctx, should_run=lambda: self.watcher.walking)
        self.watcher.after_full.append(gauges_after_full(ctx))
        self._tasks: list[asyncio.Task[None]] = []

    def loops(self) -> dict[str, Callable[[], Awaitable[None]]]:
        # hls first: the queue registers itself before the watcher's first tick needs it.
        loops: dict[str, Callable[[], Awaitable[None]]] = {}
        if self.runs_video:
            loops["hls"] = self.video_queue.run_forever
        loops["watcher"] = self.watcher.run_forever
        loops["orphans"] = self.orphans.run_forever
        return loops

    async def start(self, run_loops: bool) -> None:
        if not run_loops:
            return
        for name, loop in self.loops().items():
            self._tasks.append(asyncio.create_task(self._supervise(name, loop), name=name))
        log.info("event=background_started loops=%s", ",".join(self.loops()))

    async def _supervise(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                await loop()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(
                    "event=loop_crashed loop=%s restart_in=%s", name, RESTART_PAUSE_SECONDS
                )
                await asyncio.sleep(RESTART_PAUSE_SECONDS)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self.lock.release()
        close_services(self.ctx)


def close_services(ctx: AppContext) -> None:
    """Release long-lived helpers: the drain pool, the exiftool process."""
    ctx.close()
