"""End to end on the shared corpus: index, drain with the tiny model, search, compare with
a numpy brute-force ranking over the same stored vectors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from imageserver.db.tables import artefacts
from imageserver.ml.encoders import get_encoder
from imageserver.work.context import AppContext
from tests.ml.ml_fixtures import add_library, tick_until_drained
from tests.search.brute import assert_same_ranking, brute_force


@pytest.mark.corpus
def test_corpus_library_search_equals_brute_force(
    corpus: Path,
    ml_client: TestClient,
    ml_auth: dict[str, str],
    ml_ctx: AppContext,
    tmp_path: Path,
) -> None:
    # The corpus is read in place (the server never writes into a library); a second
    # library holds a few copies, so the same content sits in two libraries.
    photos = add_library(ml_client, ml_auth, corpus / "photos")
    extra_root = tmp_path / "extra"
    extra_root.mkdir()
    for name in ("chelsea.png", "coffee.png", "dogs.jpg"):
        shutil.copy(corpus / "faces" / name, extra_root / name)
    shutil.copy(corpus / "broken" / "truncated.jpg", extra_root / "truncated.jpg")
    extra = add_library(ml_client, ml_auth, extra_root)
    ml_ctx.settings.clip_backlog_max_per_tick = 64
    tick_until_drained(ml_ctx, max_ticks=20)

    stats = ml_client.get("/ml/stats", headers=ml_auth).json()
    total = stats["total"]
    assert total["pending"] == 0 and total["embedded"] > 50
    assert total["embedded"] + total["failed"] == total["images"]
    with ml_ctx.engine.connect() as conn:
        failed = conn.execute(
            select(artefacts.c.detail).where(
                artefacts.c.kind.like("clip:%"), artefacts.c.status == "failed"
            )
        ).scalars()
        assert all(str(d).startswith("no decodable preview") for d in failed)

    encoder = get_encoder(ml_ctx)
    assert encoder is not None
    version = encoder.model_version
    for text in ("a cat", "a dog on the beach", "mountain snow at night"):
        vector = encoder.encode_text([text])[0]
        for params, libs in (
            ({"threshold": -1, "limit": 1000}, ()),
            ({"threshold": 0.2, "limit": 10}, ()),
            ({"threshold": 0.0, "limit": 25, "library": photos}, (photos,)),
            ({"threshold": -1, "limit": 1000, "library": extra}, (extra,)),
        ):
            response = ml_client.get(
                "/photos/search", params={"q": text, **params}, headers=ml_auth
            )
            assert response.status_code == 200, response.text
            got = response.json()["hits"]
            threshold = float(params["threshold"])
            want = brute_force(
                ml_ctx,
                version,
                vector,
                threshold=threshold,
                limit=int(params["limit"]),
                library_ids=libs,
            )
            assert_same_ranking(got, want)
            assert len({h["media_id"] for h in got}) == len(got)
            assert all(float(h["score"]) >= threshold for h in got)
    everything = ml_client.get(
        "/photos/search", params={"q": "a cat", "threshold": -1, "limit": 1000}, headers=ml_auth
    ).json()["hits"]
    # chelsea.png sits in both libraries: one hit, not two.
    assert sum(1 for h in everything if str(h["path"]).endswith("chelsea.png")) == 1
    assert np.isfinite([float(h["score"]) for h in everything]).all()
