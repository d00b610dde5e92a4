"""Reading curation off disk: exiftool for XMP (sidecars and embedded), json for Takeout.

exiftool runs through media/exiftool.py (stay_open processes started by proc.py), one
process per sync that has something to read, closed afterwards: a tick with no new or
changed sidecar starts nothing. Files are opened only through open_file_inside (no
symlink out of the root) and only read.
"""

from __future__ import annotations

import logging
from contextlib import closing
from pathlib import Path

from imageserver.curation import takeout, xmp
from imageserver.curation.fields import Fields
from imageserver.curation.names import TAKEOUT
from imageserver.errors import ImageServerError
from imageserver.media.exiftool import ExifTool, ExifToolFailure
from imageserver.media.paths import open_file_inside

log = logging.getLogger("imageserver.curation")


def read_xmp(root: Path, rels: list[str], *, dates: bool = True) -> dict[str, Fields | None]:
    """rel -> Fields, or None when the file could not be read (gone, outside, broken)."""
    out: dict[str, Fields | None] = {}
    paths: list[tuple[str, Path]] = []
    for rel in rels:
        try:
            paths.append((rel, open_file_inside(root, rel)))
        except ImageServerError as exc:
            log.info("event=curation_unreadable path=%r error=%s", rel, exc)
            out[rel] = None
    if not paths:
        return out
    with closing(ExifTool()) as tool:
        records = tool.read([p for _, p in paths], xmp.TAG_OPTIONS)
    for (rel, _), record in zip(paths, records, strict=True):
        if isinstance(record, ExifToolFailure):
            log.info("event=curation_read_failed path=%r reason=%s", rel, record.reason)
            out[rel] = None
        else:
            out[rel] = xmp.from_record(record, dates=dates)
    return out


def read_takeout(root: Path, rel: str) -> Fields | None:
    try:
        path = open_file_inside(root, rel)
        with path.open("rb") as fh:
            raw = fh.read(takeout.MAX_BYTES + 1)
        return takeout.parse(raw)
    except (ImageServerError, OSError, takeout.NotTakeout) as exc:
        log.info("event=curation_takeout_skipped path=%r reason=%s", rel, exc)
        return None


def read_sidecars(root: Path, sidecars: list[tuple[str, str]]) -> dict[str, Fields | None]:
    """(rel, kind) -> Fields; XMP files in one exiftool request."""
    out = {rel: read_takeout(root, rel) for rel, kind in sidecars if kind == TAKEOUT}
    out.update(read_xmp(root, [rel for rel, kind in sidecars if kind != TAKEOUT]))
    return out
