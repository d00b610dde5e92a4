"""All SQL of places: the drain's backlog and writes, and the scoped reads of the API.

The places drain keeps its state in the `artefacts` table (kind `places`, keyed by content
hash: the GPS fix is in the file's bytes) and its answers in `places`. Every read the API
makes takes the caller's `Scope` and applies it in SQL to `media.library_id`; items are
counted as the grid lists them (live rows of enabled libraries, companions folded in), so
a place's count is what `/media?place=` shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    RowMapping,
    and_,
    cast,
    func,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from imageserver.db.tables import libraries, media, places
from imageserver.work import artefacts
from imageserver.work import backlog as kernel_backlog
from imageserver.work.scope import Scope

PLACES_KIND = artefacts.PLACES_KIND

WITH_LIBRARY = media.join(libraries, libraries.c.id == media.c.library_id)
WITH_PLACE = WITH_LIBRARY.join(places, places.c.content_hash == media.c.content_hash)


def has_fix() -> list[ColumnElement[bool]]:
    """A live, described row with a GPS fix (the drain's input)."""
    return [
        media.c.retired_at.is_(None),
        media.c.content_hash.is_not(None),
        media.c.meta_status == "ok",
        media.c.latitude.is_not(None),
        media.c.longitude.is_not(None),
    ]


# --- the drain -----------------------------------------------------------------------------


def batch(conn: Connection, library_id: int, now: float, limit: int) -> list[RowMapping]:
    """One representative row per hash of the library whose fix is not geocoded yet."""
    where = [
        *has_fix(),
        media.c.library_id == library_id,
        libraries.c.enabled.is_(True),
        artefacts.not_settled(PLACES_KIND, now),
    ]
    columns = [
        media.c.id,
        media.c.content_hash,
        media.c.rel_path,
        media.c.latitude,
        media.c.longitude,
    ]
    return kernel_backlog.one_per_hash(conn, columns, where, limit)


def backlog(conn: Connection, library_id: int, now: float) -> int:
    where = [*has_fix(), media.c.library_id == library_id]
    return kernel_backlog.distinct_hashes(conn, [*where, artefacts.not_settled(PLACES_KIND, now)])


def upsert(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Write the chunk's answers (a re-geocoded hash, after `forget`, replaces its row)."""
    if not rows:
        return
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(places).values(list(rows))
    stmt = stmt.on_conflict_do_update(
        index_elements=[places.c.content_hash],
        set_={c.name: stmt.excluded[c.name] for c in places.c if c.name != "content_hash"},
    )
    conn.execute(stmt)


# --- scoped reads --------------------------------------------------------------------------


def listed(scope: Scope) -> list[ColumnElement[bool]]:
    """The rows the grid lists for this caller (media/query.py's `listed`, unfiltered)."""
    return [
        media.c.retired_at.is_(None),
        libraries.c.enabled.is_(True),
        media.c.companion_id.is_(None),
        scope.where(media.c.library_id),
    ]


def place_counts(conn: Connection, scope: Scope) -> list[RowMapping]:
    """(country_code, country, region, region_code, place, count, cover) per place in
    scope; `cover` is the newest item's id. At sea (country_code "") is left out."""
    query = (
        select(
            places.c.country_code,
            places.c.country,
            places.c.region,
            places.c.region_code,
            places.c.place,
            func.count().label("count"),
            func.max(media.c.id).label("cover"),
        )
        .select_from(WITH_PLACE)
        .where(*listed(scope), places.c.country_code != "")
        .group_by(
            places.c.country_code,
            places.c.country,
            places.c.region,
            places.c.region_code,
            places.c.place,
        )
    )
    return list(conn.execute(query).mappings())


def place_of(conn: Connection, scope: Scope, media_id: int) -> RowMapping | None:
    """The place row of one item in scope (None: out of scope, or not geocoded)."""
    query = (
        select(places, media.c.taken_at, media.c.taken_at_offset_min, media.c.taken_at_source)
        .select_from(WITH_PLACE)
        .where(
            media.c.id == media_id, media.c.retired_at.is_(None), scope.where(media.c.library_id)
        )
    )
    return conn.execute(query).mappings().first()


def clusters(
    conn: Connection,
    scope: Scope,
    south: float,
    west: float,
    north: float,
    east: float,
    cell: float,
    limit: int,
) -> list[RowMapping]:
    """Grid clustering in SQL: items in the box bucketed into `cell`-degree squares
    (integer cell numbers from lat + 90 and lon + 180, never negative, so CAST truncating
    is floor on both databases); per cell its count, mean position and newest item.
    A box with west > east crosses the antimeridian."""
    lat, lon = media.c.latitude, media.c.longitude
    in_lon = lon.between(west, east) if west <= east else or_(lon >= west, lon <= east)
    cx = cast((lon + 180.0) / cell, Integer).label("cx")
    cy = cast((lat + 90.0) / cell, Integer).label("cy")
    inner = (
        select(media.c.id, lat.label("lat"), lon.label("lon"), cx, cy)
        .select_from(WITH_LIBRARY)
        .where(
            *listed(scope),
            lat.between(south, north),
            in_lon,
            ~and_(lat == 0.0, lon == 0.0),  # "no fix" as some cameras write it
        )
        .subquery()
    )
    query = (
        select(
            func.count().label("count"),
            func.avg(inner.c.lat).label("lat"),
            func.avg(inner.c.lon).label("lon"),
            func.min(inner.c.lat).label("south"),
            func.max(inner.c.lat).label("north"),
            func.min(inner.c.lon).label("west"),
            func.max(inner.c.lon).label("east"),
            func.max(inner.c.id).label("media_id"),
        )
        .group_by(inner.c.cx, inner.c.cy)
        .order_by(func.count().desc())
        .limit(limit)
    )
    return list(conn.execute(query).mappings())
