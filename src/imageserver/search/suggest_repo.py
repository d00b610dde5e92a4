"""SQL of the search box's suggestions: values of people, places, countries, cameras,
albums and tags that start with what was typed, found only among what the caller may see
(the same `listed` conditions as the search itself: scope, enabled libraries, archive
rule), most frequent first."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, FromClause, exists, func, or_, select

from imageserver.db.tables import album_members, albums, faces, item_tags, media, people, places
from imageserver.media.model import MediaFilter
from imageserver.media.query import WITH_LIBRARY, listed
from imageserver.work.scope import Scope


def _starts(col: ColumnElement[str], prefix: str) -> ColumnElement[bool]:
    """Case-insensitive prefix, `%` and `_` literal."""
    needle = prefix.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(col).like(needle + "%", escape="\\")


def _counted(
    conn: Connection,
    value: ColumnElement[str],
    join: FromClause,
    where: list[ColumnElement[bool]],
    limit: int,
) -> list[str]:
    query = (
        select(value.label("v"), func.count(func.distinct(media.c.id)).label("n"))
        .select_from(join)
        .where(*where, value.is_not(None), value != "")
        .group_by(value)
        .order_by(func.count(func.distinct(media.c.id)).desc(), value)
        .limit(limit)
    )
    return [str(r.v) for r in conn.execute(query)]


def visible(scope: Scope, user_id: int) -> list[ColumnElement[bool]]:
    return listed(scope, MediaFilter(user_id=user_id))


def person_names(
    conn: Connection, scope: Scope, user_id: int, prefix: str, limit: int
) -> list[str]:
    join = WITH_LIBRARY.join(faces, faces.c.content_hash == media.c.content_hash).join(
        people, people.c.id == faces.c.person_id
    )
    where = [*visible(scope, user_id), people.c.hidden.is_(False), _starts(people.c.name, prefix)]
    return _counted(conn, people.c.name, join, where, limit)


def _first_columns(
    conn: Connection,
    columns: tuple[ColumnElement[str], ...],
    join: FromClause,
    visible_rows: list[ColumnElement[bool]],
    prefix: str,
    limit: int,
) -> list[str]:
    """Values of the first column that start with the prefix, then the next column's."""
    out: list[str] = []
    for col in columns:
        found = _counted(conn, col, join, [*visible_rows, _starts(col, prefix)], limit)
        out += [v for v in found if v not in out]
    return out[:limit]


def place_names(conn: Connection, scope: Scope, user_id: int, prefix: str, limit: int) -> list[str]:
    join = WITH_LIBRARY.join(places, places.c.content_hash == media.c.content_hash)
    columns = (places.c.place, places.c.region)
    return _first_columns(conn, columns, join, visible(scope, user_id), prefix, limit)


def countries(conn: Connection, scope: Scope, user_id: int, prefix: str, limit: int) -> list[str]:
    join = WITH_LIBRARY.join(places, places.c.content_hash == media.c.content_hash)
    where = [
        *visible(scope, user_id),
        or_(_starts(places.c.country, prefix), _starts(places.c.country_code, prefix)),
    ]
    return _counted(conn, places.c.country, join, where, limit)


def cameras(conn: Connection, scope: Scope, user_id: int, prefix: str, limit: int) -> list[str]:
    columns = (media.c.model, media.c.make)
    return _first_columns(conn, columns, WITH_LIBRARY, visible(scope, user_id), prefix, limit)


def tags(conn: Connection, scope: Scope, user_id: int, prefix: str, limit: int) -> list[str]:
    join = WITH_LIBRARY.join(item_tags, item_tags.c.media_id == media.c.id)
    where = [*visible(scope, user_id), _starts(item_tags.c.tag, prefix)]
    return _counted(conn, item_tags.c.tag, join, where, limit)


def album_names(conn: Connection, user_id: int, prefix: str, limit: int) -> list[str]:
    """The caller's albums (owned or shared with them); no item is read."""
    member = exists().where(
        album_members.c.album_id == albums.c.id, album_members.c.user_id == user_id
    )
    query = (
        select(albums.c.name)
        .where(or_(albums.c.owner_id == user_id, member), _starts(albums.c.name, prefix))
        .order_by(albums.c.name)
        .limit(limit)
    )
    return [str(r.name) for r in conn.execute(query)]
