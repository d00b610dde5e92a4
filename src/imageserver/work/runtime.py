"""Process-level tuning applied once at start, before any worker thread exists."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger("imageserver.work.runtime")

M_ARENA_MAX = -8  # glibc mallopt parameter
MALLOC_ARENAS = 2


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's per-thread malloc arenas.

    Decoder threads (libvips, libheif, dlib) each grow a 64 MB arena that glibc rarely gives
    back: measured peak RSS of a 3k-file scan fell from 702 MB to 360 MB with two arenas, at
    no cost in speed. Same effect as MALLOC_ARENA_MAX=2, without relying on the environment.
    """
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
        log.debug("event=mallopt_unavailable")
        return False


def release_free_memory() -> None:
    """Hand freed heap pages back to the OS after a burst of large decodes."""
    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        ctypes.CDLL(name).malloc_trim(0)
    except (OSError, AttributeError):
        return
