"""SQL for media rows: what the walker knows, inserts, changes, retirements, drain batches.

The browsing routes read through query.py instead (every read built on its `visible()`).
`get` / `get_by_path` here return any row, retired ones too, as raw mappings: the video
and faces routes still use them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    text,
    update,
)

from imageserver.db.tables import libraries, media, places
from imageserver.media.localtime import sort_instant
from imageserver.work import leases

CHUNK = 500

# Written as literal SQL, not bound parameters, so both databases can prove the query
# implies the partial index predicates (ix_media_hash_backlog, ix_media_meta_backlog).
HASH_BACKLOG: ColumnElement[bool] = text("content_hash IS NULL AND retired_at IS NULL")  # type: ignore[assignment]
META_BACKLOG: ColumnElement[bool] = text("meta_status = 'pending' AND retired_at IS NULL")  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Known:
    id: int
    size: int
    mtime_ns: int
    retired: bool


def known_files(conn: Connection, library_id: int) -> dict[str, Known]:
    query = select(
        media.c.rel_path, media.c.id, media.c.size, media.c.mtime_ns, media.c.retired_at
    ).where(media.c.library_id == library_id)
    return {r[0]: Known(r[1], r[2], r[3], r[4] is not None) for r in conn.execute(query)}


def insert_many(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        conn.execute(insert(media), list(rows[start : start + CHUNK]))


# Columns reset when a file's bytes change: everything derived from them is re-derived.
def reset_values(now: float) -> dict[str, Any]:
    return {
        "content_hash": None,
        "hash_error": None,
        "hash_attempts": 0,
        "hash_retry_at": None,
        "meta_status": "pending",
        "meta_error": None,
        "meta_attempts": 0,
        "meta_retry_at": None,
        "updated_at": now,
        "retired_at": None,
        # a drain still working on the old bytes must not write its result
        "lease_owner": None,
        "lease_until": None,
    }


def update_row(conn: Connection, media_id: int, values: dict[str, Any]) -> None:
    conn.execute(update(media).where(media.c.id == media_id).values(**values))


def restore(conn: Connection, ids: Iterable[int], now: float) -> None:
    ids = list(ids)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        conn.execute(
            update(media).where(media.c.id.in_(chunk)).values(retired_at=None, updated_at=now)
        )


def retire(conn: Connection, ids: Iterable[int], now: float) -> None:
    ids = list(ids)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        conn.execute(
            update(media)
            .where(media.c.id.in_(chunk), media.c.retired_at.is_(None))
            .values(retired_at=now, updated_at=now)
        )


def record_skipped(conn: Connection, library_id: int, tally: dict[str, Any]) -> None:
    """The files a complete walk of the library passed over (media/skipped.py)."""
    conn.execute(update(libraries).where(libraries.c.id == library_id).values(walk_skipped=tally))


def live_rows_for(conn: Connection, library_id: int) -> list[tuple[int, str]]:
    query = select(media.c.id, media.c.rel_path).where(
        media.c.library_id == library_id, media.c.retired_at.is_(None)
    )
    return [(r[0], r[1]) for r in conn.execute(query)]


def count_live(conn: Connection, library_id: int) -> int:
    query = select(func.count()).where(
        media.c.library_id == library_id, media.c.retired_at.is_(None)
    )
    return int(conn.execute(query).scalar_one())


def has_live(conn: Connection, library_id: int) -> bool:
    """One index probe, where count_live walks every row of the library."""
    query = (
        select(media.c.id)
        .where(media.c.library_id == library_id, media.c.retired_at.is_(None))
        .limit(1)
    )
    return conn.execute(query).first() is not None


def known_for_paths(conn: Connection, library_id: int, paths: list[str]) -> dict[str, Known]:
    """What the table knows about these paths only (the quick tick's changed few)."""
    out: dict[str, Known] = {}
    for start in range(0, len(paths), CHUNK):
        chunk = paths[start : start + CHUNK]
        query = select(
            media.c.rel_path, media.c.id, media.c.size, media.c.mtime_ns, media.c.retired_at
        ).where(media.c.library_id == library_id, media.c.rel_path.in_(chunk))
        for r in conn.execute(query):
            out[r[0]] = Known(r[1], r[2], r[3], r[4] is not None)
    return out


def count_by_kind(conn: Connection) -> dict[tuple[int, str], int]:
    query = (
        select(media.c.library_id, media.c.kind, func.count())
        .where(media.c.retired_at.is_(None))
        .group_by(media.c.library_id, media.c.kind)
    )
    return {(r[0], r[1]): int(r[2]) for r in conn.execute(query)}


def get(conn: Connection, media_id: int) -> RowMapping | None:
    return conn.execute(select(media).where(media.c.id == media_id)).mappings().first()


def get_by_path(conn: Connection, library_id: int, rel_path: str) -> RowMapping | None:
    query = select(media).where(media.c.library_id == library_id, media.c.rel_path == rel_path)
    return conn.execute(query).mappings().first()


# --- per-row drains ------------------------------------------------------------------------


def due(column_retry: Any, now: float) -> Any:
    return or_(column_retry.is_(None), column_retry <= now)


def _claim(
    conn: Connection,
    columns: list[Any],
    where: list[ColumnElement[bool]],
    now: float,
    limit: int,
    seconds: float | None,
) -> list[RowMapping]:
    """Lease up to `limit` rows for this process and return them (oldest first).

    PostgreSQL: the candidate rows are locked FOR UPDATE SKIP LOCKED, so concurrent
    workers each get different rows without waiting. SQLite runs one writer at a time
    (BEGIN IMMEDIATE), which gives the same guarantee.
    """
    # This process's own leases count as free: they are left over from a tick that failed
    # before releasing them (one drain runs per process), and waiting out the lease would
    # stall the item for lease_seconds on the embedded default.
    unleased = or_(
        media.c.lease_until.is_(None),
        media.c.lease_until <= now,
        media.c.lease_owner == leases.owner(),
    )
    candidates = select(media.c.id).where(*where, unleased).order_by(media.c.id).limit(limit)
    if conn.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    stmt = (
        update(media)
        .where(media.c.id.in_(candidates.scalar_subquery()))
        .values(
            lease_owner=leases.owner(),
            lease_until=now + (leases.lease_seconds() if seconds is None else seconds),
        )
        .returning(*columns)
    )
    rows = list(conn.execute(stmt).mappings())
    rows.sort(key=lambda r: int(r["id"]))
    return rows


def hash_batch(
    conn: Connection,
    library_id: int,
    now: float,
    limit: int,
    seconds: float | None = None,
) -> list[RowMapping]:
    """Claim rows waiting for a content hash (leased to this process)."""
    columns = [media.c.id, media.c.rel_path, media.c.size, media.c.mtime_ns, media.c.hash_attempts]
    where = [media.c.library_id == library_id, HASH_BACKLOG, due(media.c.hash_retry_at, now)]
    return _claim(conn, columns, where, now, limit, seconds)


def hash_backlog(conn: Connection, library_id: int) -> int:
    query = select(func.count()).where(media.c.library_id == library_id, HASH_BACKLOG)
    return int(conn.execute(query).scalar_one())


def meta_batch(
    conn: Connection,
    library_id: int,
    now: float,
    limit: int,
    seconds: float | None = None,
) -> list[RowMapping]:
    """Claim rows waiting for metadata (leased to this process)."""
    columns = [
        media.c.id,
        media.c.rel_path,
        media.c.format,
        media.c.size,
        media.c.mtime_ns,
        media.c.meta_attempts,
        media.c.content_hash,
    ]
    where = [media.c.library_id == library_id, META_BACKLOG, due(media.c.meta_retry_at, now)]
    return _claim(conn, columns, where, now, limit, seconds)


def finish_leased(conn: Connection, media_id: int, values: dict[str, Any]) -> bool:
    """Write a drain's result and release the lease, only if this process still holds it."""
    stmt = (
        update(media)
        .where(media.c.id == media_id, media.c.lease_owner == leases.owner())
        .values(**values, lease_owner=None, lease_until=None)
    )
    return bool(conn.execute(stmt).rowcount)


def zone_of(conn: Connection, content_hash: str | None) -> str | None:
    """The IANA zone the places drain found at these bytes' GPS fix, if it ran."""
    if content_hash is None:
        return None
    query = select(places.c.timezone).where(places.c.content_hash == content_hash)
    return conn.execute(query).scalar_one_or_none()


def refresh_utc(conn: Connection, hashes: Sequence[str]) -> int:
    """Recompute `taken_at_utc` of the rows showing these bytes, now that their GPS zone is
    known (a trip across zones then sorts by the instant); the number of rows changed."""
    if not hashes:
        return 0
    query = (
        select(
            media.c.id,
            media.c.taken_at,
            media.c.taken_at_offset_min,
            media.c.taken_at_source,
            media.c.taken_at_utc,
            places.c.timezone,
        )
        .select_from(media.join(places, places.c.content_hash == media.c.content_hash))
        .where(media.c.content_hash.in_(list(hashes)))
    )
    changes = []
    for r in conn.execute(query):
        utc = sort_instant(r.taken_at, r.taken_at_offset_min, r.taken_at_source, r.timezone)
        if utc != r.taken_at_utc:
            changes.append({"row_id": r.id, "utc": utc})
    if changes:
        stmt = update(media).where(media.c.id == bindparam("row_id"))
        conn.execute(stmt.values(taken_at_utc=bindparam("utc")), changes)
    return len(changes)


def meta_backlog(conn: Connection, library_id: int) -> int:
    query = select(func.count()).where(media.c.library_id == library_id, META_BACKLOG)
    return int(conn.execute(query).scalar_one())


def same_file(conn: Connection, media_id: int, size: int, mtime_ns: int) -> bool:
    """The row still describes the bytes we just read (no change raced the drain)."""
    query = select(media.c.id).where(
        and_(media.c.id == media_id, media.c.size == size, media.c.mtime_ns == mtime_ns)
    )
    return conn.execute(query).first() is not None
