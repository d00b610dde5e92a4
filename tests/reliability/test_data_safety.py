"""Data safety: a complete run never changes a library root, not by one byte or inode.

The run: bootstrap, a full scan and quick ticks until every drain is empty (hashes,
metadata, thumbnails, companions, HLS playlists and previews, CLIP embeddings, face
detection), every read route (originals with Range, thumbnails, playlists, segments,
previews, face crops, person covers, search), the household's edits of every photo and an
XMP export (under the data folder), the orphan cleanup, the library's removal over HTTP,
another full tick and another cleanup.

Before and after, every entry below the root is described by lstat (type, mode, size,
mtime, ctime: ctime moves on any chmod, utime, rename or write) plus the SHA-256 of every
file and the target of every symlink. The audit hook records writes of this process, and
every command it starts, meanwhile: nothing is written below the root, and ffmpeg only
ever gets a library file as an input (`-i`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from imageserver.clock import FakeClock
from imageserver.ml.encoders import close_encoder
from imageserver.scan.watcher import Watcher
from imageserver.server.app import create_app
from imageserver.server.background import close_services
from imageserver.server.bootstrap import bootstrap
from imageserver.video import orphans
from tests.conftest import login, make_settings
from tests.fixtures import make_jpeg, make_png, make_video
from tests.ml.tiny_clip import TinyClip
from tests.reliability.fsaudit import Recorder, inside
from tests.reliability.scope_world import B_SIDECAR

pytestmark = pytest.mark.slow

FACE = Path(__file__).resolve().parents[1] / "data" / "faces" / "obama-240p.jpg"


def facts(path: Path) -> tuple[Any, ...]:
    st = path.lstat()
    found: tuple[Any, ...] = (
        stat.S_IFMT(st.st_mode),
        stat.S_IMODE(st.st_mode),
        st.st_size,
        st.st_mtime_ns,
        st.st_ctime_ns,
        st.st_ino,
        st.st_nlink,
    )
    if stat.S_ISLNK(st.st_mode):
        return (*found, os.readlink(path))
    if stat.S_ISREG(st.st_mode):
        return (*found, hashlib.sha256(path.read_bytes()).hexdigest())
    return found


def describe(root: Path) -> dict[str, tuple[Any, ...]]:
    """Every entry below root, root included -> what a change of any kind would alter."""
    out = {".": facts(root)}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in (*dirnames, *filenames):
            path = Path(dirpath) / name
            out[str(path.relative_to(root))] = facts(path)
    return out


def make_library(root: Path) -> None:
    make_jpeg(root / "2020" / "a.jpg", make="Canon", model="EOS", gps=(1.5, 2.5))
    make_jpeg(root / "2020" / "b.jpg", color=(1, 2, 3), orientation=8)
    (root / "people").mkdir()
    shutil.copy(FACE, root / "people" / "face.jpg")
    make_png(root / "2021" / "c.png")
    make_jpeg(root / "live" / "IMG_0001.jpg", color=(9, 9, 9))
    make_video(root / "live" / "IMG_0001.mov", seconds=1.5)
    make_video(root / "clips" / "walk ✓ é.mp4", seconds=2, extra=["-g", "25"])
    shutil.copy(root / "2020" / "a.jpg", root / "2021" / "a copy.jpg")
    (root / "2020" / "a.xmp").write_text("<x:xmpmeta/>")
    (root / "2020" / "b.jpg.xmp").write_text(B_SIDECAR)  # a real one (curation reads it)
    (root / "2021" / "a copy.jpg.json").write_text(
        '{"description": "Takeout", "photoTakenTime": {"timestamp": "1563092430"}}'
    )
    (root / "notes.txt").write_text("not media")
    (root / ".hidden.jpg").write_bytes((root / "2020" / "b.jpg").read_bytes())
    (root / "empty dir").mkdir()
    (root / "links").mkdir()
    (root / "links" / "inside.jpg").symlink_to(root / "2020" / "a.jpg")
    (root / "links" / "dangling.jpg").symlink_to(root / "nowhere.jpg")
    locked = root / "2021" / "read-only.jpg"
    make_jpeg(locked, color=(50, 60, 70))
    locked.chmod(0o444)
    os.utime(root / "2020" / "b.jpg", (1_000_000_000, 1_000_000_000))


def exercise_routes(client: TestClient, auth: dict[str, str]) -> int:
    """Every read route on every item; returns the number of 2xx answers."""
    ok = 0

    def get(url: str, **kwargs: Any) -> Any:
        nonlocal ok
        response = client.get(url, headers={**auth, **kwargs.pop("headers", {})}, **kwargs)
        ok += response.status_code < 300
        return response

    items = get("/media", params={"limit": 1000, "include_companions": True}).json()["items"]
    assert get("/tags").json()["tags"], "the sidecar's tags were read"
    get("/media", params={"tag": "Zulu"})
    for item in items:
        get(f"/media/{item['id']}")
        get(f"/media/{item['id']}/original", headers={"Range": "bytes=0-99"})
        get(f"/media/{item['id']}/original")
        get(f"/media/{item['id']}/thumbnail", params={"size": "large"})
        for face in get(f"/media/{item['id']}/faces").json()["faces"]:
            get(f"/faces/{face['id']}/crop")
        if item["kind"] == "video":
            info = get(f"/video/{item['id']}").json()
            if info.get("playlist_url"):
                playlist = get(info["playlist_url"]).text
                for line in playlist.splitlines():
                    if line and not line.startswith("#"):
                        get(line)
                get(info["preview_url"])
        else:
            get(f"/photos/{item['id']}/similar")
    for person in get("/people").json()["items"]:
        get(f"/people/{person['id']}/cover")
        for face in get(f"/people/{person['id']}").json()["faces"]:
            get(f"/faces/{face['id']}/crop")
    get("/photos/search", params={"q": "a photo of a dog"})
    get("/timeline")
    get("/duplicates")
    get("/hls/stats")
    return ok


def edit_and_export(client: TestClient, auth: dict[str, str]) -> int:
    """The household's edits of every photo (a batch, then one undone) and an XMP export:
    both stay in the database and the data folder. The number of sidecars written."""
    listed = client.get("/media", headers=auth, params={"limit": 1000, "kind": "photo"})
    photos = [i["id"] for i in listed.json()["items"]]
    body = {
        "ids": photos, "title": "Edited", "description": "two\nlines", "rating": 4,
        "tags": ["Family/Edited"], "taken_at": {"local": "2001-02-03T04:05:06", "offset_min": 60},
        "location": {"latitude": 10.5, "longitude": 20.5},
    }  # fmt: skip
    changed = client.patch("/media", headers=auth, json=body)
    assert changed.status_code == 200 and changed.json()["changed"] == len(photos), changed.text
    assert client.post(f"/media/{photos[0]}/edits/undo", headers=auth).status_code == 200
    exported = client.post("/export/xmp", headers=auth, json={})
    assert exported.status_code == 200 and exported.json()["failed"] == 0, exported.text
    written: int = exported.json()["written"]
    assert written >= len(photos) - 1, exported.json()
    return written


def test_a_complete_run_leaves_the_library_byte_identical(
    tmp_path: Path, sqlite_url: str, tiny_model: TinyClip
) -> None:
    root = tmp_path / "library"
    make_library(root)
    before = describe(root)
    settings = make_settings(
        tmp_path,
        sqlite_url,
        clip_model_path=tiny_model.root,
        faces_enabled=True,
        hls_preset="ultrafast",
    )
    clock = FakeClock()
    with Recorder() as recorder:
        ctx = bootstrap(settings, clock=clock).ctx
        try:
            with TestClient(create_app(ctx, background=False)) as client:
                auth = {"Authorization": f"Bearer {login(client)}"}
                created = client.post(
                    "/libraries", headers=auth, json={"name": "family", "root_path": str(root)}
                )
                assert created.status_code == 201, created.text
                watcher = Watcher(ctx)
                results = watcher.tick(full=True)
                for _ in range(10):
                    if not any(sum(t.pending.values()) for t in results):
                        break
                    results = watcher.tick(full=False)
                assert results and not any(sum(t.pending.values()) for t in results), results
                served = exercise_routes(client, auth)
                exported = edit_and_export(client, auth)
                watcher.tick(full=True)  # a rescan with the edits in force
                video_root = settings.resolved_video_path
                orphans.cleanup_cycle(ctx.engine, video_root)
                made = list(video_root.glob("??/*"))
                removed = client.delete(f"/libraries/{created.json()['id']}", headers=auth)
                assert removed.status_code == 204
                watcher.tick(full=True)
                clock.advance(3600)
                cleanup = orphans.cleanup_cycle(ctx.engine, video_root)
        finally:
            close_encoder(ctx)
            close_services(ctx)
            ctx.engine.dispose()

    # the run did the work it is meant to prove harmless
    assert served >= 40, served
    assert len(made) >= 2 and len(cleanup.removed) == len(made), (made, cleanup)
    faces = [a for a in recorder.writes() if inside(a.path, settings.faces_dir)]
    assert faces, "no face crop was written: the faces part did not run"

    assert len(list((settings.export_dir / "xmp").rglob("*.xmp"))) == exported
    assert describe(root) == before
    assert [a for a in recorder.accesses if a.write and inside(a.path, root)] == []
    ffmpeg = [c for c in recorder.commands if Path(c[0]).name == "ffmpeg"]
    assert ffmpeg, "no ffmpeg run was seen"
    for command in ffmpeg:
        for i, arg in enumerate(command):
            if arg.startswith("/") and inside(os.path.realpath(arg), root):
                assert command[i - 1] == "-i", command
