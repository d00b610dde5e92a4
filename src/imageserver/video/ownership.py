"""Which parts of VIDEO_PATH the server provably made, so cleanup never deletes anything else.

VIDEO_PATH may be a folder the operator already uses. Two records make deletion safe:

    VIDEO_PATH/.imageserver-video          the marker: created by the server (O_EXCL) the
                                           first time it uses the folder; holds a random token
    VIDEO_PATH/{shard}/{hash}/.imageserver the stamp: written into every hash folder while it
                                           is still a private temporary folder, holding the
                                           same token

Orphan cleanup removes a hash folder only when the marker exists and the folder's stamp
carries the marker's token: an operator's `ab/<64 hex>` folder, a folder made by another
installation (another token) or by an older version (no stamp) is never touched.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
from pathlib import Path

log = logging.getLogger("imageserver.video")

MARKER = ".imageserver-video"
STAMP = ".imageserver"
_HEADER = "imageserver video folder; the server deletes only folders stamped with this token\n"


def _read_token(path: Path) -> str | None:
    """The token in a marker or stamp file; None when absent, a symlink, or not ours."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        raw = os.read(fd, 4096).decode("utf-8", errors="replace")
    finally:
        os.close(fd)
    lines = raw.splitlines()
    token = lines[-1].strip() if lines else ""
    return token if len(token) == 32 and all(c in "0123456789abcdef" for c in token) else None


def _write_new(path: Path, token: str) -> None:
    """Create `path` holding `token`; refuses to overwrite anything (O_EXCL, 0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, (_HEADER + token + "\n").encode())
    finally:
        os.close(fd)


def token(video_root: Path) -> str | None:
    """This folder's token, None when the server never marked it."""
    return _read_token(video_root / MARKER)


def claim(video_root: Path) -> str:
    """Create VIDEO_PATH (if needed) and its marker once; the folder's token comes back."""
    video_root.mkdir(parents=True, exist_ok=True)
    existing = token(video_root)
    if existing is not None:
        return existing
    new = secrets.token_hex(16)
    try:
        _write_new(video_root / MARKER, new)
    except FileExistsError:
        # another process marked it first (or a non-marker entry holds the name)
        existing = token(video_root)
        if existing is None:
            raise OSError(
                errno.EEXIST, f"{video_root / MARKER} exists but is not a marker"
            ) from None
        return existing
    with contextlib.suppress(OSError):
        entries = sum(1 for e in os.scandir(video_root) if e.name != MARKER)
        log.info("event=video_folder_marked path=%s entries_before=%d", video_root, entries)
    return new


def stamp(folder: Path, video_root: Path) -> None:
    """Record that the server made `folder` (a fresh temporary folder of its own)."""
    _write_new(folder / STAMP, claim(video_root))


def made_here(folder: str | Path, folder_token: str) -> bool:
    """Does this hash folder carry the stamp of the folder whose token is given?"""
    return _read_token(Path(folder) / STAMP) == folder_token
