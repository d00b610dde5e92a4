"""The rules of the household's edits: change, history, undo.

Edits are shared per household, not per user: a family curates one collection, and
per-user values would show two people different dates (and different places on the
map, different grid order) for the same photo. Who set each field and when is kept, and
every change goes into the history, so a mistake is visible and can be walked back.

A value sets a field, None clears the edit (the sidecar's, embedded or file value shows
again), a field left out of a change is untouched. Every id must be visible to the
caller, else the whole change is a NotFound (the same as an id that does not exist) and
nothing is written. After a change the item's effective curation is recomputed
(curation/service.py, source "edit" on top), which puts an edited date or place on the
media row (media/overrides.py), so the item moves in the grid, the timeline and the map.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from imageserver.curation import edits_repo as repo
from imageserver.curation import service
from imageserver.curation.edits_repo import FIELDS, EditState, HistoryRow
from imageserver.errors import Conflict, Invalid, NotFound
from imageserver.work.scope import Scope

HISTORY_LIMIT = 500


def require_visible(conn: Connection, scope: Scope, ids: Sequence[int]) -> None:
    if repo.visible_ids(conn, scope, ids) != set(ids):
        raise NotFound("media not found")


def _write(
    conn: Connection,
    media_id: int,
    state: EditState,
    diff: dict[str, Any],
    who: dict[str, tuple[int | None, float | None]],
    now: float,
) -> None:
    new = EditState(values={**state.values, **diff}, who={**state.who, **who})
    repo.save(conn, media_id, new, now)
    if new.empty:
        repo.drop(conn, media_id)


def change(
    conn: Connection,
    scope: Scope,
    user_id: int,
    ids: Sequence[int],
    changes: dict[str, Any],
    now: float,
) -> int:
    """Apply `changes` (field -> value, None clears) to every id; how many items changed."""
    unknown = set(changes) - set(FIELDS)
    if unknown or not changes:
        raise Invalid("nothing to change" if not changes else f"unknown fields {sorted(unknown)}")
    ids = list(dict.fromkeys(ids))
    require_visible(conn, scope, ids)
    current = repo.states(conn, ids)
    changed: list[int] = []
    for media_id in ids:
        state = current.get(media_id) or EditState()
        diff = {f: v for f, v in changes.items() if state.values[f] != v}
        if not diff:
            continue
        before = {
            f: {"value": state.values[f], "by": state.who[f][0], "at": state.who[f][1]}
            for f in diff
        }
        who: dict[str, tuple[int | None, float | None]] = {
            f: (user_id, now) if v is not None else (None, None) for f, v in diff.items()
        }
        _write(conn, media_id, state, diff, who, now)
        repo.add_history(conn, media_id, user_id, before, diff, now)
        changed.append(media_id)
    service.refresh_ids(conn, changed, now)
    return len(changed)


def history(conn: Connection, scope: Scope, media_id: int) -> list[HistoryRow]:
    require_visible(conn, scope, [media_id])
    return repo.history(conn, media_id, HISTORY_LIMIT)


def undo(conn: Connection, scope: Scope, user_id: int, media_id: int, now: float) -> HistoryRow:
    """Revert the newest change not undone yet (its fields back to their values before,
    with who had set them); Conflict when nothing is left to undo."""
    require_visible(conn, scope, [media_id])
    entry = repo.last_undoable(conn, media_id)
    if entry is None:
        raise Conflict("nothing to undo")
    state = repo.states(conn, [media_id]).get(media_id) or EditState()
    before = {f: v for f, v in entry.before.items() if f in FIELDS}
    alive = repo.existing_users(conn, {int(v["by"]) for v in before.values() if v.get("by")})
    diff = {f: v.get("value") for f, v in before.items()}
    who: dict[str, tuple[int | None, float | None]] = {}
    for f, v in before.items():
        by = v.get("by") if v.get("by") in alive else None
        who[f] = (by, v.get("at")) if v.get("value") is not None else (None, None)
    _write(conn, media_id, state, diff, who, now)
    repo.mark_undone(conn, entry.id, user_id, now)
    service.refresh_ids(conn, [media_id], now)
    return entry
