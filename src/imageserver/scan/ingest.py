"""Stages that turn a walk into media rows: diff against the table, insert, reconcile.

`diff_stage` compares the walk with what the table knows (one query per library);
`ingest_stage` inserts rows for new files and restores retired rows whose file is back;
`reconcile_stage` resets rows whose size or mtime changed so every drain re-derives them.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from imageserver.errors import ImageServerError
from imageserver.media import repo
from imageserver.media.formats import Classified, classify
from imageserver.media.mtime import mtime_datetime
from imageserver.media.paths import open_file_inside
from imageserver.scan.tick import Diff, NonMediaCache, ScanTick, WalkMemory
from imageserver.scan.walker import FileStat

log = logging.getLogger("imageserver.scan")


def folder_and_name(rel_path: str) -> tuple[str, str]:
    folder, _, name = rel_path.rpartition("/")
    return folder, name


def _changed_since(
    previous: dict[str, FileStat], files: dict[str, FileStat], candidates: list[str]
) -> list[str]:
    changed = []
    for rel in candidates:
        fs = files[rel]
        before = previous.get(rel)
        if before is None or before.size != fs.size or before.mtime_ns != fs.mtime_ns:
            changed.append(rel)
    return changed


def diff_stage(t: ScanTick) -> None:
    assert t.walk is not None
    cache = t.walk_cache
    memory = None if t.full or cache is None else cache.get(t.library.id)
    candidates = t.changed_paths
    with t.app.engine.connect() as conn:
        if memory is None:
            known = repo.known_files(conn, t.library.id)
            paths = list(t.walk.files)
            t.walk_complete = True
        else:
            if candidates is None:  # a complete walk: compare it with the previous one
                candidates = list(t.walk.files)
            paths = _changed_since(memory.files, t.walk.files, candidates)
            known = repo.known_for_paths(conn, t.library.id, paths) if paths else {}
    diff = Diff()
    for rel in paths:
        fs = t.walk.files[rel]
        k = known.get(rel)
        if k is None:
            diff.new.append(fs)
        elif (k.size, k.mtime_ns) != (fs.size, fs.mtime_ns):
            (diff.restored_changed if k.retired else diff.changed).append((k.id, fs))
        elif k.retired:
            diff.restored.append(k.id)
    t.counts["seen"] = len(t.walk.files)
    t.diff = diff
    if cache is not None:
        memory = WalkMemory(t.walk.files, t.walk.dirs, t.library.excludes, t.walk_started)
        cache.put(t.library.id, memory)


def _classify(t: ScanTick, fs: FileStat) -> Classified | None:
    cache: NonMediaCache = t.non_media
    assert t.walk is not None
    skipped = t.walk.skipped
    if cache.known(t.library.id, fs):
        skipped.add("unknown_type", fs.rel_path)
        return None
    try:
        found = classify(open_file_inside(t.library.root, fs.rel_path))
    except (OSError, ImageServerError) as exc:  # gone, or a symlink now leading out
        log.warning(
            "event=sniff_failed library=%s path=%r error=%s", t.library.name, fs.rel_path, exc
        )
        skipped.add("unreadable", fs.rel_path)
        return None
    if found is None:
        cache.add(t.library.id, fs)
        skipped.add("unknown_type", fs.rel_path)
    return found


def new_row(library_id: int, fs: FileStat, found: Classified, now: float) -> dict[str, Any]:
    folder, name = folder_and_name(fs.rel_path)
    fmt = found.format
    return {
        "library_id": library_id,
        "rel_path": fs.rel_path,
        "folder": folder,
        "name": name,
        "kind": fmt.kind,
        "format": fmt.name,
        "mime": fmt.mime,
        "size": fs.size,
        "mtime_ns": fs.mtime_ns,
        "created_at": now,
        "updated_at": now,
        "seen_at": now,
        "retired_at": None,
        "content_hash": None,
        "hash_attempts": 0,
        "meta_status": "pending",
        "meta_error": None if found.sniffed else "content not recognised; typed by extension",
        "meta_attempts": 0,
        "taken_at": mtime_datetime(fs.mtime_ns),
        "taken_at_source": "file_mtime",
    }


def ingest_stage(t: ScanTick) -> None:
    diff: Diff = t.diff
    now = t.now
    rows = []
    for fs in diff.new:
        found = _classify(t, fs)
        if found is not None:
            rows.append(new_row(t.library.id, fs, found, now))
    with t.app.engine.begin() as conn:
        repo.insert_many(conn, rows)
        repo.restore(conn, diff.restored, now)
        if t.walk_complete:
            assert t.walk is not None
            repo.record_skipped(conn, t.library.id, t.walk.skipped.to_json())
    t.counts["new"] += len(rows)
    t.counts["restored"] += len(diff.restored)
    if rows or diff.restored:
        log.debug(
            "event=ingested library=%s new=%d restored=%d",
            t.library.name,
            len(rows),
            len(diff.restored),
        )


def reconcile_stage(t: ScanTick) -> None:
    """Changed bytes at a known path: new sniff, reset hash and metadata, keep the row id."""
    diff: Diff = t.diff
    now = t.now
    updates: list[tuple[int, dict[str, Any]]] = []
    for media_id, fs in [*diff.changed, *diff.restored_changed]:
        found = _classify(t, fs)
        values = repo.reset_values(now)
        values.update(size=fs.size, mtime_ns=fs.mtime_ns)
        values.update(taken_at=mtime_datetime(fs.mtime_ns), taken_at_source="file_mtime")
        if found is not None:
            values.update(kind=found.format.kind, format=found.format.name, mime=found.format.mime)
        updates.append((media_id, values))
    if not updates:
        return
    with t.app.engine.begin() as conn:
        for media_id, values in updates:
            repo.update_row(conn, media_id, values)
    t.counts["changed"] += len(updates)


def still_there(root: Path, rel_path: str) -> bool:
    try:
        os.lstat(root / rel_path)
    except FileNotFoundError:
        return False
    except OSError:
        return True  # cannot tell: keep the row
    return True
