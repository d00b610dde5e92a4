"""What one tick over one library carries from stage to stage, as far as drains see it.

Drains need the library, the clock, whether the tick is a full scan and whether the
library is stale; they report counters for the end-of-tick summary and the backlog they
left. What only the walk and its judges share (the walk result, the diff, the watcher's
caches) is scan's business: scan/tick.py extends this class with it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from imageserver.work.context import AppContext


@dataclass(frozen=True)
class TickLibrary:
    """A library as read from the live table at the top of the tick."""

    id: int
    name: str
    root: Path

    @property
    def label(self) -> str:
        return self.name


@dataclass
class TickContext:
    app: AppContext
    library: TickLibrary
    full: bool
    started_at: float
    stale: bool = False
    stale_reason: str | None = None
    # Counters for the end-of-tick summary: seen, new, changed, retired, hashed, ...
    counts: Counter[str] = field(default_factory=Counter)
    # Backlogs left after this tick's bounded drains, by drain name.
    pending: dict[str, int] = field(default_factory=dict)

    @property
    def now(self) -> float:
        return self.app.clock()
