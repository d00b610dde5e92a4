"""Plausibility bounds: header garbage is dropped, not displayed.

A broken HEIC can claim 3024x15273920 and a broken video 39:46:06; a reset camera clock
says 1800 or 2099. Such values are removed from the record (kept in `extra["implausible"]`
for whoever investigates) and reported in one structured warning per file, so the page
shows "unknown" and the date falls back to the file name or file time.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from imageserver.media.metadata.dates import EARLIEST, FUTURE_SLACK
from imageserver.media.metadata.record import MediaMetadata

log = logging.getLogger("imageserver.metadata")

MAX_SIDE = 100_000  # pixels on a side (the largest real panoramas are ~ 60 000 wide)
MAX_AREA = 2_000_000_000  # pixels in all (2 gigapixels)
# seconds: a day. Phones and cameras split recordings long before that (FAT32's 4 GB,
# ~30 min at 1080p); a broken header claiming 39:46:06 must not reach the page.
MAX_DURATION = 24 * 3600.0


def implausible(meta: MediaMetadata, *, now: datetime | None = None) -> dict[str, Any]:
    """The fields of `meta` that fail the bounds, with their values (nothing changed)."""
    bad: dict[str, Any] = {}
    width, height = meta.width, meta.height
    if (
        width is not None
        and height is not None
        and (max(width, height) > MAX_SIDE or width * height > MAX_AREA)
    ):
        bad["width"], bad["height"] = width, height
    if meta.duration is not None and meta.duration > MAX_DURATION:
        bad["duration"] = meta.duration
    if meta.taken_at is not None:
        latest = (now or datetime.now()) + FUTURE_SLACK
        if not EARLIEST <= meta.taken_at <= latest:
            bad["taken_at"] = meta.taken_at.isoformat()
            bad["taken_at_source"] = meta.taken_at_source
    return bad


def drop_implausible(
    meta: MediaMetadata, path: str, *, now: datetime | None = None
) -> MediaMetadata:
    """`meta` without implausible values; one warning line names what was dropped."""
    bad = implausible(meta, now=now)
    if not bad:
        return meta
    for name in bad:
        setattr(meta, name, None)
    if "taken_at" in bad:
        meta.taken_at_offset_min = None
    meta.extra["implausible"] = bad
    fields = ",".join(k for k in bad if k != "taken_at_source")
    log.warning("event=metadata_implausible path=%r fields=%s values=%r", path, fields, bad)
    return meta
