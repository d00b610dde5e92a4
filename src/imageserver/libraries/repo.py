"""SQL for libraries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, func, insert, select, update

from imageserver.db.tables import libraries, library_members, media, users
from imageserver.libraries.schemas import LibraryCounts


def list_all(conn: Connection) -> list[RowMapping]:
    return list(conn.execute(select(libraries).order_by(libraries.c.id)).mappings())


def list_enabled(conn: Connection) -> list[RowMapping]:
    query = select(libraries).where(libraries.c.enabled.is_(True)).order_by(libraries.c.id)
    return list(conn.execute(query).mappings())


def get(conn: Connection, library_id: int) -> RowMapping | None:
    return conn.execute(select(libraries).where(libraries.c.id == library_id)).mappings().first()


def get_by_name(conn: Connection, name: str) -> RowMapping | None:
    return conn.execute(select(libraries).where(libraries.c.name == name)).mappings().first()


def create(
    conn: Connection, name: str, root_path: str, enabled: bool, excluded: list[str], now: float
) -> int:
    result = conn.execute(
        insert(libraries).values(
            name=name,
            root_path=root_path,
            enabled=enabled,
            excluded_dirs=excluded,
            created_at=now,
            updated_at=now,
            health="unknown",
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def update_fields(conn: Connection, library_id: int, values: dict[str, Any]) -> None:
    conn.execute(update(libraries).where(libraries.c.id == library_id).values(**values))


def remove(conn: Connection, library_id: int) -> None:
    conn.execute(delete(libraries).where(libraries.c.id == library_id))


# --- grants --------------------------------------------------------------------------------


def list_granted(conn: Connection, user_id: int) -> list[RowMapping]:
    query = (
        select(libraries)
        .where(
            libraries.c.id.in_(
                select(library_members.c.library_id).where(library_members.c.user_id == user_id)
            )
        )
        .order_by(libraries.c.id)
    )
    return list(conn.execute(query).mappings())


def members(conn: Connection, library_id: int) -> list[RowMapping]:
    query = (
        select(
            users.c.id.label("user_id"),
            users.c.username,
            users.c.is_admin,
            library_members.c.created_at.label("granted_at"),
        )
        .select_from(library_members.join(users, users.c.id == library_members.c.user_id))
        .where(library_members.c.library_id == library_id)
        .order_by(users.c.username)
    )
    return list(conn.execute(query).mappings())


def is_member(conn: Connection, library_id: int, user_id: int) -> bool:
    query = select(library_members.c.user_id).where(
        library_members.c.library_id == library_id, library_members.c.user_id == user_id
    )
    return conn.execute(query).first() is not None


def grant(conn: Connection, library_id: int, user_id: int, now: float) -> bool:
    """Grant (idempotent); True when the grant is new."""
    if is_member(conn, library_id, user_id):
        return False
    conn.execute(
        insert(library_members).values(library_id=library_id, user_id=user_id, created_at=now)
    )
    return True


def revoke(conn: Connection, library_id: int, user_id: int) -> bool:
    result = conn.execute(
        delete(library_members).where(
            library_members.c.library_id == library_id, library_members.c.user_id == user_id
        )
    )
    return bool(result.rowcount)


def counts(conn: Connection, library_ids: Sequence[int]) -> dict[int, LibraryCounts]:
    """Live photos and videos of each library (companions hidden, as in listings)."""
    if not library_ids:
        return {}
    query = (
        select(media.c.library_id, media.c.kind, func.count())
        .where(
            media.c.library_id.in_(list(library_ids)),
            media.c.retired_at.is_(None),
            media.c.companion_id.is_(None),
        )
        .group_by(media.c.library_id, media.c.kind)
    )
    found: dict[int, dict[str, int]] = {}
    for library_id, kind, n in conn.execute(query):
        found.setdefault(int(library_id), {})[kind] = int(n)
    return {
        i: LibraryCounts(photos=k.get("photo", 0), videos=k.get("video", 0))
        for i, k in found.items()
    }
