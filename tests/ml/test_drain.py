"""The embedding drain inside real watcher ticks, on both databases."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from imageserver.db.tables import artefacts, clip_embeddings, media
from imageserver.media.layout import thumb_path
from imageserver.ml.encoders import get_encoder
from imageserver.ml.encoders.onnx_clip import OnnxClipEncoder
from imageserver.ml.encoders.remote import RemoteEncoder
from imageserver.scan.pipeline import STAGES
from imageserver.scan.watcher import Watcher
from imageserver.search.service import search_index
from imageserver.work.context import AppContext
from tests.fixtures import make_jpeg
from tests.ml.ml_fixtures import add_library, search_stages, tick_until_drained
from tests.ml.tiny_clip import build_tiny_clip

COLOURS = [(250, 10, 10), (10, 250, 10), (10, 10, 250), (240, 240, 20), (20, 200, 220)]


def photos(root: Path, count: int) -> list[Path]:
    return [
        make_jpeg(root / f"p{i}.jpg", size=(96, 64), color=COLOURS[i % len(COLOURS)])
        for i in range(count)
    ]


def stored(ctx: AppContext) -> dict[tuple[str, str], np.ndarray]:
    with ctx.engine.connect() as conn:
        rows = conn.execute(select(clip_embeddings)).mappings().all()
    return {
        (r["content_hash"], r["model_version"]): np.frombuffer(r["vector"], "<f4") for r in rows
    }


def clip_states(ctx: AppContext) -> dict[str, dict[str, object]]:
    """Settled states; a `pending` row is a released lease, the same as no row at all."""
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(artefacts).where(
                artefacts.c.kind.like("clip:%"), artefacts.c.status != "pending"
            )
        ).mappings()
        return {r["content_hash"]: dict(r) for r in rows}


def media_rows(ctx: AppContext) -> list[dict[str, object]]:
    with ctx.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(media).order_by(media.c.id)).mappings()]


def test_drain_embeds_each_hash_once_and_writes_nothing_on_media(
    ml_client: TestClient, ml_auth: dict[str, str], ml_ctx: AppContext, tmp_path: Path
) -> None:
    root = tmp_path / "lib"
    files = photos(root, 3)
    shutil.copy(files[0], root / "copy-of-p0.jpg")  # same bytes, same hash
    add_library(ml_client, ml_auth, root)
    before = [s for s in search_stages() if s.name != "embeddings"]
    Watcher(ml_ctx, stages=before).tick(full=True)
    rows_before = media_rows(ml_ctx)
    [t] = Watcher(ml_ctx, stages=[s for s in STAGES if s.name == "embeddings"]).tick(full=False)
    assert media_rows(ml_ctx) == rows_before
    version = get_encoder(ml_ctx).model_version  # type: ignore[union-attr]
    vectors = stored(ml_ctx)
    hashes = {r["content_hash"] for r in rows_before}
    assert len(hashes) == 3 and set(vectors) == {(h, version) for h in hashes}
    for vec in vectors.values():
        assert vec.shape == (16,) and abs(float(np.linalg.norm(vec)) - 1) < 1e-5
    assert t.counts["encoded"] == 3 and t.pending["embeddings"] == 0
    assert {s["status"] for s in clip_states(ml_ctx).values()} == {"done"}
    # The vector is the encoder's output for the large preview.
    encoder = get_encoder(ml_ctx)
    some = next(iter(hashes))
    preview = thumb_path(ml_ctx.settings.thumbs_dir, some, "large").read_bytes()
    np.testing.assert_allclose(vectors[(some, version)], encoder.encode_images([preview])[0])  # type: ignore[union-attr]
    [again] = Watcher(ml_ctx, stages=search_stages()).tick(full=False)
    assert again.counts["encoded"] == 0 and len(stored(ml_ctx)) == 3


def test_backlog_is_capped_per_tick_and_drains_over_ticks(
    ml_client: TestClient, ml_auth: dict[str, str], ml_ctx: AppContext, tmp_path: Path
) -> None:
    ml_ctx.settings.clip_backlog_max_per_tick = 2
    ml_ctx.settings.clip_encode_concurrency = 1
    root = tmp_path / "lib"
    photos(root, 5)
    add_library(ml_client, ml_auth, root)
    watcher = Watcher(ml_ctx, stages=search_stages())
    [first] = watcher.tick(full=True)
    assert first.counts["encoded"] == 2 and first.pending["embeddings"] == 3
    [second] = watcher.tick(full=False)
    assert second.counts["encoded"] == 2 and second.pending["embeddings"] == 1
    [third] = watcher.tick(full=False)
    assert third.counts["encoded"] == 1 and third.pending["embeddings"] == 0
    assert len(stored(ml_ctx)) == 5


def test_undecodable_preview_and_failed_thumbnail_are_failed_for_good(
    ml_client: TestClient, ml_auth: dict[str, str], ml_ctx: AppContext, tmp_path: Path
) -> None:
    root = tmp_path / "lib"
    photos(root, 2)
    good = (root / "p0.jpg").read_bytes()
    (root / "broken.jpg").write_bytes(good[: len(good) // 3])  # truncated: no preview
    add_library(ml_client, ml_auth, root)
    Watcher(ml_ctx, stages=[s for s in search_stages() if s.name != "embeddings"]).tick(full=True)
    rows = {r["rel_path"]: r["content_hash"] for r in media_rows(ml_ctx)}
    bad_preview = thumb_path(ml_ctx.settings.thumbs_dir, str(rows["p1.jpg"]), "large")
    bad_preview.write_bytes(b"RIFF....WEBPgarbage")
    [t] = Watcher(ml_ctx, stages=search_stages()).tick(full=False)
    states = clip_states(ml_ctx)
    assert states[str(rows["p0.jpg"])]["status"] == "done"
    assert states[str(rows["p1.jpg"])]["status"] == "failed"
    assert "cannot decode image" in str(states[str(rows["p1.jpg"])]["detail"])
    assert states[str(rows["broken.jpg"])]["status"] == "failed"
    assert str(states[str(rows["broken.jpg"])]["detail"]).startswith("no decodable preview:")
    assert t.pending["embeddings"] == 0
    Watcher(ml_ctx, stages=search_stages()).tick(full=False)
    assert clip_states(ml_ctx)[str(rows["p1.jpg"])]["attempts"] == 1  # never retried


def test_encoder_down_marks_retry_with_backoff_and_pauses(
    ml_client: TestClient, ml_auth: dict[str, str], ml_ctx: AppContext, tmp_path: Path
) -> None:
    ml_ctx.settings.clip_encode_concurrency = 2
    root = tmp_path / "lib"
    photos(root, 4)
    add_library(ml_client, ml_auth, root)
    # A port nobody listens on: connection refused, fast.
    ml_ctx.encoder = RemoteEncoder(["http://127.0.0.1:9"], "tiny", retries=1, timeout=2.0)
    [t] = Watcher(ml_ctx, stages=search_stages()).tick(full=True)
    states = clip_states(ml_ctx)
    assert len(states) == 2  # the first group only: then the drain pauses
    for state in states.values():
        assert state["status"] == "retry" and state["attempts"] == 1
        assert float(state["next_attempt_at"]) > ml_ctx.clock()  # type: ignore[arg-type]
    assert t.counts["encoded"] == 0 and not stored(ml_ctx)
    [paused] = Watcher(ml_ctx, stages=search_stages()).tick(full=False)
    assert paused.counts["embeddings_paused"] == 1 and clip_states(ml_ctx) == states


def test_no_model_configured_idles_without_markers(
    client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path
) -> None:
    root = tmp_path / "lib"
    photos(root, 2)
    add_library(client, auth, root)
    [t] = Watcher(ctx, stages=search_stages()).tick(full=True)
    assert t.counts["thumbnailed"] == 2
    assert "embeddings" not in t.pending and not clip_states(ctx) and not stored(ctx)
    response = client.get("/photos/search", params={"q": "dog"}, headers=auth)
    assert response.status_code == 503
    assert "IMAGESERVER_CLIP_MODEL_PATH" in response.json()["error"]["message"]
    stats = client.get("/ml/stats", headers=auth).json()
    assert stats["model_version"] is None and stats["total"]["images"] == 2


def test_new_model_version_is_backfilled_beside_the_old_and_index_grows_in_place(
    ml_client: TestClient,
    ml_auth: dict[str, str],
    ml_ctx: AppContext,
    tmp_path: Path,
) -> None:
    root = tmp_path / "lib"
    photos(root, 3)
    add_library(ml_client, ml_auth, root)
    old = get_encoder(ml_ctx).model_version  # type: ignore[union-attr]
    index = search_index(ml_ctx)
    assert index.get(old) is None  # nothing stored yet
    Watcher(ml_ctx, stages=search_stages()).tick(full=True)
    loaded = index.loaded(old)
    assert loaded is not None and len(loaded) == 3
    make_jpeg(root / "late.jpg", size=(96, 64), color=(1, 1, 1))
    Watcher(ml_ctx, stages=search_stages()).tick(full=False)
    assert index.loaded(old) is loaded and len(loaded) == 4  # appended, not rebuilt
    other = build_tiny_clip(tmp_path / "tiny-clip", seed=3)
    ml_ctx.encoder = OnnxClipEncoder(other.root)
    new = ml_ctx.encoder.model_version
    assert new != old
    tick_until_drained(ml_ctx)
    versions = {v for _, v in stored(ml_ctx)}
    assert versions == {old, new} and len(stored(ml_ctx)) == 8
    hit = ml_client.get("/photos/search", params={"q": "red", "threshold": -1}, headers=ml_auth)
    assert hit.status_code == 200 and hit.json()["model_version"] == new
    media_id = hit.json()["hits"][0]["media_id"]
    similar = ml_client.get(
        f"/photos/{media_id}/similar",
        params={"model_version": old, "threshold": -1},
        headers=ml_auth,
    )
    assert similar.status_code == 200 and similar.json()["model_version"] == old
    assert len(similar.json()["hits"]) == 3


@pytest.mark.parametrize("db", ["any"])
def test_ml_stats_per_library_and_deduplicated_total(
    ml_client: TestClient, ml_auth: dict[str, str], ml_ctx: AppContext, tmp_path: Path, db: str
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    photos(one, 3)
    make_jpeg(two / "x.jpg", size=(96, 64), color=(9, 99, 199))
    shutil.copy(one / "p0.jpg", two / "same-as-p0.jpg")
    add_library(ml_client, ml_auth, one)
    add_library(ml_client, ml_auth, two)
    ml_ctx.settings.clip_backlog_max_per_tick = 1
    Watcher(ml_ctx, stages=search_stages()).tick(full=True)
    body = ml_client.get("/ml/stats", headers=ml_auth).json()
    assert body["libraries"]["one"]["images"] == 3 and body["libraries"]["two"]["images"] == 2
    assert body["total"]["images"] == 4  # p0 counted once
    total = body["total"]
    assert (total["embedded"], total["pending"], total["failed"], total["hashless"]) == (2, 2, 0, 0)
    per_library = body["libraries"]["one"]
    assert per_library["embedded"] + per_library["pending"] == 3
    from imageserver.ml.stats import refresh_gauges
    from imageserver.telemetry.metrics import REGISTRY

    # The gauges are the operator's view of every library, refreshed after a full scan
    # (search.service wires refresh_gauges into the watcher), not by a caller's request.
    refresh_gauges(ml_ctx)
    value = REGISTRY.get_sample_value(
        "imageserver_ml_images", {"library": "one", "state": "images"}
    )
    assert value == 3
    # no cross-library series: sum() over `library` must not count a total twice
    assert (
        REGISTRY.get_sample_value("imageserver_ml_images", {"library": "_all", "state": "images"})
        is None
    )
