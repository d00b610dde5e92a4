"""The one resolver for library paths: nothing escapes a library root.

Two steps. `clean_rel_path` checks the syntax of a path a client sent: NUL bytes,
absolute paths, backslashes, `..` (also in Unicode look-alike forms that NFKC folds to
`..`), over-long paths. `confine` is the one resolve-inside-the-root check: the real
location on disk (every symlink followed) must lie inside the root's real location.

Every file of a library is opened only through `open_file_inside` (an indexed file: the
original route, the hash, metadata, thumbnail and face drains, video jobs and their
staleness checks, the ingest sniff) or `resolve_inside` (a client's path), and then by
the real path it returns, so a symlink swapped in after indexing that now points outside
the root is refused everywhere with `OutsideRoot`. The walker asks `is_inside` of a
symlink's target, the same rule.
"""

from __future__ import annotations

import errno
import os
import unicodedata
from pathlib import Path

from imageserver.errors import Invalid, NotFound

MAX_PATH_BYTES = 4096
MAX_COMPONENT_BYTES = 255
_ABSENT = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.ENAMETOOLONG)


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


class OutsideRoot(Invalid):
    """The file's real path leaves its library root (a symlink pointing out): refused.

    A route answers 422; a drain records `refusal` as a transient failure of the item
    (backed off, as the link may be put right) and reads nothing from the file.
    """

    def __init__(self, message: str = "path: resolves outside the library root") -> None:
        super().__init__(message)

    @property
    def refusal(self) -> str:
        return f"refused: {self.message}"


class Unreadable(NotFound):
    """The path could not be resolved for another reason than absence (a folder on the way
    is not searchable): a 404 to a client, a transient failure to a drain."""


def is_inside(real_root: str, real: str) -> bool:
    """`real` (a resolved path) is `real_root` or below it."""
    return real == real_root or real.startswith(real_root.rstrip("/") + "/")


def confine(root: Path, rel: str) -> Path:
    """The real path of `root/rel`, guaranteed inside root's real path.

    OutsideRoot when it resolves elsewhere, NotFound when it does not exist (Unreadable
    when the file system would not say). `rel` is a stored path (as the walker indexed
    it) or one `clean_rel_path` already accepted.
    """
    real_root = os.path.realpath(root)
    candidate = os.path.join(real_root, rel)
    try:
        real = os.path.realpath(candidate, strict=True)
    except RuntimeError as exc:  # a symlink loop (older Pythons)
        raise NotFound(f"no such file: {rel}") from exc
    except OSError as exc:
        if exc.errno in _ABSENT:
            raise NotFound(f"no such file: {rel}") from exc
        raise Unreadable(f"cannot resolve {rel}: {exc.strerror or exc}") from exc
    if not is_inside(real_root, real):
        raise OutsideRoot()
    return Path(real)


def resolve_inside(root: Path, rel: str) -> Path:
    """A client's path: clean syntax, then `confine`d to the root; NotFound if absent."""
    return confine(root, clean_rel_path(rel))


def open_file_inside(root: Path, rel: str) -> Path:
    """An indexed file (its stored `rel_path`) as a regular file inside the root: the real
    path to open. OutsideRoot when a symlink leads out, NotFound when gone or not a file."""
    path = confine(root, rel)
    if not path.is_file():
        raise NotFound(f"not a file: {rel}")
    return path
