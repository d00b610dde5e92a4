"""SQL of the collections feature (favorites, archive, albums, members). The only SQL here.

Every media read takes the caller's `Scope` and applies it in `live()`, so an id outside
it behaves exactly like an id that does not exist. Share-link SQL is in shares_repo.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    Table,
    and_,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)

from imageserver.db.tables import (
    album_items,
    album_members,
    albums,
    archives,
    faces,
    favorites,
    libraries,
    media,
    users,
)
from imageserver.media.model import MediaItem
from imageserver.media.query import ITEM_COLUMNS, WITH_LIBRARY, folder_within, to_item
from imageserver.work.scope import Scope

MARKS: dict[str, Table] = {"favorite": favorites, "archive": archives}
CHUNK = 500


def live(scope: Scope) -> list[ColumnElement[bool]]:
    """Media rows the scope may see (query over WITH_LIBRARY): live, enabled, in scope."""
    return [
        media.c.retired_at.is_(None),
        libraries.c.enabled.is_(True),
        scope.where(media.c.library_id),
    ]


def _chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield list(ids[start : start + CHUNK])


def visible_ids(conn: Connection, scope: Scope, ids: Sequence[int]) -> set[int]:
    """The subset of `ids` naming live media the scope may see."""
    found: set[int] = set()
    for part in _chunks(sorted(set(ids))):
        query = (
            select(media.c.id).select_from(WITH_LIBRARY).where(*live(scope), media.c.id.in_(part))
        )
        found.update(int(r.id) for r in conn.execute(query))
    return found


def marked(conn: Connection, kind: str, user_id: int, ids: Sequence[int]) -> set[int]:
    table = MARKS[kind]
    found: set[int] = set()
    for part in _chunks(sorted(set(ids))):
        query = select(table.c.media_id).where(
            table.c.user_id == user_id, table.c.media_id.in_(part)
        )
        found.update(int(r.media_id) for r in conn.execute(query))
    return found


def mark(conn: Connection, kind: str, user_id: int, ids: Sequence[int], now: float) -> None:
    """Set the mark on `ids` (already checked visible); idempotent."""
    table = MARKS[kind]
    new = sorted(set(ids) - marked(conn, kind, user_id, ids))
    if new:
        conn.execute(
            insert(table), [{"user_id": user_id, "media_id": i, "created_at": now} for i in new]
        )


def unmark(conn: Connection, kind: str, user_id: int, ids: Sequence[int]) -> None:
    table = MARKS[kind]
    for part in _chunks(sorted(set(ids))):
        conn.execute(delete(table).where(table.c.user_id == user_id, table.c.media_id.in_(part)))


def is_marked(kind: str, user_id: int) -> ColumnElement[bool]:
    """SQL: the media row carries this user's mark (for listings over `media`)."""
    table = MARKS[kind]
    return exists().where(table.c.user_id == user_id, table.c.media_id == media.c.id)


# --- albums --------------------------------------------------------------------------------


def create_album(
    conn: Connection, owner_id: int, name: str, description: str, sort_order: str, now: float
) -> int:
    query = (
        insert(albums)
        .values(
            owner_id=owner_id,
            name=name,
            description=description,
            sort_order=sort_order,
            created_at=now,
            updated_at=now,
        )
        .returning(albums.c.id)
    )
    return int(conn.execute(query).scalar_one())


def _reachable(user_id: int) -> ColumnElement[bool]:
    is_member = exists().where(
        album_members.c.album_id == albums.c.id, album_members.c.user_id == user_id
    )
    return or_(albums.c.owner_id == user_id, is_member)


def _album_select(user_id: int) -> Any:
    member_role = (
        select(album_members.c.role)
        .where(album_members.c.album_id == albums.c.id, album_members.c.user_id == user_id)
        .scalar_subquery()
        .label("member_role")
    )
    return (
        select(*albums.c, users.c.username.label("owner_name"), member_role)
        .select_from(albums.join(users, users.c.id == albums.c.owner_id))
        .where(_reachable(user_id))
    )


def album(conn: Connection, album_id: int, user_id: int) -> RowMapping | None:
    """The album with `member_role`, when the user owns it or is one of its members."""
    query = _album_select(user_id).where(albums.c.id == album_id)
    return conn.execute(query).mappings().first()


def albums_of(conn: Connection, user_id: int) -> list[RowMapping]:
    query = _album_select(user_id).order_by(albums.c.updated_at.desc(), albums.c.id.desc())
    return list(conn.execute(query).mappings())


def update_album(conn: Connection, album_id: int, values: dict[str, Any]) -> None:
    conn.execute(update(albums).where(albums.c.id == album_id).values(**values))


def delete_album(conn: Connection, album_id: int) -> None:
    conn.execute(delete(albums).where(albums.c.id == album_id))


def item_ids(conn: Connection, album_id: int) -> set[int]:
    query = select(album_items.c.media_id).where(album_items.c.album_id == album_id)
    return {int(r.media_id) for r in conn.execute(query)}


def add_items(conn: Connection, album_id: int, ids: Sequence[int], user_id: int, now: float) -> int:
    new = sorted(set(ids) - item_ids(conn, album_id))
    if new:
        rows = [
            {"album_id": album_id, "media_id": i, "added_by": user_id, "added_at": now} for i in new
        ]
        conn.execute(insert(album_items), rows)
    return len(new)


def remove_items(conn: Connection, album_id: int, ids: Sequence[int]) -> int:
    removed = 0
    for part in _chunks(sorted(set(ids))):
        result = conn.execute(
            delete(album_items).where(
                album_items.c.album_id == album_id, album_items.c.media_id.in_(part)
            )
        )
        removed += result.rowcount or 0
    return removed


def _in_album(album_id: int) -> ColumnElement[bool]:
    return exists().where(album_items.c.album_id == album_id, album_items.c.media_id == media.c.id)


def album_stats(
    conn: Connection, album_id: int, scope: Scope
) -> tuple[int, datetime | None, datetime | None, int | None]:
    """Visible item count, first and last taken_at, and the earliest visible item id."""
    where = [*live(scope), _in_album(album_id)]
    row = conn.execute(
        select(func.count(), func.min(media.c.taken_at), func.max(media.c.taken_at))
        .select_from(WITH_LIBRARY)
        .where(*where)
    ).one()
    first = conn.execute(
        select(media.c.id)
        .select_from(WITH_LIBRARY)
        .where(*where)
        .order_by(media.c.taken_at_utc.asc(), media.c.id.asc())
        .limit(1)
    ).scalar_one_or_none()
    return int(row[0]), row[1], row[2], (int(first) if first is not None else None)


ORDERS = {
    "taken_asc": (media.c.taken_at_utc.asc(), media.c.id.asc()),
    "taken_desc": (media.c.taken_at_utc.desc(), media.c.id.desc()),
    "added": (album_items.c.added_at.asc(), media.c.id.asc()),
}


def album_items_page(
    conn: Connection, album_id: int, scope: Scope, order: str, limit: int, offset: int
) -> list[MediaItem]:
    source = WITH_LIBRARY.join(
        album_items,
        and_(album_items.c.media_id == media.c.id, album_items.c.album_id == album_id),
    )
    query = (
        select(*ITEM_COLUMNS)
        .select_from(source)
        .where(*live(scope))
        .order_by(*ORDERS[order])
        .limit(limit)
        .offset(offset)
    )
    return [to_item(r) for r in conn.execute(query).mappings()]


def folder_ids(conn: Connection, scope: Scope, library_id: int, folder: str) -> list[int]:
    """Visible main items (no companions) of `folder` and below, in time order."""
    where = [*live(scope), media.c.library_id == library_id, media.c.companion_id.is_(None)]
    if folder:
        where.append(folder_within(folder))
    query = (
        select(media.c.id)
        .select_from(WITH_LIBRARY)
        .where(*where)
        .order_by(media.c.taken_at_utc, media.c.id)
    )
    return [int(r.id) for r in conn.execute(query)]


# --- members -------------------------------------------------------------------------------


def user_exists(conn: Connection, user_id: int) -> bool:
    query = select(users.c.id).where(users.c.id == user_id, users.c.disabled_at.is_(None))
    return conn.execute(query).first() is not None


def put_member(conn: Connection, album_id: int, user_id: int, role: str, now: float) -> None:
    done = conn.execute(
        update(album_members)
        .where(album_members.c.album_id == album_id, album_members.c.user_id == user_id)
        .values(role=role)
    )
    if not done.rowcount:
        conn.execute(
            insert(album_members).values(
                album_id=album_id, user_id=user_id, role=role, created_at=now
            )
        )


def remove_member(conn: Connection, album_id: int, user_id: int) -> None:
    conn.execute(
        delete(album_members).where(
            album_members.c.album_id == album_id, album_members.c.user_id == user_id
        )
    )


def members(conn: Connection, album_id: int) -> list[RowMapping]:
    query = (
        select(album_members.c.user_id, users.c.username, album_members.c.role)
        .select_from(album_members.join(users, users.c.id == album_members.c.user_id))
        .where(album_members.c.album_id == album_id)
        .order_by(users.c.username)
    )
    return list(conn.execute(query).mappings())


# --- memories ------------------------------------------------------------------------------


def taken_between(
    conn: Connection, scope: Scope, user_id: int, start: datetime, end: datetime, limit: int
) -> list[tuple[MediaItem, bool]]:
    """Visible, non-archived main photos taken in [start, end): favorites first, then the
    ones with the most faces (people make a memory), then by time."""
    fav = is_marked("favorite", user_id).label("fav")
    people = (
        select(func.count())
        .where(faces.c.content_hash == media.c.content_hash)
        .scalar_subquery()
        .label("faces")
    )
    query = (
        select(*ITEM_COLUMNS, fav, people)
        .select_from(WITH_LIBRARY)
        .where(
            *live(scope),
            ~is_marked("archive", user_id),
            media.c.kind == "photo",
            media.c.companion_id.is_(None),
            media.c.taken_at >= start,
            media.c.taken_at < end,
        )
        .order_by(fav.desc(), people.desc(), media.c.taken_at, media.c.id)
        .limit(limit)
    )
    return [(to_item(r), bool(r["fav"])) for r in conn.execute(query).mappings()]


def earliest_year(conn: Connection, scope: Scope) -> int | None:
    first = conn.execute(
        select(func.min(media.c.taken_at)).select_from(WITH_LIBRARY).where(*live(scope))
    ).scalar_one_or_none()
    return first.year if first is not None else None
