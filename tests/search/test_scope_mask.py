"""The scan is masked to the caller's rows before ranking (exact and quantized): rows the
caller may not see never take a place in the top, so limit=N still gives N visible hits,
and the quantized rescore spends its budget on visible rows only."""

from __future__ import annotations

import numpy as np
import pytest

from imageserver.search import index as index_module
from imageserver.search.service import ranked_rows
from tests.search.test_index_quantized import build, clustered


@pytest.mark.parametrize("quantize_above", [100_000, 500])
def test_masked_scan_ranks_visible_rows_like_an_exact_search_of_them(
    monkeypatch: pytest.MonkeyPatch, quantize_above: int
) -> None:
    monkeypatch.setattr(index_module, "REFINE", 50)
    rng = np.random.default_rng(3)
    vectors = clustered(3000, rng)
    index = build(vectors, quantize_above=quantize_above)
    assert index.quantized is (quantize_above == 500)
    snap = index.snapshot()
    visible = rng.random(3000) < 0.1  # one library in ten rows
    digests = [bytes(snap.hashes[r].tobytes()) for r in np.flatnonzero(visible)]
    mask = snap.mask(digests)
    assert np.array_equal(mask, visible)
    for q in rng.choice(np.flatnonzero(~visible), 20, replace=False):
        query = vectors[q]  # its best match (itself) is a row the caller may not see
        scores = snap.scores(query, mask)
        assert np.all(np.isneginf(scores[~mask]))
        got = next(ranked_rows(scores, -1.0, 10))[:10]
        assert len(got) == 10 and mask[got].all()
        exact = vectors[visible] @ query
        expected = np.flatnonzero(visible)[np.argsort(-exact, kind="stable")[:10]]
        # the visible top is found and rescored: same rows, scores exact to float16
        assert set(got.tolist()) == set(expected.tolist())
        assert np.allclose(scores[got], vectors[got] @ query, atol=2e-3)


def test_mask_ignores_unknown_digests_and_rows_past_the_snapshot() -> None:
    rng = np.random.default_rng(5)
    index = build(clustered(20, rng), quantize_above=100_000)
    snap = index.snapshot()
    index.add([99], ["ab" * 32], clustered(1, rng))  # a row the snapshot predates
    mask = snap.mask([b"\x01" * 32, bytes.fromhex("ab" * 32), bytes(snap.hashes[3].tobytes())])
    assert mask.shape == (20,) and np.flatnonzero(mask).tolist() == [3]
