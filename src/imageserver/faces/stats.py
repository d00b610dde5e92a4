"""Face-scan numbers per library and across libraries, deduplicated by content hash.

images: distinct hashes of live photos; scanned / failed: their face scan finished /
gave up; pending: the rest; with_faces / faces: hashes with a face, and their faces;
hashless: live photo rows not hashed yet (they cannot be scanned).

`compute(conn, scope)` is a caller's view: the scope is in every query, so a member's rows
and total count their libraries only. The Prometheus gauges (per library only, so that
sum() does not double-count) are the operator's view of every library: `refresh` sets
them, from the drain's full ticks, never from a caller's request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from imageserver.db.tables import artefacts, faces, media
from imageserver.telemetry.metrics import FACES_DETECTED, FACES_IMAGES
from imageserver.work import backlog
from imageserver.work.artefacts import FACES_KIND
from imageserver.work.scope import Scope

AGGREGATE_LABEL = "_all"
STATES = ("images", "scanned", "with_faces", "pending", "failed", "hashless")


@dataclass(frozen=True)
class Counts:
    images: int = 0
    scanned: int = 0
    with_faces: int = 0
    faces: int = 0
    pending: int = 0
    failed: int = 0
    hashless: int = 0


@dataclass(frozen=True)
class LibraryCounts:
    library_id: int
    library: str
    counts: Counts


def _grouped(conn: Connection, per_library: bool, scope: Scope | None) -> dict[int | None, Counts]:
    keys: list[Any] = [media.c.library_id] if per_library else []
    where = [*backlog.live(("photo",)), media.c.content_hash.is_not(None)]
    if scope is not None:
        where.append(scope.where(media.c.library_id))
    hashes = select(*keys, media.c.content_hash).where(*where).distinct().subquery()
    per_hash = (
        select(faces.c.content_hash, func.count().label("n"))
        .group_by(faces.c.content_hash)
        .subquery()
    )
    status = artefacts.c.status
    group: list[Any] = [hashes.c.library_id] if per_library else []
    query = (
        select(
            *group,
            func.count().label("images"),
            backlog.count_if(status == "done").label("scanned"),
            backlog.count_if(status == "failed").label("failed"),
            backlog.count_if(per_hash.c.n > 0).label("with_faces"),
            func.coalesce(func.sum(per_hash.c.n), 0).label("faces"),
        )
        .select_from(
            hashes.outerjoin(
                artefacts,
                (artefacts.c.content_hash == hashes.c.content_hash)
                & (artefacts.c.kind == FACES_KIND),
            ).outerjoin(per_hash, per_hash.c.content_hash == hashes.c.content_hash)
        )
        .group_by(*group)
    )
    found: dict[int | None, Counts] = {}
    for row in conn.execute(query).mappings():
        images, scanned, failed = (
            int(row["images"]),
            int(row["scanned"] or 0),
            int(row["failed"] or 0),
        )
        found[row["library_id"] if per_library else None] = Counts(
            images=images,
            scanned=scanned,
            with_faces=int(row["with_faces"] or 0),
            faces=int(row["faces"] or 0),
            pending=images - scanned - failed,
            failed=failed,
        )
    return found


def compute(conn: Connection, scope: Scope | None) -> tuple[list[LibraryCounts], Counts]:
    """(per library, aggregate) over the scope's libraries (None: every library, internal
    use only); every library is listed, empty ones with zeros."""
    per_library = _grouped(conn, True, scope)
    hashless = backlog.hashless(conn, ("photo",), None, scope)
    rows = []
    for library_id, name in backlog.library_names(conn, scope):
        base = per_library.get(library_id, Counts())
        counts = Counts(**{**base.__dict__, "hashless": hashless.get(library_id, 0)})
        rows.append(LibraryCounts(library_id, name, counts))
    total = _grouped(conn, False, scope).get(None, Counts())
    total = Counts(**{**total.__dict__, "hashless": sum(hashless.values())})
    return rows, total


def refresh(conn: Connection) -> None:
    """Every library's numbers as gauges (the drain's full ticks)."""
    publish(*compute(conn, None))


def publish(rows: list[LibraryCounts], total: Counts) -> None:
    del total  # no cross-library series: sum() over `library` would count it twice
    for name, counts in ((r.library, r.counts) for r in rows):
        for state in STATES:
            FACES_IMAGES.labels(name, state).set(getattr(counts, state))
        FACES_DETECTED.labels(name).set(counts.faces)
