"""The video drain's rules: what to make next, how an outcome is recorded, disk vs rows.

Backlogs are queries over `artefacts` (kinds `hls` and `preview`, keyed by content hash),
so a restart loses nothing. Before any ffmpeg run the disk is consulted: an existing,
fresh playlist or a sentinel settles the row without work (the queue's dedup). On full
scans `reconcile` makes the rows agree with the disk again (a folder deleted by hand is
made again; a source edited after its playlist was made is re-transcoded).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import Connection, Engine, RowMapping

from imageserver.errors import ImageServerError, NotFound
from imageserver.media.paths import open_file_inside
from imageserver.telemetry.metrics import DRAIN_DONE, DRAIN_FAILED, TRANSCODE_SECONDS, TRANSCODES
from imageserver.video import generator, jobs, repo
from imageserver.video.accel import resolve
from imageserver.video.jobs import PREVIEW_KIND, Job, JobResult
from imageserver.video.plan import HlsOptions
from imageserver.video.runner import RunControl
from imageserver.video.state import inspect, needs_generation, source_mtime
from imageserver.work import artefacts, leases
from imageserver.work.artefacts import HLS_KIND
from imageserver.work.context import AppContext
from imageserver.work.outcome import Outcome, settle

log = logging.getLogger("imageserver.video")

VIDEO_KINDS = ("video",)


def _job(row: RowMapping, hls: bool, preview: bool, library: str) -> Job:
    root = Path(row["root_path"])
    return Job(
        content_hash=row["content_hash"],
        source=root / row["rel_path"],
        library=library,
        rel_path=row["rel_path"],
        hls=hls,
        preview=preview,
        root=root,
    )


def confined_mtime(job: Job) -> float | None:
    """The source's mtime, read only inside its root: a source that is gone or now leads
    out of the root (refused when its job runs) never makes a playlist look stale."""
    try:
        return source_mtime(job.confined())
    except ImageServerError:
        return None


def source_of(conn: Connection, row: RowMapping) -> tuple[Path, Path]:
    """(library root, real path) of a video's file for a route; OutsideRoot (422, as for
    /original) when the path now leads out of its root. A file that is gone is not refused
    here: its job reports it when it runs, as for any unreachable source."""
    root = Path(repo.library_root(conn, row["library_id"]))
    try:
        return root, open_file_inside(root, row["rel_path"])
    except NotFound:
        return root, root / row["rel_path"]


@dataclass
class Collected:
    jobs: list[Job]
    settled: int  # rows settled from what is on disk, without running ffmpeg


def collect(
    conn: Connection,
    video_root: Path,
    library_id: int,
    library: str,
    now: float,
    limit: int,
    exclude: Iterable[str] = (),
) -> Collected:
    """Up to `limit` jobs for hashes still waiting (hls or preview), deduplicated on disk."""
    skip = set(exclude)
    fetch = limit + len(skip)
    hls_rows = artefacts.pending(conn, HLS_KIND, VIDEO_KINDS, now, fetch, library_id)
    preview_rows = artefacts.pending(conn, PREVIEW_KIND, VIDEO_KINDS, now, fetch, library_id)
    wanted: dict[str, tuple[RowMapping, bool, bool]] = {}
    for row in hls_rows:
        wanted[row["content_hash"]] = (row, True, False)
    for row in preview_rows:
        prev = wanted.get(row["content_hash"])
        wanted[row["content_hash"]] = (prev[0] if prev else row, bool(prev), True)
    out = Collected([], 0)
    for digest, (row, need_hls, need_preview) in wanted.items():
        if digest in skip:
            continue
        if len(out.jobs) >= limit:
            break
        job = _job(row, need_hls, need_preview, library)
        settled = settle_from_disk(conn, video_root, job, now)
        out.settled += settled.settled
        if settled.job is not None:
            out.jobs.append(settled.job)
    return out


@dataclass
class _Settled:
    job: Job | None
    settled: int


def settle_from_disk(conn: Connection, video_root: Path, job: Job, now: float) -> _Settled:
    """Record what the disk already shows; return the job for whatever is left to make."""
    disk = inspect(video_root, job.content_hash)
    count = 0
    need_hls, need_preview = job.hls, job.preview
    if need_hls:
        if disk.sentinel is not None:
            artefacts.record(conn, job.content_hash, HLS_KIND, Outcome.failed(disk.sentinel), now)
            if need_preview:
                reason = f"source unsupported: {disk.sentinel}"
                artefacts.record(conn, job.content_hash, PREVIEW_KIND, Outcome.failed(reason), now)
            return _Settled(None, 1)
        if disk.has_playlist and not needs_generation(disk.playlist_mtime, confined_mtime(job)):
            artefacts.record(conn, job.content_hash, HLS_KIND, Outcome.done("found on disk"), now)
            need_hls, count = False, 1
        elif need_hls:
            need_preview = True  # a new folder replaces the old one: remake its preview too
    if not need_hls and need_preview:
        hls_state = artefacts.get(conn, job.content_hash, HLS_KIND)
        if disk.preview and disk.has_playlist:
            artefacts.record(conn, job.content_hash, PREVIEW_KIND, Outcome.done("found"), now)
            return _Settled(None, count + 1)
        if hls_state is not None and hls_state["status"] == "failed":
            reason = f"source unsupported: {hls_state['detail']}"
            artefacts.record(conn, job.content_hash, PREVIEW_KIND, Outcome.failed(reason), now)
            return _Settled(None, count + 1)
        if not disk.has_playlist:
            return _Settled(None, count)  # the playlist comes first (it is retrying)
    if not need_hls and not need_preview:
        return _Settled(None, count)
    return _Settled(
        replace(job, hls=need_hls, preview=need_preview),
        count,
    )


# The lease that makes one process (of several sharing the database) run a video's job.
JOB_KIND = "video-job"


def claim_job(engine: Engine, job: Job, now: float) -> bool:
    """Lease the hash for this process before ffmpeg starts; False: someone else has it.

    The lease is short (IMAGESERVER_LEASE_SECONDS) and `kept` renews it while the job
    waits or runs, so a live process keeps its videos however long ffmpeg takes, and a
    dead one's videos are taken over (by another worker, or by itself restarted) within
    one lease.
    """
    with engine.begin() as conn:
        won = artefacts.lease(conn, JOB_KIND, [job.content_hash], now, leases.lease_seconds())
    return job.content_hash in won


@contextmanager
def kept(engine: Engine, hashes: Collection[str], clock: Callable[[], float]) -> Iterator[None]:
    """Renew this process's job leases on `hashes` every third of a lease until the block
    ends. A failed renewal is logged and tried again; the work itself never waits on it."""
    stop = threading.Event()
    period = max(0.2, leases.lease_seconds() / 3)

    def renew() -> None:
        while not stop.wait(period):
            try:
                with engine.begin() as conn:
                    until = clock() + leases.lease_seconds()
                    artefacts.renew(conn, JOB_KIND, list(hashes), until)
            except Exception as exc:  # the database may be briefly away: next period
                log.warning("event=video_lease_renew_failed error=%r", exc)

    thread = threading.Thread(target=renew, name="video-lease", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()


def release_job(engine: Engine, job: Job) -> None:
    with engine.begin() as conn:
        artefacts.forget(conn, job.content_hash, JOB_KIND)


def run_one(ctx: AppContext, job: Job, control: RunControl | None = None) -> JobResult | None:
    """The one path of a video job, queued or foreground: lease the hash (None: another
    process runs it), keep the lease while ffmpeg runs, record both outcomes. Blocking."""
    settings = ctx.settings
    video_root = settings.resolved_video_path
    if not claim_job(ctx.engine, job, ctx.clock()):
        return None
    with kept(ctx.engine, [job.content_hash], ctx.clock):
        options = replace(HlsOptions.from_settings(settings), accel=resolve(settings.hls_accel))
        result = jobs.run_job(job, video_root, options, settings.hls_timeout_seconds, control)
    finish(ctx.engine, video_root, result, ctx.clock())
    return result


def finish(engine: Engine, video_root: Path, result: JobResult, now: float) -> None:
    """Record both outcomes in one transaction; a give-up writes the sentinel first."""
    if result.cancelled:
        release_job(engine, result.job)  # shutdown: pending again, for anyone to take
        return
    job = result.job
    hls = result.hls
    with engine.begin() as conn:
        artefacts.forget(conn, job.content_hash, JOB_KIND)
        if hls is not None:
            attempts = artefacts.attempts_of(conn, job.content_hash, HLS_KIND) + 1
            if (
                settle(hls, attempts).permanent
                and not hls.permanent
                and not result.sentinel_written
            ):
                _give_up(video_root, job, hls)  # the sentinel first: the disk says why
            artefacts.record(conn, job.content_hash, HLS_KIND, hls, now)
        if result.preview is not None:
            artefacts.record(conn, job.content_hash, PREVIEW_KIND, result.preview, now)
    _count(result)


def _give_up(video_root: Path, job: Job, outcome: Outcome) -> None:
    try:
        generator.write_sentinel(video_root, job.content_hash, f"gave up: {outcome.detail}")
    except generator.Transient as exc:
        log.warning("event=sentinel_write_failed hash=%s reason=%r", job.content_hash, exc.reason)


def _count(result: JobResult) -> None:
    job, hls = result.job, result.hls
    kind = "hls" if job.hls else "preview"
    main = hls if job.hls else result.preview
    if main is None:
        return
    label = {"done": "ok", "failed": "unsupported"}.get(main.status, "transient")
    TRANSCODES.labels(kind, label).inc()
    TRANSCODE_SECONDS.labels(kind).observe(result.seconds)
    if main.status == "done":
        DRAIN_DONE.labels("hls").inc()
    else:
        DRAIN_FAILED.labels("hls", str(main.status == "failed").lower()).inc()
    level = logging.INFO if main.status != "retry" else logging.WARNING
    log.log(
        level,
        "event=video_job library=%s path=%r hash=%s kind=%s mode=%s status=%s seconds=%.2f "
        "reason=%r preview=%s",
        job.library,
        job.rel_path,
        job.content_hash[:12],
        kind,
        result.mode,
        main.status,
        result.seconds,
        main.detail,
        result.preview.status if result.preview else "-",
    )


# --- disk vs rows ------------------------------------------------------------------------------


def reconcile(conn: Connection, video_root: Path, library_id: int) -> int:
    """Forget settled rows the disk contradicts, so the next collect re-derives them."""
    forgotten = 0
    seen: set[str] = set()
    for row in repo.settled_videos(conn, library_id, VIDEO_KINDS):
        digest = row["content_hash"]
        if digest in seen:
            continue
        seen.add(digest)
        disk = inspect(video_root, digest)
        mtime = confined_mtime(_job(row, True, True, ""))
        stale_hls = (
            row["hls"] == "done"
            and (not disk.has_playlist or needs_generation(disk.playlist_mtime, mtime))
        ) or (row["hls"] == "failed" and disk.sentinel is None)
        if stale_hls:
            artefacts.forget(conn, digest, HLS_KIND)
            artefacts.forget(conn, digest, PREVIEW_KIND)
            forgotten += 1
        elif row["preview"] == "done" and not disk.preview:
            artefacts.forget(conn, digest, PREVIEW_KIND)
            forgotten += 1
    if forgotten:
        log.info("event=video_reconciled library_id=%d forgotten=%d", library_id, forgotten)
    return forgotten
