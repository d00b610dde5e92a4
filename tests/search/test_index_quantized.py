"""The quantized index (int8 scan + float16 rescore) that large versions switch to: it
ranks like exact float32 search, uses less memory than the raw vectors, and a version
that grows past the threshold converts in place without losing a row."""

from __future__ import annotations

import os

import numpy as np
import pytest

from imageserver.search import index as index_module
from imageserver.search.index import VersionIndex
from imageserver.search.service import ranked_rows

DIM = 64


def clustered(n: int, rng: np.random.Generator) -> np.ndarray:
    centres = rng.standard_normal((20, DIM), dtype=np.float32)
    out = centres[rng.integers(0, 20, n)] + rng.standard_normal((n, DIM), dtype=np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out.astype(np.float32)


def build(vectors: np.ndarray, quantize_above: int) -> VersionIndex:
    index = VersionIndex("v", DIM, quantize_above=quantize_above)
    for start in range(0, len(vectors), 1000):  # grows past the threshold on the way
        chunk = vectors[start : start + 1000]
        ids = list(range(start + 1, start + len(chunk) + 1))
        index.add(ids, [os.urandom(32).hex() for _ in ids], chunk)
    return index


@pytest.mark.parametrize("refine", [index_module.REFINE, 50])
def test_quantized_ranking_matches_exact_search(
    monkeypatch: pytest.MonkeyPatch, refine: int
) -> None:
    monkeypatch.setattr(index_module, "REFINE", refine)
    rng = np.random.default_rng(7)
    vectors = clustered(6000, rng)
    index = build(vectors, quantize_above=2000)
    assert index.quantized and len(index) == 6000
    snap = index.snapshot()
    hits, total = 0, 0
    for query in clustered(20, rng):
        exact = vectors @ query
        want = np.argsort(-exact, kind="stable")[:10]
        scores = snap.scores(query)
        got = next(ranked_rows(scores, -1.0, 10))[:10]
        hits += len(set(want.tolist()) & set(got.tolist()))
        total += 10
        # the top is rescored from float16: scores are exact to float16 precision
        assert np.allclose(scores[got], exact[got], atol=2e-3)
    assert hits / total >= 0.98, hits / total


def test_quantized_memory_is_below_the_raw_vectors() -> None:
    rng = np.random.default_rng(3)
    n = 5000
    exact = build(clustered(n, rng), quantize_above=10**9)
    small = build(clustered(n, rng), quantize_above=1000)
    assert not exact.quantized and small.quantized
    raw = n * DIM * 4
    assert small.nbytes < 0.85 * raw + n * 32 * 1.1
    assert small.nbytes < exact.nbytes * 0.85


def test_rows_written_before_the_switch_are_all_searchable() -> None:
    rng = np.random.default_rng(5)
    vectors = clustered(3000, rng)
    index = build(vectors, quantize_above=1500)
    snap = index.snapshot()
    for row in (0, 1499, 1500, 2999):  # before, at and after the conversion
        best = int(np.argmax(snap.scores(vectors[row])))
        assert best == row
