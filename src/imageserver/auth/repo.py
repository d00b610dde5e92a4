"""SQL for users."""

from __future__ import annotations

from sqlalchemy import Connection, RowMapping, func, insert, select, update

from imageserver.db.tables import users


def get_by_username(conn: Connection, username: str) -> RowMapping | None:
    return conn.execute(select(users).where(users.c.username == username)).mappings().first()


def get_by_id(conn: Connection, user_id: int) -> RowMapping | None:
    return conn.execute(select(users).where(users.c.id == user_id)).mappings().first()


def list_all(conn: Connection) -> list[RowMapping]:
    return list(conn.execute(select(users).order_by(users.c.username)).mappings())


def count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(users)).scalar_one())


def create(conn: Connection, username: str, password_hash: str, is_admin: bool, now: float) -> int:
    result = conn.execute(
        insert(users).values(
            username=username,
            password_hash=password_hash,
            is_admin=is_admin,
            created_at=now,
            password_changed_at=now,
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def set_password(conn: Connection, user_id: int, password_hash: str, now: float) -> None:
    conn.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(password_hash=password_hash, password_changed_at=now)
    )
