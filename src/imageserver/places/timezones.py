"""Local wall-clock times (EXIF DateTimeOriginal has no zone) turned into UTC instants.

The offset of a photo's time comes from, in order of trust:

1. `exif_offset`: the file states it (EXIF OffsetTimeOriginal and friends, already parsed by
   media.metadata into `taken_at_offset_min`); used as is.
2. `gps_zone`: the file has GPS: the IANA zone at that point (timezonefinder's offline
   boundaries) and zoneinfo's rules for that date, so summer time, Arizona's lack of it
   and Lord Howe's half-hour shift all come out right for a trip across zones.
3. `server_default`: the server's configured zone (or UTC), the best guess left.

Times that a zone's clock change makes ambiguous or impossible (read as the camera's clock,
which the photographer may or may not have moved):

- ambiguous (the repeated hour when clocks go back): the *first* occurrence, i.e. the
  offset before the change (PEP 495 `fold=0`), flagged `ambiguous`;
- non-existent (the skipped hour when clocks go forward): read with the offset in force
  *before* the jump (`fold=0`, what zoneinfo does), so 02:30 on a spring-forward night in
  New York is 07:30 UTC (03:30 EDT), flagged `nonexistent`. Either way the order of the
  photos of that night stays the order of their wall-clock times.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from imageserver.places.borders import timezone_at
from imageserver.places.geo import valid_point


class OffsetSource(enum.StrEnum):
    EXIF_OFFSET = "exif_offset"
    GPS_ZONE = "gps_zone"
    SERVER_DEFAULT = "server_default"


@dataclass(frozen=True, slots=True)
class ResolvedTime:
    utc: datetime  # aware, UTC
    offset_min: int  # minutes east of UTC that the wall clock was at
    source: OffsetSource
    zone: str | None  # IANA name when a zone gave the offset
    ambiguous: bool = False  # wall time occurred twice (fall back): first one taken
    nonexistent: bool = False  # wall time skipped (spring forward): earlier offset taken

    @property
    def local(self) -> datetime:
        """The wall-clock time again, aware with its offset."""
        return self.utc.astimezone(_fixed(self.offset_min))


@lru_cache(maxsize=512)
def zone_info(name: str) -> ZoneInfo | None:
    """A ZoneInfo for an IANA name, None when this system's tzdata does not know it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _fixed(offset_min: int) -> tzinfo:
    from datetime import timezone

    return timezone(timedelta(minutes=offset_min))


def localize(wall: datetime, zone: ZoneInfo) -> tuple[datetime, bool, bool]:
    """(aware time, ambiguous, nonexistent) for a naive wall-clock time in a zone, with the
    fold=0 choice documented above."""
    naive = wall.replace(tzinfo=None)
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    off0, off1 = first.utcoffset(), second.utcoffset()
    if off0 == off1:
        return first, False, False
    # Offsets differ: either the hour repeats (round trip works for both) or it is skipped
    # (neither survives a round trip through UTC).
    back = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if back == naive:
        return first, True, False
    return first, False, True


def resolve_local_time(
    wall: datetime,
    *,
    exif_offset_min: int | None = None,
    lat: float | None = None,
    lon: float | None = None,
    default_zone: str | None = None,
) -> ResolvedTime:
    """The UTC instant of a camera wall-clock time, and where its offset came from.

    `wall` is naive (or its tzinfo is ignored: EXIF stores no zone in the time itself).
    `default_zone` is the server's zone name (None or unknown: UTC)."""
    naive = wall.replace(tzinfo=None)
    if exif_offset_min is not None:
        aware = naive.replace(tzinfo=_fixed(exif_offset_min))
        return ResolvedTime(aware.astimezone(UTC), exif_offset_min, OffsetSource.EXIF_OFFSET, None)
    if lat is not None and lon is not None:
        la, lo = float(lat), float(lon)
        if not (math.isnan(la) or math.isnan(lo)) and valid_point(la, lo):
            name = timezone_at(la, lo)
            zone = zone_info(name) if name else None
            if name and zone is not None:
                return _in_zone(naive, zone, name, OffsetSource.GPS_ZONE)
    zone = zone_info(default_zone) if default_zone else None
    if default_zone and zone is not None:
        return _in_zone(naive, zone, default_zone, OffsetSource.SERVER_DEFAULT)
    return ResolvedTime(naive.replace(tzinfo=UTC), 0, OffsetSource.SERVER_DEFAULT, "UTC")


def _in_zone(naive: datetime, zone: ZoneInfo, name: str, source: OffsetSource) -> ResolvedTime:
    aware, ambiguous, nonexistent = localize(naive, zone)
    offset = aware.utcoffset() or timedelta(0)
    return ResolvedTime(
        aware.astimezone(UTC),
        int(offset.total_seconds() // 60),
        source,
        name,
        ambiguous=ambiguous,
        nonexistent=nonexistent,
    )
