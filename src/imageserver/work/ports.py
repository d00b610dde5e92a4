"""What features hand each other through the process context, as small Protocols.

The kernel may name no feature type, yet some objects cross feature lines: the video
queue wakes the watcher when it runs dry, the embeddings drain tells the search index of
new vectors, every router looks a library up by id, the stream routes ask the share links
whether a link still shows a video. Each such hand-over is declared here
by the least it needs; the feature that owns the object implements it, the server wires
it once at start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from imageserver.work.tick import TickContext


class LibraryRef(Protocol):
    """One library as a hot-path handler needs it (no table read)."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def root(self) -> Path: ...
    @property
    def enabled(self) -> bool: ...


class LibraryLookup(Protocol):
    """The cached id -> library snapshot (libraries/registry.py)."""

    def invalidate(self) -> None: ...
    def get(self, library_id: int) -> LibraryRef | None: ...


class Waker(Protocol):
    """The watcher as others see it: ask for a tick now, hook into full scans."""

    after_full: list[Callable[[Sequence[TickContext]], None]]

    def wake(self) -> None: ...


class VersionIndex(Protocol):
    """A searchable index that picks up rows of one model version just committed."""

    def refresh(self, version: str) -> None: ...


class Closeable(Protocol):
    """A long-lived helper (a child process, a model) the process closes on the way out."""

    def close(self) -> None: ...


class JobQueue(Protocol):
    """A long-lived runner of one drain's jobs (the video queue): ticks top it up."""

    def room(self) -> int: ...
    def in_flight(self) -> set[str]: ...


class SharedStreams(Protocol):
    """Public share links as the video stream routes see them (albums/shares.py): a share
    link's stream token plays a video only while the link still shows an item of its bytes."""

    def shows(self, conn: Connection, share_id: int, content_hash: str) -> bool: ...
