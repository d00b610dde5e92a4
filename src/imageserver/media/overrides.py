"""A curated date or place (the household's edit, an XMP sidecar, Google Takeout JSON)
shown on the media row itself.

The grid sorts by `media.taken_at_utc`, the timeline buckets by `media.taken_at` and the
map reads `media.latitude/longitude`: for a curated date to move an item there (a Takeout
photo whose file holds only the download date, an edited date), it must be on the row,
not only in the curation tables. curation/service.py decides which date and place win
(curation/precedence.py) and stores them in `curation_items`; while one of them is not
the file's own, the row holds it (`taken_at_source` "edit", "xmp" or "takeout") and
`curation_items.file_values` keeps the file's own values:

- `show` (called by curation's service after each recomputation) writes the curated
  values onto the row, or the file's values back once nothing curated wins;
- `over_file` (called by the metadata drain when it reads a file again) keeps what the
  file now says as the base and shows the curated values on top, so they survive a rescan.

Invariant: `file_values` is set exactly while a curated date or place is on the row; when
it is NULL the row's values are the file's.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, select, update

from imageserver.db.tables import curation_items, media
from imageserver.media.localtime import sort_instant
from imageserver.media.repo import zone_of
from imageserver.work import artefacts

EDIT_SOURCE = "edit"
TAKEOUT_SOURCE = "takeout"
CURATED_SOURCES = frozenset({EDIT_SOURCE, "xmp", TAKEOUT_SOURCE})
FILE_FIELDS = (
    "taken_at",
    "taken_at_offset_min",
    "taken_at_source",
    "latitude",
    "longitude",
    "altitude",
)


@dataclass(frozen=True)
class Override:
    """The curated date (wall clock, offset if stated) and place; None: the file's shows.

    `date_source` becomes the row's `taken_at_source`. A Takeout date is an instant
    without its zone that only fills in for a file with no date of its own, so it is
    shown only while the file's base has none (`taken_at_source` "file_mtime")."""

    taken_at: datetime | None = None
    offset_min: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    date_source: str = EDIT_SOURCE

    @property
    def any(self) -> bool:
        return self.taken_at is not None or self.latitude is not None


def _to_json(values: dict[str, Any]) -> dict[str, Any]:
    out = dict(values)
    taken = out.get("taken_at")
    out["taken_at"] = taken.isoformat() if isinstance(taken, datetime) else taken
    return out


def _from_json(value: Any) -> dict[str, Any] | None:
    if isinstance(value, str):  # some drivers hand JSON back as text
        value = json.loads(value)
    if not isinstance(value, dict):
        return None
    out = dict(value)
    taken = out.get("taken_at")
    out["taken_at"] = datetime.fromisoformat(taken) if isinstance(taken, str) else taken
    return out


def _local(instant_utc: datetime, zone: str | None) -> tuple[datetime, int]:
    """A Takeout instant as the wall clock where it was taken (the GPS zone when the places
    drain knows it, else the server's zone, as for a file time)."""
    aware = instant_utc.replace(tzinfo=UTC)
    local = aware.astimezone()
    if zone:
        with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
            local = aware.astimezone(ZoneInfo(zone))
    offset = local.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    return local.replace(tzinfo=None), minutes


def shows_date(edit: Override, base: dict[str, Any]) -> bool:
    if edit.taken_at is None:
        return False
    return edit.date_source != TAKEOUT_SOURCE or base.get("taken_at_source") in (
        None,
        "file_mtime",
    )


def overlay(
    base: dict[str, Any], edit: Override, content_hash: str | None, conn: Connection
) -> dict[str, Any]:
    """The row's values: the file's (`base`) with the curated ones on top, and the sort
    instant."""
    values = dict(base)
    zone = zone_of(conn, content_hash)
    if shows_date(edit, base):
        assert edit.taken_at is not None
        taken, offset = edit.taken_at, edit.offset_min
        if edit.date_source == TAKEOUT_SOURCE:
            taken, offset = _local(edit.taken_at, zone)
        values.update(taken_at=taken, taken_at_offset_min=offset, taken_at_source=edit.date_source)
    if edit.latitude is not None:
        values.update(latitude=edit.latitude, longitude=edit.longitude, altitude=None)
    if values.get("taken_at") is not None:
        values["taken_at_utc"] = sort_instant(
            values["taken_at"], values["taken_at_offset_min"], values["taken_at_source"], zone
        )
    return values


def base_of(conn: Connection, media_id: int) -> dict[str, Any] | None:
    """The file's own date and GPS kept while curated values show (None: the row's are)."""
    stored = conn.execute(
        select(curation_items.c.file_values).where(curation_items.c.media_id == media_id)
    ).scalar()
    return _from_json(stored)


def file_has_date(conn: Connection, media_id: int, row_says: bool) -> bool:
    """Whether the file itself has a date (not its mtime): the base's when curated values
    are on the row, else what the row says."""
    base = base_of(conn, media_id)
    return row_says if base is None else base.get("taken_at_source") not in (None, "file_mtime")


def show(conn: Connection, media_id: int, edit: Override) -> None:
    """Put the curated values (or, without any, the file's own) on the media row. The
    item's `curation_items` row must exist."""
    row = (
        conn.execute(
            select(media.c.content_hash, *[media.c[f] for f in FILE_FIELDS]).where(
                media.c.id == media_id
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return
    stored = base_of(conn, media_id)
    if stored is None and not edit.any:
        return  # the row shows the file's values already
    base = stored or {f: row[f] for f in FILE_FIELDS}
    values = overlay(base, edit, row["content_hash"], conn)
    moved = (values["latitude"], values["longitude"]) != (row["latitude"], row["longitude"])
    conn.execute(update(media).where(media.c.id == media_id).values(**values))
    conn.execute(
        update(curation_items)
        .where(curation_items.c.media_id == media_id)
        .values(file_values=_to_json(base) if edit.any else None)
    )
    if moved and row["content_hash"] is not None:
        # the places drain names the new fix (it geocodes one row per hash)
        artefacts.forget(conn, row["content_hash"], artefacts.PLACES_KIND)


def curated_of(conn: Connection, media_id: int) -> Override:
    """The curated date and place in force for a row (curation/service.py stored them)."""
    row = conn.execute(
        select(
            curation_items.c.taken_at,
            curation_items.c.taken_at_offset_min,
            curation_items.c.latitude,
            curation_items.c.longitude,
            curation_items.c.sources,
        ).where(curation_items.c.media_id == media_id)
    ).first()
    if row is None:
        return Override()
    sources = row.sources if isinstance(row.sources, dict) else json.loads(row.sources or "{}")
    return Override(
        row.taken_at,
        row.taken_at_offset_min,
        row.latitude,
        row.longitude,
        source_label(str(sources.get("taken_at", ""))),
    )


def source_label(source: str) -> str:
    """The row's `taken_at_source` for a curation source ("edit", "sidecar:<path>")."""
    if source == EDIT_SOURCE:
        return EDIT_SOURCE
    return TAKEOUT_SOURCE if source.lower().endswith(".json") else "xmp"


def over_file(
    conn: Connection, media_id: int, content_hash: str | None, values: dict[str, Any]
) -> dict[str, Any]:
    """The metadata drain's values for a row, with the curated date and place on top (the
    file's own kept as the base they are cleared back to)."""
    edit = curated_of(conn, media_id)
    if not edit.any:
        return values
    base = {f: values.get(f) for f in FILE_FIELDS}
    conn.execute(
        update(curation_items)
        .where(curation_items.c.media_id == media_id)
        .values(file_values=_to_json(base))
    )
    return {**values, **overlay(base, edit, content_hash, conn)}
