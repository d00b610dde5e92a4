"""SQL of the embedding drain and its stats: backlogs, vector writes, per-hash state.

An image is embedded for a model version when `clip_embeddings` holds (hash, version);
the `artefacts` row of kind `clip:<version>` records failures (failed = permanent, retry =
transient with a next-attempt time) and `done`. Nothing on `media` is ever written here.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import ColumnElement, Connection, and_, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from imageserver.db.tables import artefacts, clip_embeddings, libraries, media
from imageserver.work.artefacts import THUMB_KIND, clip_kind


@dataclass(frozen=True)
class Item:
    media_id: int
    content_hash: str
    rel_path: str


def _thumb_is(status: str) -> ColumnElement[bool]:
    return (
        select(artefacts.c.content_hash)
        .where(
            artefacts.c.content_hash == media.c.content_hash,
            artefacts.c.kind == THUMB_KIND,
            artefacts.c.status == status,
        )
        .exists()
    )


def has_embedding(version: str) -> ColumnElement[bool]:
    return (
        select(clip_embeddings.c.id)
        .where(
            clip_embeddings.c.content_hash == media.c.content_hash,
            clip_embeddings.c.model_version == version,
        )
        .exists()
    )


def clip_state_is(version: str, *statuses: str) -> ColumnElement[bool]:
    return (
        select(artefacts.c.content_hash)
        .where(
            artefacts.c.content_hash == media.c.content_hash,
            artefacts.c.kind == clip_kind(version),
            artefacts.c.status.in_(statuses),
        )
        .exists()
    )


def _settled(version: str, now: float) -> ColumnElement[bool]:
    """Embedded, failed for good, or a retry whose time has not come."""
    a = artefacts.alias("c")
    return or_(
        has_embedding(version),
        select(a.c.content_hash)
        .where(
            a.c.content_hash == media.c.content_hash,
            a.c.kind == clip_kind(version),
            or_(
                a.c.status == "failed",
                and_(a.c.status == "retry", a.c.next_attempt_at > now),
            ),
        )
        .exists(),
    )


def live_photos(library_id: int | None) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [
        media.c.retired_at.is_(None),
        media.c.kind == "photo",
        libraries.c.enabled.is_(True),
    ]
    if library_id is not None:
        where.append(media.c.library_id == library_id)
    return where


def _representatives(
    conn: Connection, where: list[ColumnElement[bool]], limit: int | None
) -> list[Item]:
    """One live row per content hash (the oldest), oldest hashes first."""
    joined = media.join(libraries, libraries.c.id == media.c.library_id)
    firsts = (
        select(func.min(media.c.id).label("id"))
        .select_from(joined)
        .where(*where)
        .group_by(media.c.content_hash)
        .order_by(func.min(media.c.id))
    )
    if limit is not None:
        firsts = firsts.limit(limit)
    ids = [r.id for r in conn.execute(firsts)]
    if not ids:
        return []
    rows = conn.execute(
        select(media.c.id, media.c.content_hash, media.c.rel_path)
        .where(media.c.id.in_(ids))
        .order_by(media.c.id)
    )
    return [Item(r.id, r.content_hash, r.rel_path) for r in rows]


def backlog(conn: Connection, version: str, library_id: int, now: float, limit: int) -> list[Item]:
    """Photos whose large preview exists and that still need an embedding of `version`."""
    where = [
        *live_photos(library_id),
        media.c.content_hash.is_not(None),
        _thumb_is("done"),
        ~_settled(version, now),
    ]
    return _representatives(conn, where, limit)


def count_backlog(conn: Connection, version: str, library_id: int, now: float) -> int:
    query = (
        select(func.count(func.distinct(media.c.content_hash)))
        .select_from(media.join(libraries, libraries.c.id == media.c.library_id))
        .where(
            *live_photos(library_id),
            media.c.content_hash.is_not(None),
            _thumb_is("done"),
            ~_settled(version, now),
        )
    )
    return int(conn.execute(query).scalar_one())


def without_preview(conn: Connection, version: str, library_id: int, limit: int) -> list[Item]:
    """Photos whose preview failed for good and that carry no clip state yet."""
    where = [
        *live_photos(library_id),
        media.c.content_hash.is_not(None),
        _thumb_is("failed"),
        ~has_embedding(version),
        ~clip_state_is(version, "failed"),
    ]
    return _representatives(conn, where, limit)


def thumb_detail(conn: Connection, content_hash: str) -> str | None:
    return conn.execute(
        select(artefacts.c.detail).where(
            artefacts.c.content_hash == content_hash, artefacts.c.kind == THUMB_KIND
        )
    ).scalar_one_or_none()


def insert_vectors(
    conn: Connection, version: str, items: Sequence[tuple[str, NDArray[np.float32]]]
) -> None:
    """Store each (hash, unit vector) once; a row another worker wrote first is kept."""
    if not items:
        return
    now = time.time()
    values = [
        {
            "content_hash": digest,
            "model_version": version,
            "dim": int(vector.shape[0]),
            "vector": vector_bytes(vector),
            "created_at": now,
        }
        for digest, vector in items
    ]
    insert_fn = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert_fn(clip_embeddings).on_conflict_do_nothing(
        index_elements=[clip_embeddings.c.content_hash, clip_embeddings.c.model_version]
    )
    conn.execute(stmt, values)


def vector_bytes(vector: NDArray[np.float32]) -> bytes:
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


def vector_from_bytes(data: bytes, dim: int) -> NDArray[np.float32]:
    out = np.frombuffer(data, dtype="<f4", count=dim)
    return out.astype(np.float32)


def stored_vector(conn: Connection, content_hash: str, version: str) -> NDArray[np.float32] | None:
    row = conn.execute(
        select(clip_embeddings.c.vector, clip_embeddings.c.dim).where(
            clip_embeddings.c.content_hash == content_hash,
            clip_embeddings.c.model_version == version,
        )
    ).first()
    return None if row is None else vector_from_bytes(row.vector, row.dim)


def versions(conn: Connection) -> list[str]:
    query = select(clip_embeddings.c.model_version).distinct()
    return sorted(r[0] for r in conn.execute(query))
