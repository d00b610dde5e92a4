"""SQL for libraries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, RowMapping, delete, insert, select, update

from imageserver.db.tables import libraries


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
