"""The media drains of a tick: content hashes, metadata, thumbnails. Bounded, state-driven.

All three go through the kernel's one runner (work/drain.py): a bounded batch leased a
chunk at a time, the slow part in the shared drain pool (or, for metadata, in one call
to the long-lived exiftool process per chunk), results written in one short transaction
per chunk. A file that changed while it was read is left for the next tick, after
reconcile has seen it. Hash and metadata keep their state on the media row (`RowRun`);
thumbnails keep it in the artefacts table under the `thumb` kind.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, RowMapping

from imageserver.errors import NotFound
from imageserver.media import hashing, overrides, repo, thumbs
from imageserver.media.formats import FORMATS
from imageserver.media.layout import thumb_path
from imageserver.media.localtime import sort_instant
from imageserver.media.metadata import MediaMetadata, MetadataError, open_reader
from imageserver.media.mtime import mtime_datetime
from imageserver.media.paths import OutsideRoot, Unreadable, open_file_inside
from imageserver.work.artefacts import THUMB_KIND, claim, count_pending
from imageserver.work.context import AppContext
from imageserver.work.drain import BaseRun, Drain, HashRun, run_drain
from imageserver.work.outcome import GiveUp, Outcome, backoff
from imageserver.work.runtime import release_free_memory
from imageserver.work.tick import TickContext

log = logging.getLogger("imageserver.drains")

WRITE_CHUNK = 200
THUMB_CHUNK = 32
META_GIVE_UP = GiveUp(3, say=False)  # a reader crash thrice on one file: failed, as read


class RowRun(BaseRun[RowMapping, Any]):
    """Per-row state on the media row: `<prefix>_attempts`, written with the lease released
    in one conditional update (nothing is written once another process holds the row)."""

    prefix = ""

    def attempts(self, conn: Connection, item: RowMapping) -> int:
        return int(item[f"{self.prefix}_attempts"])

    def finish(self, conn: Connection, item: RowMapping, values: dict[str, Any]) -> bool:
        return repo.finish_leased(conn, item["id"], values)

    def skip(self, conn: Connection, item: RowMapping) -> None:
        repo.finish_leased(conn, item["id"], {})  # the lease back, the state untouched


# --- content hashes ------------------------------------------------------------------------

HashResult = tuple[str, int, int] | OSError | OutsideRoot | None


def _hash_one(root: Path, row: RowMapping) -> HashResult:
    """(hash, size, mtime_ns) of the file, None when it changed while being read."""
    try:
        path = open_file_inside(root, row["rel_path"])
    except OutsideRoot as exc:
        return exc
    except Unreadable as exc:
        return OSError(exc.message)
    except NotFound:
        return FileNotFoundError(row["rel_path"])
    try:
        before = os.stat(path)
        digest = hashing.hash_file(path)
        after = os.stat(path)
    except OSError as exc:
        return exc
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
        return None
    return digest, after.st_size, after.st_mtime_ns


class HashTick(RowRun):
    prefix = "hash"

    def __init__(self, t: TickContext) -> None:
        super().__init__(t)
        self.total, self.chunk = t.app.settings.hash_batch_per_tick, WRITE_CHUNK

    def claim(self, conn: Connection, limit: int) -> list[RowMapping]:
        return repo.hash_batch(conn, self.t.library.id, self.t.now, limit)

    def one(self, item: RowMapping) -> HashResult:
        return _hash_one(self.t.library.root, item)

    def outcome(self, item: RowMapping, result: HashResult) -> Outcome | None:
        if result is None or isinstance(result, FileNotFoundError):
            # changed while read (reconcile goes first), or gone (the missing-file scan decides)
            return None
        if isinstance(result, OutsideRoot):  # a symlink swapped in: nothing was read
            return Outcome.retry(result.refusal)
        if isinstance(result, OSError):
            return Outcome.retry(f"{type(result).__name__}: {result.strerror or result}")
        _, size, mtime_ns = result
        if (size, mtime_ns) != (item["size"], item["mtime_ns"]):
            return None  # changed since the walk: reconcile first
        return Outcome.done()

    def write(
        self,
        conn: Connection,
        item: RowMapping,
        result: HashResult,
        outcome: Outcome,
        attempts: int,
    ) -> bool:
        if outcome.status != "done" or not isinstance(result, tuple):
            values = {
                "hash_error": outcome.detail,
                "hash_attempts": attempts,
                "hash_retry_at": self.t.now + backoff(attempts),
            }
            return self.finish(conn, item, values)
        values = {
            "content_hash": result[0],
            "hash_error": None,
            "hash_retry_at": None,
            "hash_attempts": attempts,
            "updated_at": self.t.now,
        }
        return self.finish(conn, item, values)

    def pending(self, conn: Connection) -> int:
        return repo.hash_backlog(conn, self.t.library.id)


HASH = Drain(
    "hash", HashTick, done_count="hashed", failed_event="hash_failed", failed_level=logging.WARNING
)


def hash_stage(t: TickContext) -> None:
    run_drain(t, HASH)


# --- metadata ------------------------------------------------------------------------------


def reader(ctx: AppContext) -> Any:
    """This process's exiftool reader, started on first use (closed with the context)."""
    if ctx.metadata_reader is None:
        ctx.metadata_reader = open_reader()
    return ctx.metadata_reader


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


class MetadataTick(RowRun):
    prefix = "meta"

    def __init__(self, t: TickContext) -> None:
        super().__init__(t)
        self.total, self.chunk = t.app.settings.metadata_batch_per_tick, WRITE_CHUNK
        self.read = reader(t.app)

    def claim(self, conn: Connection, limit: int) -> list[RowMapping]:
        return repo.meta_batch(conn, self.t.library.id, self.t.now, limit)

    def work(self, items: Sequence[RowMapping]) -> list[MediaMetadata | MetadataError]:
        """Only files confined to the root reach the readers, by their real path."""
        root = self.t.library.root
        out: list[MediaMetadata | MetadataError | None] = []
        paths = []
        for r in items:
            try:
                paths.append((open_file_inside(root, r["rel_path"]), FORMATS[r["format"]]))
                out.append(None)
            except OutsideRoot as exc:
                out.append(MetadataError(exc.refusal, permanent=False))
            except NotFound as exc:
                out.append(MetadataError(exc.message, permanent=False))
        read = iter(read_guarded(self.read, paths) if paths else [])
        return [next(read) if r is None else r for r in out]

    def outcome(self, item: RowMapping, result: MediaMetadata | MetadataError) -> Outcome:
        if isinstance(result, MetadataError):
            reason = result.reason
            return Outcome.failed(reason) if result.permanent else Outcome.retry(reason)
        return Outcome.done()

    def write(
        self,
        conn: Connection,
        item: RowMapping,
        result: MediaMetadata | MetadataError | None,
        outcome: Outcome,
        attempts: int,
    ) -> bool:
        if isinstance(result, MediaMetadata):
            values = metadata_values(result, item)
            values["taken_at_utc"] = sort_instant(
                values["taken_at"],
                values["taken_at_offset_min"],
                values["taken_at_source"],
                repo.zone_of(conn, item["content_hash"]),
            )
            # a date or place the household edited stays on the row (media/overrides.py)
            values = overrides.over_file(conn, item["id"], item["content_hash"], values)
        else:
            values = {"meta_error": outcome.detail}
            if outcome.permanent:
                values.update(meta_status="failed", meta_retry_at=None)
            else:
                values["meta_retry_at"] = self.t.now + backoff(attempts)
        values["meta_attempts"] = attempts
        return self.finish(conn, item, values)

    def pending(self, conn: Connection) -> int:
        return repo.meta_backlog(conn, self.t.library.id)


METADATA = Drain(
    "metadata",
    MetadataTick,
    policy=META_GIVE_UP,
    done_count="described",
    failed_event="metadata_failed",
)


def metadata_stage(t: TickContext) -> None:
    run_drain(t, METADATA)


# --- thumbnails ----------------------------------------------------------------------------


def make_thumbs_for(ctx: AppContext, row: RowMapping) -> Outcome:
    s = ctx.settings
    digest = row["content_hash"]
    try:
        src = open_file_inside(Path(row["root_path"]), row["rel_path"])
    except OutsideRoot as exc:  # a symlink swapped in: nothing is decoded
        return Outcome.retry(exc.refusal)
    except NotFound as exc:  # gone meanwhile: the missing-file scan decides
        return Outcome.retry(exc.message)
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


class ThumbnailTick(HashRun[RowMapping, Outcome]):
    kind = THUMB_KIND
    media_kinds = ("photo", "video")

    def __init__(self, t: TickContext) -> None:
        super().__init__(t)
        self.total, self.chunk = t.app.settings.thumbnail_batch_per_tick, THUMB_CHUNK
        self.made = 0

    def claim(self, conn: Connection, limit: int) -> list[RowMapping]:
        t = self.t
        return claim(conn, self.kind, self.media_kinds, t.now, limit, t.library.id)

    def one(self, item: RowMapping) -> Outcome:
        return make_thumbs_for(self.t.app, item)

    def work(self, items: Sequence[RowMapping]) -> list[Outcome]:
        self.made += len(items)
        return super().work(items)

    def outcome(self, item: RowMapping, result: Outcome) -> Outcome:
        return result

    def pending(self, conn: Connection) -> int:
        t = self.t
        return count_pending(conn, self.kind, self.media_kinds, t.now, t.library.id)

    def close(self) -> None:
        if self.made:
            release_free_memory()  # decoders' freed buffers back to the OS, not in arenas


THUMBNAILS = Drain(
    "thumbnails", ThumbnailTick, done_count="thumbnailed", failed_event="thumbnail_failed"
)


def thumbnail_stage(t: TickContext) -> None:
    run_drain(t, THUMBNAILS)
