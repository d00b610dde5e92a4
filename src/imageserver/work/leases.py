"""Who this process is when it leases work, and how long leases last.

Several processes (on several machines) may drain one PostgreSQL database. A work item is
claimed by writing this process's owner id and an expiry into its row; nobody else takes
it until the lease expires, so a worker killed mid-item loses its claim after the expiry
and another worker finishes the item. Leases are longer than the work they cover.
"""

from __future__ import annotations

import os
import socket
import uuid

OWNER = f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

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
