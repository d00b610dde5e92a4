"""Path validators, the hash layout, and the needs-generation rule (every branch)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from imageserver.video import layout
from imageserver.video.state import inspect, needs_generation, source_mtime

H = "ab" + "0" * 62


@pytest.mark.parametrize(
    "name, ok",
    [
        (H, True),
        ("f" * 64, True),
        (H.upper(), False),
        ("a" * 63, False),
        ("a" * 65, False),
        ("g" * 64, False),
        ("../" + "a" * 61, False),
        (H + "\n", False),
        ("", False),
    ],
)
def test_is_hash(name: str, ok: bool) -> None:
    assert layout.is_hash(name) is ok


@pytest.mark.parametrize(
    "name, ok", [("ab", True), ("0f", True), ("AB", False), ("a", False), ("abc", False)]
)
def test_is_shard(name: str, ok: bool) -> None:
    assert layout.is_shard(name) is ok


@pytest.mark.parametrize(
    "name, ok",
    [
        ("seg_00000.ts", True),
        ("seg_123456.ts", True),
        ("seg_0.ts", False),
        ("seg_00000.ts.bak", False),
        ("../seg_00000.ts", False),
        ("seg_00000.m3u8", False),
        ("playlist.m3u8", False),
        ("SEG_00000.ts", False),
    ],
)
def test_is_segment(name: str, ok: bool) -> None:
    assert layout.is_segment(name) is ok


def test_paths_are_sharded_by_hash(tmp_path: Path) -> None:
    assert layout.hash_dir(tmp_path, H) == tmp_path / "ab" / H
    assert layout.playlist_path(tmp_path, H) == tmp_path / "ab" / H / "playlist.m3u8"
    assert layout.preview_path(tmp_path, H).name == "preview.mp4"
    assert layout.segment_path(tmp_path, H, "seg_00001.ts").parent == tmp_path / "ab" / H
    with pytest.raises(ValueError):
        layout.hash_dir(tmp_path, "../../etc")
    with pytest.raises(ValueError):
        layout.segment_path(tmp_path, H, "../../x.ts")


# --- needs_generation: one test per branch of the documented rule ---------------------------


def test_missing_playlist_is_generated() -> None:
    assert needs_generation(None, 100.0) is True


def test_missing_playlist_is_generated_even_when_the_source_mtime_is_unknown() -> None:
    assert needs_generation(None, None) is True


def test_unknown_source_mtime_keeps_an_existing_playlist() -> None:
    assert needs_generation(100.0, None) is False


def test_playlist_older_than_the_source_is_regenerated() -> None:
    assert needs_generation(100.0, 200.0) is True


def test_playlist_newer_than_or_as_old_as_the_source_is_kept() -> None:
    assert needs_generation(200.0, 100.0) is False
    assert needs_generation(100.0, 100.0) is False


def test_source_mtime_reads_or_falls_back(tmp_path: Path) -> None:
    src = tmp_path / "clip.mp4"
    src.write_bytes(b"x")
    os.utime(src, (1000, 1234))
    assert source_mtime(src) == 1234
    assert source_mtime(tmp_path / "gone.mp4") is None
    assert source_mtime(tmp_path / "clip.mp4" / "below-a-file") is None


def test_inspect_and_sentinel_reason(tmp_path: Path) -> None:
    assert inspect(tmp_path, H) == layout_state(None, None, False)
    folder = layout.hash_dir(tmp_path, H)
    folder.mkdir(parents=True)
    (folder / layout.SENTINEL).write_text("ffmpeg cannot decode: Invalid data\n\nstderr...\n")
    state = inspect(tmp_path, H)
    assert state.sentinel == "ffmpeg cannot decode: Invalid data" and not state.has_playlist
    (folder / layout.PLAYLIST).write_text("#EXTM3U\n")
    (folder / layout.PREVIEW).write_bytes(b"x")
    state = inspect(tmp_path, H)
    assert state.has_playlist and state.sentinel is None and state.preview


def layout_state(mtime: float | None, sentinel: str | None, preview: bool) -> object:
    from imageserver.video.state import DiskState

    return DiskState(mtime, sentinel, preview)
