"""The one seam for time: production uses the wall clock, tests inject a fake."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo

Clock = Callable[[], float]


def system_clock() -> float:
    return time.time()


class FakeClock:
    """A clock a test moves by hand."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def wall_to_utc(
    wall: datetime, offset_min: int | None = None, zone: tzinfo | None = None
) -> datetime:
    """A camera's naive wall-clock time as a naive UTC instant, the key the grid sorts by.

    The offset, in order of trust: the file's own (`offset_min`), the zone at its GPS fix
    (`zone`), else the server's local zone (the zone a file-mtime time was written in). A
    wall time a clock change repeats or skips is read with fold=0, the offset before the
    change, so the photos of that night keep the order of their wall-clock times.
    """
    naive = wall.replace(tzinfo=None)
    if offset_min is not None:
        aware = naive.replace(tzinfo=timezone(timedelta(minutes=offset_min)))
    elif zone is not None:
        aware = naive.replace(tzinfo=zone, fold=0)
    else:
        aware = naive.astimezone()
    return aware.astimezone(UTC).replace(tzinfo=None)
