"""All SQL of the household's edits: the overlay rows (`media_edits`) and their history.

Values cross this module in their API form (edits_service.FIELDS): `taken_at` as
{"local", "offset_min"}, `location` as {"latitude", "longitude"}, the rest as they are.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, insert, select, update

from imageserver.curation.repo import MediaRef, media_ref_columns, to_ref
from imageserver.db.tables import libraries, media, media_edit_history, media_edits, users
from imageserver.work.scope import Scope

FIELDS = ("taken_at", "location", "title", "description", "tags", "rating")
CHUNK = 500


@dataclass
class EditState:
    """One item's edits: field -> value (None: not edited) and who set it, when."""

    values: dict[str, Any] = field(default_factory=lambda: dict.fromkeys(FIELDS))
    who: dict[str, tuple[int | None, float | None]] = field(
        default_factory=lambda: dict.fromkeys(FIELDS, (None, None))
    )

    @property
    def empty(self) -> bool:
        return all(v is None for v in self.values.values())


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    ordered = sorted(set(ids))
    return [ordered[i : i + CHUNK] for i in range(0, len(ordered), CHUNK)]


def visible_ids(conn: Connection, scope: Scope, ids: Sequence[int]) -> set[int]:
    """The subset of `ids` naming live rows of enabled libraries in the caller's scope."""
    found: set[int] = set()
    for part in _chunks(ids):
        query = (
            select(media.c.id)
            .select_from(media.join(libraries, libraries.c.id == media.c.library_id))
            .where(
                media.c.id.in_(part),
                media.c.retired_at.is_(None),
                libraries.c.enabled.is_(True),
                scope.where(media.c.library_id),
            )
        )
        found.update(int(r.id) for r in conn.execute(query))
    return found


def refs(conn: Connection, ids: Sequence[int]) -> list[tuple[int, MediaRef]]:
    """(library id, ref) of these media rows, for recomputing their effective curation."""
    out: list[tuple[int, MediaRef]] = []
    for part in _chunks(ids):
        query = select(media.c.library_id, *media_ref_columns()).where(media.c.id.in_(part))
        out += [(int(r["library_id"]), to_ref(r)) for r in conn.execute(query).mappings()]
    return out


def _state(r: RowMapping) -> EditState:
    state = EditState()
    if r["taken_at"] is not None:
        taken: datetime = r["taken_at"]
        state.values["taken_at"] = {
            "local": taken.replace(tzinfo=None).isoformat(timespec="seconds"),
            "offset_min": r["taken_at_offset_min"],
        }
    if r["latitude"] is not None and r["longitude"] is not None:
        state.values["location"] = {"latitude": r["latitude"], "longitude": r["longitude"]}
    for name in ("title", "description", "rating"):
        state.values[name] = r[name]
    tags = _json(r["tags"])
    state.values["tags"] = list(tags) if isinstance(tags, list) else None
    for name in FIELDS:
        state.who[name] = (r[f"{name}_by"], r[f"{name}_set_at"])
    return state


def states(conn: Connection, ids: Sequence[int]) -> dict[int, EditState]:
    out: dict[int, EditState] = {}
    for part in _chunks(ids):
        query = select(media_edits).where(media_edits.c.media_id.in_(part))
        out.update({int(r["media_id"]): _state(r) for r in conn.execute(query).mappings()})
    return out


def _columns(state: EditState) -> dict[str, Any]:
    v = state.values
    taken, place = v["taken_at"], v["location"]
    out: dict[str, Any] = {
        "taken_at": datetime.fromisoformat(taken["local"]) if taken else None,
        "taken_at_offset_min": taken["offset_min"] if taken else None,
        "latitude": place["latitude"] if place else None,
        "longitude": place["longitude"] if place else None,
        "title": v["title"],
        "description": v["description"],
        "tags": v["tags"],
        "rating": v["rating"],
    }
    for name in FIELDS:
        out[f"{name}_by"], out[f"{name}_set_at"] = state.who[name]
    return out


def save(conn: Connection, media_id: int, state: EditState, now: float) -> None:
    values = {**_columns(state), "updated_at": now}
    found = conn.execute(
        update(media_edits).where(media_edits.c.media_id == media_id).values(**values)
    )
    if not found.rowcount:
        conn.execute(insert(media_edits).values(media_id=media_id, **values))


def drop(conn: Connection, media_id: int) -> None:
    conn.execute(delete(media_edits).where(media_edits.c.media_id == media_id))


def existing_users(conn: Connection, ids: set[int]) -> set[int]:
    if not ids:
        return set()
    query = select(users.c.id).where(users.c.id.in_(sorted(ids)))
    return {int(r.id) for r in conn.execute(query)}


# --- history -------------------------------------------------------------------------------


def add_history(
    conn: Connection,
    media_id: int,
    user_id: int,
    before: dict[str, Any],
    after: dict[str, Any],
    now: float,
) -> None:
    conn.execute(
        insert(media_edit_history).values(
            media_id=media_id, user_id=user_id, at=now, before=before, after=after
        )
    )


@dataclass(frozen=True)
class HistoryRow:
    id: int
    at: float
    user_id: int | None
    username: str | None
    before: dict[str, Any]
    after: dict[str, Any]
    undone_at: float | None


def _history_query(media_id: int) -> Any:
    return (
        select(media_edit_history, users.c.username)
        .select_from(
            media_edit_history.outerjoin(users, users.c.id == media_edit_history.c.user_id)
        )
        .where(media_edit_history.c.media_id == media_id)
        .order_by(media_edit_history.c.id.desc())
    )


def _row(r: RowMapping) -> HistoryRow:
    return HistoryRow(
        id=int(r["id"]),
        at=float(r["at"]),
        user_id=r["user_id"],
        username=r["username"],
        before=dict(_json(r["before"]) or {}),
        after=dict(_json(r["after"]) or {}),
        undone_at=r["undone_at"],
    )


def history(conn: Connection, media_id: int, limit: int) -> list[HistoryRow]:
    """Newest first."""
    return [_row(r) for r in conn.execute(_history_query(media_id).limit(limit)).mappings()]


def last_undoable(conn: Connection, media_id: int) -> HistoryRow | None:
    query = _history_query(media_id).where(media_edit_history.c.undone_at.is_(None)).limit(1)
    row = conn.execute(query).mappings().first()
    return _row(row) if row is not None else None


def mark_undone(conn: Connection, history_id: int, user_id: int, now: float) -> None:
    conn.execute(
        update(media_edit_history)
        .where(media_edit_history.c.id == history_id)
        .values(undone_at=now, undone_by=user_id)
    )


# --- the edit layer of the precedence ------------------------------------------------------


def edit_of(conn: Connection, media_id: int) -> EditState | None:
    row = (
        conn.execute(select(media_edits).where(media_edits.c.media_id == media_id))
        .mappings()
        .first()
    )
    return _state(row) if row is not None else None


def edited_since(conn: Connection, library_id: int, since: float | None) -> list[int]:
    """Media ids of a library whose edits changed at or after `since` (all: None)."""
    query = (
        select(media_edits.c.media_id)
        .select_from(media_edits.join(media, media.c.id == media_edits.c.media_id))
        .where(media.c.library_id == library_id, media.c.retired_at.is_(None))
    )
    if since is not None:
        query = query.where(media_edits.c.updated_at >= since)
    return [int(r[0]) for r in conn.execute(query)]
