"""A file swapped for a symlink out of the root after indexing is refused everywhere.

A library is indexed with a real photo and a real video; then each is replaced by a
symlink to a file outside the root (a different picture of the very same size and mtime,
so only the resolve-inside-the-root check can tell; a different clip). From then on no
drain reads the outside bytes (no hash, no metadata, no thumbnail, no face scan, no
transcode), each refusal is recorded on the item like other failures, and the original and
stream routes refuse the file. An audit hook (fsaudit.py) proves nothing below the outside
folder is opened and no ffmpeg, ffprobe or exiftool is pointed at it.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from blake3 import blake3
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select, update

from imageserver.db.tables import media
from imageserver.errors import NotFound
from imageserver.faces import source
from imageserver.media.layout import thumb_path
from imageserver.media.paths import OutsideRoot, Unreadable, open_file_inside, resolve_inside
from imageserver.scan.watcher import Watcher
from imageserver.video import jobs, ownership
from imageserver.video.jobs import PREVIEW_KIND, Job
from imageserver.video.plan import HlsOptions
from imageserver.video.queue import VideoQueue
from imageserver.work import artefacts as artefact_state
from imageserver.work.artefacts import HLS_KIND, THUMB_KIND
from imageserver.work.context import AppContext
from tests.fixtures import make_jpeg, make_video
from tests.reliability.fsaudit import Recorder
from tests.scan.test_watcher import add_library

PHOTO, VIDEO = "photo.jpg", "clips/clip.mp4"
INDEXING = frozenset({"hash", "metadata", "thumbnails"})  # no transcode before the swap


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Inside: a 64x48 photo and a clip. Outside: a 96x80 photo padded to the same size
    (bytes after a JPEG's end are ignored by decoders) and another clip. Made once."""
    base = tmp_path_factory.mktemp("swap-sources")
    inside = make_jpeg(base / "lib" / PHOTO, size=(64, 48), color=(200, 80, 40))
    outside = make_jpeg(base / "outside" / "other.jpg", size=(96, 80), color=(10, 220, 30))
    small, big = sorted([inside, outside], key=lambda p: p.stat().st_size)
    with small.open("ab") as fh:
        fh.write(b"\0" * (big.stat().st_size - small.stat().st_size))
    make_video(base / "lib" / VIDEO, seconds=1, size="64x48", audio=False)
    make_video(base / "outside" / "other.mp4", seconds=1, size="96x64", audio=False)
    return base


@dataclass
class Swapped:
    ctx: AppContext
    library_id: int
    root: Path
    outside: Path
    ids: dict[str, int]  # rel_path -> media id
    hashes: dict[str, str]  # rel_path -> content hash of the indexed (inside) bytes
    outside_hashes: set[str]


def row(ctx: AppContext, rel: str) -> dict[str, Any]:
    with ctx.engine.connect() as conn:
        found = conn.execute(select(media).where(media.c.rel_path == rel)).mappings().one()
    return dict(found)


def swap_for_link(path: Path, target: Path) -> None:
    """Replace a file by a symlink to `target`, with the very size and mtime it had."""
    st = path.stat()
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    path.unlink()
    path.symlink_to(target)


@pytest.fixture
def swapped(
    client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path, sources: Path
) -> Swapped:
    shutil.copytree(sources, tmp_path / "files")
    root, outside = tmp_path / "files" / "lib", tmp_path / "files" / "outside"
    library_id = add_library(client, auth, root)
    Watcher(ctx, drains=INDEXING).tick(full=True)
    rows = {rel: row(ctx, rel) for rel in (PHOTO, VIDEO)}
    assert all(r["content_hash"] and r["meta_status"] == "ok" for r in rows.values()), rows
    assert (root / PHOTO).stat().st_size == (outside / "other.jpg").stat().st_size
    swap_for_link(root / PHOTO, outside / "other.jpg")
    swap_for_link(root / VIDEO, outside / "other.mp4")
    outside_hashes = {blake3(p.read_bytes()).hexdigest() for p in outside.iterdir()}
    return Swapped(
        ctx,
        library_id,
        root,
        outside,
        {rel: int(r["id"]) for rel, r in rows.items()},
        {rel: str(r["content_hash"]) for rel, r in rows.items()},
        outside_hashes,
    )


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    with Recorder() as rec:
        yield rec


def assert_untouched(s: Swapped, rec: Recorder) -> None:
    """Nothing below the outside folder was opened or listed, no tool was given it (the
    only access allowed is the test's own swap: the symlink it makes names the file)."""
    assert [a for a in rec.touching(s.outside) if a.event != "os.symlink"] == []
    named = [c for c in rec.commands if any(str(s.outside) in a or str(s.root) in a for a in c)]
    inside_only = all(
        not os.path.realpath(a).startswith(str(s.outside)) for c in named for a in c[1:]
    )
    assert inside_only, named


def video_files(ctx: AppContext) -> list[Path]:
    video_root = ctx.settings.resolved_video_path
    if not video_root.exists():
        return []
    # the folder's ownership marker is made at start, before any video
    return sorted(p for p in video_root.rglob("*") if p.name != ownership.MARKER)


def state(ctx: AppContext, digest: str, kind: str) -> dict[str, Any] | None:
    with ctx.engine.connect() as conn:
        found = artefact_state.get(conn, digest, kind)
    return dict(found) if found is not None else None


# --- the drains ------------------------------------------------------------------------------


def test_hash_drain_refuses_and_records_it_once(
    swapped: Swapped, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    s = swapped
    attempts = row(s.ctx, PHOTO)["hash_attempts"]
    with s.ctx.engine.begin() as conn:  # as if the walk had seen new bytes just before
        conn.execute(update(media).where(media.c.id == s.ids[PHOTO]).values(content_hash=None))
    with caplog.at_level(logging.INFO, logger="imageserver"):
        (t,) = Watcher(s.ctx, drains=INDEXING).tick(full=True)
    photo = row(s.ctx, PHOTO)
    assert photo["content_hash"] is None and photo["retired_at"] is None
    assert photo["hash_error"] == "refused: path: resolves outside the library root"
    assert photo["hash_attempts"] == attempts + 1 and photo["hash_retry_at"] > s.ctx.clock()
    assert t.counts["failed"] == 1 and t.counts["hashed"] == 0
    with s.ctx.engine.connect() as conn:
        hashes = set(conn.execute(select(media.c.content_hash)).scalars())
    assert not hashes & s.outside_hashes
    logged = [r.getMessage() for r in caplog.records if "event=hash_failed" in r.getMessage()]
    assert len(logged) == 1 and PHOTO in logged[0] and "refused" in logged[0], logged
    assert_untouched(s, recorder)


def test_metadata_and_thumbnails_refuse(swapped: Swapped, recorder: Recorder) -> None:
    s = swapped
    thumbs = s.ctx.settings.thumbs_dir
    with s.ctx.engine.begin() as conn:  # both re-read: metadata pending, thumbnails unmade
        conn.execute(update(media).values(meta_status="pending", meta_attempts=0))
        for digest in s.hashes.values():
            artefact_state.forget(conn, digest, THUMB_KIND)
    for digest in s.hashes.values():
        for size in ("small", "large"):
            thumb_path(thumbs, digest, size).unlink()
    (t,) = Watcher(s.ctx, drains=INDEXING).tick(full=True)
    for rel, digest in s.hashes.items():
        item = row(s.ctx, rel)
        assert item["meta_status"] == "pending", item  # retried later, given up at the 3rd
        assert item["meta_error"] == "refused: path: resolves outside the library root"
        assert item["content_hash"] == digest
        thumb = state(s.ctx, digest, THUMB_KIND)
        assert thumb is not None and thumb["status"] == "retry", thumb
        assert thumb["detail"] == "refused: path: resolves outside the library root"
        assert not thumb_path(thumbs, digest, "small").exists()
        assert not thumb_path(thumbs, digest, "large").exists()
    assert (row(s.ctx, PHOTO)["width"], row(s.ctx, PHOTO)["height"]) == (64, 48)
    assert t.counts["failed"] == 4
    assert not any(thumb_path(thumbs, h, "small").exists() for h in s.outside_hashes)
    assert_untouched(s, recorder)


def test_face_scan_never_decodes_the_outside_original(swapped: Swapped) -> None:
    """Asked for more pixels than the preview has, the scan would read the original: a
    refused one is skipped for the preview (made from the indexed bytes)."""
    s = swapped
    settings = s.ctx.settings.model_copy(update={"thumb_large_px": 256, "face_max_side": 2048})
    item = {**row(s.ctx, PHOTO), "root_path": str(s.root), "width": 4000, "height": 3000}
    with Recorder() as rec:
        image = source.load(settings, item)
    assert image.source == "preview"
    assert image.pixels.shape[:2] == (48, 64)  # the indexed picture, not the 96x80 one
    assert_untouched(s, rec)
    (s.root / PHOTO).unlink()
    make_jpeg(s.root / PHOTO, size=(64, 48))  # a real file again: the original is read
    assert source.load(settings, item).source == "original"


def test_the_ingest_sniff_refuses_a_file_swapped_after_the_walk(
    swapped: Swapped, recorder: Recorder
) -> None:
    s = swapped
    fresh = make_jpeg(s.root / "new.jpg", size=(32, 32))
    watcher = Watcher(s.ctx, drains=INDEXING)
    walk = next(i for i, stage in enumerate(watcher.stages) if stage.name == "walk")
    original_walk = watcher.stages[walk]

    def walk_then_swap(t: Any) -> None:
        original_walk.run(t)
        assert "new.jpg" in t.walk.files
        fresh.unlink()
        fresh.symlink_to(s.outside / "other.jpg")

    watcher.stages = list(watcher.stages)
    watcher.stages[walk] = replace(original_walk, run=walk_then_swap)
    watcher.tick(full=True)
    with s.ctx.engine.connect() as conn:
        paths = set(conn.execute(select(media.c.rel_path)).scalars())
    assert "new.jpg" not in paths
    assert_untouched(s, recorder)


# --- video: generate, the stage, a queued job ------------------------------------------------


def test_generate_refuses_and_queues_nothing(
    client: TestClient, auth: dict[str, str], swapped: Swapped, recorder: Recorder
) -> None:
    s = swapped
    queue = VideoQueue(s.ctx)  # attached, not running: what was submitted stays visible
    s.ctx.video_queue = queue
    try:
        by_id = client.post("/video/generate", headers=auth, json={"media_id": s.ids[VIDEO]})
        by_path = client.post(
            "/video/generate", headers=auth, json={"library_id": s.library_id, "path": VIDEO}
        )
    finally:
        s.ctx.video_queue = None
    for response in (by_id, by_path):
        assert response.status_code == 422, response.text
        assert response.json()["error"] == {
            "code": "invalid",
            "message": "path: resolves outside the library root",
        }
    assert queue.depth() == 0
    assert state(s.ctx, s.hashes[VIDEO], HLS_KIND) is None
    assert video_files(s.ctx) == []
    assert_untouched(s, recorder)


def test_the_video_stage_and_a_queued_job_refuse(swapped: Swapped, recorder: Recorder) -> None:
    s = swapped
    digest = s.hashes[VIDEO]
    (t,) = Watcher(s.ctx, drains=frozenset({"video"})).tick(full=True)
    assert t.counts["hls_retry"] == 1 and t.counts["hls_made"] == 0
    for kind in (HLS_KIND, PREVIEW_KIND):
        recorded = state(s.ctx, digest, kind)
        assert recorded is not None and recorded["status"] == "retry", recorded
        assert recorded["detail"] == "refused: path: resolves outside the library root"
    # a job queued while the file was still real runs after the swap: refused as it starts
    job = Job(digest, s.root / VIDEO, "lib", VIDEO, root=s.root)
    video_root = s.ctx.settings.resolved_video_path
    result = jobs.run_job(job, video_root, HlsOptions.from_settings(s.ctx.settings), 60)
    assert result.hls is not None and result.hls.status == "retry"
    assert result.hls.detail == "refused: path: resolves outside the library root"
    assert not result.sentinel_written
    assert video_files(s.ctx) == []  # no playlist, preview, sentinel or temp folder
    assert not [c for c in recorder.commands if Path(c[0]).name in ("ffmpeg", "ffprobe")]
    assert_untouched(s, recorder)


# --- routes --------------------------------------------------------------------------------


def test_original_and_stream_routes_refuse(
    client: TestClient, auth: dict[str, str], swapped: Swapped
) -> None:
    s = swapped
    outside_bytes = [p.read_bytes()[:4096] for p in s.outside.iterdir()]
    with Recorder() as recorder:
        responses = [client.get(f"/media/{s.ids[rel]}/original", headers=auth) for rel in s.ids]
        responses += [
            client.get(
                f"/video/stream/library/{s.library_id}/{name}",
                headers=auth,
                params={"path": VIDEO},
            )
            for name in ("playlist.m3u8", "preview.mp4")
        ]
    for response in responses:
        assert response.status_code == 422, (response.url, response.text)
        assert response.json()["error"]["message"] == "path: resolves outside the library root"
        assert not any(chunk in response.content for chunk in outside_bytes)
    digest = s.hashes[VIDEO]
    for name in ("playlist.m3u8", "preview.mp4"):  # by hash: nothing was ever made from it
        assert client.get(f"/video/stream/{digest}/{name}", headers=auth).status_code == 404
    assert_untouched(s, recorder)


# --- the one check -------------------------------------------------------------------------


def test_the_check_itself(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "x.jpg").write_bytes(b"x")
    (root / "sub" / "in.jpg").write_bytes(b"i")
    (root / "link-in.jpg").symlink_to(root / "sub" / "in.jpg")
    (root / "link-out.jpg").symlink_to(outside / "x.jpg")
    (root / "dir-out").symlink_to(outside, target_is_directory=True)
    (root / "dangling.jpg").symlink_to(tmp_path / "nowhere.jpg")
    # names a client may not send but a disk may hold: an indexed file is still opened
    odd = ["back\\slash.jpg", "\uff0e\uff0e", "tab\there.jpg"]
    for name in odd:
        (root / name).write_bytes(b"o")

    assert open_file_inside(root, "link-in.jpg") == (root / "sub" / "in.jpg").resolve()
    for name in odd:
        assert open_file_inside(root, name) == (root / name).resolve()
    for rel in ("link-out.jpg", "dir-out/x.jpg", "../outside/x.jpg", str(outside / "x.jpg")):
        with pytest.raises(OutsideRoot):
            open_file_inside(root, rel)
    for rel in ("dangling.jpg", "absent.jpg", "sub"):
        with pytest.raises(NotFound) as raised:
            open_file_inside(root, rel)
        assert not isinstance(raised.value, Unreadable)
    with pytest.raises(OutsideRoot):
        resolve_inside(root, "link-out.jpg")
    if os.geteuid() != 0:  # root searches any folder
        (root / "sub").chmod(0)
        try:
            with pytest.raises(Unreadable):
                open_file_inside(root, "sub/in.jpg")
        finally:
            (root / "sub").chmod(0o755)


def test_a_picture_of_the_outside_file_is_what_the_check_prevents(swapped: Swapped) -> None:
    """The trap is real: through the link, a reader would see the other picture."""
    with Image.open(swapped.root / PHOTO) as opened:
        assert opened.size == (96, 80)
