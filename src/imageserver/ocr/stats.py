"""OCR numbers per library and across libraries, deduplicated by content hash.

images: distinct hashes of live photos; read / failed: their OCR finished / gave up;
pending: the rest; with_text: read hashes where some text was found.

`compute(conn, scope)` is a caller's view (the scope is in every query). The gauges are the
operator's view of every library (`refresh`, from the drain's full ticks), never set from a
caller's request.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Gauge
from sqlalchemy import Connection, and_, case, func, select

from imageserver.db.tables import artefacts, media, ocr_text
from imageserver.ocr.repo import OCR_KIND
from imageserver.telemetry.metrics import REGISTRY
from imageserver.work import backlog
from imageserver.work.scope import Scope

AGGREGATE_LABEL = "_all"
STATES = ("images", "read", "with_text", "pending", "failed")

OCR_IMAGES = Gauge(
    "imageserver_ocr_images",
    "Images by OCR state per library (dedup by hash within a library).",
    ["library", "state"],
    registry=REGISTRY,
)


@dataclass(frozen=True)
class Counts:
    images: int = 0
    read: int = 0
    with_text: int = 0
    pending: int = 0
    failed: int = 0


@dataclass(frozen=True)
class LibraryCounts:
    library_id: int
    library: str
    counts: Counts


def _with_text(conn: Connection, scope: Scope | None) -> tuple[dict[int, int], int]:
    where = [
        *backlog.live(("photo",)),
        media.c.content_hash.in_(select(ocr_text.c.content_hash)),
    ]
    if scope is not None:
        where.append(scope.where(media.c.library_id))
    per = select(media.c.library_id, func.count(func.distinct(media.c.content_hash))).where(*where)
    per_library = {int(r[0]): int(r[1]) for r in conn.execute(per.group_by(media.c.library_id))}
    total = select(func.count(func.distinct(media.c.content_hash))).where(*where)
    return per_library, int(conn.execute(total).scalar_one())


def _distinct_states(conn: Connection, scope: Scope | None) -> dict[str, int]:
    """Across libraries (a hash in two libraries counts once), by the state rule of
    backlog.hash_states."""
    where = [*backlog.live(("photo",)), media.c.content_hash.is_not(None)]
    if scope is not None:
        where.append(scope.where(media.c.library_id))
    state = case(
        (artefacts.c.status == "done", "done"),
        (artefacts.c.status == "failed", "failed"),
        else_="pending",
    )
    query = (
        select(state, func.count(func.distinct(media.c.content_hash)))
        .select_from(
            media.outerjoin(
                artefacts,
                and_(
                    artefacts.c.content_hash == media.c.content_hash,
                    artefacts.c.kind == OCR_KIND,
                ),
            )
        )
        .where(*where)
        .group_by(state)
    )
    return {str(name): int(n) for name, n in conn.execute(query)}


def _counts(states: dict[str, int], with_text: int) -> Counts:
    done, failed, pending = (states.get(k, 0) for k in ("done", "failed", "pending"))
    return Counts(done + failed + pending, done, with_text, pending, failed)


def compute(conn: Connection, scope: Scope | None) -> tuple[list[LibraryCounts], Counts]:
    """(per library, aggregate) over the scope's libraries (None: every library, internal
    use only); every library is listed, empty ones with zeros."""
    states = backlog.hash_states(conn, OCR_KIND, ("photo",), scope)
    texts, total_text = _with_text(conn, scope)
    rows = [
        LibraryCounts(
            library_id, name, _counts(states.get(library_id, {}), texts.get(library_id, 0))
        )
        for library_id, name in backlog.library_names(conn, scope)
    ]
    return rows, _counts(_distinct_states(conn, scope), total_text)


def refresh(conn: Connection) -> None:
    """Every library's numbers as gauges (the drain's full ticks)."""
    rows, _ = compute(conn, None)
    # per library only: an "_all" series beside them would make sum() count twice
    for name, counts in ((r.library, r.counts) for r in rows):
        for state in STATES:
            OCR_IMAGES.labels(name, state).set(getattr(counts, state))
