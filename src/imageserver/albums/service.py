"""Rules of favorites, archive, albums and memories.

Visibility rule of albums (the one decision this feature makes about access): an album
grants NOTHING. Whoever looks at an album (its owner, an editor, a viewer) sees exactly
the album's items that lie in libraries their own `Scope` covers; the rest of the album
is invisible to them (not counted, not a cover, not in the date range), exactly as if it
were not there. Sharing an album with a household member therefore never widens what
they can see: the library grants stay the only source of access, and a revoked grant
hides the items from every album on the next request. Only a public share link (shares.py)
hands items to someone without a grant, and it hands out exactly its items, seen through
its creator's current scope.

Roles: the owner does everything; an editor renames, re-covers, re-sorts and adds or
removes (visible) items; a viewer only looks. Members are the owner's business. An album
nobody may reach is "album not found", identical to an id that does not exist; a member
who may see it but not change it gets 403.

Favorites and archive are per user and per item. Marking an id outside the caller's scope
is "media not found", the same answer as an id that does not exist; bulk forms are all or
nothing, so they cannot be used to learn which of many ids exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, RowMapping

from imageserver.albums import repo
from imageserver.errors import Forbidden, Invalid, NotFound
from imageserver.media import service as media_service
from imageserver.media.model import MediaItem
from imageserver.media.paths import clean_rel_path
from imageserver.work.scope import Scope

RANK = {"viewer": 1, "editor": 2, "owner": 3}
MEMORY_YEAR_LIMIT = 24
# Shots this close in time are one burst: a memory shows the best-ranked one of them.
BURST_SECONDS = 3.0


# --- marks ---------------------------------------------------------------------------------


def require_visible(conn: Connection, scope: Scope, ids: Sequence[int]) -> None:
    if repo.visible_ids(conn, scope, ids) != set(ids):
        raise NotFound("media not found")


def selection_files(conn: Connection, scope: Scope, ids: Sequence[int]) -> list[tuple[str, Path]]:
    """(name, file) of each selected item, all visible (else NotFound) and resolved inside
    their roots before a byte is streamed; an item whose file is gone is left out, an
    unmounted library is the 503 of the original route."""
    require_visible(conn, scope, ids)
    out = []
    for media_id in dict.fromkeys(ids):
        try:
            found = media_service.original(conn, scope, media_id)
        except (NotFound, Invalid):
            continue
        out.append((found.name, found.path))
    return out


def set_mark(
    conn: Connection,
    scope: Scope,
    user_id: int,
    kind: str,
    ids: Sequence[int],
    value: bool,
    now: float,
) -> int:
    """Set or clear `kind` on every id (all visible, else NotFound); how many changed."""
    require_visible(conn, scope, ids)
    before = repo.marked(conn, kind, user_id, ids)
    if value:
        repo.mark(conn, kind, user_id, ids, now)
        return len(set(ids) - before)
    repo.unmark(conn, kind, user_id, ids)
    return len(before)


# --- albums --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlbumView:
    row: RowMapping
    role: str
    item_count: int
    date_from: datetime | None
    date_to: datetime | None
    cover_media_id: int | None


def role_of(row: RowMapping, user_id: int) -> str:
    return "owner" if int(row["owner_id"]) == user_id else str(row["member_role"])


def reach(conn: Connection, album_id: int, user_id: int, need: str = "viewer") -> RowMapping:
    row = repo.album(conn, album_id, user_id)
    if row is None:
        raise NotFound("album not found")
    if RANK[role_of(row, user_id)] < RANK[need]:
        raise Forbidden(f"this needs the {need} role on the album")
    return row


def view(conn: Connection, row: RowMapping, user_id: int, scope: Scope) -> AlbumView:
    """The album as this caller sees it: counts, dates and cover over visible items only."""
    count, first, last, earliest = repo.album_stats(conn, int(row["id"]), scope)
    cover = row["cover_media_id"]
    if cover is not None:
        visible = repo.visible_ids(conn, scope, [int(cover)])
        if not visible or int(cover) not in repo.item_ids(conn, int(row["id"])):
            cover = None
    return AlbumView(
        row=row,
        role=role_of(row, user_id),
        item_count=count,
        date_from=first,
        date_to=last,
        cover_media_id=int(cover) if cover is not None else earliest,
    )


def list_albums(conn: Connection, user_id: int, scope: Scope) -> list[AlbumView]:
    return [view(conn, row, user_id, scope) for row in repo.albums_of(conn, user_id)]


def create_album(
    conn: Connection,
    scope: Scope,
    user_id: int,
    name: str | None,
    description: str,
    sort_order: str,
    from_folder: tuple[int, str] | None,
    now: float,
) -> int:
    ids: list[int] = []
    if from_folder is not None:
        library_id, raw = from_folder
        if not scope.sees(library_id):
            raise NotFound(f"library {library_id} not found")
        folder = clean_rel_path(raw) if raw.strip("/") else ""
        ids = repo.folder_ids(conn, scope, library_id, folder)
        if name is None:
            name = folder.rsplit("/", 1)[-1] or "Library"
    if name is None:
        raise Invalid("name is required")
    album_id = repo.create_album(conn, user_id, name, description, sort_order, now)
    if ids:
        repo.add_items(conn, album_id, ids, user_id, now)
    return album_id


def patch_album(
    conn: Connection,
    scope: Scope,
    album_id: int,
    user_id: int,
    changes: dict[str, Any],
    now: float,
) -> None:
    reach(conn, album_id, user_id, "editor")
    cover = changes.get("cover_media_id")
    if cover is not None:
        inside = repo.item_ids(conn, album_id)
        if cover not in inside or not repo.visible_ids(conn, scope, [cover]):
            raise NotFound("media not found")
    if changes:
        repo.update_album(conn, album_id, {**changes, "updated_at": now})


def delete_album(conn: Connection, album_id: int, user_id: int) -> None:
    reach(conn, album_id, user_id, "owner")
    repo.delete_album(conn, album_id)


def add_items(
    conn: Connection, scope: Scope, album_id: int, user_id: int, ids: Sequence[int], now: float
) -> int:
    reach(conn, album_id, user_id, "editor")
    require_visible(conn, scope, ids)
    added = repo.add_items(conn, album_id, ids, user_id, now)
    repo.update_album(conn, album_id, {"updated_at": now})
    return added


def remove_items(
    conn: Connection, scope: Scope, album_id: int, user_id: int, ids: Sequence[int], now: float
) -> int:
    """Only items the caller can see are removed (others are invisible to them)."""
    reach(conn, album_id, user_id, "editor")
    removed = repo.remove_items(conn, album_id, sorted(repo.visible_ids(conn, scope, ids)))
    repo.update_album(conn, album_id, {"updated_at": now})
    return removed


def items(
    conn: Connection, scope: Scope, row: RowMapping, limit: int, offset: int
) -> list[MediaItem]:
    return repo.album_items_page(conn, int(row["id"]), scope, str(row["sort_order"]), limit, offset)


def put_member(
    conn: Connection, album_id: int, owner_id: int, user_id: int, role: str, now: float
) -> None:
    row = reach(conn, album_id, owner_id, "owner")
    if user_id == int(row["owner_id"]):
        raise Invalid("the owner is not a member of their own album")
    if not repo.user_exists(conn, user_id):
        raise NotFound(f"user {user_id} not found")
    repo.put_member(conn, album_id, user_id, role, now)


def remove_member(conn: Connection, album_id: int, caller_id: int, user_id: int) -> None:
    """The owner removes anyone; a member may leave (remove themselves)."""
    if caller_id != user_id:
        reach(conn, album_id, caller_id, "owner")
    else:
        reach(conn, album_id, caller_id, "viewer")
    repo.remove_member(conn, album_id, user_id)


# --- memories ------------------------------------------------------------------------------


def _same_day(day: date, year: int) -> date:
    try:
        return day.replace(year=year)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=year, day=28)


def distinct_shots(
    ranked: Sequence[tuple[MediaItem, bool]],
) -> list[tuple[MediaItem, bool]]:
    """`ranked` without copies of kept bytes and without shots of a kept one's burst."""
    seen: set[str] = set()
    kept: list[tuple[MediaItem, bool]] = []
    for item, fav in ranked:
        key = item.content_hash or f"id:{item.id}"
        if key in seen or any(_same_burst(item, other) for other, _ in kept):
            continue
        seen.add(key)
        kept.append((item, fav))
    return kept


def _same_burst(a: MediaItem, b: MediaItem) -> bool:
    if a.library_id != b.library_id:
        return False
    return abs((a.taken_at - b.taken_at).total_seconds()) <= BURST_SECONDS


def memories(
    conn: Connection, scope: Scope, user_id: int, day: date, window: int
) -> list[tuple[int, list[tuple[MediaItem, bool]]]]:
    """Per earlier year (newest first): visible, non-archived photos of that day +- window,
    best first (favorites, then faces), one per content (copies of the same bytes count
    once) and one per burst (shots within BURST_SECONDS of a kept one are near-duplicates
    of it: the ranking already put the better one first)."""
    first = repo.earliest_year(conn, scope)
    out: list[tuple[int, list[tuple[MediaItem, bool]]]] = []
    if first is None:
        return out
    for year in range(day.year - 1, first - 1, -1):
        centre = _same_day(day, year)
        start = datetime.combine(centre - timedelta(days=window), datetime.min.time())
        end = datetime.combine(centre + timedelta(days=window + 1), datetime.min.time())
        found = repo.taken_between(conn, scope, user_id, start, end, MEMORY_YEAR_LIMIT * 2)
        kept = distinct_shots(found)
        if kept:
            out.append((year, kept[:MEMORY_YEAR_LIMIT]))
    return out
