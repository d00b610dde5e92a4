"""SQL for users, sessions and API keys (the only module of auth/ that builds queries)."""

from __future__ import annotations

from sqlalchemy import Connection, RowMapping, delete, func, insert, select, update

from imageserver.db.tables import api_keys, library_members, sessions, shares, users

ADMIN = "admin"
MEMBER = "member"
ROLES = (ADMIN, MEMBER)


# --- grants (what a user may see; written by libraries/, read here for every request) ----


def granted_library_ids(conn: Connection, user_id: int) -> list[int]:
    query = (
        select(library_members.c.library_id)
        .where(library_members.c.user_id == user_id)
        .order_by(library_members.c.library_id)
    )
    return [int(r[0]) for r in conn.execute(query)]


# --- users ------------------------------------------------------------------------------


def get_by_username(conn: Connection, username: str) -> RowMapping | None:
    """Case-insensitive: `Alice` and `alice` are the same account (a unique index agrees)."""
    query = select(users).where(func.lower(users.c.username) == username.lower())
    return conn.execute(query).mappings().first()


def get_by_id(conn: Connection, user_id: int) -> RowMapping | None:
    return conn.execute(select(users).where(users.c.id == user_id)).mappings().first()


def list_all(conn: Connection) -> list[RowMapping]:
    return list(conn.execute(select(users).order_by(func.lower(users.c.username))).mappings())


def count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(users)).scalar_one())


def count_active_admins(conn: Connection) -> int:
    query = (
        select(func.count())
        .select_from(users)
        .where(users.c.role == ADMIN, users.c.disabled_at.is_(None))
    )
    return int(conn.execute(query).scalar_one())


def create(conn: Connection, username: str, password_hash: str, role: str, now: float) -> int:
    result = conn.execute(
        insert(users).values(
            username=username,
            password_hash=password_hash,
            role=role,
            is_admin=role == ADMIN,
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


def set_role(conn: Connection, user_id: int, role: str) -> None:
    conn.execute(
        update(users).where(users.c.id == user_id).values(role=role, is_admin=role == ADMIN)
    )


def set_disabled_at(conn: Connection, user_id: int, disabled_at: float | None) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(disabled_at=disabled_at))


def delete_user(conn: Connection, user_id: int) -> None:
    # Foreign keys cascade too; explicit so nothing depends on SQLite's pragma being on.
    conn.execute(delete(sessions).where(sessions.c.user_id == user_id))
    conn.execute(delete(api_keys).where(api_keys.c.user_id == user_id))
    conn.execute(delete(users).where(users.c.id == user_id))


# --- sessions ---------------------------------------------------------------------------

_SESSION_USER = (
    sessions.c.id.label("session_id"),
    sessions.c.last_seen_at,
    users.c.id,
    users.c.username,
    users.c.role,
)


def create_session(
    conn: Connection,
    user_id: int,
    now: float,
    expires_at: float,
    user_agent: str | None,
    address: str | None,
) -> int:
    result = conn.execute(
        insert(sessions).values(
            user_id=user_id,
            created_at=now,
            expires_at=expires_at,
            last_seen_at=now,
            user_agent=(user_agent or "")[:200] or None,
            address=(address or "")[:64] or None,
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def live_session(conn: Connection, session_id: int, user_id: int, now: float) -> RowMapping | None:
    """The session and its user when both are alive: one primary-key lookup and a join."""
    query = (
        select(*_SESSION_USER)
        .join(users, users.c.id == sessions.c.user_id)
        .where(
            sessions.c.id == session_id,
            sessions.c.user_id == user_id,
            sessions.c.expires_at > now,
            users.c.disabled_at.is_(None),
        )
    )
    return conn.execute(query).mappings().first()


def touch_session(conn: Connection, session_id: int, now: float) -> None:
    conn.execute(update(sessions).where(sessions.c.id == session_id).values(last_seen_at=now))


def list_sessions(conn: Connection, user_id: int, now: float) -> list[RowMapping]:
    query = (
        select(sessions)
        .where(sessions.c.user_id == user_id, sessions.c.expires_at > now)
        .order_by(sessions.c.id)
    )
    return list(conn.execute(query).mappings())


def delete_session(conn: Connection, user_id: int, session_id: int) -> bool:
    result = conn.execute(
        delete(sessions).where(sessions.c.id == session_id, sessions.c.user_id == user_id)
    )
    return bool(result.rowcount)


def delete_sessions(conn: Connection, user_id: int, keep: int | None = None) -> int:
    """End every session of a user (but `keep`); returns how many ended."""
    query = delete(sessions).where(sessions.c.user_id == user_id)
    if keep is not None:
        query = query.where(sessions.c.id != keep)
    return int(conn.execute(query).rowcount)


def delete_expired_sessions(conn: Connection, user_id: int, now: float) -> None:
    conn.execute(
        delete(sessions).where(sessions.c.user_id == user_id, sessions.c.expires_at <= now)
    )


# --- API keys ---------------------------------------------------------------------------


def create_api_key(
    conn: Connection,
    user_id: int,
    name: str,
    prefix: str,
    secret_hash: str,
    read_only: bool,
    now: float,
) -> int:
    result = conn.execute(
        insert(api_keys).values(
            user_id=user_id,
            name=name,
            prefix=prefix,
            secret_hash=secret_hash,
            read_only=read_only,
            created_at=now,
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def live_api_key(conn: Connection, secret_hash: str) -> RowMapping | None:
    query = (
        select(
            api_keys.c.id.label("api_key_id"),
            api_keys.c.read_only,
            api_keys.c.last_used_at,
            users.c.id,
            users.c.username,
            users.c.role,
        )
        .join(users, users.c.id == api_keys.c.user_id)
        .where(api_keys.c.secret_hash == secret_hash, users.c.disabled_at.is_(None))
    )
    return conn.execute(query).mappings().first()


def api_key_alive(conn: Connection, key_id: int, user_id: int) -> RowMapping | None:
    query = (
        select(
            api_keys.c.id.label("api_key_id"),
            api_keys.c.read_only,
            users.c.id,
            users.c.username,
            users.c.role,
        )
        .join(users, users.c.id == api_keys.c.user_id)
        .where(
            api_keys.c.id == key_id, api_keys.c.user_id == user_id, users.c.disabled_at.is_(None)
        )
    )
    return conn.execute(query).mappings().first()


def share_owner_alive(conn: Connection, share_id: int, now: float) -> RowMapping | None:
    """The creator of a public link that still exists, has not expired and whose account is
    enabled (a stream token minted for the link dies with it)."""
    query = (
        select(users.c.id, users.c.username)
        .select_from(shares)
        .join(users, users.c.id == shares.c.owner_id)
        .where(
            shares.c.id == share_id,
            users.c.disabled_at.is_(None),
            (shares.c.expires_at.is_(None)) | (shares.c.expires_at > now),
        )
    )
    return conn.execute(query).mappings().first()


def touch_api_key(conn: Connection, key_id: int, now: float) -> None:
    conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=now))


def list_api_keys(conn: Connection, user_id: int) -> list[RowMapping]:
    query = select(api_keys).where(api_keys.c.user_id == user_id).order_by(api_keys.c.id)
    return list(conn.execute(query).mappings())


def delete_api_key(conn: Connection, user_id: int, key_id: int) -> bool:
    result = conn.execute(
        delete(api_keys).where(api_keys.c.id == key_id, api_keys.c.user_id == user_id)
    )
    return bool(result.rowcount)
