"""The long-lived video queue: in-flight dedup and at most HLS_CONCURRENCY ffmpeg at once.

The pipeline stage (in the watcher's thread) and POST /video/generate (in a request
thread) hand jobs over with `submit`, which is thread-safe. Workers are asyncio tasks that
wait for ffmpeg in threads, so the event loop never blocks. The queue holds no state a
restart would lose: everything it knows is also a pending `artefacts` row, found again by
the next tick. On shutdown running ffmpeg processes are killed and their jobs stay pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from functools import partial

import anyio

from imageserver.telemetry.metrics import HLS_QUEUE_DEPTH
from imageserver.video import housekeeping, jobs, service
from imageserver.video.runner import RunControl
from imageserver.work.context import AppContext

log = logging.getLogger("imageserver.video")


class VideoQueue:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.concurrency = ctx.settings.hls_concurrency
        # Jobs waiting beyond what runs now; the stage tops the queue up to this.
        self.capacity = max(ctx.settings.hls_batch_per_tick, 2 * self.concurrency)
        self._lock = threading.Lock()
        self._waiting: deque[jobs.Job] = deque()
        self._in_flight: set[str] = set()  # hashes waiting or running
        self._running = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self.control = RunControl()
        self.done = 0  # jobs finished since start (tests and logs)

    # --- any thread ---------------------------------------------------------------------

    def submit(self, job: jobs.Job, *, front: bool = False) -> bool:
        """Queue a job unless its hash is already waiting or running; False when deduped."""
        with self._lock:
            if job.content_hash in self._in_flight:
                return False
            self._in_flight.add(job.content_hash)
            if front:
                self._waiting.appendleft(job)
            else:
                self._waiting.append(job)
            self._publish_depth()
        self._notify()
        return True

    def in_flight(self) -> set[str]:
        with self._lock:
            return set(self._in_flight)

    def room(self) -> int:
        """How many more jobs the stage may hand over now."""
        with self._lock:
            return max(0, self.capacity - len(self._waiting))

    def depth(self) -> int:
        with self._lock:
            return len(self._in_flight)

    def _publish_depth(self) -> None:
        HLS_QUEUE_DEPTH.set(len(self._in_flight))

    def _notify(self) -> None:
        loop, event = self._loop, self._wakeup
        if loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.call_soon_threadsafe(event.set)

    def _pop(self) -> jobs.Job | None:
        with self._lock:
            if not self._waiting:
                return None
            self._running += 1
            return self._waiting.popleft()

    def _release(self, job: jobs.Job) -> bool:
        """Forget a finished job; True when the queue just went idle."""
        with self._lock:
            self._running -= 1
            self._in_flight.discard(job.content_hash)
            self._publish_depth()
            return not self._waiting and self._running == 0

    # --- the event loop -----------------------------------------------------------------

    async def run_forever(self) -> None:
        """Start-up housekeeping once, then the workers; `ctx.video_queue` meanwhile."""
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        self.control = RunControl()
        self.ctx.video_queue = self
        try:
            await anyio.to_thread.run_sync(housekeeping.startup_once, self.ctx)
            async with anyio.create_task_group() as tg:
                for _ in range(self.concurrency):
                    tg.start_soon(self._worker)
        finally:
            self.control.cancel.set()  # kills running ffmpeg; their threads are abandoned
            if self.ctx.video_queue is self:
                self.ctx.video_queue = None

    async def _worker(self) -> None:
        assert self._wakeup is not None
        while True:
            job = self._pop()
            if job is None:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            try:
                # On shutdown the thread is abandoned: `control` kills ffmpeg, and the job's
                # cancelled result gives its lease back on the way out of run_one.
                result = await anyio.to_thread.run_sync(
                    partial(service.run_one, self.ctx, job, self.control),
                    abandon_on_cancel=True,
                )
                if result is not None:  # None: another process runs this video
                    self.done += 1
            except Exception:
                log.exception("event=video_worker_error hash=%s", job.content_hash)
            finally:
                idle = self._release(job)
            if idle:
                self._wake_watcher()

    def _wake_watcher(self) -> None:
        """The queue ran dry: ask the watcher for the next batch now, not in a minute."""
        if self.ctx.watcher is not None:
            self.ctx.watcher.wake()
