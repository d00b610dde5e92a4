"""Files of the old basename-keyed layout (VIDEO_PATH/clip.m3u8, clip0.ts): reported, kept.

Those names collided between folders and libraries, and nothing references them any more.
They used to be deleted at every start, but nothing records which `.m3u8` / `.ts` at the
top of VIDEO_PATH the server wrote, and an operator's own recording there looks the same.
The server deletes only what it provably made (video/ownership.py), so this pass only
counts them and says so once per start; removing them is the operator's call.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger("imageserver.video")

LEGACY_SUFFIXES = (".m3u8", ".ts")


def is_legacy(entry: os.DirEntry[str]) -> bool:
    return entry.name.endswith(LEGACY_SUFFIXES) and entry.is_file(follow_symlinks=False)


def report_legacy(video_root: Path) -> int:
    """Count (and log) old-layout files at the root; deletes nothing."""
    try:
        found = sum(1 for entry in os.scandir(video_root) if is_legacy(entry))
    except OSError:
        return 0
    if found:
        log.warning(
            "event=legacy_files_kept count=%d path=%s hint=%r",
            found,
            video_root,
            "old-layout .m3u8/.ts files are never deleted by the server; remove them by hand "
            "if they are its own",
        )
    return found
