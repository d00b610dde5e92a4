"""Sidecars (XMP, Takeout JSON) found by the walk are synced into curation, once per tick.

A complete walk hands every sidecar of the library over. A quick walk (scan/findwalk.py)
sees new and edited files but not deleted ones; a deletion changes its folder's ctime, so
every folder the quick walk reports (and the root, which find does not print) is listed
again here, as are the folders of new media files (a sidecar can arrive before its
photo). Nothing is hashed or thumbnailed again: a sidecar changes only database rows.

Then a bounded batch of photos whose embedded XMP/IPTC was not yet read for the file as
it is now is read (after the metadata drain, whose date decides precedence).
"""

from __future__ import annotations

import logging
import os
import stat

from imageserver.curation import names, repo, service
from imageserver.media.paths import is_inside
from imageserver.scan.tick import ScanTick

log = logging.getLogger("imageserver.scan")

EMBEDDED_BATCH = 200
# Libraries whose embedded backlog was not empty at the last look (per process).
_backlog: set[int] = set()


def list_folder(root: str, folder: str) -> dict[str, tuple[int, int]]:
    """The sidecars directly in one folder (the walker's rules: no hidden names, regular
    files, symlinks only to targets inside the root)."""
    out: dict[str, tuple[int, int]] = {}
    path = os.path.join(root, folder) if folder else root
    try:
        entries = list(os.scandir(path))
    except OSError:
        return out
    real_root = os.path.realpath(root)
    for entry in entries:
        if not names.is_sidecar(entry.name):
            continue
        try:
            if entry.is_symlink():
                target = os.path.realpath(entry.path)
                if not is_inside(real_root, target):
                    continue
                st = os.stat(target)
            else:
                st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            out[service.join(folder, entry.name)] = (st.st_size, st.st_mtime_ns)
    return out


def sidecars_stage(t: ScanTick) -> None:
    assert t.walk is not None
    root = os.fspath(t.library.root)
    unreadable = set(t.walk.unreadable_dirs)
    folders: set[str] | None
    if t.changed_paths is None:  # a complete walk: every sidecar of the library
        folders = None
        present = {rel: (fs.size, fs.mtime_ns) for rel, fs in t.walk.sidecars.items()}
    else:
        new_media = [fs.rel_path for fs in t.diff.new] + [fs.rel_path for _, fs in t.diff.changed]
        folders = {""} | set(t.changed_dirs)
        folders |= {service.split(p)[0] for p in [*t.walk.sidecars, *new_media]}
        present = {}
        for folder in folders:
            present.update(list_folder(root, folder))
    with t.app.engine.connect() as conn:
        plan = service.plan_sync(conn, t.library.id, present, folders, unreadable)
    if not plan.empty:
        read = service.read_plan(t.library.root, plan)
        with t.app.engine.begin() as conn:
            affected = service.apply_sync(conn, t.library.id, plan, read, t.now)
            if affected:
                t.counts["sidecars"] += service.refresh(conn, t.library.id, affected, t.now)
    _embedded(t)


def _embedded(t: ScanTick) -> None:
    if not (t.full or t.diff.new or t.diff.changed or t.library.id in _backlog):
        return
    with t.app.engine.connect() as conn:
        refs = repo.embedded_backlog(conn, t.library.id, EMBEDDED_BATCH)
    # the file's own date decides precedence: wait for the metadata drain
    ready = [r for r in refs if not r.meta_pending]
    if len(refs) < EMBEDDED_BATCH and len(ready) == len(refs):
        _backlog.discard(t.library.id)
    else:
        _backlog.add(t.library.id)
    refs = ready
    if not refs:
        return
    read = service.read_embedded(t.library.root, refs)
    with t.app.engine.begin() as conn:
        t.counts["embedded"] += service.apply_embedded(conn, t.library.id, refs, read, t.now)
