"""The one resolver for library-relative paths from clients: nothing escapes a library root.

Rejects NUL bytes, absolute paths, backslashes, `..` (also in Unicode look-alike forms
that NFKC folds to `..`), over-long paths, and symlinks whose target leaves the root.
Every route that takes a path goes through `clean_rel_path` (syntax) and, before any
file is opened, `resolve_inside` (the real location on disk).
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

from imageserver.errors import Invalid, NotFound

MAX_PATH_BYTES = 4096
MAX_COMPONENT_BYTES = 255


def clean_rel_path(rel: str) -> str:
    """Normalise a client path to `a/b/c` or raise Invalid; no file system access."""
    if not isinstance(rel, str) or rel == "":
        raise Invalid("path: must not be empty")
    if "\x00" in rel:
        raise Invalid("path: must not contain NUL")
    if "\\" in rel:
        raise Invalid("path: use / as the separator")
    if len(rel.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise Invalid("path: too long")
    if rel.startswith("/") or (len(rel) > 1 and rel[1] == ":"):
        raise Invalid("path: must be relative to the library root")
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if not parts:
        raise Invalid("path: must name a file or folder")
    for part in parts:
        folded = unicodedata.normalize("NFKC", part)
        if part == ".." or folded == ".." or "/" in folded or "\\" in folded:
            raise Invalid("path: must not leave the library root")
        if len(part.encode("utf-8", "surrogatepass")) > MAX_COMPONENT_BYTES:
            raise Invalid("path: a name is too long")
        if any(unicodedata.category(ch) == "Cc" for ch in part):
            raise Invalid("path: must not contain control characters")
    return "/".join(parts)


def resolve_inside(root: Path, rel: str) -> Path:
    """The real path of `root/rel`, guaranteed inside root's real path; NotFound if absent."""
    clean = clean_rel_path(rel)
    real_root = os.path.realpath(root)
    candidate = os.path.join(real_root, clean)
    try:
        real = os.path.realpath(candidate, strict=True)
    except (OSError, RuntimeError) as exc:
        raise NotFound(f"no such file: {clean}") from exc
    if real != real_root and not real.startswith(real_root.rstrip("/") + "/"):
        raise Invalid("path: resolves outside the library root")
    return Path(real)


def open_file_inside(root: Path, rel: str) -> Path:
    """A regular file inside the root, ready to be opened for reading."""
    path = resolve_inside(root, rel)
    if not path.is_file():
        raise NotFound(f"not a file: {clean_rel_path(rel)}")
    return path
