"""Walks with GNU find doing directory reads and stats in C: the quick tick's walk.

A Python scandir+stat loop costs ~2.5x what `find` costs on the same tree (object creation
per entry), so a quick tick over 100k unchanged files would be mostly that walk. Instead,
`changed_since` asks find for the entries whose inode changed (ctime) since the previous
walk began, minus a margin: new, edited, renamed or moved-in files all get a new ctime,
and so does a folder moved or copied in, which is then listed whole. find prunes by the
same rules as walker.py; Python applies the rest (candidates by extension, UTF-8 names,
symlink targets inside the root) exactly as walker.py does. tests/scan/test_findwalk.py
checks both walks agree. find does not print hidden or special files, so their skip
reasons (media/skipped.py) come from walker.py's complete walks only. Deleted files are
not seen here: retiring them is the full scan's job, which always walks everything with
walker.py.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import stat
from collections.abc import Iterable
from pathlib import Path

from imageserver import proc
from imageserver.curation.names import is_sidecar
from imageserver.media.formats import is_candidate
from imageserver.media.skipped import MAX_PATH_BYTES
from imageserver.scan import walker
from imageserver.scan.walker import (
    Excludes,
    FileStat,
    WalkResult,
    _symlink_target_stat,
    name_problem,
)

log = logging.getLogger("imageserver.scan")

FIND = shutil.which("find")
_ERROR = re.compile(r"^(?:\S*/)?find: '(?P<path>.*)': (?P<reason>.*)$")


def available() -> bool:
    return FIND is not None and _is_gnu(FIND)


def _is_gnu(find: str) -> bool:
    try:
        out = proc.run([find, "--version"], timeout=10, check=False)
    except proc.ToolError:
        return False
    return b"GNU findutils" in out.stdout


def _glob_literal(text: str) -> str:
    """find's -name/-path take glob patterns: match these characters literally."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def find_argv(
    root: str, excludes: Excludes, skip_dirs: Iterable[str], since: float | None = None
) -> list[str]:
    """Prune hidden entries, excluded folders and our own folders; print the rest
    (only what changed after `since`, epoch seconds, when given)."""
    assert FIND is not None
    prune = ["-name", ".*"]
    for name in sorted(excludes.names):
        prune += ["-o", "-type", "d", "-name", _glob_literal(name)]
    for rel in sorted(excludes.paths):
        prune += ["-o", "-type", "d", "-path", _glob_literal(f"{root}/{rel}")]
    for folder in sorted(skip_dirs):
        prune += ["-o", "-type", "d", "-path", _glob_literal(folder)]
    newer = [] if since is None else ["-newerct", f"@{since:.6f}"]
    return [
        FIND, root, "-mindepth", "1",
        "(", *prune, ")", "-prune",
        "-o", *newer, "(", "-type", "f", "-o", "-type", "l", "-o", "-type", "d", ")",
        "-printf", r"%y\0%s\0%T@\0%P\0",
    ]  # fmt: skip


def _mtime_ns(text: str) -> int:
    """find's %T@ ("1700000000.1234567890", ten decimals) as exact integer nanoseconds."""
    seconds, _, fraction = text.partition(".")
    if len(fraction) == 10:  # GNU find 4.x: the fast path, one int() per file
        return int(seconds + fraction[:9])
    return int(seconds) * 1_000_000_000 + int((fraction[:9] or "0").ljust(9, "0"))


def walk(root: Path, excludes: Excludes, skip_dirs: Iterable[Path] = ()) -> WalkResult:
    """Everything, as walker.walk finds it."""
    return _run(root, excludes, skip_dirs, None)


def changed_since(
    root: Path,
    excludes: Excludes,
    skip_dirs: Iterable[Path],
    since: float,
    known_dirs: set[str],
) -> WalkResult:
    """Files whose inode changed after `since`, plus everything under folders that are new."""
    skip_dirs = list(skip_dirs)
    result = _run(root, excludes, skip_dirs, since)
    for rel in sorted(result.dirs - known_dirs):
        if any(rel.startswith(f"{parent}/") for parent in result.dirs - known_dirs - {rel}):
            continue  # inside another new folder, which is listed whole below
        sub = walker.walk(root / rel, excludes.relative_to(rel), skip_dirs, fence=root)
        for sub_rel, fs in sub.files.items():
            full = f"{rel}/{sub_rel}"
            result.files[full] = FileStat(full, fs.size, fs.mtime_ns)
        for sub_rel, fs in sub.sidecars.items():
            full = f"{rel}/{sub_rel}"
            result.sidecars[full] = FileStat(full, fs.size, fs.mtime_ns)
        result.dirs |= {f"{rel}/{d}" if d else rel for d in sub.dirs}
        result.unreadable_dirs += [f"{rel}/{d}" if d else rel for d in sub.unreadable_dirs]
        for reason, entry in sub.skipped.reasons.items():
            for example in entry.examples:
                result.skipped.add(reason, f"{rel}/{example}")
            result.skipped.reasons[reason].count += entry.count - len(entry.examples)
    return result


def _run(
    root: Path, excludes: Excludes, skip_dirs: Iterable[Path], since: float | None
) -> WalkResult:
    root_str = os.fspath(root)
    skip = [os.path.realpath(p) for p in skip_dirs]
    env = {**os.environ, "LC_ALL": "C"}  # plain-ASCII error messages we can parse
    # no timeout (as before: a slow disk is waited for); all of stderr is kept, since every
    # folder find could not list must be kept from retirement
    done = proc.run(
        find_argv(root_str, excludes, skip, since),
        timeout=None,
        env=env,
        check=False,
        stderr_limit=None,
    )
    result = WalkResult()
    result.dirs_walked = 1
    if since is None:
        result.dirs.add("")
    files = result.files
    # One decode for the whole listing (as os.fsdecode would, name by name).
    fields = iter(done.stdout.decode("utf-8", "surrogateescape").split("\0"))
    for kind, size, mtime, rel in zip(fields, fields, fields, fields, strict=False):
        if kind == "d":
            result.dirs_walked += 1
            result.dirs.add(rel)
            continue
        name = rel[rel.rfind("/") + 1 :]
        into = files
        if not is_candidate(name):
            if not is_sidecar(name):
                result.skipped.add("ignored_type", rel)
                continue
            into = result.sidecars
        if not rel.isascii() or len(rel) > MAX_PATH_BYTES:
            reason = name_problem(rel)
            if reason is not None:
                log.warning("event=walk_skipped_name path=%r reason=%s", rel, reason)
                result.skipped.add(reason, rel)
                continue
        if kind == "l":
            st = _symlink_target_stat(os.path.join(root_str, rel), root_str)
            if st is None or not stat.S_ISREG(st.st_mode):
                result.skipped.add("symlink_outside" if st is None else "not_regular", rel)
                continue
            into[rel] = FileStat(rel, st.st_size, st.st_mtime_ns)
            continue
        into[rel] = FileStat(rel, int(size), _mtime_ns(mtime))
    _record_errors(result, done.stderr, root_str)
    return result


def _record_errors(result: WalkResult, stderr: bytes, root: str) -> None:
    """Folders find could not list (or that vanished mid-walk) are kept from retirement."""
    for line in os.fsdecode(stderr).splitlines():
        match = _ERROR.match(line)
        if not match:
            if line.strip():
                log.warning("event=walk_find_message message=%r", line)
            continue
        path = match.group("path")
        if path != root and not path.startswith(root.rstrip("/") + "/"):
            continue
        rel = "" if path == root else path[len(root.rstrip("/")) + 1 :]
        log.warning("event=walk_unreadable dir=%r error=%s", rel or ".", match.group("reason"))
        result.unreadable_dirs.append(rel)
