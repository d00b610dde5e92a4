"""Orphan cleanup: the two-level walk with both validators, and the stale-library gate."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy import update

from imageserver.clock import FakeClock
from imageserver.db.tables import libraries
from imageserver.libraries import repo as libraries_repo
from imageserver.video import orphans, ownership
from imageserver.video.housekeeping import OrphanLoop
from imageserver.work.context import AppContext

LIVE = "aa" + "1" * 62
ORPHAN = "aa" + "2" * 62
LONE = "bb" + "3" * 62  # the only folder in its shard


def old(path: Path) -> Path:
    """Made before the live set is read (the sweep keeps anything newer)."""
    past = time.time() - 3600
    os.utime(path, (past, past))
    return path


def made(video_root: Path, digest: str) -> Path:
    """A hash folder as the generator leaves it: stamped with the folder's token, old."""
    path = video_root / digest[:2] / digest
    path.mkdir(parents=True)
    ownership.stamp(path, video_root)
    return old(path)


def build_tree(root: Path) -> dict[str, Path]:
    """Every kind of entry the walk must judge, named for what should happen to it."""
    paths: dict[str, Path] = {}
    ownership.claim(root)

    def folder(key: str, rel: str) -> None:
        path = root / rel
        path.mkdir(parents=True, exist_ok=True)
        if key.startswith("hash") or key.startswith("keep_unstamped"):
            (path / "playlist.m3u8").write_text("#EXTM3U\n")
        if key.startswith("hash"):
            ownership.stamp(path, root)
        paths[key] = old(path)

    folder("hash_live", f"aa/{LIVE}")
    folder("hash_orphan", f"aa/{ORPHAN}")
    folder("hash_lone_orphan", f"bb/{LONE}")
    folder("keep_unstamped_hash", "aa/" + "7" * 64)  # an operator's, hex-named
    folder("keep_unstamped_lone", "ff/" + "f" * 64)  # alone in an operator's 2-hex folder
    folder("keep_empty_operator_shard", "ab")
    folder("keep_upper_hash", "aa/" + ("AA" + "2" * 62))
    folder("keep_short_hash", "aa/" + "a" * 63)
    folder("keep_long_hash", "aa/" + "a" * 65)
    folder("keep_temp", f"aa/.tmp-{ORPHAN}-host-1-abcd")
    folder("keep_upper_shard", f"AA/{ORPHAN}")
    folder("keep_long_shard", f"aaa/{ORPHAN}")
    folder("keep_operator", "my-exports/2020")
    folder("keep_hex_named_file_parent", "cc")
    plain = root / "cc" / ("cc" + "4" * 62)  # a plain file with a hash name
    plain.write_text("not a folder")
    paths["keep_plain_file"] = plain
    target = root / "elsewhere" / ("dd" + "5" * 62)
    target.mkdir(parents=True)
    (root / "dd").symlink_to(root / "elsewhere")  # a symlinked shard
    paths["keep_symlinked_shard"] = root / "dd"
    paths["keep_symlink_target"] = target
    link = root / "aa" / ("aa" + "6" * 62)
    link.symlink_to(root / "elsewhere")  # a symlinked hash folder
    paths["keep_symlinked_hash"] = link
    (root / "holiday.m3u8").write_text("legacy")
    paths["keep_legacy_file"] = root / "holiday.m3u8"
    (root / "ee").write_text("a file named like a shard")
    paths["keep_shard_named_file"] = root / "ee"
    return paths


def test_sweep_removes_exactly_the_orphans(tmp_path: Path) -> None:
    paths = build_tree(tmp_path)
    result = orphans.sweep(tmp_path, {LIVE}, time.time())
    assert sorted(result.removed) == sorted([ORPHAN, LONE])
    for key, path in paths.items():
        if key.startswith("keep_") or key == "hash_live":
            assert os.path.lexists(path), key
        else:
            assert not os.path.lexists(path), key
    assert not (tmp_path / "bb").exists()  # emptied shard removed
    assert (tmp_path / "aa").is_dir()  # still holds the live hash and other entries
    assert result.shards_removed == 1


def test_a_folder_stamped_by_another_installation_is_kept(tmp_path: Path) -> None:
    elsewhere = tmp_path / "other"
    foreign = made(elsewhere, ORPHAN)
    ownership.claim(tmp_path)
    (tmp_path / "aa").mkdir()
    moved = tmp_path / "aa" / ORPHAN
    foreign.rename(moved)
    assert orphans.sweep(tmp_path, set(), time.time()).removed == []
    assert moved.is_dir()


def test_nothing_is_removed_from_an_unmarked_video_path(tmp_path: Path) -> None:
    orphan = made(tmp_path, ORPHAN)
    (tmp_path / ownership.MARKER).unlink()
    result = orphans.sweep(tmp_path, set(), time.time())
    assert result.removed == [] and result.skipped and orphan.is_dir()


def test_sweep_keeps_folders_made_after_the_live_set_was_read(tmp_path: Path) -> None:
    fresh = tmp_path / "aa" / ORPHAN
    fresh.mkdir(parents=True)
    ownership.stamp(fresh, tmp_path)
    result = orphans.sweep(tmp_path, set(), time.time() - 60)
    assert result.removed == [] and fresh.is_dir()


def test_sweep_of_a_missing_video_path_does_nothing(tmp_path: Path) -> None:
    assert orphans.sweep(tmp_path / "missing", set(), time.time()).removed == []


# --- with a database: live hashes and the stale gate ---------------------------------------


def add_library(ctx: AppContext, root: Path, name: str, enabled: bool = True) -> int:
    root.mkdir(parents=True, exist_ok=True)
    with ctx.engine.begin() as conn:
        return libraries_repo.create(conn, name, str(root), enabled, [], ctx.clock())


def add_video(ctx: AppContext, library_id: int, rel: str, digest: str | None) -> None:
    from tests.video.test_stats import insert_media

    with ctx.engine.begin() as conn:
        insert_media(conn, library_id, rel, digest, now=ctx.clock())


def test_cycle_uses_live_hashes_from_the_database(ctx: AppContext, tmp_path: Path) -> None:
    video_root = ctx.settings.resolved_video_path
    root = tmp_path / "lib"
    library_id = add_library(ctx, root, "lib")
    (root / "clip.mp4").write_bytes(b"x")
    add_video(ctx, library_id, "clip.mp4", LIVE)
    add_video(ctx, library_id, "unhashed.mp4", None)
    for digest in (LIVE, ORPHAN):
        made(video_root, digest)
    result = orphans.cleanup_cycle(ctx.engine, video_root)
    assert result.skipped is None and result.removed == [ORPHAN]
    assert (video_root / "aa" / LIVE).is_dir() and not (video_root / "aa" / ORPHAN).exists()


def test_a_stale_enabled_library_skips_the_whole_cycle(ctx: AppContext, tmp_path: Path) -> None:
    video_root = ctx.settings.resolved_video_path
    good = add_library(ctx, tmp_path / "good", "good")
    (tmp_path / "good" / "a.mp4").write_bytes(b"x")
    add_video(ctx, good, "a.mp4", LIVE)
    nas = add_library(ctx, tmp_path / "nas", "nas")
    add_video(ctx, nas, "b.mp4", ORPHAN)
    made(video_root, ORPHAN)
    made(video_root, LONE)
    # the NAS is unmounted: its mount point is an empty folder while rows exist
    for child in (tmp_path / "nas").iterdir():
        child.unlink()
    result = orphans.cleanup_cycle(ctx.engine, video_root)
    assert result.skipped and result.removed == []
    assert (video_root / "bb" / LONE).is_dir() and (video_root / "aa" / ORPHAN).is_dir()

    # a disabled library is not counted: the same unmounted disk, disabled, blocks nothing
    with ctx.engine.begin() as conn:
        conn.execute(update(libraries).where(libraries.c.id == nas).values(enabled=False))
    result = orphans.cleanup_cycle(ctx.engine, video_root)
    assert result.skipped is None
    assert result.removed == [LONE]  # ORPHAN is still referenced by the disabled library
    assert (video_root / "aa" / ORPHAN).is_dir()


def test_a_missing_root_is_stale_too(ctx: AppContext, tmp_path: Path) -> None:
    video_root = ctx.settings.resolved_video_path
    add_library(ctx, tmp_path / "gone", "gone")
    (tmp_path / "gone").rmdir()
    made(video_root, LONE)
    assert orphans.cleanup_cycle(ctx.engine, video_root).skipped
    assert (video_root / "bb" / LONE).is_dir()


@pytest.mark.parametrize("db", ["sqlite"])
def test_loop_waits_one_interval_before_its_first_cycle(
    tmp_path: Path, sqlite_url: str, db: str
) -> None:
    import anyio

    from imageserver.server.bootstrap import bootstrap
    from tests.conftest import make_settings

    settings = make_settings(tmp_path, sqlite_url, orphan_cleanup_interval_seconds=0.3)
    ctx = bootstrap(settings, clock=FakeClock()).ctx
    loop = OrphanLoop(ctx)

    async def run_for(seconds: float) -> None:
        with anyio.move_on_after(seconds):
            await loop.run_forever()

    anyio.run(run_for, 0.15)
    assert loop.cycles == 0  # not at the instant of start
    anyio.run(run_for, 1.0)
    assert loop.cycles >= 2 and loop.last is not None and loop.last.skipped is None
    ctx.engine.dispose()
