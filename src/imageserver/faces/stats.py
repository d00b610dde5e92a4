"""Face-scan numbers per library and across libraries, deduplicated by content hash.

images: distinct hashes of live photos; scanned / failed: their face scan finished /
gave up; pending: the rest; with_faces / faces: hashes with a face, and their faces;
hashless: live photo rows not hashed yet (they cannot be scanned). The same numbers are
Prometheus gauges (the aggregate under library="_all"), set on every call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from imageserver.db.tables import artefacts, faces, media
from imageserver.telemetry.metrics import FACES_DETECTED, FACES_IMAGES
from imageserver.work import backlog
from imageserver.work.artefacts import FACES_KIND

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


def _grouped(conn: Connection, per_library: bool) -> dict[int | None, Counts]:
    keys: list[Any] = [media.c.library_id] if per_library else []
    hashes = (
        select(*keys, media.c.content_hash)
        .where(*backlog.live(("photo",)), media.c.content_hash.is_not(None))
        .distinct()
        .subquery()
    )
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


def compute(conn: Connection) -> tuple[list[LibraryCounts], Counts]:
    """(per library, aggregate); every library is listed, empty ones with zeros."""
    per_library = _grouped(conn, per_library=True)
    hashless = backlog.hashless(conn, ("photo",))
    rows = []
    for library_id, name in backlog.library_names(conn):
        base = per_library.get(library_id, Counts())
        counts = Counts(**{**base.__dict__, "hashless": hashless.get(library_id, 0)})
        rows.append(LibraryCounts(library_id, name, counts))
    total = _grouped(conn, per_library=False).get(None, Counts())
    total = Counts(**{**total.__dict__, "hashless": sum(hashless.values())})
    publish(rows, total)
    return rows, total


def publish(rows: list[LibraryCounts], total: Counts) -> None:
    for name, counts in [*((r.library, r.counts) for r in rows), (AGGREGATE_LABEL, total)]:
        for state in STATES:
            FACES_IMAGES.labels(name, state).set(getattr(counts, state))
        FACES_DETECTED.labels(name).set(counts.faces)
