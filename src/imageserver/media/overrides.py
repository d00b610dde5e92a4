"""A date or place the household edited, shown on the media row itself.

The grid sorts by `media.taken_at_utc`, the timeline buckets by `media.taken_at` and the
map reads `media.latitude/longitude`: for an edited item to move there, the edit must be
on the row, not only in the curation tables. So while a date or place edit is in force
the row holds the edited value (`taken_at_source` "edit") and `media_edits.file_values`
keeps the file's own values:

- `show` (called by curation's edits service after each change) writes the edit onto the
  row, or the file's values back once the edit is cleared;
- `over_file` (called by the metadata drain when it reads a file again) keeps what the
  file now says as the base and shows the edit on top, so an edit survives a rescan.

Invariant: `file_values` is set exactly while a date or place edit is on the row; when it
is NULL the row's values are the file's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from imageserver.db.tables import media, media_edits
from imageserver.media.localtime import sort_instant
from imageserver.media.repo import zone_of
from imageserver.work import artefacts

EDIT_SOURCE = "edit"
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
    """The edited date (wall clock, offset if stated) and place; None: not edited."""

    taken_at: datetime | None = None
    offset_min: int | None = None
    latitude: float | None = None
    longitude: float | None = None

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


def overlay(
    base: dict[str, Any], edit: Override, content_hash: str | None, conn: Connection
) -> dict[str, Any]:
    """The row's values: the file's (`base`) with the edit on top, and the sort instant."""
    values = dict(base)
    if edit.taken_at is not None:
        values.update(
            taken_at=edit.taken_at, taken_at_offset_min=edit.offset_min, taken_at_source=EDIT_SOURCE
        )
    if edit.latitude is not None:
        values.update(latitude=edit.latitude, longitude=edit.longitude, altitude=None)
    values["taken_at_utc"] = sort_instant(
        values["taken_at"],
        values["taken_at_offset_min"],
        values["taken_at_source"],
        zone_of(conn, content_hash),
    )
    return values


def show(conn: Connection, media_id: int, edit: Override) -> None:
    """Put the edit (or, without one, the file's own values) on the media row. The item's
    `media_edits` row must exist while an edit is in force."""
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
    stored = conn.execute(
        select(media_edits.c.file_values).where(media_edits.c.media_id == media_id)
    ).scalar()
    base = _from_json(stored) or {f: row[f] for f in FILE_FIELDS}
    values = overlay(base, edit, row["content_hash"], conn)
    moved = (values["latitude"], values["longitude"]) != (row["latitude"], row["longitude"])
    conn.execute(update(media).where(media.c.id == media_id).values(**values))
    conn.execute(
        update(media_edits)
        .where(media_edits.c.media_id == media_id)
        .values(file_values=_to_json(base) if edit.any else None)
    )
    if moved and row["content_hash"] is not None:
        # the places drain names the new fix (it geocodes one row per hash)
        artefacts.forget(conn, row["content_hash"], artefacts.PLACES_KIND)


def edit_of(conn: Connection, media_id: int) -> Override:
    row = conn.execute(
        select(
            media_edits.c.taken_at,
            media_edits.c.taken_at_offset_min,
            media_edits.c.latitude,
            media_edits.c.longitude,
        ).where(media_edits.c.media_id == media_id)
    ).first()
    if row is None:
        return Override()
    return Override(row.taken_at, row.taken_at_offset_min, row.latitude, row.longitude)


def over_file(
    conn: Connection, media_id: int, content_hash: str | None, values: dict[str, Any]
) -> dict[str, Any]:
    """The metadata drain's values for a row, with the household's edit on top (the file's
    own kept as the base the edit is cleared back to)."""
    edit = edit_of(conn, media_id)
    if not edit.any:
        return values
    base = {f: values.get(f) for f in FILE_FIELDS}
    conn.execute(
        update(media_edits)
        .where(media_edits.c.media_id == media_id)
        .values(file_values=_to_json(base))
    )
    return {**values, **overlay(base, edit, content_hash, conn)}
