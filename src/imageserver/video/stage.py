"""The video drain (`hls` stage): find videos waiting for a playlist or preview, get them made.

Declared like every drain (work/drain.py), but its claim is a query, not a lease: the
lease is taken per job by `service.run_one`, the one path every video job takes, just
before ffmpeg starts, and kept while it runs. With the long-lived queue running (`serve`),
the stage only hands jobs over (up to HLS_BATCH_PER_TICK per library, as long as the
queue has room) and returns at once: a tick never waits for ffmpeg. Without it
(`imageserver scan`, a test driving the watcher) the stage runs its batch itself,
HLS_CONCURRENCY at a time, and reports what is left in `t.pending["hls"]`, so a
foreground scan keeps ticking until every playlist is made.

Either way the tick summary carries the /hls/stats numbers of the library, and the
BACKLOG gauge its pending count.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Connection

from imageserver.telemetry.metrics import BACKLOG
from imageserver.video import housekeeping, jobs, service, stats
from imageserver.video.queue import VideoQueue
from imageserver.work import artefacts
from imageserver.work.artefacts import HLS_KIND
from imageserver.work.drain import BaseRun, Drain, run_drain
from imageserver.work.outcome import Outcome
from imageserver.work.tick import TickContext


class VideoTick(BaseRun[jobs.Job, "jobs.JobResult | None"]):
    def __init__(self, t: TickContext, queue: VideoQueue | None) -> None:
        super().__init__(t)
        self.queue = queue
        batch = t.app.settings.hls_batch_per_tick
        self.total = self.chunk = min(batch, queue.room()) if queue is not None else batch

    def claim(self, conn: Connection, limit: int) -> list[jobs.Job]:
        t = self.t
        exclude = self.queue.in_flight() if self.queue is not None else set()
        video_root = t.app.settings.resolved_video_path
        lib = t.library
        collected = service.collect(conn, video_root, lib.id, lib.name, t.now, limit, exclude)
        t.counts["hls_settled"] += collected.settled
        if self.queue is None:
            t.counts["progress"] += collected.settled
        return collected.jobs

    def work(self, items: Sequence[jobs.Job]) -> list[jobs.JobResult | None]:
        t = self.t
        if self.queue is not None:
            t.counts["hls_queued"] += sum(self.queue.submit(job) for job in items)
            return [None] * len(items)
        if not items:
            return []
        ctx = t.app
        housekeeping.startup_once(ctx)
        with ThreadPoolExecutor(ctx.settings.hls_concurrency, thread_name_prefix="hls") as pool:
            results = list(pool.map(lambda job: service.run_one(ctx, job), items))
        for result in results:
            if result is None:
                continue  # another process runs it
            main = result.hls if result.job.hls else result.preview
            status = main.status if main is not None else "retry"
            t.counts["progress"] += 1
            t.counts[{"done": "hls_made", "failed": "hls_failed"}.get(status, "hls_retry")] += 1
            if status != "done":
                t.counts["failed"] += 1
        return results

    def outcome(self, item: jobs.Job, result: jobs.JobResult | None) -> Outcome | None:
        return None  # recorded by service.run_one as each job ends

    def attempts(self, conn: Connection, item: jobs.Job) -> int:
        return artefacts.attempts_of(conn, item.content_hash, HLS_KIND)

    def write(
        self,
        conn: Connection,
        item: jobs.Job,
        result: jobs.JobResult | None,
        outcome: Outcome,
        attempts: int,
    ) -> bool:
        return False  # never called: every outcome is recorded by service.run_one

    def go_on(self) -> bool:
        return False  # the claim is a query, not a lease: once per tick

    def path(self, item: jobs.Job) -> str:
        return item.rel_path

    def pending(self, conn: Connection) -> None:
        t = self.t
        counts = stats.for_library(conn, t.library.id)
        for key, value in counts.as_dict().items():
            t.counts[f"hls_{key}"] = value
        BACKLOG.labels(t.library.name, "hls").set(counts.pending)
        if self.queue is None:
            t.pending["hls"] = artefacts.count_pending(
                conn, HLS_KIND, service.VIDEO_KINDS, t.now, t.library.id
            )


def open_tick(t: TickContext) -> VideoTick:
    if t.full:
        with t.app.engine.begin() as conn:
            video_root = t.app.settings.resolved_video_path
            t.counts["hls_reconciled"] += service.reconcile(conn, video_root, t.library.id)
    queue = t.app.video_queue
    return VideoTick(t, queue if isinstance(queue, VideoQueue) else None)


VIDEO = Drain("hls", open_tick, done_count="hls_made", failed_event="video_failed")


def hls_stage(t: TickContext) -> None:
    run_drain(t, VIDEO)
