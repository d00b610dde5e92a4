"""The embedding matrix of each model version, kept in memory for cosine search.

One matrix per model version (rows are unit vectors, so a dot product is the cosine),
filled at start and grown in place as the drain writes: rows are appended into spare
capacity (about 3 % headroom, so memory stays close to the raw vector bytes) and the
matrix is never rebuilt per query. Row i's content hash is `hashes[i]` (32 raw bytes).

Up to SEARCH_QUANTIZE_ABOVE rows a version is a float32 matrix and search is exact (one
BLAS matrix-vector product). Above it, a scan of the float32 matrix is bound by memory
bandwidth (2 GB per query at 1M x 512), so the rows become int8 codes with a per-row
scale (a quarter of the bytes, scanned by SimSIMD's int8 dot kernels on every core) plus
a float16 copy: the best REFINE rows of the int8 scan are rescored from float16, so the
top of the ranking is exact to float16 precision, and memory is 0.77x the raw float32.
The bench measures recall@10 of this against exact float32 search.

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
import os
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import simsimd
from numpy.typing import NDArray
from sqlalchemy import Engine, func, select

from imageserver.db.engine import read_only
from imageserver.db.tables import changes, clip_embeddings, media

log = logging.getLogger("imageserver.search.index")

REFRESH_SECONDS = 5.0
WINDOW = 1000
LOAD_CHUNK = 20_000
QUANTIZE_ABOVE = 300_000  # the default of Settings.search_quantize_above
REFINE = 2048  # rows of a quantized scan rescored from float16
THREADS = max(1, len(os.sched_getaffinity(0)))


def _headroom(rows: int) -> int:
    return max(256, rows // 32)


Mask = NDArray[np.bool_]


class Scorer(Protocol):
    def __call__(
        self, query: NDArray[np.float32], mask: Mask | None = None
    ) -> NDArray[np.float32]: ...


class ExactRows:
    """float32 rows: exact scores by one BLAS matrix-vector product."""

    def __init__(self, capacity: int, dim: int) -> None:
        self.vectors = np.zeros((capacity, dim), dtype=np.float32)

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def nbytes(self) -> int:
        return int(self.vectors.nbytes)

    def put(self, start: int, vectors: NDArray[np.float32]) -> None:
        self.vectors[start : start + len(vectors)] = vectors

    def copy_from(self, other: ExactRows | QuantizedRows, n: int) -> None:
        assert isinstance(other, ExactRows), "rows never go back from quantized to exact"
        self.vectors[:n] = other.vectors[:n]

    def scorer(self, n: int) -> Scorer:
        view = self.vectors[:n]

        def scores(query: NDArray[np.float32], mask: Mask | None = None) -> NDArray[np.float32]:
            out = np.asarray(view @ query.astype(np.float32, copy=False), dtype=np.float32)
            if mask is not None:
                out[~mask] = -np.inf
            return out

        return scores


def _quantize(vectors: NDArray[np.float32]) -> tuple[NDArray[np.int8], NDArray[np.float32]]:
    """int8 codes and the per-row scale that maps them back (v ~= codes * scale)."""
    peak = np.abs(vectors).max(axis=1)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    codes = np.rint(vectors / scale[:, None]).astype(np.int8)
    return codes, scale


class QuantizedRows:
    """int8 codes + per-row scale for the scan, float16 rows to rescore the best."""

    def __init__(self, capacity: int, dim: int) -> None:
        self.codes = np.zeros((capacity, dim), dtype=np.int8)
        self.scale = np.ones(capacity, dtype=np.float32)
        self.half = np.zeros((capacity, dim), dtype=np.float16)

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    @property
    def nbytes(self) -> int:
        return int(self.codes.nbytes + self.scale.nbytes + self.half.nbytes)

    def put(self, start: int, vectors: NDArray[np.float32]) -> None:
        end = start + len(vectors)
        self.codes[start:end], self.scale[start:end] = _quantize(vectors)
        self.half[start:end] = vectors

    def copy_from(self, other: ExactRows | QuantizedRows, n: int) -> None:
        if isinstance(other, QuantizedRows):
            self.codes[:n], self.scale[:n], self.half[:n] = (
                other.codes[:n],
                other.scale[:n],
                other.half[:n],
            )
            return
        for start in range(0, n, LOAD_CHUNK):
            self.put(start, other.vectors[start : min(n, start + LOAD_CHUNK)])

    def scorer(self, n: int) -> Scorer:
        codes, scale, half = self.codes[:n], self.scale[:n], self.half[:n]

        def scores(query: NDArray[np.float32], mask: Mask | None = None) -> NDArray[np.float32]:
            q = query.astype(np.float32, copy=False)
            q_codes, q_scale = _quantize(q[None, :])
            raw = simsimd.cdist(q_codes, codes, metric="dot", threads=THREADS)
            out = np.asarray(raw, dtype=np.float32).reshape(-1)
            out *= scale
            out *= q_scale[0]
            if mask is not None:
                # Before the refine: the rescored rows are the best rows the caller may see.
                out[~mask] = -np.inf
            if n > REFINE:
                best = np.argpartition(-out, REFINE - 1)[:REFINE]
                if mask is not None:
                    best = best[mask[best]]
                out[best] = half[best].astype(np.float32) @ q
            elif mask is None:
                out[:] = half.astype(np.float32) @ q
            else:
                out[mask] = half[mask].astype(np.float32) @ q
            return out

        return scores


@dataclass(frozen=True)
class Snapshot:
    scorer: Scorer
    hashes: NDArray[np.uint8]  # (n, 32) raw digests (not numpy "S32": it drops trailing NULs)
    # raw digest -> row, shared with the version (rows only ever get added; rows >= n ignored)
    row_of: dict[bytes, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.hashes.shape[0])

    def scores(self, query: NDArray[np.float32], mask: Mask | None = None) -> NDArray[np.float32]:
        """Cosine of every row; rows outside `mask` (when given) score -inf, inside the scan."""
        if len(self) == 0:
            return np.zeros(0, dtype=np.float32)
        return self.scorer(query, mask)

    def mask(self, digests: Iterable[bytes]) -> Mask:
        """Rows whose raw 32-byte digest is among `digests`."""
        mask = np.zeros(len(self), dtype=np.bool_)
        rows = [r for r in (self.row_of.get(d) for d in digests) if r is not None and r < len(mask)]
        if rows:
            mask[np.asarray(rows, dtype=np.intp)] = True
        return mask

    def hash_at(self, row: int) -> str:
        return bytes(self.hashes[row].tobytes()).hex()


class VersionIndex:
    """The search rows of one model version (exact, or quantized past a size)."""

    def __init__(
        self, version: str, dim: int, capacity: int = 0, quantize_above: int = QUANTIZE_ABOVE
    ) -> None:
        self.version = version
        self.dim = dim
        self.quantize_above = quantize_above
        capacity = max(capacity, 1)
        self._rows: ExactRows | QuantizedRows = self._storage(capacity)
        self._hashes = np.zeros((capacity, 32), dtype=np.uint8)
        self._n = 0
        self.max_id = 0
        self._recent: set[int] = set()
        self._row_of: dict[bytes, int] = {}
        self._lock = threading.Lock()
        self.refreshed_at = time.monotonic()

    def __len__(self) -> int:
        return self._n

    @property
    def quantized(self) -> bool:
        return isinstance(self._rows, QuantizedRows)

    @property
    def nbytes(self) -> int:
        return int(self._rows.nbytes + self._hashes.nbytes)

    def _storage(self, capacity: int) -> ExactRows | QuantizedRows:
        if capacity > self.quantize_above:
            return QuantizedRows(capacity, self.dim)
        return ExactRows(capacity, self.dim)

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(self._rows.scorer(self._n), self._hashes[: self._n], self._row_of)

    def _reserve(self, extra: int) -> None:
        need = self._n + extra
        if need <= len(self._rows):
            return
        capacity = need + _headroom(need)
        rows = self._storage(capacity)
        rows.copy_from(self._rows, self._n)
        hashes = np.zeros((capacity, 32), dtype=np.uint8)
        hashes[: self._n] = self._hashes[: self._n]
        self._rows, self._hashes = rows, hashes

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
            self._rows.put(start, np.ascontiguousarray(vectors[keep], dtype=np.float32))
            raws = [bytes.fromhex(digests[i]) for i in keep]
            raw = b"".join(raws)
            self._hashes[start : start + len(keep)] = np.frombuffer(raw, np.uint8).reshape(-1, 32)
            for offset, digest in enumerate(raws):
                self._row_of.setdefault(digest, start + offset)
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


class LibraryHashes:
    """The photo hashes each library holds, to mask the scan to what a caller may see.

    Shared by every version (it is about media rows, not vectors). A library's set is read
    once and kept while the `changes` counter of the media table (bumped by triggers on
    every hash, retirement and move, in any process) stands still; one tiny query a search
    checks it. Companions and disabled libraries are included: the mask only has to be a
    superset, the SQL resolve of the hits (search/repo.py) is what decides visibility.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._seq: int | None = None
        self._sets: dict[int, frozenset[bytes]] = {}

    def invalidate(self) -> None:
        with self._lock:
            self._sets.clear()
            self._seq = None

    def union(self, library_ids: Iterable[int]) -> set[bytes]:
        wanted = sorted(set(library_ids))
        with read_only(self.engine) as conn:
            seq = conn.execute(
                select(changes.c.seq).where(changes.c.name == "media")
            ).scalar_one_or_none()
            with self._lock:
                if seq != self._seq:
                    self._sets.clear()
                    self._seq = seq
                missing = [i for i in wanted if i not in self._sets]
            loaded = {i: self._read(conn, i) for i in missing}
        with self._lock:
            if self._seq == seq:
                self._sets.update(loaded)
            sets = [self._sets.get(i) or loaded.get(i, frozenset()) for i in wanted]
        out: set[bytes] = set()
        for found in sets:
            out |= found
        return out

    @staticmethod
    def _read(conn: Any, library_id: int) -> frozenset[bytes]:
        rows = conn.execute(
            select(media.c.content_hash)
            .where(
                media.c.library_id == library_id,
                media.c.retired_at.is_(None),
                media.c.kind == "photo",
                media.c.content_hash.is_not(None),
            )
            .distinct()
        )
        return frozenset(bytes.fromhex(r[0]) for r in rows)


class SearchIndex:
    """Every loaded version of this process; a version is loaded once, on first need."""

    def __init__(self, engine: Engine, quantize_above: int = QUANTIZE_ABOVE) -> None:
        self.engine = engine
        self.quantize_above = quantize_above
        self._versions: dict[str, VersionIndex] = {}
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}
        self.library_hashes = LibraryHashes(engine)

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
            index = VersionIndex(
                version, dim, capacity=count + _headroom(count), quantize_above=self.quantize_above
            )
            index.load_rows(self.engine, 0)
            self._versions[version] = index
            log.info(
                "event=index_loaded version=%s rows=%d quantized=%s mbytes=%.1f seconds=%.2f",
                version,
                len(index),
                str(index.quantized).lower(),
                index.nbytes / 1e6,
                time.perf_counter() - started,
            )
            return index

    def refresh(self, version: str) -> None:
        """New rows were committed for `version` (by this process's drain)."""
        self.library_hashes.invalidate()
        index = self._versions.get(version)
        if index is not None:
            index.refresh(self.engine)
        else:
            self.load(version)
