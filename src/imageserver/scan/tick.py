"""What one tick of the walk carries: the kernel's tick context plus the walk's own state.

The walk, the diff, the ingest and the missing-file scan hand each other the walk result,
the diff and the watcher's caches; drains never see them, so they live here and not in
the kernel's TickContext. The watcher fills the caches in at the top of every tick.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from imageserver.scan.walker import Excludes, FileStat, WalkResult
from imageserver.work.tick import TickContext, TickLibrary


@dataclass(frozen=True)
class LibraryView(TickLibrary):
    """A library of the live table with its exclusion rules (what the walk needs)."""

    excludes: Excludes = field(default_factory=lambda: Excludes.parse([]))


@dataclass
class Diff:
    new: list[FileStat] = field(default_factory=list)
    changed: list[tuple[int, FileStat]] = field(default_factory=list)
    restored: list[int] = field(default_factory=list)
    restored_changed: list[tuple[int, FileStat]] = field(default_factory=list)


class NonMediaCache:
    """Files already sniffed as not media, so quick ticks do not reopen them every minute."""

    def __init__(self) -> None:
        self._seen: dict[int, dict[str, tuple[int, int]]] = {}

    def known(self, library_id: int, fs: FileStat) -> bool:
        return self._seen.get(library_id, {}).get(fs.rel_path) == (fs.size, fs.mtime_ns)

    def add(self, library_id: int, fs: FileStat) -> None:
        self._seen.setdefault(library_id, {})[fs.rel_path] = (fs.size, fs.mtime_ns)


@dataclass
class WalkMemory:
    """What a quick tick needs to know of the previous walk of a library."""

    files: dict[str, FileStat]
    dirs: set[str]
    excludes: Excludes
    started: float  # wall-clock start of that walk (epoch seconds)


class WalkCache:
    """The previous successful walk per library, so a quick tick asks the table only about
    the paths that differ from it instead of loading every row (O(changes), not O(rows)).

    Full scans and failed ticks start from the table again. Only one process walks a
    library at a time (the walker lock), so nobody else adds or retires rows behind it.
    """

    def __init__(self) -> None:
        self._walks: dict[int, WalkMemory] = {}

    def get(self, library_id: int) -> WalkMemory | None:
        return self._walks.get(library_id)

    def put(self, library_id: int, memory: WalkMemory) -> None:
        self._walks[library_id] = memory

    def forget(self, library_id: int) -> None:
        self._walks.pop(library_id, None)


@dataclass
class ScanTick(TickContext):
    library: LibraryView
    walk: WalkResult | None = None
    # The walk's start on the wall clock (a quick walk looks back from the previous one).
    walk_started: float = 0.0
    # Paths a quick walk saw changed; None after a complete walk.
    changed_paths: list[str] | None = None
    # Folders whose entries a quick walk saw change (a sidecar added or deleted there).
    changed_dirs: set[str] = field(default_factory=set)
    # The diff compared every walked path with the table (no previous walk to lean on):
    # the tick then knows every file passed over, and stores the tally (media/skipped.py).
    walk_complete: bool = False
    diff: Diff = field(default_factory=lambda: Diff())
    # The watcher's caches (None when a stage runs without a watcher).
    non_media: NonMediaCache = field(default_factory=lambda: NonMediaCache())
    walk_cache: WalkCache | None = None
    excludes_applied: dict[int, Excludes] | None = None
