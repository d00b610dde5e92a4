"""Backlog and coverage queries over the kernel's state, shared by every stats surface.

The four stats surfaces (/stats/backlogs, /hls/stats, /ml/stats, /faces/stats) ask the same
few questions of `media` and `artefacts`: which libraries there are, how many live rows of
a kind have no hash yet, how many distinct live hashes sit in each state of one artefact
kind. The answers are written here once, so one surface cannot count "pending" differently
from another; each feature adds only what is its own (faces per hash, library sets).

Each question takes a `Scope` into its SQL: a caller's numbers count only the libraries
they may see. `None` means every library and is for internal use only (the gauges the
scan publishes, the drains); a route always passes its caller's scope.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, RowMapping, and_, case, func, select

from imageserver.db.tables import artefacts, libraries, media
from imageserver.work.scope import Scope


def count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """Rows meeting `condition` (0, never NULL, for a group without any)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


WITH_LIBRARY = media.join(libraries, libraries.c.id == media.c.library_id)


def live_photos(library_id: int | None = None) -> list[ColumnElement[bool]]:
    """Hashed photos not retired (of one library, or every library for None)."""
    where: list[ColumnElement[bool]] = [
        media.c.retired_at.is_(None),
        media.c.content_hash.is_not(None),
        media.c.kind == "photo",
    ]
    if library_id is not None:
        where.append(media.c.library_id == library_id)
    return where


def artefact_field(kind: str, field: str = "status") -> Any:
    """The row's `kind` artefact `field` (status, detail) as a scalar subquery."""
    return (
        select(artefacts.c[field])
        .where(artefacts.c.content_hash == media.c.content_hash, artefacts.c.kind == kind)
        .scalar_subquery()
    )


def one_per_hash(
    conn: Connection, columns: Sequence[Any], where: Sequence[ColumnElement[bool]], limit: int
) -> list[RowMapping]:
    """`columns` of one representative row (the lowest id) per content hash meeting
    `where`, at most `limit` hashes, by id: how a per-hash drain claims its next chunk
    (the bytes are worked on once, whatever number of copies the libraries hold)."""
    firsts = (
        select(func.min(media.c.id).label("id"))
        .select_from(WITH_LIBRARY)
        .where(*where)
        .group_by(media.c.content_hash)
        .limit(limit)
        .subquery()
    )
    query = (
        select(*columns)
        .select_from(WITH_LIBRARY)
        .where(media.c.id.in_(select(firsts.c.id)))
        .order_by(media.c.id)
    )
    return list(conn.execute(query).mappings())


def distinct_hashes(conn: Connection, where: Sequence[ColumnElement[bool]]) -> int:
    """How many content hashes have a row meeting `where` (a per-hash backlog)."""
    query = select(func.count(func.distinct(media.c.content_hash))).where(*where)
    return int(conn.execute(query).scalar_one())


def library_names(conn: Connection, scope: Scope | None = None) -> list[tuple[int, str]]:
    """Every library of the scope, enabled or not, by id."""
    query = select(libraries.c.id, libraries.c.name).order_by(libraries.c.id)
    if scope is not None:
        query = query.where(scope.where(libraries.c.id))
    return [(int(r.id), str(r.name)) for r in conn.execute(query)]


def live(media_kinds: Sequence[str] | None = None) -> list[ColumnElement[bool]]:
    """Rows not retired, of these kinds (None: every kind)."""
    where: list[ColumnElement[bool]] = [media.c.retired_at.is_(None)]
    if media_kinds is not None:
        where.append(media.c.kind.in_(media_kinds))
    return where


def hashless(
    conn: Connection,
    media_kinds: Sequence[str],
    library_id: int | None = None,
    scope: Scope | None = None,
) -> dict[int, int]:
    """Live rows of these kinds not hashed yet, per library (rows: no hash to dedup by)."""
    where = [*live(media_kinds), media.c.content_hash.is_(None)]
    if library_id is not None:
        where.append(media.c.library_id == library_id)
    if scope is not None:
        where.append(scope.where(media.c.library_id))
    query = select(media.c.library_id, func.count()).where(*where).group_by(media.c.library_id)
    return {int(r[0]): int(r[1]) for r in conn.execute(query)}


def hash_states(
    conn: Connection,
    kind: str,
    media_kinds: Sequence[str] | None = None,
    scope: Scope | None = None,
) -> dict[int, dict[str, int]]:
    """Distinct live hashes per library by the state of `kind`: done, failed, or pending
    (no row yet, leased, or retrying), as the drains see them."""
    where = [*live(media_kinds), media.c.content_hash.is_not(None)]
    if scope is not None:
        where.append(scope.where(media.c.library_id))
    state = case(
        (artefacts.c.status == "done", "done"),
        (artefacts.c.status == "failed", "failed"),
        else_="pending",
    ).label("state")
    query = (
        select(media.c.library_id, state, func.count(func.distinct(media.c.content_hash)))
        .select_from(
            media.outerjoin(
                artefacts,
                and_(artefacts.c.content_hash == media.c.content_hash, artefacts.c.kind == kind),
            )
        )
        .where(*where)
        .group_by(media.c.library_id, state)
    )
    out: dict[int, dict[str, int]] = {}
    for library_id, name, n in conn.execute(query):
        out.setdefault(int(library_id), {})[str(name)] = int(n)
    return out
