"""The reference ranking: numpy brute force over the stored vectors, rules applied by hand."""

from __future__ import annotations

import numpy as np
from sqlalchemy import func, select

from imageserver.db.tables import clip_embeddings, libraries, media
from imageserver.work.context import AppContext


def brute_force(
    ctx: AppContext,
    version: str,
    query: np.ndarray,
    *,
    threshold: float,
    limit: int,
    library_ids: tuple[int, ...] = (),
    exclude_hash: str | None = None,
) -> list[tuple[int, float]]:
    """(media id, score) best first: one hit per hash (its oldest visible row), live photos of
    enabled libraries, companions hidden, score >= threshold; ties keep stored order."""
    with ctx.engine.connect() as conn:
        stored = conn.execute(
            select(clip_embeddings.c.content_hash, clip_embeddings.c.vector)
            .where(clip_embeddings.c.model_version == version)
            .order_by(clip_embeddings.c.id)
        ).all()
        where = [
            media.c.retired_at.is_(None),
            media.c.kind == "photo",
            media.c.companion_id.is_(None),
            libraries.c.enabled.is_(True),
        ]
        if library_ids:
            where.append(media.c.library_id.in_(library_ids))
        firsts = dict(
            conn.execute(
                select(media.c.content_hash, func.min(media.c.id))
                .select_from(media.join(libraries, libraries.c.id == media.c.library_id))
                .where(*where)
                .group_by(media.c.content_hash)
            ).all()
        )
    if not stored:
        return []
    matrix = np.stack([np.frombuffer(r.vector, "<f4") for r in stored])
    scores = matrix @ query.astype(np.float32)
    order = np.argsort(-scores, kind="stable")
    hits = []
    for row in order:
        digest = stored[row].content_hash
        if digest == exclude_hash or digest not in firsts or scores[row] < threshold:
            continue
        hits.append((int(firsts[digest]), float(scores[row])))
    return hits[:limit]


def assert_same_ranking(got: list[dict[str, object]], want: list[tuple[int, float]]) -> None:
    assert len(got) == len(want), (got, want)
    for hit, (media_id, score) in zip(got, want, strict=True):
        assert abs(float(hit["score"]) - score) < 1e-5  # type: ignore[arg-type]
        assert hit["media_id"] == media_id, (got, want)
