"""What is on disk for a hash, and the rule deciding whether a playlist must be (re)made.

Disk is the truth for serving; the `artefacts` rows are the drain's bookkeeping. When the
two disagree (a folder deleted by hand, a database restored from backup) the disk wins.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from imageserver.video import layout


def needs_generation(playlist_mtime: float | None, source_mtime: float | None) -> bool:
    """Should the playlist be (re)made?

    - no playlist                         -> yes: make it;
    - source mtime unknown (unreadable)   -> no: keep the playlist we have, because a
      source we cannot even stat cannot be transcoded either, and an unmounted disk must
      not throw away good output;
    - playlist older than the source      -> yes: the file was edited in place;
    - otherwise                           -> no.
    """
    if playlist_mtime is None:
        return True
    if source_mtime is None:
        return False
    return playlist_mtime < source_mtime


def source_mtime(path: Path) -> float | None:
    """The source video's mtime, None when it cannot be read (missing, unmounted, denied)."""
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


def _mtime(path: Path) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


@dataclass(frozen=True)
class DiskState:
    playlist_mtime: float | None  # None: no playlist
    sentinel: str | None  # the reason inside the sentinel, None: no sentinel
    preview: bool

    @property
    def has_playlist(self) -> bool:
        return self.playlist_mtime is not None


def inspect(video_root: Path, content_hash: str) -> DiskState:
    """Three stats; a playlist beside a sentinel counts (the newer generation wins)."""
    playlist = _mtime(layout.playlist_path(video_root, content_hash))
    sentinel = None if playlist is not None else layout.read_sentinel(video_root, content_hash)
    preview = _mtime(layout.preview_path(video_root, content_hash)) is not None
    return DiskState(playlist, sentinel, preview)
