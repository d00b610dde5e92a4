"""The places drain of a tick: GPS fixes not geocoded yet, bounded per tick.

Each live, described item with a GPS fix gets its country, first-level region, nearest
populated place and IANA time zone from the offline geocoder (geocode.py), once per content
hash. A chunk is looked up in one vectorised call (tens of thousands of points a second,
so no pool is needed) and written in one short transaction: the answers into `places`, the
state into `artefacts` (kind `places`). A point that is nowhere, (0, 0) or out of range,
is done with no row ("no place"): it is an answer, not a failure. A geocoder error (data
files unreadable, a bug) is retried with backoff and given up at the MAX_ATTEMPTS-th try.
Claiming, recording, give-up and metrics are the kernel runner's (work/drain.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping

from imageserver.media import repo as media_repo
from imageserver.places import geocode, repo
from imageserver.places.geocode import Place
from imageserver.work.drain import Drain, HashRun, when_enabled
from imageserver.work.outcome import GiveUp, Outcome
from imageserver.work.tick import TickContext

log = logging.getLogger("imageserver.places")

MAX_ATTEMPTS = 3
CHUNK = 500

Result = Place | None | Outcome


def place_row(content_hash: str, lat: float, lon: float, p: Place, now: float) -> dict[str, Any]:
    return {
        "content_hash": content_hash,
        "latitude": float(lat),
        "longitude": float(lon),
        "country_code": p.country_code,
        "country": p.country[:100],
        "region": p.region[:200],
        "region_code": p.region_code[:16],
        "place": p.place[:200] if p.place else None,
        "place_km": p.place_km,
        "timezone": p.timezone[:64] if p.timezone else None,
        "created_at": now,
    }


def locate(items: Sequence[RowMapping]) -> list[Result]:
    """The geocoder's answers for a chunk; an error costs the chunk a retry, not the tick."""
    try:
        found: list[Result] = list(
            geocode.lookup_many([r["latitude"] for r in items], [r["longitude"] for r in items])
        )
    except Exception as exc:  # a bug or unreadable data must not stop the other drains
        log.exception("event=places_lookup_crashed size=%d", len(items))
        return [Outcome.retry(f"{type(exc).__name__}: {exc}")] * len(items)
    return found


class PlacesTick(HashRun[RowMapping, Result]):
    kind = repo.PLACES_KIND

    def __init__(self, t: TickContext) -> None:
        super().__init__(t)
        self.total, self.chunk = t.app.settings.places_batch_per_tick, CHUNK
        self.rows: list[dict[str, Any]] = []

    def claim(self, conn: Connection, limit: int) -> list[RowMapping]:
        return self.lease(conn, repo.batch(conn, self.t.library.id, self.t.now, limit))

    def work(self, items: Sequence[RowMapping]) -> list[Result]:
        return locate(items)

    def outcome(self, item: RowMapping, result: Result) -> Outcome:
        if isinstance(result, Outcome):
            return result
        if result is None:
            return Outcome.done("no place")
        if not result.country_code:
            return Outcome.done(f"at sea, zone={result.timezone}")
        return Outcome.done(f"{result.country_code} {result.place or '-'}")

    def write(
        self,
        conn: Connection,
        item: RowMapping,
        result: Result | None,
        outcome: Outcome,
        attempts: int,
    ) -> bool:
        if isinstance(result, Place):
            lat, lon = item["latitude"], item["longitude"]
            self.rows.append(place_row(item["content_hash"], lat, lon, result, self.t.now))
        return super().write(conn, item, result, outcome, attempts)

    def written(self, conn: Connection) -> None:
        rows, self.rows = self.rows, []
        repo.upsert(conn, rows)
        # the zone now known re-sorts these bytes' rows by their instant
        media_repo.refresh_utc(conn, [r["content_hash"] for r in rows])

    def pending(self, conn: Connection) -> int:
        return repo.backlog(conn, self.t.library.id, self.t.now)


PLACES = Drain(
    "places",
    when_enabled(PlacesTick, "places_enabled"),
    policy=GiveUp(MAX_ATTEMPTS),
    done_count="placed",
    failed_event="places_failed",
)

places_stage = PLACES.stage
