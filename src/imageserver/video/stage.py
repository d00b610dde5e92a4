"""The `hls` pipeline stage: find videos waiting for a playlist or preview, get them made.

With the long-lived queue running (`serve`), the stage only hands jobs over (up to
HLS_BATCH_PER_TICK per library, as long as the queue has room) and returns at once: a
tick never waits for ffmpeg. Without it (`imageserver scan`, a test driving the watcher)
the stage runs its batch itself, HLS_CONCURRENCY at a time, and reports what is left in
`t.pending["hls"]`, so a foreground scan keeps ticking until every playlist is made.

Either way the tick summary carries the /hls/stats numbers of the library.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from imageserver.telemetry.metrics import BACKLOG
from imageserver.video import housekeeping, jobs, service, stats
from imageserver.video.plan import HlsOptions
from imageserver.video.queue import SERVICE_NAME, VideoQueue
from imageserver.work import artefacts
from imageserver.work.artefacts import HLS_KIND
from imageserver.work.tick import TickContext


def hls_stage(t: TickContext) -> None:
    ctx, settings, engine = t.app, t.app.settings, t.app.engine
    video_root = settings.resolved_video_path
    queue = ctx.services.get(SERVICE_NAME)
    if t.full:
        with engine.begin() as conn:
            t.counts["hls_reconciled"] += service.reconcile(conn, video_root, t.library.id)
    if isinstance(queue, VideoQueue):
        room, exclude = min(settings.hls_batch_per_tick, queue.room()), queue.in_flight()
    else:
        queue, room, exclude = None, settings.hls_batch_per_tick, set()
    collected = service.Collected([], 0)
    if room > 0:
        with engine.begin() as conn:
            collected = service.collect(
                conn, video_root, t.library.id, t.library.name, t.now, room, exclude
            )
    t.counts["hls_settled"] += collected.settled
    if queue is not None:
        t.counts["hls_queued"] += sum(queue.submit(job) for job in collected.jobs)
    else:
        run_batch(t, collected.jobs)
        t.counts["progress"] += collected.settled
    with engine.connect() as conn:
        counts = stats.for_library(conn, t.library.id)
        if queue is None:
            t.pending["hls"] = artefacts.count_pending(
                conn, HLS_KIND, service.VIDEO_KINDS, t.now, t.library.id
            )
    for key, value in counts.as_dict().items():
        t.counts[f"hls_{key}"] = value
    BACKLOG.labels(t.library.name, "hls").set(counts.pending)


def run_batch(t: TickContext, batch: list[jobs.Job]) -> None:
    """Run jobs in this thread's own small pool and record each outcome as it ends."""
    if not batch:
        return
    ctx, settings = t.app, t.app.settings
    housekeeping.startup_once(ctx)
    options = HlsOptions.from_settings(settings)
    video_root = settings.resolved_video_path

    def one(job: jobs.Job) -> jobs.JobResult:
        result = jobs.run_job(job, video_root, options, settings.hls_timeout_seconds)
        service.finish(ctx.engine, video_root, result, ctx.clock())
        return result

    batch = [j for j in batch if service.claim_job(ctx.engine, j, ctx.clock())]
    with (
        service.kept(ctx.engine, [j.content_hash for j in batch], ctx.clock),
        ThreadPoolExecutor(settings.hls_concurrency, thread_name_prefix="hls") as pool,
    ):
        results = list(pool.map(one, batch))
    for result in results:
        main = result.hls if result.job.hls else result.preview
        status = main.status if main is not None else "retry"
        t.counts["progress"] += 1
        t.counts[{"done": "hls_made", "failed": "hls_failed"}.get(status, "hls_retry")] += 1
        if status != "done":
            t.counts["failed"] += 1
