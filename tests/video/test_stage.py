"""The hls stage in the watcher: dedup by hash, hashless rows, disk vs rows, the summary."""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from imageserver.db.tables import artefacts, media
from imageserver.scan.pipeline import STAGES
from imageserver.scan.watcher import Watcher
from imageserver.telemetry.metrics import TRANSCODES
from imageserver.video import layout, ownership
from imageserver.work.context import AppContext
from tests.fixtures import make_video
from tests.scan.test_watcher import add_library


def hls_state(ctx: AppContext) -> dict[str, tuple[str, str | None]]:
    with ctx.engine.connect() as conn:
        query = select(artefacts.c.content_hash, artefacts.c.status, artefacts.c.detail).where(
            artefacts.c.kind == "hls"
        )
        return {r[0]: (r[1], r[2]) for r in conn.execute(query)}


def hashes(ctx: AppContext) -> dict[str, str | None]:
    with ctx.engine.connect() as conn:
        return {r[0]: r[1] for r in conn.execute(select(media.c.rel_path, media.c.content_hash))}


def runs() -> float:
    return sum(TRANSCODES.labels("hls", o)._value.get() for o in ("ok", "unsupported", "transient"))


@pytest.fixture
def two_libraries(client: TestClient, auth: dict[str, str], tmp_path: Path) -> tuple[Path, Path]:
    one, two = tmp_path / "one", tmp_path / "two"
    make_video(one / "a" / "clip.mp4", seconds=1)
    make_video(one / "b" / "clip.mp4", seconds=1, size="160x120")  # same basename, other bytes
    (one / "copies").mkdir()
    shutil.copy(one / "a" / "clip.mp4", one / "copies" / "same-bytes.mp4")
    make_video(two / "clip.mp4", seconds=1, size="176x144", audio=False)
    (one / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x07" * 3000)
    add_library(client, auth, one)
    add_library(client, auth, two)
    return one, two


def test_full_tick_makes_one_playlist_per_hash(
    ctx: AppContext, two_libraries: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    before = runs()
    with caplog.at_level(logging.INFO, logger="imageserver.watcher"):
        results = Watcher(ctx).tick(full=True)
    found = hashes(ctx)
    assert found["a/clip.mp4"] == found["copies/same-bytes.mp4"]
    distinct = {found["a/clip.mp4"], found["b/clip.mp4"], found["clip.mp4"]}
    assert len(distinct) == 3 and None not in distinct
    video_root = ctx.settings.resolved_video_path
    for digest in distinct:
        assert digest is not None
        assert layout.playlist_path(video_root, digest).is_file()
        assert layout.preview_path(video_root, digest).is_file()
    assert runs() - before == 4  # three playlists and one broken file; duplicates made once
    state = hls_state(ctx)
    assert {state[d][0] for d in distinct if d} == {"done"}
    broken = found["broken.mp4"]
    assert broken is not None and state[broken][0] == "failed"
    assert layout.read_sentinel(video_root, broken) == state[broken][1]
    one, two = results
    assert one.counts["hls_total"] == 3 and one.counts["hls_with_playlist"] == 2
    assert one.counts["hls_unsupported"] == 1 and one.counts["hls_pending"] == 0
    assert two.counts["hls_total"] == 1 and two.counts["hls_with_playlist"] == 1
    assert one.pending["hls"] == 0
    line = next(m for m in caplog.messages if "event=tick_done library=one" in m)
    for part in ("hls_total=3", "hls_with_playlist=2", "hls_unsupported=1", "hls_pending=0"):
        assert part in line


def test_hashless_videos_wait_for_the_hash_drain(
    ctx: AppContext, client: TestClient, auth: dict[str, str], tmp_path: Path
) -> None:
    root = tmp_path / "lib"
    make_video(root / "v.mp4", seconds=1)
    add_library(client, auth, root)
    no_hash = [s for s in STAGES if s.name != "hash"]
    [t] = Watcher(ctx, stages=no_hash).tick(full=True)
    assert t.counts["hls_hashless_videos"] == 1 and t.counts["hls_total"] == 0
    made = [p for p in ctx.settings.resolved_video_path.iterdir() if p.name != ownership.MARKER]
    assert hls_state(ctx) == {} and made == []
    [t] = Watcher(ctx).tick(full=False)
    assert t.counts["hls_with_playlist"] == 1 and t.counts["hls_hashless_videos"] == 0


def test_disk_is_the_truth_on_full_scans(
    ctx: AppContext, client: TestClient, auth: dict[str, str], tmp_path: Path
) -> None:
    root = tmp_path / "lib"
    src = make_video(root / "v.mp4", seconds=1)
    add_library(client, auth, root)
    watcher = Watcher(ctx)
    watcher.tick(full=True)
    digest = hashes(ctx)["v.mp4"]
    assert digest is not None
    video_root = ctx.settings.resolved_video_path
    folder = layout.hash_dir(video_root, digest)
    playlist = folder / layout.PLAYLIST

    # 1. the folder deleted by hand: made again on the next full scan
    shutil.rmtree(folder)
    [t] = watcher.tick(full=True)
    assert t.counts["hls_reconciled"] == 1 and playlist.is_file()

    # 2. rows lost (database restored) but the playlist is there: settled without ffmpeg
    with ctx.engine.begin() as conn:
        conn.execute(delete(artefacts))
    before = runs()
    [t] = watcher.tick(full=False)
    assert runs() == before and t.counts["hls_settled"] >= 1
    assert hls_state(ctx)[digest] == ("done", "found on disk")

    # 3. the source edited after its playlist was made (newer mtime): made again
    old = playlist.stat().st_mtime
    future = time.time() + 100
    os.utime(src, (future, future))
    [t] = watcher.tick(full=True)
    assert t.counts["hls_reconciled"] == 1 and playlist.stat().st_mtime > old
    assert runs() == before + 1

    # 4. a sentinel on disk that the rows do not know: settled as unsupported, no ffmpeg
    shutil.rmtree(folder)
    folder.mkdir()
    (folder / layout.SENTINEL).write_text("decided elsewhere\n")
    with ctx.engine.begin() as conn:
        conn.execute(delete(artefacts))
    watcher.tick(full=False)
    assert hls_state(ctx)[digest] == ("failed", "decided elsewhere")
    assert runs() == before + 1

    # 5. the sentinel removed by hand: the video is tried again
    (folder / layout.SENTINEL).unlink()
    [t] = watcher.tick(full=True)
    assert hls_state(ctx)[digest][0] == "done" and playlist.is_file()


def test_foreground_scan_ends_with_playlists(
    ctx: AppContext, client: TestClient, auth: dict[str, str], tmp_path: Path
) -> None:
    from imageserver.scan.foreground import run_foreground_scan

    root = tmp_path / "lib"
    for i in range(3):
        make_video(root / f"v{i}.mp4", seconds=1, size=f"{160 + 16 * i}x120")
    add_library(client, auth, root)
    ctx.settings.hls_batch_per_tick = 1  # forces several ticks: the scan keeps draining
    assert run_foreground_scan(ctx, library=None, full=True, drain=True) == 0
    state = hls_state(ctx)
    assert len(state) == 3 and {s for s, _ in state.values()} == {"done"}
