"""What one tick over one library carries from stage to stage."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imageserver.scan.walker import Excludes, WalkResult
from imageserver.work.context import AppContext


@dataclass(frozen=True)
class LibraryView:
    """A library as read from the live table at the top of the tick."""

    id: int
    name: str
    root: Path
    excludes: Excludes

    @property
    def label(self) -> str:
        return self.name


@dataclass
class TickContext:
    app: AppContext
    library: LibraryView
    full: bool
    started_at: float
    stale: bool = False
    stale_reason: str | None = None
    walk: WalkResult | None = None
    # Counters for the end-of-tick summary: seen, new, changed, retired, hashed, ...
    counts: Counter[str] = field(default_factory=Counter)
    # Backlogs left after this tick's bounded drains, by drain name.
    pending: dict[str, int] = field(default_factory=dict)
    # Values one stage hands to a later one (the walk diff, caches owned by the watcher).
    scratch: dict[str, Any] = field(default_factory=dict)

    @property
    def now(self) -> float:
        return self.app.clock()
