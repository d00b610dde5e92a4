"""GET /stats/backlogs: per library, what the hash, metadata and thumbnail drains still owe.

Two grouped queries, whatever the library count: one over live media rows (totals, hash
and metadata states), one over live hashes joined to their thumbnail state (counted by
content hash, like the drain: a file at two paths is thumbnailed once). The other drains
have their own endpoints (/hls/stats, /ml/stats, /faces/stats); the dashboard reads all four.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Connection, and_, case, func, select

from imageserver.auth.deps import current_user
from imageserver.db.tables import artefacts, libraries, media
from imageserver.inputs import DbId
from imageserver.work.artefacts import THUMB_KIND
from imageserver.work.deps import Ctx, ReadConn

router = APIRouter(tags=["operations"], dependencies=[Depends(current_user)])


class LibraryBacklog(BaseModel):
    library_id: int
    library: str
    enabled: bool
    health: str = Field(description="reachable | stale | unknown")
    health_reason: str | None
    last_quick_scan_at: float | None
    last_full_scan_at: float | None
    media: int = Field(description="live rows (photos + videos, companions included)")
    photos: int
    videos: int
    hash_pending: int = Field(description="rows without a content hash, not failed yet")
    hash_failing: int = Field(description="rows whose hashing failed (retried with backoff)")
    metadata_pending: int
    metadata_failed: int
    thumbnails_done: int = Field(description="distinct hashes with both thumbnails made")
    thumbnails_pending: int = Field(description="hashes waiting (or retrying) for thumbnails")
    thumbnails_failed: int = Field(description="hashes whose file cannot be thumbnailed")


class Backlogs(BaseModel):
    libraries: list[LibraryBacklog]
    generated_at: float


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """Rows meeting `condition` (0, never NULL, for a group without any)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def media_counts(conn: Connection) -> dict[int, dict[str, int]]:
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
        .where(media.c.retired_at.is_(None))
        .group_by(media.c.library_id)
    )
    return {
        row["library_id"]: {k: int(v) for k, v in row.items() if k != "library_id"}
        for row in conn.execute(query).mappings()
    }


def thumbnail_counts(conn: Connection) -> dict[int, dict[str, int]]:
    """Distinct live hashes per library by thumbnail state (no artefact row = pending)."""
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
                and_(
                    artefacts.c.content_hash == media.c.content_hash,
                    artefacts.c.kind == THUMB_KIND,
                ),
            )
        )
        .where(media.c.retired_at.is_(None), media.c.content_hash.is_not(None))
        .group_by(media.c.library_id, state)
    )
    out: dict[int, dict[str, int]] = {}
    for library_id, name, n in conn.execute(query):
        out.setdefault(library_id, {})[f"thumbnails_{name}"] = int(n)
    return out


def compute(conn: Connection) -> list[LibraryBacklog]:
    counts, thumbs = media_counts(conn), thumbnail_counts(conn)
    zero = {
        "media": 0,
        "photos": 0,
        "videos": 0,
        "hash_pending": 0,
        "hash_failing": 0,
        "metadata_pending": 0,
        "metadata_failed": 0,
        "thumbnails_done": 0,
        "thumbnails_pending": 0,
        "thumbnails_failed": 0,
    }
    rows = conn.execute(select(libraries).order_by(libraries.c.name)).mappings()
    return [
        LibraryBacklog(
            library_id=lib["id"],
            library=lib["name"],
            enabled=lib["enabled"],
            health=lib["health"],
            health_reason=lib["health_reason"],
            last_quick_scan_at=lib["last_quick_scan_at"],
            last_full_scan_at=lib["last_full_scan_at"],
            **{**zero, **counts.get(lib["id"], {}), **thumbs.get(lib["id"], {})},
        )
        for lib in rows
    ]


@router.get("/stats/backlogs", response_model=Backlogs)
def backlogs(
    ctx: Ctx,
    conn: ReadConn,
    library: Annotated[list[DbId] | None, Query(description="library id (repeatable)")] = None,
) -> Backlogs:
    """Per library: media totals, hashing, metadata and thumbnail backlogs and failures."""
    rows = compute(conn)
    if library:
        rows = [r for r in rows if r.library_id in library]
    return Backlogs(libraries=rows, generated_at=ctx.clock())
