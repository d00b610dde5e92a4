"""The reader the metadata drain opens: batches files, runs the tools, combines answers.

exiftool (a pool of stay_open processes) reads every file; ffprobe runs beside it for
videos and the calling thread reads plain JPEGs in-process meanwhile. Everything that
turns a tool's answer into MediaMetadata is pure and lives in the sibling modules; this
one only schedules the work and keeps one odd file from failing its batch.
"""

from __future__ import annotations

import logging
import math
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from imageserver.media import probe as ffprobe
from imageserver.media.exiftool import ExifTool, ExifToolFailure, Record
from imageserver.media.formats import Format
from imageserver.media.metadata.dates import date_from_name, taken_at
from imageserver.media.metadata.exif import FAST2_FORMATS, exiftool_options, from_exiftool
from imageserver.media.metadata.jpeg import jpeg_record
from imageserver.media.metadata.motion import with_motion
from imageserver.media.metadata.record import (
    FAST_READER_NAME,
    READER_NAME,
    MediaMetadata,
    MetadataError,
    fit_columns,
)
from imageserver.media.metadata.sanity import drop_implausible
from imageserver.media.metadata.video import merge_video

log = logging.getLogger("imageserver.metadata")


MIN_SHARE = 8  # fewer files than this per process are not worth a second process


class ExifToolReader:
    """exiftool (a pool of stay_open processes) for every file, plus ffprobe for videos.

    `read_many` sends one exiftool request per (format options, process) share of the
    batch; while exiftool works, ffprobe runs beside it and the calling thread reads plain
    JPEGs in-process (`jpeg_record`, unless `fast_jpeg=False`).
    """

    name = READER_NAME

    def __init__(
        self,
        exiftool: ExifTool | None = None,
        *,
        fast_jpeg: bool = True,
        probe_workers: int = 2,
        probe_timeout: float = ffprobe.DEFAULT_TIMEOUT,
        ffprobe_executable: str = "ffprobe",
    ) -> None:
        self._exiftool = exiftool if exiftool is not None else ExifTool()
        self._fast_jpeg = fast_jpeg
        self._probe_timeout = probe_timeout
        self._ffprobe = ffprobe_executable
        self._pool = ThreadPoolExecutor(
            self._exiftool.processes + probe_workers, thread_name_prefix="metadata"
        )
        self._closed = False

    def read_many(self, items: list[tuple[Path, Format]]) -> list[MediaMetadata | MetadataError]:
        """One result per item, in order; never raises for a bad file."""
        if self._closed:
            return [MetadataError("metadata: reader closed", permanent=False) for _ in items]
        probes = {
            i: self._pool.submit(self._probe, path)
            for i, (path, fmt) in enumerate(items)
            if fmt.is_video
        }
        jpegs = [i for i, (_, fmt) in enumerate(items) if fmt.name == "jpeg"]
        others = [i for i, (_, fmt) in enumerate(items) if fmt.name != "jpeg"]
        jobs = self._submit(items, others)  # exiftool starts while Pillow reads the JPEGs
        records: dict[int, Record] = {}
        if self._fast_jpeg:
            for index in jpegs:
                record = jpeg_record(items[index][0])
                if record is not None:
                    records[index] = record
        jobs += self._submit(items, [i for i in jpegs if i not in records])
        fast = set(records)
        for part, future in jobs:
            records.update(zip(part, self._collect(future, len(part)), strict=True))
        undated = [i for i in records if maker_note_may_date(items[i][1].name, records[i])]
        for part, future in self._submit(items, undated, maker_notes=True):
            for index, reread in zip(part, self._collect(future, len(part)), strict=True):
                if not isinstance(reread, ExifToolFailure):
                    records[index] = reread
                    fast.discard(index)
        results: list[MediaMetadata | MetadataError] = []
        for index, (path, fmt) in enumerate(items):
            reader = FAST_READER_NAME if index in fast else READER_NAME
            results.append(self._combine(path, fmt, records[index], probes.get(index), reader))
        return results

    def _submit(
        self, items: list[tuple[Path, Format]], indices: list[int], *, maker_notes: bool = False
    ) -> list[tuple[list[int], Future[list[Record]]]]:
        """exiftool requests: items grouped by options, each group shared by the processes."""
        groups: dict[tuple[str, ...], list[int]] = {}
        for index in indices:
            options = exiftool_options(items[index][1], maker_notes=maker_notes)
            groups.setdefault(options, []).append(index)
        jobs = []
        for options, members in groups.items():
            share = max(MIN_SHARE, math.ceil(len(members) / self._exiftool.processes))
            for start in range(0, len(members), share):
                part = members[start : start + share]
                paths = [items[i][0] for i in part]
                jobs.append((part, self._pool.submit(self._exiftool.read, paths, options)))
        return jobs

    def _collect(self, future: Future[list[Record]], count: int) -> list[Record]:
        try:
            return future.result()
        except Exception as exc:  # an adapter bug must not fail the whole batch
            log.exception("event=exiftool_batch_failed count=%d", count)
            return [ExifToolFailure(f"exiftool: {type(exc).__name__}: {exc}", False)] * count

    def _probe(self, path: Path) -> ffprobe.VideoInfo | MetadataError:
        try:
            return ffprobe.probe(path, timeout=self._probe_timeout, executable=self._ffprobe)
        except ffprobe.ProbeError as exc:
            return MetadataError(exc.reason, permanent=exc.permanent)

    def _combine(
        self,
        path: Path,
        fmt: Format,
        record: Record,
        probed: Future[ffprobe.VideoInfo | MetadataError] | None,
        reader: str,
    ) -> MediaMetadata | MetadataError:
        try:
            if isinstance(record, ExifToolFailure):
                meta: MediaMetadata | MetadataError = MetadataError(
                    record.reason, permanent=record.permanent
                )
            else:
                meta = from_exiftool(record, fmt, reader=reader)
                if isinstance(meta, MediaMetadata) and fmt.name == "jpeg":
                    meta = with_motion(meta, record, path)
            if probed is not None:
                meta = merge_video(meta, probed.result())
            if isinstance(meta, MediaMetadata):
                meta = drop_implausible(meta, str(path))
            if isinstance(meta, MediaMetadata) and meta.taken_at is None:
                named = date_from_name(path.name)
                if named is not None:
                    meta.taken_at, meta.taken_at_source = named
            return fit_columns(meta) if isinstance(meta, MediaMetadata) else meta
        except Exception as exc:  # a parser bug on one odd file must not fail its batch
            log.exception("event=metadata_parse_failed path=%r", str(path))
            return MetadataError(f"metadata: {type(exc).__name__}: {exc}", permanent=False)

    def close(self) -> None:
        self._closed = True
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._exiftool.close()


def maker_note_may_date(format_name: str, record: Record) -> bool:
    """A camera file read without its MakerNote (-fast2) that had no date anywhere else:
    worth a second exiftool read, since some cameras date only there (Reconyx)."""
    return (
        format_name in FAST2_FORMATS
        and isinstance(record, dict)
        and "IFD0:Make" in record
        and taken_at(record) is None
    )


def open_reader() -> ExifToolReader:
    return ExifToolReader()
