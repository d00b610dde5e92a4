"""The SQL of /stats/backlogs: media-row states per library (the kernel's backlog queries
answer the hash-keyed part). Every query takes the caller's `Scope` into its WHERE clause:
a library outside it has no row, no count, no name here."""

from __future__ import annotations

from sqlalchemy import Connection, RowMapping, and_, func, select

from imageserver.db.tables import libraries, media
from imageserver.work import backlog
from imageserver.work.artefacts import THUMB_KIND
from imageserver.work.scope import Scope

_count = backlog.count_if


def media_counts(conn: Connection, scope: Scope) -> dict[int, dict[str, int]]:
    query = (
        select(
            media.c.library_id,
            func.count().label("media"),
            _count(media.c.kind == "photo").label("photos"),
            _count(media.c.kind == "video").label("videos"),
            _count(and_(media.c.content_hash.is_(None), media.c.hash_error.is_(None))).label(
                "hash_pending"
            ),
            _count(and_(media.c.content_hash.is_(None), media.c.hash_error.is_not(None))).label(
                "hash_failing"
            ),
            _count(media.c.meta_status == "pending").label("metadata_pending"),
            _count(media.c.meta_status == "failed").label("metadata_failed"),
        )
        .where(media.c.retired_at.is_(None), scope.where(media.c.library_id))
        .group_by(media.c.library_id)
    )
    return {
        row["library_id"]: {k: int(v) for k, v in row.items() if k != "library_id"}
        for row in conn.execute(query).mappings()
    }


def thumbnail_counts(conn: Connection, scope: Scope) -> dict[int, dict[str, int]]:
    """Distinct live hashes per library by thumbnail state (no artefact row = pending)."""
    return {
        library_id: {f"thumbnails_{state}": n for state, n in states.items()}
        for library_id, states in backlog.hash_states(conn, THUMB_KIND, None, scope).items()
    }


def all_libraries(conn: Connection, scope: Scope) -> list[RowMapping]:
    """The scope's libraries, by name."""
    query = select(libraries).where(scope.where(libraries.c.id)).order_by(libraries.c.name)
    return list(conn.execute(query).mappings())


def every_library_name(conn: Connection) -> set[str]:
    """Every library's current name, unscoped: for pruning the operator's gauges only."""
    return set(conn.execute(select(libraries.c.name)).scalars())
