"""Orphan cleanup: remove hash folders no live database row refers to any more.

Only what the server provably made is removed (video/ownership.py): nothing at all in a
VIDEO_PATH without the server's marker, and only hash folders stamped with the marker's
token. Exactly two levels are walked. At the top only shard folders count (2 lowercase hex
characters, a real directory); inside them only hash folders (64 lowercase hex
characters, a real directory, stamped). Anything else is left alone: legacy files,
uppercase or wrong-length names, plain files, symlinks, an operator's own folders (hex
named or not), generations in progress (`.tmp-...`). A hash folder whose mtime is newer
than the moment the live set was read is also kept: it was made for a row hashed
meanwhile. A shard is removed only when this cycle emptied it: an operator's empty 2-hex
folder stays.

Deleting is gated on library health: when any *enabled* library is stale (an unmounted
disk makes its rows look like nothing), the whole cycle is skipped. Disabled libraries
are not probed and do not block cleanup.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, Engine, select

from imageserver.db.engine import read_only
from imageserver.db.tables import media
from imageserver.libraries import health
from imageserver.telemetry.metrics import ORPHANS_REMOVED
from imageserver.video import layout, ownership

log = logging.getLogger("imageserver.video")


def is_shard_dir(entry: os.DirEntry[str]) -> bool:
    return layout.is_shard(entry.name) and entry.is_dir(follow_symlinks=False)


def is_hash_dir(entry: os.DirEntry[str]) -> bool:
    return layout.is_hash(entry.name) and entry.is_dir(follow_symlinks=False)


def live_hashes(conn: Connection) -> set[str]:
    query = select(media.c.content_hash).where(media.c.content_hash.is_not(None)).distinct()
    return {r[0] for r in conn.execute(query)}


@dataclass
class CleanupResult:
    skipped: str | None = None  # why the cycle did nothing
    removed: list[str] = field(default_factory=list)  # hashes
    shards_removed: int = 0


def sweep(video_root: Path, live: set[str], live_read_at: float) -> CleanupResult:
    """The two-level walk; removes orphan hash folders and the shards they leave empty."""
    result = CleanupResult()
    folder_token = ownership.token(video_root)
    if folder_token is None:
        result.skipped = "VIDEO_PATH carries no marker of this server"
        return result
    try:
        shards = [e for e in os.scandir(video_root) if is_shard_dir(e)]
    except FileNotFoundError:
        return result
    for shard in shards:
        removed_here = 0
        try:
            entries = list(os.scandir(shard.path))
        except OSError as exc:
            log.warning("event=orphan_shard_unreadable shard=%s error=%s", shard.name, exc.strerror)
            continue
        for entry in entries:
            if not is_hash_dir(entry) or entry.name in live:
                continue
            if not ownership.made_here(entry.path, folder_token):
                continue  # not stamped by this server: an operator's, or another install's
            try:
                if entry.stat(follow_symlinks=False).st_mtime >= live_read_at:
                    continue
            except OSError:
                continue
            shutil.rmtree(entry.path, ignore_errors=True)
            if not os.path.lexists(entry.path):
                result.removed.append(entry.name)
                removed_here += 1
        if not removed_here:
            continue
        try:
            os.rmdir(shard.path)  # only succeeds when the shard is empty
            result.shards_removed += 1
        except OSError:
            pass
    return result


def cleanup_cycle(engine: Engine, video_root: Path) -> CleanupResult:
    """One cycle: health gate, live set from the database, then the sweep."""
    with read_only(engine) as conn:
        if health.any_enabled_stale(conn):
            log.warning("event=orphan_cleanup_skipped reason=stale_library")
            return CleanupResult(skipped="an enabled library is stale")
        live_read_at = time.time()
        live = live_hashes(conn)
    result = sweep(video_root, live, live_read_at)
    if result.skipped:
        log.warning("event=orphan_cleanup_skipped reason=no_marker path=%s", video_root)
        return result
    ORPHANS_REMOVED.inc(len(result.removed))
    log.info(
        "event=orphan_cleanup removed=%d shards_removed=%d live=%d",
        len(result.removed),
        result.shards_removed,
        len(live),
    )
    return result
