"""Quick ticks over an unchanged library cost O(changes): no full reload, idle drains skipped.

Each shortcut is checked for both halves: it is taken when nothing changed, and it never
hides a change (new file, edited file, file back after a retirement, retry falling due).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from imageserver.clock import FakeClock
from imageserver.media import repo as media_repo
from imageserver.media import thumbs
from imageserver.scan.watcher import Watcher
from imageserver.telemetry.metrics import STAGE_SECONDS
from imageserver.work.context import AppContext
from tests.fixtures import make_jpeg
from tests.scan.test_watcher import add_library, rows


def stage_runs(name: str) -> float:
    for metric in STAGE_SECONDS.collect():
        for sample in metric.samples:
            if sample.name.endswith("_count") and sample.labels.get("stage") == name:
                return sample.value
    return 0.0


@pytest.fixture
def indexed(
    client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path
) -> tuple[Watcher, Path]:
    root = tmp_path / "lib"
    for i in range(4):
        make_jpeg(root / f"d{i % 2}" / f"{i}.jpg", size=(48, 32), color=(i * 60, 10, 10))
    add_library(client, auth, root)
    watcher = Watcher(ctx)
    watcher.tick(full=True)
    return watcher, root


def test_unchanged_quick_tick_skips_reload_and_idle_drains(
    indexed: tuple[Watcher, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    watcher, _root = indexed
    watcher.tick(full=False)  # the drains record themselves idle at this watermark

    def no_full_reload(*_args: object) -> object:
        raise AssertionError("a quick tick over an unchanged tree reloaded every row")

    monkeypatch.setattr(media_repo, "known_files", no_full_reload)
    before = {name: stage_runs(name) for name in ("thumbnails", "hls", "faces", "embeddings")}
    [t] = watcher.tick(full=False)
    assert t.counts["seen"] == 4 and t.counts["new"] == 0
    for name, runs in before.items():
        assert stage_runs(name) == runs, f"{name} ran although nothing changed"
    assert sum(t.pending.values()) == 0


def test_changes_still_reach_every_drain(indexed: tuple[Watcher, Path], ctx: AppContext) -> None:
    watcher, root = indexed
    watcher.tick(full=False)
    runs = stage_runs("thumbnails")
    make_jpeg(root / "new.jpg", size=(40, 40), color=(0, 200, 0))
    edited = root / "d0" / "0.jpg"
    make_jpeg(edited, size=(50, 30), color=(0, 0, 250))
    os.utime(edited, (1, 1))
    [t] = watcher.tick(full=False)
    assert t.counts["new"] == 1 and t.counts["changed"] == 1
    assert stage_runs("thumbnails") > runs
    found = rows(ctx)
    assert found["new.jpg"]["content_hash"] and found["d0/0.jpg"]["content_hash"]
    assert t.counts["thumbnailed"] == 2


def test_a_file_back_after_retirement_is_restored_by_a_quick_tick(
    indexed: tuple[Watcher, Path], ctx: AppContext
) -> None:
    watcher, root = indexed
    victim = root / "d1" / "1.jpg"
    saved, stat = victim.read_bytes(), victim.stat()
    victim.unlink()
    watcher.tick(full=True)
    assert rows(ctx)["d1/1.jpg"]["retired_at"] is not None
    victim.write_bytes(saved)
    os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    [t] = watcher.tick(full=False)
    assert t.counts["restored"] == 1 and rows(ctx)["d1/1.jpg"]["retired_at"] is None


def test_a_retry_falling_due_wakes_an_idle_drain(
    client: TestClient,
    auth: dict[str, str],
    ctx: AppContext,
    clock: FakeClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = tmp_path / "lib"
    make_jpeg(root / "a.jpg", size=(40, 30))
    add_library(client, auth, root)
    real = thumbs.make_thumbnails

    def disk_full(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(thumbs, "make_thumbnails", disk_full)
    watcher = Watcher(ctx)
    [t] = watcher.tick(full=True)
    assert t.counts["failed"] == 1
    assert t.pending["thumbnails"] == 0  # a retry waiting for its time is not due work
    monkeypatch.setattr(thumbs, "make_thumbnails", real)
    [t] = watcher.tick(full=False)
    assert t.counts["thumbnailed"] == 0  # not due yet
    clock.advance(3600)
    [t] = watcher.tick(full=False)
    assert t.counts["thumbnailed"] == 1 and t.pending["thumbnails"] == 0, (t.counts, t.pending)


def test_folders_moved_in_or_renamed_are_seen_by_a_quick_tick(
    indexed: tuple[Watcher, Path], ctx: AppContext, tmp_path: Path
) -> None:
    """Moving a folder keeps its files' ctimes: the quick walk lists new folders whole."""
    watcher, root = indexed
    outside = tmp_path / "camera-card" / "DCIM"
    for i in range(3):
        make_jpeg(outside / "100CANON" / f"IMG_{i}.jpg", size=(30, 20), color=(9, 90, 9 * i))
    old = 1_500_000_000
    for path in outside.rglob("*"):
        os.utime(path, (old, old))
    (root / "imports").mkdir()
    os.rename(outside, root / "imports" / "DCIM")  # moved in: inode ctimes of files unchanged
    [t] = watcher.tick(full=False)
    assert t.counts["new"] == 3
    os.rename(root / "d1", root / "d1-renamed")
    [t] = watcher.tick(full=False)
    assert t.counts["new"] == 2  # d1-renamed/1.jpg and 3.jpg; d1's rows go at the full scan
    live = {k for k, r in rows(ctx).items() if r["retired_at"] is None}
    assert {"imports/DCIM/100CANON/IMG_0.jpg", "d1-renamed/1.jpg"} <= live
    [t] = watcher.tick(full=True)
    assert t.counts["retired"] == 2
