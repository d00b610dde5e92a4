"""GET /stats/backlogs: per library, what the hash, metadata and thumbnail drains still owe.

Two grouped queries, whatever the library count (ops/repo.py): one over live media rows
(totals, hash and metadata states), one over live hashes joined to their thumbnail state
(the kernel's `backlog.hash_states`, counted by content hash like the drain: a file at two
paths is thumbnailed once). The other drains
have their own endpoints (/hls/stats, /ml/stats, /faces/stats); the dashboard reads all four.

Rows are the caller's libraries only: the scope (narrowed by `library=`) is in every
query, so an ungranted library asked for by id reads like one that does not exist (no
row). `skipped` counts the files the last complete walk passed over, by reason with a few
library-relative paths (media/skipped.py), so no file vanishes without a word.
`health_reason` names server folders and is null for a member, as on /libraries.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from imageserver.auth.deps import User, current_user
from imageserver.auth.scope import UserScope
from imageserver.inputs import DbId
from imageserver.media.skipped import REASONS, Skipped
from imageserver.ops import repo
from imageserver.work.deps import Ctx, ReadConn
from imageserver.work.scope import Scope

router = APIRouter(tags=["operations"], dependencies=[Depends(current_user)])


class SkippedFiles(BaseModel):
    reason: str = Field(
        description="why the walk passed over these files: "
        + "; ".join(f"{k}: {v}" for k, v in REASONS.items())
    )
    description: str
    count: int
    examples: list[str] = Field(description="a few library-relative paths")


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
    skipped: int = Field(description="files the last complete walk did not index")
    skipped_by_reason: list[SkippedFiles] = Field(
        description="those files by reason, with examples (empty until a complete walk)"
    )


class Backlogs(BaseModel):
    libraries: list[LibraryBacklog]
    generated_at: float


def compute(conn: Connection, scope: Scope, admin: bool) -> list[LibraryBacklog]:
    counts, thumbs = repo.media_counts(conn, scope), repo.thumbnail_counts(conn, scope)
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
    rows = repo.all_libraries(conn, scope)
    return [
        LibraryBacklog(
            library_id=lib["id"],
            library=lib["name"],
            enabled=lib["enabled"],
            health=lib["health"],
            health_reason=lib["health_reason"] if admin else None,
            last_quick_scan_at=lib["last_quick_scan_at"],
            last_full_scan_at=lib["last_full_scan_at"],
            **{**zero, **counts.get(lib["id"], {}), **thumbs.get(lib["id"], {})},
            **_skipped(lib["walk_skipped"]),
        )
        for lib in rows
    ]


def _skipped(stored: object) -> dict[str, Any]:
    tally = Skipped.from_json(stored)
    by_reason = [
        SkippedFiles(reason=r, description=REASONS[r], count=e.count, examples=e.examples)
        for r, e in tally.to_json_items()
    ]
    return {"skipped": tally.total(), "skipped_by_reason": by_reason}


@router.get("/stats/backlogs", response_model=Backlogs)
def backlogs(
    ctx: Ctx,
    conn: ReadConn,
    user: User,
    scope: UserScope,
    library: Annotated[list[DbId] | None, Query(description="library id (repeatable)")] = None,
) -> Backlogs:
    """Per library of the caller: media totals, hashing, metadata and thumbnail backlogs
    and failures."""
    rows = compute(conn, scope.narrowed(library or ()), user.is_admin)
    return Backlogs(libraries=rows, generated_at=ctx.clock())
