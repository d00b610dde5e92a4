"""One video job: probe, plan, generate; the outcome as values, never an exception.

Blocking (ffprobe and ffmpeg waits): the queue runs jobs in worker threads and the
foreground stage runs them in its own small pool. Recording the outcome is the caller's
business (`service.finish`), in its own short transaction.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from imageserver.errors import NotFound
from imageserver.media import probe
from imageserver.media.paths import OutsideRoot, open_file_inside
from imageserver.video import generator, runner
from imageserver.video.generator import GenerationError, Transient, Unsupported
from imageserver.video.plan import (
    HlsOptions,
    NoVideoStream,
    ladder_heights,
    plan_hls,
    plan_preview,
    reencode_plan,
    rung_plan,
    source_info,
)
from imageserver.work.outcome import Outcome

log = logging.getLogger("imageserver.video")

PREVIEW_KIND = "preview"


@dataclass(frozen=True)
class Job:
    """Work for one content hash; `source` is one live path holding those bytes.

    `root` is the library root of `rel_path`: every job the server makes has one, and
    ffmpeg then reads only the file `confined` to it. (None: a file given directly, by
    a tool or a test.)
    """

    content_hash: str
    source: Path
    library: str
    rel_path: str
    hls: bool = True
    preview: bool = True
    root: Path | None = None

    def confined(self) -> Path:
        """The real path to read; OutsideRoot when the file now leads out of its root (a
        symlink swapped in after indexing), NotFound when it is gone."""
        return self.source if self.root is None else open_file_inside(self.root, self.rel_path)


@dataclass(frozen=True)
class JobResult:
    job: Job
    hls: Outcome | None  # None: not asked for, or cancelled
    preview: Outcome | None
    mode: str | None = None  # copy | transcode | tonemap
    seconds: float = 0.0
    sentinel_written: bool = False
    cancelled: bool = False


def outcome_of(exc: GenerationError) -> Outcome:
    if isinstance(exc, Unsupported):
        return Outcome.failed(exc.reason)
    give_up = exc.give_up_after if isinstance(exc, Transient) else None
    return Outcome("retry", exc.reason, give_up)


def probe_source(src: Path, video_root: Path, timeout: float) -> probe.VideoInfo:
    """ffprobe facts, with its failures classified like ffmpeg's."""
    problem = generator.environment_problem(src, video_root)
    if problem is not None:
        raise Transient(problem)
    try:
        return probe.probe(src, timeout=timeout)
    except probe.ProbeError as exc:
        if not exc.permanent:
            raise Transient(exc.reason) from exc
        problem = generator.environment_problem(src, video_root)  # vanished meanwhile?
        if problem is not None:
            raise Transient(problem) from exc
        raise Unsupported(f"ffprobe cannot read the source: {exc.reason}") from exc


def _source(job: Job) -> Path:
    """The file ffmpeg may read. Refused (out of the root) or gone, it is a transient
    failure: no sentinel, nothing made, retried with backoff in case the link is put right."""
    try:
        return job.confined()
    except OutsideRoot as exc:
        raise Transient(exc.refusal) from exc
    except NotFound as exc:
        raise Transient(f"source not readable: {exc.message}") from exc


def run_job(
    job: Job,
    video_root: Path,
    options: HlsOptions,
    timeout: float,
    control: runner.RunControl | None = None,
) -> JobResult:
    """Everything one hash needs, as outcomes for the `hls` and `preview` artefacts."""
    started = time.monotonic()
    mode = None
    try:
        src = _source(job)
        info = source_info(probe_source(src, video_root, min(timeout, 120.0)))
        try:
            plan = plan_hls(info, options)
            fallback = reencode_plan(info, options)
            rungs = [(h, rung_plan(info, options, h)) for h in ladder_heights(info, plan, options)]
            preview_plan = plan_preview(info, options)
        except NoVideoStream as exc:
            raise Unsupported(f"no video stream: {exc}") from exc
        mode = plan.mode
        if job.hls:
            made = generator.make_hls(
                src,
                video_root,
                job.content_hash,
                plan,
                options,
                timeout,
                control,
                preview_plan if job.preview else None,
                fallback,
                rungs,
            )
            mode = made.mode
            hls: Outcome | None = Outcome.done(made.mode)
            preview = None
            if job.preview:
                preview = (
                    Outcome.done() if made.preview_error is None else outcome_of(made.preview_error)
                )
        else:
            generator.make_preview(
                src, video_root, job.content_hash, preview_plan, options, timeout, control
            )
            hls, preview = None, Outcome.done()
    except Unsupported as exc:
        return _unsupported(job, video_root, exc, mode, time.monotonic() - started)
    except Transient as exc:
        if isinstance(exc.__cause__, runner.FfmpegCancelled):
            return JobResult(job, None, None, mode, time.monotonic() - started, cancelled=True)
        outcome = outcome_of(exc)
        return JobResult(
            job,
            outcome if job.hls else None,
            outcome if job.preview else None,
            mode,
            time.monotonic() - started,
        )
    except Exception as exc:  # a bug for one file must not stop the queue
        log.exception("event=video_job_crashed path=%r hash=%s", job.rel_path, job.content_hash)
        outcome = Outcome.unexpected(exc)
        return JobResult(
            job,
            outcome if job.hls else None,
            outcome if job.preview else None,
            mode,
            time.monotonic() - started,
        )
    return JobResult(job, hls, preview, mode, time.monotonic() - started)


def _unsupported(
    job: Job, video_root: Path, exc: Unsupported, mode: str | None, seconds: float
) -> JobResult:
    """Sentinel first, then the outcome: if the sentinel cannot be written, retry later."""
    if not job.hls:  # a preview-only failure never marks the playlist unsupported
        return JobResult(job, None, Outcome.failed(exc.reason), mode, seconds)
    try:
        generator.write_sentinel(video_root, job.content_hash, exc.reason, exc.details)
    except Transient as err:
        retry = Outcome.retry(err.reason)
        return JobResult(job, retry, retry if job.preview else None, mode, seconds)
    preview = Outcome.failed(f"source unsupported: {exc.reason}") if job.preview else None
    return JobResult(job, Outcome.failed(exc.reason), preview, mode, seconds, True)
