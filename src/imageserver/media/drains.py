"""The media drains of a tick: content hashes, metadata, thumbnails. Bounded, state-driven.

Each takes a bounded batch from a backlog query, does the slow part in worker threads (or
in the long-lived exiftool process), then writes results in short transactions. A file
that changed while it was read is left for the next tick, after reconcile has seen it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import RowMapping

from imageserver.media import hashing, repo, thumbs
from imageserver.media.formats import FORMATS
from imageserver.media.layout import thumb_path
from imageserver.media.metadata import MediaMetadata, MetadataError, open_reader
from imageserver.scan.ingest import mtime_datetime
from imageserver.telemetry.metrics import BACKLOG, DRAIN_DONE, DRAIN_FAILED
from imageserver.work import artefacts
from imageserver.work.artefacts import THUMB_KIND, Outcome
from imageserver.work.context import AppContext
from imageserver.work.runtime import release_free_memory
from imageserver.work.tick import TickContext

log = logging.getLogger("imageserver.drains")

T = TypeVar("T")
R = TypeVar("R")

MAX_META_ATTEMPTS = 3
WRITE_CHUNK = 200
THUMB_CHUNK = 32


def pool(ctx: AppContext) -> ThreadPoolExecutor:
    """The process-wide pool for blocking drain work (hashing, decoding)."""
    existing = ctx.services.get("pool")
    if existing is None:
        existing = ThreadPoolExecutor(ctx.settings.worker_threads, thread_name_prefix="drain")
        ctx.services["pool"] = existing
    assert isinstance(existing, ThreadPoolExecutor)
    return existing


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def parallel(ctx: AppContext, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    return list(pool(ctx).map(fn, items))


# --- content hashes ------------------------------------------------------------------------


def _hash_one(root: Path, row: RowMapping) -> tuple[str, int, int] | OSError | None:
    """(hash, size, mtime_ns) of the file, None when it changed while being read."""
    path = root / row["rel_path"]
    try:
        before = os.stat(path)
        digest = hashing.hash_file(path)
        after = os.stat(path)
    except OSError as exc:
        return exc
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
        return None
    return digest, after.st_size, after.st_mtime_ns


def claimed_chunks(
    t: TickContext,
    claim: Callable[[Any, int], list[RowMapping]],
    total: int,
    size: int = WRITE_CHUNK,
) -> Iterator[list[RowMapping]]:
    """Lease work a chunk at a time (up to `total` per tick), each claim its own short
    transaction: several workers then share a backlog evenly instead of one taking it all."""
    left = total
    while left > 0:
        with t.app.engine.begin() as conn:
            chunk = claim(conn, min(size, left))
        if not chunk:
            return
        left -= len(chunk)
        yield chunk


def hash_stage(t: TickContext) -> None:
    settings, engine, now = t.app.settings, t.app.engine, t.now

    def claim(conn: Any, limit: int) -> list[RowMapping]:
        return repo.hash_batch(conn, t.library.id, now, limit)

    for chunk in claimed_chunks(t, claim, settings.hash_batch_per_tick):
        results = parallel(t.app, lambda row: _hash_one(t.library.root, row), chunk)
        with engine.begin() as conn:
            for row, result in zip(chunk, results, strict=True):
                _write_hash(t, conn, row, result, now)
        DRAIN_DONE.labels("hash").inc(len(chunk))
    with engine.connect() as conn:
        t.pending["hash"] = repo.hash_backlog(conn, t.library.id)
    BACKLOG.labels(t.library.name, "hash").set(t.pending["hash"])


def _write_hash(
    t: TickContext,
    conn: Any,
    row: RowMapping,
    result: tuple[str, int, int] | OSError | None,
    now: float,
) -> None:
    attempts = row["hash_attempts"] + 1
    if result is None or isinstance(result, FileNotFoundError):
        # changed while read (reconcile goes first), or gone (the missing-file scan decides)
        repo.finish_leased(conn, row["id"], {})
        return
    if isinstance(result, OSError):
        repo.finish_leased(
            conn,
            row["id"],
            {
                "hash_error": f"{type(result).__name__}: {result.strerror}",
                "hash_attempts": attempts,
                "hash_retry_at": now + artefacts.backoff(attempts),
            },
        )
        t.counts["failed"] += 1
        DRAIN_FAILED.labels("hash", "false").inc()
        log.warning(
            "event=hash_failed library=%s path=%r error=%s",
            t.library.name,
            row["rel_path"],
            result.strerror,
        )
        return
    digest, size, mtime_ns = result
    if (size, mtime_ns) != (row["size"], row["mtime_ns"]):
        repo.finish_leased(conn, row["id"], {})  # changed since the walk: reconcile first
        return
    written = repo.finish_leased(
        conn,
        row["id"],
        {
            "content_hash": digest,
            "hash_error": None,
            "hash_retry_at": None,
            "hash_attempts": attempts,
            "updated_at": now,
        },
    )
    if written:
        t.counts["hashed"] += 1


# --- metadata ------------------------------------------------------------------------------


def reader(ctx: AppContext) -> Any:
    existing = ctx.services.get("metadata_reader")
    if existing is None:
        existing = open_reader()
        ctx.services["metadata_reader"] = existing
    return existing


def read_guarded(read: Any, items: list[tuple[Path, Any]]) -> list[MediaMetadata | MetadataError]:
    """read_many, but a crash on one file costs only that file (retried, then failed)."""
    try:
        results: list[MediaMetadata | MetadataError] = read.read_many(items)
        return results
    except Exception:
        log.exception("event=metadata_batch_crashed size=%d", len(items))
    out: list[MediaMetadata | MetadataError] = []
    for item in items:
        try:
            out.extend(read.read_many([item]))
        except Exception as exc:
            log.exception("event=metadata_crashed path=%r", str(item[0]))
            out.append(MetadataError(f"unexpected {type(exc).__name__}: {exc}", permanent=False))
    return out


def metadata_values(meta: MediaMetadata, row: RowMapping) -> dict[str, Any]:
    """Columns written for a successful read; absent facts are written as NULL."""
    values = asdict(meta)
    values["meta_reader"] = values.pop("reader")
    if meta.taken_at is None:
        values["taken_at"] = mtime_datetime(row["mtime_ns"])
        values["taken_at_source"] = "file_mtime"
        values["taken_at_offset_min"] = None
    values["extra"] = meta.extra or None
    values.update(meta_status="ok", meta_error=metadata_warning(meta), meta_retry_at=None)
    return values


def metadata_warning(meta: MediaMetadata) -> str | None:
    """A defect the readers saw in a file they could still describe (kept beside status ok)."""
    notes = []
    if warning := meta.extra.get("exiftool_warning"):
        notes.append(f"exiftool: {warning}")
    if unknown := meta.extra.get("unknown_streams"):
        notes.append(f"streams without a known codec: {', '.join(map(str, unknown))}")
    if probe_error := meta.extra.get("probe_error"):
        notes.append(f"ffprobe: {probe_error}")
    return "warning: " + "; ".join(notes) if notes else None


def metadata_stage(t: TickContext) -> None:
    settings, engine, now = t.app.settings, t.app.engine, t.now
    read = reader(t.app)

    def claim(conn: Any, limit: int) -> list[RowMapping]:
        return repo.meta_batch(conn, t.library.id, now, limit)

    for chunk in claimed_chunks(t, claim, settings.metadata_batch_per_tick):
        items = [(t.library.root / r["rel_path"], FORMATS[r["format"]]) for r in chunk]
        results = read_guarded(read, items)
        with engine.begin() as conn:
            for row, result in zip(chunk, results, strict=True):
                if isinstance(result, MetadataError):
                    _record_meta_failure(t, conn, row, result, now)
                    continue
                values = metadata_values(result, row)
                values["meta_attempts"] = row["meta_attempts"] + 1
                if repo.finish_leased(conn, row["id"], values):
                    t.counts["described"] += 1
        DRAIN_DONE.labels("metadata").inc(len(chunk))
    with engine.connect() as conn:
        t.pending["metadata"] = repo.meta_backlog(conn, t.library.id)
    BACKLOG.labels(t.library.name, "metadata").set(t.pending["metadata"])


def _record_meta_failure(
    t: TickContext, conn: Any, row: RowMapping, err: MetadataError, now: float
) -> None:
    attempts = row["meta_attempts"] + 1
    permanent = err.permanent or attempts >= MAX_META_ATTEMPTS
    values: dict[str, Any] = {"meta_error": err.reason, "meta_attempts": attempts}
    if permanent:
        values.update(meta_status="failed", meta_retry_at=None)
    else:
        values["meta_retry_at"] = now + artefacts.backoff(attempts)
    repo.finish_leased(conn, row["id"], values)
    t.counts["failed"] += 1
    DRAIN_FAILED.labels("metadata", str(permanent).lower()).inc()
    log.info(
        "event=metadata_failed library=%s path=%r permanent=%s reason=%r",
        t.library.name,
        row["rel_path"],
        permanent,
        err.reason,
    )


# --- thumbnails ----------------------------------------------------------------------------


def make_thumbs_for(ctx: AppContext, row: RowMapping) -> Outcome:
    s = ctx.settings
    digest = row["content_hash"]
    src = Path(row["root_path"]) / row["rel_path"]
    try:
        thumbs.make_thumbnails(
            src,
            FORMATS[row["format"]],
            thumb_path(s.thumbs_dir, digest, "small"),
            thumb_path(s.thumbs_dir, digest, "large"),
            s.thumb_small_px,
            s.thumb_large_px,
            s.thumb_quality,
        )
    except thumbs.ThumbnailError as exc:
        return Outcome.failed(exc.reason) if exc.permanent else Outcome.retry(exc.reason)
    except OSError as exc:  # our own disk: full, read-only -> transient, never a sentinel
        return Outcome.retry(f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # a decoder bug on one file must not stop the drain
        log.exception("event=thumbnail_crashed path=%r", row["rel_path"])
        return Outcome.unexpected(exc)
    return Outcome.done()


def thumbnail_stage(t: TickContext) -> None:
    settings, engine, now = t.app.settings, t.app.engine, t.now

    def claim(conn: Any, limit: int) -> list[RowMapping]:
        return artefacts.claim(conn, THUMB_KIND, ("photo", "video"), now, limit, t.library.id)

    made = 0
    for chunk in claimed_chunks(t, claim, settings.thumbnail_batch_per_tick, THUMB_CHUNK):
        made += len(chunk)
        outcomes = parallel(t.app, lambda row: make_thumbs_for(t.app, row), chunk)
        with engine.begin() as conn:
            for row, outcome in zip(chunk, outcomes, strict=True):
                artefacts.record(conn, row["content_hash"], THUMB_KIND, outcome, t.now)
                if outcome.status == "done":
                    t.counts["thumbnailed"] += 1
                    DRAIN_DONE.labels("thumbnails").inc()
                else:
                    t.counts["failed"] += 1
                    permanent = outcome.status == "failed"
                    DRAIN_FAILED.labels("thumbnails", str(permanent).lower()).inc()
                    log.info(
                        "event=thumbnail_failed library=%s path=%r permanent=%s reason=%r",
                        t.library.name,
                        row["rel_path"],
                        permanent,
                        outcome.detail,
                    )
    if made:
        release_free_memory()  # decoders' freed buffers back to the OS, not kept in arenas
    with engine.connect() as conn:
        t.pending["thumbnails"] = artefacts.count_pending(
            conn, THUMB_KIND, ("photo", "video"), t.now, t.library.id
        )
    BACKLOG.labels(t.library.name, "thumbnails").set(t.pending["thumbnails"])
