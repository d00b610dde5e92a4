"""The file mtime as a taken-at, when nothing better is known."""

from __future__ import annotations

from datetime import datetime


def mtime_datetime(mtime_ns: int) -> datetime:
    """File mtime as a naive local wall-clock time: the last-resort taken-at."""
    return datetime.fromtimestamp(mtime_ns / 1e9).replace(microsecond=0)
