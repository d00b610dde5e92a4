"""Where video artefacts live under VIDEO_PATH, and the validators every path piece passes.

    VIDEO_PATH/{hash[0:2]}/{hash}/playlist.m3u8      the VOD playlist
    VIDEO_PATH/{hash[0:2]}/{hash}/seg_00000.ts ...   its MPEG-TS segments
    VIDEO_PATH/{hash[0:2]}/{hash}/master.m3u8        the ladder (when there are rungs)
    VIDEO_PATH/{hash[0:2]}/{hash}/v360.m3u8 ...      one lower rung's playlist
    VIDEO_PATH/{hash[0:2]}/{hash}/v360_00000.ts ...  its segments
    VIDEO_PATH/{hash[0:2]}/{hash}/preview.mp4        the muted hover clip
    VIDEO_PATH/{hash[0:2]}/{hash}/unsupported.txt    sentinel: ffmpeg cannot decode the source
    VIDEO_PATH/{hash[0:2]}/.tmp-{hash}-...           a generation in progress (renamed into place)

Keyed by content hash, so two files with one basename never collide and the same bytes at
two paths share one folder. Client-supplied names are matched against these patterns and
never joined into a path raw.
"""

from __future__ import annotations

import re
from pathlib import Path

PLAYLIST = "playlist.m3u8"
MASTER = "master.m3u8"
# In the master, the main rendition (the file PLAYLIST) is named MAIN: the master itself is
# served at .../playlist.m3u8, so a variant cannot be fetched under that name.
MAIN = "main.m3u8"
PREVIEW = "preview.mp4"
SENTINEL = "unsupported.txt"
SEGMENT_TEMPLATE = "seg_%05d.ts"
TEMP_PREFIX = ".tmp-"

_HASH = re.compile(r"[0-9a-f]{64}")
_SHARD = re.compile(r"[0-9a-f]{2}")
# ffmpeg's %05d grows past five digits after segment 99999; accept what it can write.
_SEGMENT = re.compile(r"(seg|v[0-9]{3,4})_[0-9]{5,9}\.ts")
_RUNG_PLAYLIST = re.compile(r"v[0-9]{3,4}\.m3u8")


def is_hash(name: str) -> bool:
    """64 lowercase hex characters, nothing else (no uppercase, no path pieces)."""
    return _HASH.fullmatch(name) is not None


def is_shard(name: str) -> bool:
    """2 lowercase hex characters."""
    return _SHARD.fullmatch(name) is not None


def is_segment(name: str) -> bool:
    """A segment name our generator writes (seg_00000.ts, v360_00000.ts ...)."""
    return _SEGMENT.fullmatch(name) is not None


def rung_playlist(height: int) -> str:
    return f"v{height}.m3u8"


def rung_segment_template(height: int) -> str:
    return f"v{height}_%05d.ts"


def is_variant(name: str) -> bool:
    """A variant playlist name a master may list: MAIN or a rung's (v360.m3u8 ...)."""
    return name == MAIN or _RUNG_PLAYLIST.fullmatch(name) is not None


def variant_path(video_root: Path, content_hash: str, name: str) -> Path:
    """The file behind a variant name (MAIN is the main PLAYLIST)."""
    if not is_variant(name):
        raise ValueError(f"not a variant playlist: {name!r}")
    return hash_dir(video_root, content_hash) / (PLAYLIST if name == MAIN else name)


def master_path(video_root: Path, content_hash: str) -> Path:
    return hash_dir(video_root, content_hash) / MASTER


def hash_dir(video_root: Path, content_hash: str) -> Path:
    if not is_hash(content_hash):
        raise ValueError(f"not a content hash: {content_hash!r}")
    return video_root / content_hash[:2] / content_hash


def playlist_path(video_root: Path, content_hash: str) -> Path:
    return hash_dir(video_root, content_hash) / PLAYLIST


def preview_path(video_root: Path, content_hash: str) -> Path:
    return hash_dir(video_root, content_hash) / PREVIEW


def sentinel_path(video_root: Path, content_hash: str) -> Path:
    return hash_dir(video_root, content_hash) / SENTINEL


def segment_path(video_root: Path, content_hash: str, name: str) -> Path:
    if not is_segment(name):
        raise ValueError(f"not a segment name: {name!r}")
    return hash_dir(video_root, content_hash) / name


def read_sentinel(video_root: Path, content_hash: str) -> str | None:
    """The reason stored in the sentinel (its first line), None when there is no sentinel."""
    try:
        text = sentinel_path(video_root, content_hash).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"unsupported (sentinel unreadable: {exc.strerror})"
    return text.splitlines()[0].strip() if text.strip() else "unsupported"
