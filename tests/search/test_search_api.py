"""Search over HTTP: ranking equals numpy brute force, filters, errors, similar, upload."""

from __future__ import annotations

import io
import shutil
import time
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

from imageserver.ml.encoders import get_encoder
from imageserver.scan.watcher import Watcher
from imageserver.server.app import create_app
from imageserver.work.context import AppContext
from tests.fixtures import make_jpeg
from tests.ml.ml_fixtures import add_library, search_stages, tick_until_drained
from tests.search.brute import assert_same_ranking, brute_force

COLOURS = [
    (250, 10, 10),
    (10, 250, 10),
    (10, 10, 250),
    (240, 240, 20),
    (20, 200, 220),
    (90, 90, 90),
]


def build(
    client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path
) -> tuple[int, int]:
    one, two = tmp_path / "one", tmp_path / "two"
    for i, colour in enumerate(COLOURS):
        make_jpeg((one if i % 2 else two) / f"c{i}.jpg", size=(80, 60), color=colour)
    shutil.copy(one / "c1.jpg", two / "dup-of-c1.jpg")
    shutil.copy(one / "c3.jpg", one / "sub" / "c3-again.jpg") if (
        one / "sub"
    ).mkdir() is None else None
    first, second = add_library(client, auth, one), add_library(client, auth, two)
    tick_until_drained(ctx)
    return first, second


def search(client: TestClient, auth: dict[str, str], **params: object) -> list[dict[str, object]]:
    response = client.get("/photos/search", params=params, headers=auth)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    hits: list[dict[str, object]] = response.json()["hits"]
    return hits


def test_text_search_ranks_like_brute_force_with_dedup_library_and_threshold(
    ml_client: TestClient, ml_auth: dict[str, str], ml_ctx: AppContext, tmp_path: Path
) -> None:
    first, second = build(ml_client, ml_auth, ml_ctx, tmp_path)
    encoder = get_encoder(ml_ctx)
    assert encoder is not None
    version = encoder.model_version
    for text in ("a red car", "blue sunset on the beach", "snow"):
        vector = encoder.encode_text([text])[0]
        everything = search(ml_client, ml_auth, q=text, threshold=-1, limit=100)
        assert len(everything) == 6  # 8 files, 6 distinct contents
        assert len({h["media_id"] for h in everything}) == 6
        assert_same_ranking(
            everything, brute_force(ml_ctx, version, vector, threshold=-1, limit=100)
        )
        scores = [float(h["score"]) for h in everything]  # type: ignore[arg-type]
        assert scores == sorted(scores, reverse=True)
        middle = float(np.median(scores))
        assert_same_ranking(
            search(ml_client, ml_auth, q=text, threshold=middle, limit=100),
            brute_force(ml_ctx, version, vector, threshold=middle, limit=100),
        )
        for library in (first, second):
            got = search(ml_client, ml_auth, q=text, threshold=-1, library=library, limit=2)
            assert {h["library_id"] for h in got} == {library}
            want = brute_force(
                ml_ctx, version, vector, threshold=-1, limit=2, library_ids=(library,)
            )
            assert_same_ranking(got, want)
    hit = everything[0]
    assert set(hit) == {"media_id", "library_id", "path", "score"}


def test_bad_parameters_are_422_unknown_library_404_and_auth_required(
    ml_client: TestClient, ml_auth: dict[str, str]
) -> None:
    for params in (
        {"q": ""},
        {"q": "x", "limit": 0},
        {"q": "x", "limit": 100000},
        {"q": "x", "threshold": 1.5},
        {"q": "x", "threshold": "high"},
        {"q": "   "},
        {"q": "x", "model_version": "other@123"},
        {},
    ):
        response = ml_client.get("/photos/search", params=params, headers=ml_auth)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["error"]["code"] == "invalid"
    missing = ml_client.get("/photos/search", params={"q": "x", "library": 999}, headers=ml_auth)
    assert missing.status_code == 404 and "999" in missing.json()["error"]["message"]
    assert ml_client.get("/photos/search", params={"q": "x"}).status_code == 401
    assert ml_client.get("/photos/1/similar").status_code == 401
    assert ml_client.get("/ml/stats").status_code == 401


def test_similar_excludes_itself_and_upload_finds_the_same_picture(
    ml_client: TestClient, ml_auth: dict[str, str], ml_ctx: AppContext, tmp_path: Path
) -> None:
    build(ml_client, ml_auth, ml_ctx, tmp_path)
    hits = search(ml_client, ml_auth, q="red", threshold=-1, limit=100)
    target = next(h for h in hits if str(h["path"]).endswith("c0.jpg"))
    similar = ml_client.get(
        f"/photos/{target['media_id']}/similar", params={"threshold": -1}, headers=ml_auth
    ).json()["hits"]
    assert len(similar) == 5 and target["media_id"] not in {h["media_id"] for h in similar}
    missing = ml_client.get("/photos/999999/similar", headers=ml_auth)
    assert missing.status_code == 404
    # Upload the original file of c0: its own preview is the best match.
    data = (tmp_path / "two" / "c0.jpg").read_bytes()
    response = ml_client.post(
        "/photos/search/image",
        files={"image": ("c0.jpg", data, "image/jpeg")},
        params={"threshold": -1, "limit": 3},
        headers=ml_auth,
    )
    assert response.status_code == 200, response.text
    best = response.json()["hits"][0]
    assert best["media_id"] == target["media_id"] and float(best["score"]) > 0.99
    garbage = ml_client.post(
        "/photos/search/image", files={"image": ("x.jpg", b"nope", "image/jpeg")}, headers=ml_auth
    )
    assert garbage.status_code == 422 and "decode" in garbage.json()["error"]["message"]
    empty = ml_client.post(
        "/photos/search/image", files={"image": ("x.jpg", b"", "image/jpeg")}, headers=ml_auth
    )
    assert empty.status_code == 422 and empty.json()["error"]["message"] == "image: empty upload"


def test_photo_not_embedded_yet_is_404_for_similar(
    ml_client: TestClient, ml_auth: dict[str, str], ml_ctx: AppContext, tmp_path: Path
) -> None:
    root = tmp_path / "lib"
    make_jpeg(root / "a.jpg", size=(80, 60))
    add_library(ml_client, ml_auth, root)
    stages = [s for s in search_stages() if s.name != "embeddings"]
    Watcher(ml_ctx, stages=stages).tick(full=True)
    media_id = ml_client.get("/media", headers=ml_auth).json()["items"][0]["id"]
    response = ml_client.get(f"/photos/{media_id}/similar", headers=ml_auth)
    assert response.status_code == 404 and "no embedding" in response.json()["error"]["message"]


def test_retired_files_drop_out_and_index_is_loaded_at_start(
    ml_client: TestClient, ml_auth: dict[str, str], ml_ctx: AppContext, tmp_path: Path
) -> None:
    build(ml_client, ml_auth, ml_ctx, tmp_path)
    (tmp_path / "two" / "c0.jpg").unlink()
    Watcher(ml_ctx, stages=search_stages()).tick(full=True)
    paths = {h["path"] for h in search(ml_client, ml_auth, q="red", threshold=-1, limit=100)}
    assert "c0.jpg" not in paths and len(paths) == 5
    # A fresh app over the same database loads the current matrix without a search.
    ml_ctx.search_index = None
    encoder = get_encoder(ml_ctx)
    assert encoder is not None
    with TestClient(create_app(ml_ctx, background=False)):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            index = ml_ctx.search_index
            if index is not None and index.loaded(encoder.model_version) is not None:
                break
            time.sleep(0.05)
        loaded = ml_ctx.search_index.loaded(encoder.model_version)
        assert loaded is not None and len(loaded) == 6


def test_upload_of_a_png_with_alpha_is_accepted(
    ml_client: TestClient, ml_auth: dict[str, str]
) -> None:
    buf = io.BytesIO()
    Image.new("RGBA", (20, 20), (0, 0, 0, 0)).save(buf, "PNG")
    response = ml_client.post(
        "/photos/search/image",
        files={"image": ("a.png", buf.getvalue(), "image/png")},
        headers=ml_auth,
    )
    assert response.status_code == 200 and response.json()["hits"] == []


def test_index_keeps_hashes_ending_in_zero_bytes() -> None:
    from imageserver.search.index import VersionIndex

    index = VersionIndex("v", 2)
    digests = ["ab" * 31 + "00", "00" * 32, "cd" * 32]
    vectors = np.eye(3, 2, dtype=np.float32)
    assert index.add([1, 2, 3], digests, vectors) == 3
    snap = index.snapshot()
    assert [snap.hash_at(i) for i in range(3)] == digests
    assert index.add([2, 3], digests[1:], vectors[1:]) == 0  # seen ids are skipped
