"""The checks behind /health: a database that reads but refuses writes, and a data folder
that is writable but (nearly) full, are unhealthy too.

Creating an empty file still works on a full disk and `SELECT 1` still works on a
read-only database, so both are probed the way the server really uses them: a write
inside a transaction that is rolled back (it waits a fraction of a second at most for
another writer: a busy database is one that writes), and the free bytes of the disk.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from imageserver.db.engine import SQLITE_BUSY_TIMEOUT_MS, read_only

log = logging.getLogger("imageserver.ops")

PROBE_KEY = "health_write_probe"
PROBE_WAIT_MS = 250
BUSY = ("database is locked", "database is busy", "lock timeout", "could not obtain lock")


def database(engine: Engine) -> str:
    """ok, unreachable, or refusing writes."""
    try:
        with read_only(engine) as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not healthy", reported, not raised
        log.warning("event=health_database_failed error=%r", exc)
        return "unreachable"
    sqlite = engine.dialect.name == "sqlite"
    try:
        with engine.connect() as conn:
            # a deferred BEGIN for the setting itself, then a short wait for the write lock
            conn.execution_options(read_only=True)
            if sqlite:
                conn.exec_driver_sql(f"PRAGMA busy_timeout={PROBE_WAIT_MS}")
            else:
                conn.exec_driver_sql(f"SET lock_timeout = {PROBE_WAIT_MS}")
            conn.commit()
            conn.execution_options(read_only=False)
            try:
                with conn.begin() as tx:
                    conn.execute(text("DELETE FROM kv WHERE key = :k"), {"k": PROBE_KEY})
                    conn.execute(
                        text("INSERT INTO kv (key, value) VALUES (:k, :v)"),
                        {"k": PROBE_KEY, "v": str(time.time())},
                    )
                    tx.rollback()
            finally:
                with contextlib.suppress(Exception):
                    conn.rollback()
                    conn.execution_options(read_only=True)
                    if sqlite:
                        conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
                    else:
                        conn.exec_driver_sql("SET lock_timeout = 0")
                    conn.commit()
    except OperationalError as exc:
        if any(marker in str(exc).lower() for marker in BUSY):
            return "ok"  # another writer holds the lock: the database does take writes
        log.warning("event=health_database_read_only error=%r", exc)
        return "refusing writes"
    except Exception as exc:
        log.warning("event=health_database_read_only error=%r", exc)
        return "refusing writes"
    return "ok"


def data_dir(folder: Path, min_free_bytes: int) -> str:
    """ok, not writable, or low free space (below the threshold)."""
    try:
        fd, name = tempfile.mkstemp(prefix=".health-", dir=folder)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        log.warning("event=health_data_dir_failed error=%r", exc)
        return "not writable"
    try:
        free = shutil.disk_usage(folder).free
    except OSError as exc:
        log.warning("event=health_data_dir_failed error=%r", exc)
        return "not writable"
    if free < min_free_bytes:
        log.warning("event=health_low_free_space free=%d threshold=%d", free, min_free_bytes)
        return f"low free space: {free // (1024 * 1024)} MiB free"
    return "ok"
