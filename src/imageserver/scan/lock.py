"""The walker lock: exactly one process walks libraries and cleans orphans at a time.

PostgreSQL: a session-level advisory lock held on a dedicated connection. When the holder
dies (SIGKILL, lost machine) its connection closes and PostgreSQL releases the lock; the
next process to try takes over. SQLite deployments live on one machine, so an exclusive
`flock` on a file in the data folder does the same (the kernel drops it with the process).
Every process tries again at the top of each tick, so a takeover happens within a tick.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, text

log = logging.getLogger("imageserver.lock")

# pg_try_advisory_lock key: any fixed 64-bit number unique to this use ("imgsrvwk").
ADVISORY_KEY = 0x696D67737276776B


class WalkerLock(Protocol):
    def try_acquire(self) -> bool:
        """True when this process holds the lock (now or already)."""

    def release(self) -> None: ...


class AdvisoryLock:
    def __init__(self, engine: Engine, key: int = ADVISORY_KEY) -> None:
        self._engine = engine
        self._key = key
        self._conn: Connection | None = None

    def try_acquire(self) -> bool:
        if self._conn is not None and self._alive(self._conn):
            return True
        self._drop()
        conn = self._engine.connect()
        try:
            query = text("SELECT pg_try_advisory_lock(:k)")
            got = bool(conn.execute(query, {"k": self._key}).scalar())
            conn.commit()  # end the implicit transaction; the session lock stays
        except Exception:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        log.info("event=walker_lock_acquired kind=advisory")
        return True

    def _alive(self, conn: Connection) -> bool:
        try:
            conn.execute(text("SELECT 1"))
            conn.commit()
            return True
        except Exception:  # the connection died: so did our lock
            log.warning("event=walker_lock_lost kind=advisory")
            return False

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.invalidate()
            self._conn = None

    def release(self) -> None:
        if self._conn is None:
            return
        with contextlib.suppress(Exception):
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            self._conn.commit()
        with contextlib.suppress(Exception):
            self._conn.close()
        self._conn = None


class FileLock:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        log.info("event=walker_lock_acquired kind=file path=%s", self._path)
        return True

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None


def walker_lock(engine: Engine, data_dir: Path) -> WalkerLock:
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine)
    return FileLock(data_dir / "walker.lock")
