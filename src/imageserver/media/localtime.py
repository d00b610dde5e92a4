"""An item's camera time as an instant: which UTC offset its wall-clock `taken_at` had.

In order of trust (the same as places/timezones.py, which the drain-side code uses):
the file's own EXIF offset; the IANA zone at its GPS fix (the places drain's answer, with
zoneinfo's rules for that date, so a trip across zones orders right); else the server's
own zone, which is also the zone a file-mtime `taken_at` was written in (media/mtime.py).
A wall time that a clock change makes ambiguous or skips is read with fold=0, the offset
in force before the change, as places/timezones.py documents.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from imageserver.media.model import LocalTime, MediaItem

EXIF_OFFSET = "exif_offset"
GPS_ZONE = "gps_zone"
SERVER_DEFAULT = "server_default"


def _offset_min(aware: datetime) -> int:
    offset = aware.utcoffset() or timedelta(0)
    return int(offset.total_seconds() // 60)


def resolve(item: MediaItem, gps_zone: str | None) -> LocalTime:
    return resolve_fields(item.taken_at, item.taken_at_offset_min, item.taken_at_source, gps_zone)


def resolve_fields(
    taken_at: datetime, offset_min: int | None, source: str, gps_zone: str | None
) -> LocalTime:
    """The same from a row's columns (the writers of `media.taken_at_utc` have no item)."""
    naive = taken_at.replace(tzinfo=None)
    if offset_min is not None:
        aware = naive.replace(tzinfo=timezone(timedelta(minutes=offset_min)))
        return LocalTime(aware.astimezone(UTC), offset_min, EXIF_OFFSET)
    if gps_zone and source != "file_mtime":
        try:
            aware = naive.replace(tzinfo=ZoneInfo(gps_zone), fold=0)
        except (ZoneInfoNotFoundError, ValueError):
            pass
        else:
            return LocalTime(aware.astimezone(UTC), _offset_min(aware), GPS_ZONE)
    aware = naive.astimezone()  # the server's local zone
    return LocalTime(aware.astimezone(UTC), _offset_min(aware), SERVER_DEFAULT)


def sort_instant(
    taken_at: datetime, offset_min: int | None, source: str, gps_zone: str | None
) -> datetime:
    """`media.taken_at_utc`: the naive UTC instant the grid and its cursors sort by."""
    return resolve_fields(taken_at, offset_min, source, gps_zone).utc.replace(tzinfo=None)
