"""Walk a library root with os.scandir: excludes, hidden files, our own folders, symlinks.

The walk never follows a symlinked directory (no cycles, no escape), and follows a
symlinked file only when its target resolves inside the root. A folder that cannot be
read is recorded, not fatal: the missing-file scan must not retire what it could not see.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from imageserver.curation.names import is_sidecar
from imageserver.media.formats import is_candidate
from imageserver.media.paths import is_inside
from imageserver.media.skipped import MAX_PATH_BYTES, Skipped

log = logging.getLogger("imageserver.scan")


@dataclass(frozen=True, slots=True)
class FileStat:
    rel_path: str
    size: int
    mtime_ns: int


@dataclass
class WalkResult:
    files: dict[str, FileStat] = field(default_factory=dict)
    # Library-relative folders that could not be listed ("" is the root itself).
    unreadable_dirs: list[str] = field(default_factory=list)
    dirs_walked: int = 0
    # Library-relative folders seen ("" is the root): a quick walk needs to know which
    # folders are new (moved or copied in) to list those whole.
    dirs: set[str] = field(default_factory=set)
    # Metadata files beside media (XMP, Takeout JSON: curation/names.py), never media rows.
    sidecars: dict[str, FileStat] = field(default_factory=dict)
    # Files passed over, by reason (media/skipped.py); the sniff adds its own later.
    skipped: Skipped = field(default_factory=Skipped)


@dataclass(frozen=True)
class Excludes:
    """excluded_dirs split into bare names (match at any depth) and relative paths."""

    names: frozenset[str]
    paths: frozenset[str]

    @classmethod
    def parse(cls, entries: Iterable[str]) -> Excludes:
        names: set[str] = set()
        paths: set[str] = set()
        for entry in entries:
            (paths if "/" in entry else names).add(entry)
        return cls(frozenset(names), frozenset(paths))

    def skips(self, name: str, rel_path: str) -> bool:
        return name in self.names or rel_path in self.paths

    def relative_to(self, folder: str) -> Excludes:
        """The same rules for a walk that starts at `folder` (library-relative)."""
        prefix = folder + "/"
        paths = frozenset(p[len(prefix) :] for p in self.paths if p.startswith(prefix))
        return Excludes(self.names, paths)

    def covers(self, rel_path: str) -> bool:
        """Whether a file's library-relative path lies inside an excluded folder."""
        parts = rel_path.split("/")[:-1]
        if any(p in self.names for p in parts):
            return True
        return any(rel_path.startswith(p + "/") for p in self.paths)


def walk(
    root: Path, excludes: Excludes, skip_dirs: Iterable[Path] = (), fence: Path | None = None
) -> WalkResult:
    """Every candidate media file under `root` with its size and mtime.

    `fence` is the library root when `root` is one of its folders: symlinks may point
    anywhere inside the library, as in a walk from the top.
    """
    result = WalkResult()
    root_str = os.fspath(root)
    fence_str = os.path.realpath(fence if fence is not None else root)
    skip = {os.path.realpath(p) for p in skip_dirs}
    stack: list[tuple[str, str]] = [(root_str, "")]
    while stack:
        abs_dir, rel_dir = stack.pop()
        try:
            it = os.scandir(abs_dir)
        except OSError as exc:
            log.warning("event=walk_unreadable dir=%r error=%s", rel_dir or ".", exc.strerror)
            result.unreadable_dirs.append(rel_dir)
            continue
        result.dirs_walked += 1
        result.dirs.add(rel_dir)
        with it:
            for entry in it:
                name = entry.name
                rel = f"{rel_dir}/{name}" if rel_dir else name
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if name.startswith(".") or excludes.skips(name, rel) or entry.path in skip:
                            continue
                        stack.append((entry.path, rel))
                        continue
                    if name.startswith("."):
                        result.skipped.add("hidden", rel)
                        continue
                    sidecar = not is_candidate(name)
                    if sidecar and not is_sidecar(name):
                        result.skipped.add("ignored_type", rel)
                        continue
                    if entry.is_symlink():
                        st = _symlink_target_stat(entry.path, fence_str)
                        if st is None:
                            result.skipped.add("symlink_outside", rel)
                            continue
                    else:
                        st = entry.stat(follow_symlinks=False)
                    if not stat.S_ISREG(st.st_mode):
                        result.skipped.add("not_regular", rel)
                        continue
                except OSError as exc:
                    log.warning("event=walk_stat_failed path=%r error=%s", rel, exc.strerror)
                    result.skipped.add("unreadable", rel)
                    continue
                reason = name_problem(rel)
                if reason is not None:
                    log.warning("event=walk_skipped_name path=%r reason=%s", rel, reason)
                    result.skipped.add(reason, rel)
                    continue
                found = FileStat(rel, st.st_size, st.st_mtime_ns)
                (result.sidecars if sidecar else result.files)[rel] = found
    return result


def _symlink_target_stat(path: str, root: str) -> os.stat_result | None:
    """stat of a symlink's target when it stays inside the root, else None (skipped)."""
    try:
        target = os.path.realpath(path, strict=True)
    except (OSError, RuntimeError):
        return None
    if not is_inside(root, target):
        log.info("event=walk_symlink_outside path=%r", path)
        return None
    try:
        return os.stat(target)
    except OSError:
        return None


def name_problem(rel: str) -> str | None:
    """Why a path cannot be stored: a name that is not valid UTF-8 cannot be stored or
    served faithfully, and a path beyond MAX_PATH_BYTES is no real file's; None when fine."""
    try:
        size = len(rel.encode("utf-8"))
    except UnicodeEncodeError:
        return "name_not_utf8"
    return "name_too_long" if size > MAX_PATH_BYTES else None
