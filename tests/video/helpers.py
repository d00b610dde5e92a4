"""Shared checks for video tests: read a playlist back with ffprobe, decode it to the end."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from imageserver.video import layout
from tests.conftest import skip_outside_ci


@dataclass
class Readback:
    duration: float
    width: int
    height: int
    rotation: int
    video_codec: str
    audio_codec: str | None
    decode_errors: list[str]
    segments: list[str]


def ffprobe_json(path: Path) -> dict[str, object]:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
            str(path),
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )
    data: dict[str, object] = json.loads(out.stdout)
    return data


def read_back(folder: Path, decode: bool = True) -> Readback:
    """ffprobe facts of the playlist and, if asked, a full decode's error lines."""
    playlist = folder / layout.PLAYLIST
    text = playlist.read_text()
    assert text.startswith("#EXTM3U") and "#EXT-X-ENDLIST" in text
    segments = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert segments and all(layout.is_segment(s) and (folder / s).is_file() for s in segments)
    data = ffprobe_json(playlist)
    streams = [s for s in data["streams"] if isinstance(s, dict)]  # type: ignore[attr-defined]
    video = next(s for s in streams if s["codec_type"] == "video")
    audio = next((s for s in streams if s["codec_type"] == "audio"), None)
    rotation = 0
    for side in video.get("side_data_list", []):
        rotation = int(side.get("rotation", rotation))
    errors: list[str] = []
    if decode:
        run = subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-i", str(playlist), "-f", "null", "-"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        errors = [line for line in run.stderr.splitlines() if line.strip()]
        if run.returncode != 0:
            errors.append(f"exit status {run.returncode}")
    return Readback(
        duration=float(data["format"]["duration"]),  # type: ignore[index]
        width=int(video["width"]),
        height=int(video["height"]),
        rotation=rotation,
        video_codec=str(video["codec_name"]),
        audio_codec=str(audio["codec_name"]) if audio else None,
        decode_errors=errors,
        segments=segments,
    )


def make_rotated(path: Path, rotate: int, **kwargs: object) -> Path:
    """A clip with a real display matrix (what phones write): encode, then tag on a copy."""
    from tests.fixtures import make_video

    plain = make_video(path.with_name("plain-" + path.name), **kwargs)  # type: ignore[arg-type]
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-i",
            str(plain),
            "-c",
            "copy",
            "-metadata:s:v:0",
            f"rotate={rotate}",
            str(path),
        ],
        check=True,
        timeout=60,
    )
    plain.unlink()
    return path


def temp_entries(video_root: Path) -> list[Path]:
    """Anything a generation in progress (or a crash) left in the shard folders."""
    if not video_root.exists():
        return []
    return [
        p
        for shard in video_root.iterdir()
        if shard.is_dir()
        for p in shard.iterdir()
        if p.name.startswith(layout.TEMP_PREFIX)
    ]


@contextlib.contextmanager
def read_only_dir(path: Path) -> Iterator[None]:
    """Make `path` read-only for real: a read-only mount as root, chmod otherwise."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        path.chmod(0o555)
        try:
            yield
        finally:
            path.chmod(0o755)
        return
    with tmpfs(path, "ro,size=256m"):
        yield


@contextlib.contextmanager
def tmpfs(path: Path, options: str) -> Iterator[None]:
    """A tmpfs mounted at `path` (root only: skips otherwise)."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        skip_outside_ci("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True
    )
    if done.returncode != 0:
        skip_outside_ci(f"cannot mount a tmpfs: {done.stderr!r}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)
