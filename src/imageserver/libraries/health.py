"""Is a library root reachable and plausibly mounted? The answer gates every destructive step.

Stale means: the root is missing, not a directory, unreadable, or empty while the
database holds live rows for it (the classic unmounted NAS share: the mount point exists
but is an empty folder). For a stale library the watcher skips the walk and the
missing-file scan, and orphan cleanup skips its whole cycle.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection

from imageserver.libraries import repo
from imageserver.telemetry.metrics import LIBRARY_UP


@dataclass(frozen=True)
class Health:
    reachable: bool
    reason: str | None = None

    @property
    def status(self) -> str:
        return "reachable" if self.reachable else "stale"


def probe(root: Path, live_rows: Callable[[], int]) -> Health:
    """Check the root without walking it: a few syscalls, safe on a hung mount.

    `live_rows` is only asked when the root turns out empty (counting costs O(rows)).
    """
    try:
        st = os.stat(root)
    except FileNotFoundError:
        return Health(False, "root folder is missing")
    except PermissionError:
        return Health(False, "root folder is not accessible (permission denied)")
    except OSError as exc:
        return Health(False, f"root folder cannot be read: {exc.strerror}")
    import stat as stat_mod

    if not stat_mod.S_ISDIR(st.st_mode):
        return Health(False, "root path is not a directory")
    try:
        with os.scandir(root) as it:
            empty = next(it, None) is None
    except PermissionError:
        return Health(False, "root folder is not readable (permission denied)")
    except OSError as exc:
        return Health(False, f"root folder cannot be listed: {exc.strerror}")
    if empty:
        rows = live_rows()
        if rows > 0:
            return Health(False, f"root folder is empty but {rows} files are indexed (unmounted?)")
    return Health(True)


def record(conn: Connection, library_id: int, name: str, health: Health, now: float) -> None:
    repo.update_fields(
        conn,
        library_id,
        {"health": health.status, "health_reason": health.reason, "health_checked_at": now},
    )
    LIBRARY_UP.labels(name).set(1 if health.reachable else 0)


def any_enabled_stale(conn: Connection) -> bool:
    """True when an enabled library is stale now (probed live, not from the stored column)."""
    from imageserver.media import repo as media_repo

    for row in repo.list_enabled(conn):

        def live(library_id: int = row["id"]) -> int:
            return media_repo.count_live(conn, library_id)

        if not probe(Path(row["root_path"]), live).reachable:
            return True
    return False
