"""The video routes over HTTP: stream auth (Bearer or scoped token), rewriting, types, Range,
caching, strict path pieces, generate statuses, /hls/stats."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from imageserver.auth import tokens
from imageserver.db.tables import artefacts, media
from imageserver.scan.watcher import Watcher
from imageserver.video import layout
from imageserver.work.context import AppContext
from tests.fixtures import make_jpeg, make_video
from tests.scan.test_watcher import add_library


class Lib:
    def __init__(self, library_id: int, rows: dict[str, dict[str, object]]) -> None:
        self.id = library_id
        self.rows = rows

    def hash(self, rel: str) -> str:
        return str(self.rows[rel]["content_hash"])

    def media_id(self, rel: str) -> int:
        return int(self.rows[rel]["id"])  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The library's files, made once for the module and copied into each test's library."""
    root = tmp_path_factory.mktemp("api-sources")
    make_video(root / "trips" / "clip one.mp4", seconds=5, extra=["-g", "25"])
    make_jpeg(root / "photo.jpg", size=(64, 48))
    (root / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x01" * 2000)
    return root


@pytest.fixture
def lib(
    client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path, sources: Path
) -> Lib:
    root = tmp_path / "lib"
    shutil.copytree(sources, root)
    library_id = add_library(client, auth, root)
    ctx.settings.hls_segment_seconds = 2
    Watcher(ctx).tick(full=True)
    with ctx.engine.connect() as conn:
        rows = {r["rel_path"]: dict(r) for r in conn.execute(select(media)).mappings()}
    return Lib(library_id, rows)


def segment_uris(body: str) -> list[str]:
    return [line for line in body.splitlines() if line and not line.startswith("#")]


def test_playlist_with_bearer_is_rewritten_to_absolute_segment_paths(
    client: TestClient, auth: dict[str, str], lib: Lib
) -> None:
    digest = lib.hash("trips/clip one.mp4")
    r = client.get(f"/video/stream/{digest}/playlist.m3u8", headers=auth)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    assert r.headers["cache-control"] == "private, max-age=30"
    assert "#EXT-X-ENDLIST" in r.text
    uris = segment_uris(r.text)
    assert len(uris) >= 2
    assert all(u.startswith(f"/video/stream/{digest}/seg_") and "?" not in u for u in uris)
    seg = client.get(uris[0], headers=auth)
    assert seg.status_code == 200 and seg.headers["content-type"] == "video/mp2t"
    assert "immutable" in seg.headers["cache-control"]
    assert seg.content[0] == 0x47  # an MPEG-TS sync byte

    # every client path piece is matched against a strict pattern
    cases = [
        ("/video/stream/{h}/seg_00000.ts.bak", 404),
        ("/video/stream/{h}/..%2F..%2Fjwt_secret", 404),
        ("/video/stream/{h}/seg_99999.ts", 404),
        ("/video/stream/{h}/unsupported.txt", 404),
        ("/video/stream/{H}/playlist.m3u8", 422),
        ("/video/stream/abc/playlist.m3u8", 422),
        ("/video/stream/{h}x/seg_00000.ts", 422),
        ("/video/stream/{z}/playlist.m3u8", 404),
        ("/video/stream/{h}/seg_00000.ts", 200),
    ]
    for path, status in cases:
        url = path.format(h=digest, H=digest.upper(), z="0" * 64)
        assert client.get(url, headers=auth).status_code == status, url


def test_signed_urls_work_without_a_header_for_that_hash_only(
    client: TestClient, auth: dict[str, str], lib: Lib, ctx: AppContext
) -> None:
    media_id = lib.media_id("trips/clip one.mp4")
    info = client.get(f"/video/{media_id}", headers=auth).json()
    digest = lib.hash("trips/clip one.mp4")
    assert info["status"] == "ready" and info["content_hash"] == digest
    assert info["token_expires_at"] == pytest.approx(
        ctx.clock() + ctx.settings.stream_token_lifetime_seconds
    )
    r = client.get(info["playlist_url"])  # no Authorization header: the token is enough
    assert r.status_code == 200
    token = parse_qs(urlparse(info["playlist_url"]).query)["token"][0]
    uris = segment_uris(r.text)
    assert all(parse_qs(urlparse(u).query)["token"] == [token] for u in uris)
    seg = client.get(uris[-1])
    assert seg.status_code == 200 and seg.headers["content-type"] == "video/mp2t"

    # Range on a segment and on the preview clip
    size = len(seg.content)
    part = client.get(uris[-1], headers={"Range": "bytes=188-375"})
    assert part.status_code == 206 and part.content == seg.content[188:376]
    assert part.headers["content-range"] == f"bytes 188-375/{size}"
    preview = client.get(info["preview_url"], headers={"Range": "bytes=0-99"})
    assert preview.status_code == 206 and len(preview.content) == 100
    assert preview.headers["content-type"] == "video/mp4"
    assert "immutable" in preview.headers["cache-control"]
    assert preview.content[4:8] == b"ftyp"

    # scoped: the same token does not open another video
    other = lib.hash("broken.mp4")
    r = client.get(f"/video/stream/{other}/playlist.m3u8", params={"token": token})
    assert r.status_code == 403
    # a stream token is not an access token, and an access token is not a stream token
    assert client.get("/media", params={"token": token}).status_code == 401
    assert client.get("/media", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    access = auth["Authorization"].split()[1]
    r = client.get(f"/video/stream/{digest}/playlist.m3u8", params={"token": access})
    assert r.status_code == 401
    # expired
    stale = tokens.issue(ctx.jwt_secret, "1", ctx.clock() - 7200, 60, "stream", digest)
    r = client.get(f"/video/stream/{digest}/playlist.m3u8", params={"token": stale})
    assert r.status_code == 401
    # nothing at all
    assert client.get(f"/video/stream/{digest}/playlist.m3u8").status_code == 401
    assert client.get(uris[0].split("?")[0]).status_code == 401


def test_by_path_stream_url(client: TestClient, auth: dict[str, str], lib: Lib) -> None:
    base = f"/video/stream/library/{lib.id}"
    r = client.get(f"{base}/playlist.m3u8", params={"path": "trips/clip one.mp4"}, headers=auth)
    digest = lib.hash("trips/clip one.mp4")
    assert r.status_code == 200 and segment_uris(r.text)[0].startswith(f"/video/stream/{digest}/")
    r = client.get(f"{base}/preview.mp4", params={"path": "trips/clip one.mp4"}, headers=auth)
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
    for bad, status in (
        ("../lib/trips/clip one.mp4", 422),
        ("/etc/passwd", 422),
        ("trips/missing.mp4", 404),
        ("photo.jpg", 404),
    ):
        r = client.get(f"{base}/playlist.m3u8", params={"path": bad}, headers=auth)
        assert r.status_code == status, bad
    # a stream token works on the stable URL too, scoped to the hash it resolves to
    info = client.get(
        "/video/by-path", params={"library": lib.id, "path": "trips/clip one.mp4"}, headers=auth
    ).json()
    token = parse_qs(urlparse(info["playlist_url"]).query)["token"][0]
    r = client.get(f"{base}/playlist.m3u8", params={"path": "trips/clip one.mp4", "token": token})
    assert r.status_code == 200 and f"token={token}" in r.text


def test_generate_statuses_unsupported_and_stats(
    client: TestClient, auth: dict[str, str], lib: Lib, ctx: AppContext
) -> None:
    clip = lib.media_id("trips/clip one.mp4")
    r = client.post("/video/generate", json={"media_id": clip}, headers=auth)
    assert r.status_code == 200 and r.json()["status"] == "ready"
    r = client.post(
        "/video/generate", json={"library_id": lib.id, "path": "trips/clip one.mp4"}, headers=auth
    )
    assert r.status_code == 200
    assert client.post("/video/generate", json={"media_id": 9999}, headers=auth).status_code == 404
    r = client.post(
        "/video/generate", json={"library_id": lib.id, "path": "nope.mp4"}, headers=auth
    )
    assert r.status_code == 404
    r = client.post("/video/generate", json={"media_id": lib.media_id("photo.jpg")}, headers=auth)
    assert r.status_code == 404  # a photo: no video of that id
    r = client.post("/video/generate", json={"library_id": lib.id}, headers=auth)
    assert r.status_code == 422  # neither a media id nor library + path
    assert client.post("/video/generate", json={"media_id": clip}).status_code == 401

    # the playlist deleted by hand: 202 queued, and the next tick makes it again
    digest = lib.hash("trips/clip one.mp4")
    shutil.rmtree(layout.hash_dir(ctx.settings.resolved_video_path, digest))
    r = client.post("/video/generate", json={"media_id": clip}, headers=auth)
    assert r.status_code == 202 and r.json()["status"] == "queued"
    with ctx.engine.connect() as conn:
        kinds = (
            conn.execute(select(artefacts.c.kind).where(artefacts.c.content_hash == digest))
            .scalars()
            .all()
        )
    assert "hls" not in kinds and "preview" not in kinds  # forgotten: pending again
    assert client.get(f"/video/{clip}", headers=auth).json()["status"] == "pending"
    Watcher(ctx).tick(full=False)
    assert client.get(f"/video/{clip}", headers=auth).json()["status"] == "ready"

    # an undecodable file
    digest = lib.hash("broken.mp4")
    r = client.get(f"/video/stream/{digest}/playlist.m3u8", headers=auth)
    assert r.status_code == 422 and r.json()["error"]["code"] == "unsupported"
    assert "ffprobe" in r.json()["error"]["message"]
    info = client.get(f"/video/{lib.media_id('broken.mp4')}", headers=auth).json()
    assert info["status"] == "unsupported" and info["reason"] and info["playlist_url"] is None
    r = client.post("/video/generate", json={"media_id": lib.media_id("broken.mp4")}, headers=auth)
    assert r.status_code == 422 and "ffprobe" in r.json()["error"]["message"]

    # coverage numbers (before the hash is taken away below)
    assert client.get("/hls/stats").status_code == 401
    body = client.get("/hls/stats", headers=auth).json()
    [one] = body["libraries"]
    assert one["library_id"] == lib.id and one["library"] == "lib"
    expected = {
        "total": 2,
        "with_playlist": 1,
        "pending": 0,
        "unsupported": 1,
        "hashless_videos": 0,
    }
    assert {k: one[k] for k in expected} == expected
    assert body["aggregate"] == expected

    # a video whose hash the drain has not computed yet
    with ctx.engine.begin() as conn:
        conn.execute(update(media).where(media.c.id == clip).values(content_hash=None))
    r = client.post("/video/generate", json={"media_id": clip}, headers=auth)
    assert r.status_code == 202 and r.json()["status"] == "waiting_for_hash"
    assert client.get(f"/video/{clip}", headers=auth).json()["status"] == "waiting_for_hash"
    assert client.get("/hls/stats", headers=auth).json()["aggregate"]["hashless_videos"] == 1
