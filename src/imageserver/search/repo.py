"""SQL of search: which live photo stands for a content hash, and library checks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, RowMapping, func, select

from imageserver.db.tables import libraries, media

CHUNK = 500


@dataclass(frozen=True)
class Place:
    media_id: int
    library_id: int
    rel_path: str


def _visible(library_ids: Sequence[int]) -> list[ColumnElement[bool]]:
    """Live photos of enabled libraries, companions (a RAW beside its JPEG) hidden as in
    listings; restricted to `library_ids` when given."""
    where: list[ColumnElement[bool]] = [
        media.c.retired_at.is_(None),
        media.c.kind == "photo",
        media.c.companion_id.is_(None),
        libraries.c.enabled.is_(True),
    ]
    if library_ids:
        where.append(media.c.library_id.in_(list(library_ids)))
    return where


def places(
    conn: Connection, digests: Sequence[str], library_ids: Sequence[int]
) -> dict[str, Place]:
    """hash -> its representative (oldest visible row) for the hashes that have one."""
    found: dict[str, Place] = {}
    joined = media.join(libraries, libraries.c.id == media.c.library_id)
    for start in range(0, len(digests), CHUNK):
        chunk = list(digests[start : start + CHUNK])
        firsts = (
            select(func.min(media.c.id))
            .select_from(joined)
            .where(*_visible(library_ids), media.c.content_hash.in_(chunk))
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


def missing_libraries(conn: Connection, library_ids: Sequence[int]) -> list[int]:
    if not library_ids:
        return []
    known = {
        r[0]
        for r in conn.execute(select(libraries.c.id).where(libraries.c.id.in_(list(library_ids))))
    }
    return sorted(set(library_ids) - known)


def live_media(conn: Connection, media_id: int) -> RowMapping | None:
    return (
        conn.execute(select(media).where(media.c.id == media_id, media.c.retired_at.is_(None)))
        .mappings()
        .first()
    )
