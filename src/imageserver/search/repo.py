"""SQL of search: which live photo in the caller's scope stands for a content hash."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, RowMapping, func, select

from imageserver.db.tables import libraries, media
from imageserver.work.scope import Scope

CHUNK = 500


@dataclass(frozen=True)
class Place:
    media_id: int
    library_id: int
    rel_path: str


def _visible(scope: Scope) -> list[ColumnElement[bool]]:
    """Live photos of enabled libraries in scope, companions (a RAW beside its JPEG)
    hidden as in listings."""
    return [
        media.c.retired_at.is_(None),
        media.c.kind == "photo",
        media.c.companion_id.is_(None),
        libraries.c.enabled.is_(True),
        scope.where(media.c.library_id),
    ]


def places(conn: Connection, digests: Sequence[str], scope: Scope) -> dict[str, Place]:
    """hash -> its representative (oldest visible row) for the hashes that have one."""
    found: dict[str, Place] = {}
    joined = media.join(libraries, libraries.c.id == media.c.library_id)
    for start in range(0, len(digests), CHUNK):
        chunk = list(digests[start : start + CHUNK])
        firsts = (
            select(func.min(media.c.id))
            .select_from(joined)
            .where(*_visible(scope), media.c.content_hash.in_(chunk))
            .group_by(media.c.content_hash)
        )
        rows = conn.execute(
            select(media.c.id, media.c.library_id, media.c.rel_path, media.c.content_hash).where(
                media.c.id.in_(firsts.scalar_subquery())
            )
        )
        for r in rows:
            found[r.content_hash] = Place(r.id, r.library_id, r.rel_path)
    return found


def all_library_ids(conn: Connection) -> set[int]:
    return {int(r[0]) for r in conn.execute(select(libraries.c.id))}


def live_media(conn: Connection, media_id: int, scope: Scope) -> RowMapping | None:
    query = select(media).where(
        media.c.id == media_id, media.c.retired_at.is_(None), scope.where(media.c.library_id)
    )
    return conn.execute(query).mappings().first()
