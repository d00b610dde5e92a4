"""The embedding matrix of each model version, kept in memory for exact cosine search.

One float32 matrix per model version (rows are unit vectors, so a dot product is the
cosine), filled at start and grown in place as the drain writes: rows are appended into
spare capacity (about 3 % headroom, so memory stays close to the raw vector bytes) and
the matrix is never rebuilt per query. Row i's content hash is `hashes[i]` (32 raw bytes).

Staleness: the drain of this process refreshes the index right after each commit. Rows
written by other processes (a separate worker, a replica) are picked up by `refresh`,
which every search runs when the last one is older than REFRESH_SECONDS, so they show
within that bound. Refresh reads `id > max_id - WINDOW` and skips ids it already holds,
so a transaction that committed late with a lower id is still seen unless more than
WINDOW newer rows were written while it was open.

Readers take a consistent (matrix, n) pair under the lock and score without it: rows
below n are never modified, and growth swaps in a new array (old readers keep theirs).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Engine, func, select

from imageserver.db.engine import read_only
from imageserver.db.tables import clip_embeddings

log = logging.getLogger("imageserver.search.index")

REFRESH_SECONDS = 5.0
WINDOW = 1000
LOAD_CHUNK = 20_000


def _headroom(rows: int) -> int:
    return max(256, rows // 32)


@dataclass(frozen=True)
class Snapshot:
    matrix: NDArray[np.float32]  # (n, dim) view: no copy
    hashes: NDArray[np.uint8]  # (n, 32) raw digests (not numpy "S32": it drops trailing NULs)

    def __len__(self) -> int:
        return int(self.matrix.shape[0])

    def scores(self, query: NDArray[np.float32]) -> NDArray[np.float32]:
        if len(self) == 0:
            return np.zeros(0, dtype=np.float32)
        return np.asarray(self.matrix @ query.astype(np.float32, copy=False), dtype=np.float32)

    def hash_at(self, row: int) -> str:
        return bytes(self.hashes[row].tobytes()).hex()


class VersionIndex:
    """Exact search matrix of one model version."""

    def __init__(self, version: str, dim: int, capacity: int = 0) -> None:
        self.version = version
        self.dim = dim
        self._matrix = np.zeros((max(capacity, 1), dim), dtype=np.float32)
        self._hashes = np.zeros((max(capacity, 1), 32), dtype=np.uint8)
        self._n = 0
        self.max_id = 0
        self._recent: set[int] = set()
        self._lock = threading.Lock()
        self.refreshed_at = time.monotonic()

    def __len__(self) -> int:
        return self._n

    @property
    def nbytes(self) -> int:
        return int(self._matrix.nbytes + self._hashes.nbytes)

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(self._matrix[: self._n], self._hashes[: self._n])

    def _reserve(self, extra: int) -> None:
        need = self._n + extra
        if need <= len(self._matrix):
            return
        capacity = need + _headroom(need)
        matrix = np.zeros((capacity, self.dim), dtype=np.float32)
        hashes = np.zeros((capacity, 32), dtype=np.uint8)
        matrix[: self._n] = self._matrix[: self._n]
        hashes[: self._n] = self._hashes[: self._n]
        self._matrix, self._hashes = matrix, hashes

    def add(self, ids: list[int], digests: list[str], vectors: NDArray[np.float32]) -> int:
        """Append rows not seen yet (by id); returns how many were new."""
        with self._lock:
            floor = self.max_id - WINDOW
            keep = [
                i for i, row_id in enumerate(ids) if row_id > floor and row_id not in self._recent
            ]
            if not keep:
                return 0
            self._reserve(len(keep))
            start = self._n
            self._matrix[start : start + len(keep)] = vectors[keep]
            raw = b"".join(bytes.fromhex(digests[i]) for i in keep)
            self._hashes[start : start + len(keep)] = np.frombuffer(raw, np.uint8).reshape(-1, 32)
            self._n += len(keep)
            for i in keep:
                self._recent.add(ids[i])
            self.max_id = max(self.max_id, *ids)
            floor = self.max_id - WINDOW
            self._recent = {i for i in self._recent if i > floor}
            return len(keep)

    def load_rows(self, engine: Engine, after_id: int) -> int:
        added = 0
        for ids, digests, vectors in _read(engine, self.version, self.dim, after_id):
            added += self.add(ids, digests, vectors)
        self.refreshed_at = time.monotonic()
        return added

    def refresh(self, engine: Engine) -> int:
        return self.load_rows(engine, self.max_id - WINDOW)


def _read(
    engine: Engine, version: str, dim: int, after_id: int
) -> Iterator[tuple[list[int], list[str], NDArray[np.float32]]]:
    """Rows of one version with id > after_id, in id order, LOAD_CHUNK at a time."""
    last = after_id
    while True:
        with read_only(engine) as conn:
            rows = conn.execute(
                select(
                    clip_embeddings.c.id,
                    clip_embeddings.c.content_hash,
                    clip_embeddings.c.dim,
                    clip_embeddings.c.vector,
                )
                .where(clip_embeddings.c.model_version == version, clip_embeddings.c.id > last)
                .order_by(clip_embeddings.c.id)
                .limit(LOAD_CHUNK)
            ).all()
        if not rows:
            return
        good = [r for r in rows if r.dim == dim and len(r.vector) == dim * 4]
        if len(good) != len(rows):
            log.warning(
                "event=index_rows_skipped version=%s count=%d", version, len(rows) - len(good)
            )
        if good:
            vectors = np.frombuffer(b"".join(r.vector for r in good), dtype="<f4").reshape(-1, dim)
            yield [r.id for r in good], [r.content_hash for r in good], vectors
        last = rows[-1].id
        if len(rows) < LOAD_CHUNK:
            return


def _shape(engine: Engine, version: str) -> tuple[int, int | None]:
    with read_only(engine) as conn:
        count = conn.execute(
            select(func.count()).where(clip_embeddings.c.model_version == version)
        ).scalar_one()
        dim = conn.execute(
            select(clip_embeddings.c.dim).where(clip_embeddings.c.model_version == version).limit(1)
        ).scalar_one_or_none()
    return int(count), dim


class SearchIndex:
    """Every loaded version of this process; a version is loaded once, on first need."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._versions: dict[str, VersionIndex] = {}
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def loaded(self, version: str) -> VersionIndex | None:
        return self._versions.get(version)

    def get(self, version: str) -> VersionIndex | None:
        """The version's matrix (loading it if needed), refreshed when older than the bound;
        None when no embedding of that version exists."""
        index = self._versions.get(version)
        if index is None:
            index = self.load(version)
        elif time.monotonic() - index.refreshed_at > REFRESH_SECONDS:
            index.refresh(self.engine)
        return index

    def load(self, version: str) -> VersionIndex | None:
        with self._lock:
            gate = self._loading.setdefault(version, threading.Lock())
        with gate:
            existing = self._versions.get(version)
            if existing is not None:
                return existing
            started = time.perf_counter()
            count, dim = _shape(self.engine, version)
            if dim is None:
                return None
            index = VersionIndex(version, dim, capacity=count + _headroom(count))
            index.load_rows(self.engine, 0)
            self._versions[version] = index
            log.info(
                "event=index_loaded version=%s rows=%d mbytes=%.1f seconds=%.2f",
                version,
                len(index),
                index.nbytes / 1e6,
                time.perf_counter() - started,
            )
            return index

    def refresh(self, version: str) -> None:
        """New rows were committed for `version` (by this process's drain)."""
        index = self._versions.get(version)
        if index is not None:
            index.refresh(self.engine)
        else:
            self.load(version)
