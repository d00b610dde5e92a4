"""Library rules: validation of roots, CRUD, seeding from configuration."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, RowMapping

from imageserver.config import LibrarySeed
from imageserver.db.tables import kv
from imageserver.errors import Conflict, Invalid, NotFound
from imageserver.libraries import repo
from imageserver.libraries.schemas import (
    LibraryCreate,
    LibraryHealth,
    LibraryOut,
    LibraryPatch,
    validate_excludes,
)

log = logging.getLogger("imageserver.libraries")

SEEDED_KEY = "libraries_seeded"


def validate_root(root_path: str, data_dirs: list[Path]) -> str:
    """An absolute, existing, readable directory that is not one of the server's own."""
    if "\x00" in root_path:
        raise Invalid("root_path: must not contain NUL")
    path = Path(root_path)
    if not path.is_absolute():
        raise Invalid("root_path: must be an absolute path")
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise Invalid(f"root_path: {root_path} does not exist") from exc
    if not resolved.is_dir():
        raise Invalid(f"root_path: {root_path} is not a directory")
    if not os.access(resolved, os.R_OK | os.X_OK):
        raise Invalid(f"root_path: {root_path} is not readable")
    for own in data_dirs:
        own_resolved = own.resolve()
        if resolved == own_resolved or resolved.is_relative_to(own_resolved):
            raise Invalid(f"root_path: {root_path} is inside the server's data folder")
    return str(resolved)


def to_out(row: RowMapping) -> LibraryOut:
    return LibraryOut(
        id=row["id"],
        name=row["name"],
        root_path=row["root_path"],
        enabled=row["enabled"],
        excluded_dirs=list(row["excluded_dirs"] or []),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        health=LibraryHealth(
            status=row["health"], reason=row["health_reason"], checked_at=row["health_checked_at"]
        ),
        last_quick_scan_at=row["last_quick_scan_at"],
        last_full_scan_at=row["last_full_scan_at"],
    )


def get(conn: Connection, library_id: int) -> RowMapping:
    row = repo.get(conn, library_id)
    if row is None:
        raise NotFound(f"library {library_id} not found")
    return row


def create(conn: Connection, body: LibraryCreate, data_dirs: list[Path], now: float) -> int:
    root = validate_root(body.root_path, data_dirs)
    if repo.get_by_name(conn, body.name) is not None:
        raise Conflict(f"a library named {body.name!r} already exists")
    if any(r["root_path"] == root for r in repo.list_all(conn)):
        raise Conflict(f"a library with root {root} already exists")
    library_id = repo.create(conn, body.name, root, body.enabled, body.excluded_dirs, now)
    log.info("event=library_created id=%d name=%s root=%s", library_id, body.name, root)
    return library_id


def patch(conn: Connection, library_id: int, body: LibraryPatch, now: float) -> None:
    row = get(conn, library_id)
    values: dict[str, Any] = {}
    if body.name is not None and body.name != row["name"]:
        other = repo.get_by_name(conn, body.name)
        if other is not None and other["id"] != library_id:
            raise Conflict(f"a library named {body.name!r} already exists")
        values["name"] = body.name
    if body.enabled is not None:
        values["enabled"] = body.enabled
    if body.excluded_dirs is not None:
        values["excluded_dirs"] = body.excluded_dirs
    if values:
        values["updated_at"] = now
        repo.update_fields(conn, library_id, values)
        log.info("event=library_updated id=%d fields=%s", library_id, ",".join(sorted(values)))


def remove(conn: Connection, library_id: int) -> None:
    """Delete the library and its rows; its files are never touched."""
    row = get(conn, library_id)
    repo.remove(conn, library_id)
    log.info("event=library_removed id=%d name=%s", library_id, row["name"])


def seed(conn: Connection, seeds: list[LibrarySeed], data_dirs: list[Path], now: float) -> int:
    """Create configured libraries once, on the first start; later starts leave them be."""
    from sqlalchemy import insert, select

    if conn.execute(select(kv.c.value).where(kv.c.key == SEEDED_KEY)).first() is not None:
        return 0
    created = 0
    for seed_ in seeds:
        if repo.get_by_name(conn, seed_.name) is not None:
            continue
        try:
            root = validate_root(str(seed_.root_path), data_dirs)
        except Invalid as exc:
            # A missing disk at first start still gets its library (it will show stale).
            log.warning("event=library_seed_unverified name=%s reason=%r", seed_.name, exc.message)
            root = str(seed_.root_path)
        excludes = validate_excludes(seed_.excluded_dirs)
        repo.create(conn, seed_.name, root, True, excludes, now)
        created += 1
    conn.execute(insert(kv).values(key=SEEDED_KEY, value=str(now)))
    return created
