"""SQL of public share links: the rows, and the items a link opens. The only SQL of shares."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, RowMapping, and_, delete, func, insert, select, update

from imageserver.albums.repo import live
from imageserver.db.tables import album_items, albums, libraries, media, share_items, shares, users
from imageserver.media.model import MediaItem
from imageserver.media.query import ITEM_COLUMNS, WITH_LIBRARY, to_item
from imageserver.work.scope import Scope


def create(conn: Connection, values: dict[str, object], media_ids: Sequence[int]) -> int:
    share_id = int(
        conn.execute(insert(shares).values(**values).returning(shares.c.id)).scalar_one()
    )
    if media_ids:
        conn.execute(
            insert(share_items), [{"share_id": share_id, "media_id": i} for i in sorted(media_ids)]
        )
    return share_id


def by_token(conn: Connection, token: str) -> RowMapping | None:
    """The link with its album's name, while its creator's account is enabled."""
    query = (
        select(*shares.c, albums.c.name.label("album_name"), albums.c.description)
        .select_from(
            shares.outerjoin(albums, albums.c.id == shares.c.album_id).join(
                users, users.c.id == shares.c.owner_id
            )
        )
        .where(shares.c.token == token, users.c.disabled_at.is_(None))
    )
    return conn.execute(query).mappings().first()


def by_id(conn: Connection, share_id: int) -> RowMapping | None:
    """The link `share_id` while its creator's account is enabled (as `by_token`)."""
    query = (
        select(*shares.c)
        .select_from(shares.join(users, users.c.id == shares.c.owner_id))
        .where(shares.c.id == share_id, users.c.disabled_at.is_(None))
    )
    return conn.execute(query).mappings().first()


def of_owner(conn: Connection, owner_id: int) -> list[RowMapping]:
    counted = (
        select(func.count())
        .select_from(share_items)
        .where(share_items.c.share_id == shares.c.id)
        .scalar_subquery()
        .label("item_count")
    )
    query = (
        select(*shares.c, albums.c.name.label("album_name"), counted)
        .select_from(shares.outerjoin(albums, albums.c.id == shares.c.album_id))
        .where(shares.c.owner_id == owner_id)
        .order_by(shares.c.created_at.desc(), shares.c.id.desc())
    )
    return list(conn.execute(query).mappings())


def delete_own(conn: Connection, share_id: int, owner_id: int) -> bool:
    result = conn.execute(
        delete(shares).where(shares.c.id == share_id, shares.c.owner_id == owner_id)
    )
    return bool(result.rowcount)


def viewed(conn: Connection, share_id: int, now: float) -> None:
    conn.execute(
        update(shares)
        .where(shares.c.id == share_id)
        .values(view_count=shares.c.view_count + 1, last_viewed_at=now)
    )


def _source(share: RowMapping) -> object:
    if share["album_id"] is not None:
        return WITH_LIBRARY.join(
            album_items,
            and_(album_items.c.media_id == media.c.id, album_items.c.album_id == share["album_id"]),
        )
    return WITH_LIBRARY.join(
        share_items,
        and_(share_items.c.media_id == media.c.id, share_items.c.share_id == share["id"]),
    )


def items(conn: Connection, share: RowMapping, scope: Scope, limit: int) -> list[MediaItem]:
    """What the link opens: its items, seen through its creator's current scope."""
    query = (
        select(*ITEM_COLUMNS)
        .select_from(_source(share))  # type: ignore[arg-type]
        .where(*live(scope), media.c.companion_id.is_(None))
        .order_by(media.c.taken_at_utc, media.c.id)
        .limit(limit)
    )
    return [to_item(r) for r in conn.execute(query).mappings()]


def item(
    conn: Connection, share: RowMapping, scope: Scope, media_id: int
) -> tuple[MediaItem, str] | None:
    """One item of the link (and its library root), or None."""
    query = (
        select(*ITEM_COLUMNS, libraries.c.root_path)
        .select_from(_source(share))  # type: ignore[arg-type]
        .where(*live(scope), media.c.id == media_id)
    )
    row = conn.execute(query).mappings().first()
    return (to_item(row), str(row["root_path"])) if row is not None else None


def shows_hash(conn: Connection, share: RowMapping, scope: Scope, content_hash: str) -> bool:
    """Whether the link shows, now, an item of these bytes (a video's stream is by hash)."""
    query = (
        select(media.c.id)
        .select_from(_source(share))  # type: ignore[arg-type]
        .where(*live(scope), media.c.companion_id.is_(None), media.c.content_hash == content_hash)
        .limit(1)
    )
    return conn.execute(query).first() is not None


def roots(conn: Connection, library_ids: Sequence[int]) -> dict[int, str]:
    query = select(libraries.c.id, libraries.c.root_path).where(libraries.c.id.in_(library_ids))
    return {int(r.id): str(r.root_path) for r in conn.execute(query)}
