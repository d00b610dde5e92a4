"""A snapshot of id -> library for hot-path handlers that only need a root path.

Writers call `invalidate()` after changing libraries; background loops never use the
snapshot, they read the live table at the top of every tick.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from imageserver.db.engine import read_only
from imageserver.libraries import repo


@dataclass(frozen=True)
class LibraryRef:
    id: int
    name: str
    root: Path
    enabled: bool


class LibraryRegistry:
    """Cached for `ttl` seconds at most, so a change made by another replica shows up too."""

    def __init__(self, engine: Engine, ttl: float = 5.0) -> None:
        self._engine = engine
        self._ttl = ttl
        self._lock = threading.Lock()
        self._snapshot: dict[int, LibraryRef] | None = None
        self._loaded_at = 0.0

    def invalidate(self) -> None:
        with self._lock:
            self._snapshot = None

    def snapshot(self) -> dict[int, LibraryRef]:
        with self._lock:
            if self._snapshot is None or time.monotonic() - self._loaded_at > self._ttl:
                with read_only(self._engine) as conn:
                    rows = repo.list_all(conn)
                self._snapshot = {
                    r["id"]: LibraryRef(r["id"], r["name"], Path(r["root_path"]), r["enabled"])
                    for r in rows
                }
                self._loaded_at = time.monotonic()
            return self._snapshot

    def get(self, library_id: int) -> LibraryRef | None:
        return self.snapshot().get(library_id)

    def by_name(self, name: str) -> LibraryRef | None:
        return next((ref for ref in self.snapshot().values() if ref.name == name), None)
