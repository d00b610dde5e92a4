"""Who this process is when it leases work, how long leases last, and the release of the
leases of a dead predecessor on the same machine.

Several processes (on several machines) may drain one PostgreSQL database. A work item is
claimed by writing this process's owner id and an expiry into its row; nobody else takes
it until the lease expires, so a worker killed mid-item loses its claim after the expiry
and another worker finishes the item. Leases are longer than the work they cover.

Waiting out the expiry is only needed when nobody can tell whether the holder is alive.
On the holder's own machine that is known: the owner id carries the boot id, the pid and
the process start time (a pid is reused, the triple never is), so at start-up a process
releases at once every lease of this machine whose process no longer runs.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, select, union

from imageserver.db.tables import artefacts, media

log = logging.getLogger("imageserver.work.leases")

BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")
PROC = Path("/proc")
SEP = "|"


@dataclass(frozen=True)
class ProcessId:
    """A process as its machine knows it, stable across pid reuse."""

    host: str
    boot: str
    pid: int
    started: int  # clock ticks after boot (/proc/<pid>/stat field 22)

    def owner(self) -> str:
        return SEP.join((self.host, self.boot, str(self.pid), str(self.started)))

    @classmethod
    def parse(cls, owner: str) -> ProcessId | None:
        parts = owner.split(SEP)
        if len(parts) != 4 or not parts[2].isdigit() or not parts[3].isdigit():
            return None
        return cls(parts[0], parts[1], int(parts[2]), int(parts[3]))


def boot_id() -> str | None:
    try:
        return BOOT_ID_FILE.read_text().strip().replace("-", "")[:8] or None
    except OSError:
        return None


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks after boot; None when it does not run."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # comm (field 2) may hold spaces and parentheses: fields after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])  # field 22 overall


def this_process() -> ProcessId | None:
    boot, started = boot_id(), start_time(os.getpid())
    if boot is None or started is None:
        return None
    return ProcessId(socket.gethostname()[:20], boot, os.getpid(), started)


_me = this_process()
# Without /proc (not Linux) a random suffix keeps owners unique; they are never released
# early, only by expiry.
OWNER = (
    _me.owner()
    if _me is not None
    else f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
)

# Per-item work of the drains takes seconds; a whole claimed batch comfortably fits.
DRAIN_LEASE_SECONDS = 600.0
_lease_seconds = DRAIN_LEASE_SECONDS


def owner() -> str:
    return OWNER


def configure(seconds: float) -> None:
    """Set the drain lease length for this process (IMAGESERVER_LEASE_SECONDS)."""
    global _lease_seconds
    _lease_seconds = seconds


def lease_seconds() -> float:
    return _lease_seconds


def is_dead(holder: ProcessId, here: ProcessId) -> bool:
    """True when `holder` ran on this machine in this boot and no longer runs."""
    if (holder.host, holder.boot) != (here.host, here.boot):
        return False  # another machine, or an earlier boot's id scheme: expiry decides
    if (holder.pid, holder.started) == (here.pid, here.started):
        return False
    return start_time(holder.pid) != holder.started


def release_dead(conn: Connection, here: ProcessId | None = None) -> int:
    """Release every lease (media rows and artefacts) held by a dead process of this
    machine; the number of owners released comes back. Call at start-up."""
    here = here if here is not None else _me
    if here is None:
        return 0
    prefix = SEP.join((here.host, here.boot)) + SEP
    owners = union(
        *(
            select(t.c.lease_owner).where(t.c.lease_owner.startswith(prefix, autoescape=True))
            for t in (media, artefacts)
        )
    )
    dead = [
        name
        for (name,) in conn.execute(owners)
        if (holder := ProcessId.parse(name)) is not None and is_dead(holder, here)
    ]
    for table in (media, artefacts):
        if dead:
            conn.execute(
                table.update()
                .where(table.c.lease_owner.in_(dead))
                .values(lease_owner=None, lease_until=None)
            )
    if dead:
        log.info("event=dead_leases_released owners=%d", len(dead))
    return len(dead)
