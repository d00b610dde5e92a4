"""One-shot migration from the old basename-keyed layout (VIDEO_PATH/clip.m3u8, clip0.ts).

Those names collided between folders and libraries, and nothing references them any more.
Only regular files directly at the root of VIDEO_PATH whose names end in `.m3u8` or `.ts`
are removed: nothing deeper (the hash layout lives there), no symlinks, nothing else.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger("imageserver.video")

LEGACY_SUFFIXES = (".m3u8", ".ts")


def is_legacy(entry: os.DirEntry[str]) -> bool:
    return entry.name.endswith(LEGACY_SUFFIXES) and entry.is_file(follow_symlinks=False)


def migrate_legacy(video_root: Path) -> int:
    """Remove legacy playlists and segments at the root; returns (and logs) how many."""
    removed = 0
    try:
        entries = list(os.scandir(video_root))
    except FileNotFoundError:
        return 0
    except OSError as exc:
        log.warning("event=legacy_migration_failed path=%s error=%s", video_root, exc.strerror)
        return 0
    for entry in entries:
        if not is_legacy(entry):
            continue
        try:
            os.unlink(entry.path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("event=legacy_remove_failed file=%r error=%s", entry.name, exc.strerror)
            continue
        removed += 1
    log.info("event=legacy_migration removed=%d path=%s", removed, video_root)
    return removed
