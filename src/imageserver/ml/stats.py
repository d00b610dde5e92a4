"""Embedding progress per library and overall, counted by content hash (duplicates once).

images    live photos with a content hash (distinct hashes)
embedded  ... with a vector of the model version
failed    ... failed for good (undecodable, no preview), not embedded
retrying  ... waiting for a retry after a transient failure (part of pending)
pending   images - embedded - failed
hashless  live photo rows not hashed yet (rows, they have no hash to dedup by)

A caller's numbers are `collect(ctx, version, scope)`: the scope is in every query (the
library list and each count), so a member sees rows and a total of their libraries only.
`scope=None` counts every library and is for the operator's gauges (`refresh_gauges`,
after each full scan), never for a caller.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import Connection, case, func, select

from imageserver.db.engine import read_only
from imageserver.db.tables import libraries, media
from imageserver.ml import encoders
from imageserver.ml.repo import clip_state_is, has_embedding
from imageserver.telemetry.metrics import ML_IMAGES
from imageserver.work import backlog
from imageserver.work.context import AppContext
from imageserver.work.scope import Scope


@dataclass
class Counts:
    images: int = 0
    embedded: int = 0
    pending: int = 0
    failed: int = 0
    retrying: int = 0
    hashless: int = 0


def _counts(
    conn: Connection, version: str | None, library_id: int | None, scope: Scope | None
) -> Counts:
    live = backlog.live(("photo",))
    if library_id is not None:
        live.append(media.c.library_id == library_id)
    if scope is not None:
        live.append(scope.where(media.c.library_id))
    digest = media.c.content_hash
    columns = [func.count(func.distinct(digest))]
    if version is not None:
        embedded = has_embedding(version)
        columns += [
            func.count(func.distinct(case((embedded, digest)))),
            func.count(func.distinct(case((~embedded & clip_state_is(version, "failed"), digest)))),
            func.count(func.distinct(case((~embedded & clip_state_is(version, "retry"), digest)))),
        ]
    row = conn.execute(select(*columns).where(*live, digest.is_not(None))).one()
    hashless = conn.execute(select(func.count()).where(*live, digest.is_(None))).scalar_one()
    images = int(row[0])
    done, failed, retrying = (int(v) for v in row[1:]) if version is not None else (0, 0, 0)
    return Counts(images, done, images - done - failed, failed, retrying, int(hashless))


def current_version(ctx: AppContext) -> str | None:
    try:
        encoder = encoders.get_encoder(ctx)
    except encoders.ModelError:
        return None
    return encoder.model_version if encoder is not None else None


def collect(
    ctx: AppContext, version: str | None, scope: Scope | None
) -> tuple[dict[str, Counts], Counts]:
    """(per library name, aggregate) for `version` (None: counts without embedding state)
    over the libraries of `scope` (None: every library, for the gauges only)."""
    query = select(libraries.c.id, libraries.c.name)
    if scope is not None:
        query = query.where(scope.where(libraries.c.id))
    with read_only(ctx.engine) as conn:
        names = {r.id: r.name for r in conn.execute(query)}
        per = {
            name: _counts(conn, version, library_id, scope) for library_id, name in names.items()
        }
        total = _counts(conn, version, None, scope)
    return per, total


def publish(per: dict[str, Counts], total: Counts) -> None:
    """Per-library gauges only: a cross-library series would make sum() double-count."""
    del total
    for name, counts in per.items():
        for state, value in asdict(counts).items():
            ML_IMAGES.labels(name, state).set(value)


def refresh_gauges(ctx: AppContext) -> None:
    per, total = collect(ctx, current_version(ctx), None)
    publish(per, total)
