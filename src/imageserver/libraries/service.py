"""Library rules: validation of roots, CRUD, seeding from configuration."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, RowMapping

from imageserver.config import LibrarySeed
from imageserver.db.tables import kv
from imageserver.errors import Conflict, Invalid, NotFound
from imageserver.libraries import repo
from imageserver.libraries.schemas import (
    LibraryCounts,
    LibraryCreate,
    LibraryHealth,
    LibraryMember,
    LibraryOut,
    LibraryPatch,
    validate_excludes,
)
from imageserver.work.scope import Scope

if TYPE_CHECKING:  # the request-side user type; the scanner imports this module too
    from imageserver.auth.deps import CurrentUser

log = logging.getLogger("imageserver.libraries")

SEEDED_KEY = "libraries_seeded"


# System folders never served as a library, nor anything inside them ("/" itself only).
SYSTEM_ROOTS = ("/proc", "/sys", "/dev", "/run", "/etc", "/boot")


def _real(path: Path) -> Path:
    """The resolved real path (symlinks followed as far as they exist)."""
    return Path(os.path.realpath(path))


def _overlaps(a: Path, b: Path) -> bool:
    return a == b or a.is_relative_to(b) or b.is_relative_to(a)


def check_placement(
    shown: str, resolved: Path, data_dirs: list[Path], other_roots: Sequence[str]
) -> None:
    """Refuse "/", system folders, the server's own folders (inside or around them) and
    roots inside or around another library's; `resolved` is a real path."""
    check_system(shown, resolved, data_dirs)
    check_overlap(shown, resolved, other_roots)


def check_system(shown: str, resolved: Path, data_dirs: list[Path]) -> None:
    """422 for "/", a system folder or the server's own folders (inside or around)."""
    if resolved == Path("/"):
        raise Invalid("root_path: the file system root cannot be a library")
    for system in SYSTEM_ROOTS:
        real_system = _real(Path(system))
        if any(resolved == s or resolved.is_relative_to(s) for s in {Path(system), real_system}):
            raise Invalid(f"root_path: {shown} is a system folder ({system})")
    for own in data_dirs:
        own_resolved = _real(own)
        if resolved == own_resolved or resolved.is_relative_to(own_resolved):
            raise Invalid(f"root_path: {shown} is inside the server's data folder")
        if own_resolved.is_relative_to(resolved):
            raise Invalid(f"root_path: {shown} contains the server's data folder")


def check_overlap(shown: str, resolved: Path, other_roots: Sequence[str]) -> None:
    """409 for a root inside or around (or equal to) another library's root."""
    for other in other_roots:
        if _overlaps(resolved, _real(Path(other))):
            raise Conflict(f"root_path: {shown} is inside or around another library's root")


def validate_root(root_path: str, data_dirs: list[Path], other_roots: Sequence[str] = ()) -> str:
    """An absolute, existing, readable directory that is not a system folder, not one of the
    server's own (nor around them), and neither inside nor around another library's root.

    Every comparison is between resolved real paths, so a symlink or a `..` cannot dodge it.
    Only admins reach this (members get 403 before any check), so the messages may say
    what is wrong with the path.
    """
    if "\x00" in root_path:
        raise Invalid("root_path: must not contain NUL")
    path = Path(root_path)
    if not path.is_absolute():
        raise Invalid("root_path: must be an absolute path")
    # System and server folders first, on the real path: refused whether they exist or not.
    check_system(root_path, _real(path), data_dirs)
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise Invalid(f"root_path: {root_path} does not exist") from exc
    if not resolved.is_dir():
        raise Invalid(f"root_path: {root_path} is not a directory")
    check_overlap(root_path, resolved, other_roots)
    if not os.access(resolved, os.R_OK | os.X_OK):
        raise Invalid(f"root_path: {root_path} is not readable")
    return str(resolved)


def to_out(row: RowMapping, counts: LibraryCounts | None = None, admin: bool = True) -> LibraryOut:
    """A library as its caller may see it. A member (the library granted to them) sees its
    name, state, scan times and counts; the root path, the excluded folders and the health
    reason (which names server paths) are an admin's only."""
    health = LibraryHealth(
        status=row["health"],
        reason=row["health_reason"] if admin else None,
        checked_at=row["health_checked_at"],
    )
    return LibraryOut(
        id=row["id"],
        name=row["name"],
        root_path=row["root_path"] if admin else None,
        enabled=row["enabled"],
        excluded_dirs=list(row["excluded_dirs"] or []) if admin else None,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        health=health,
        last_quick_scan_at=row["last_quick_scan_at"],
        last_full_scan_at=row["last_full_scan_at"],
        counts=counts or LibraryCounts(),
    )


def visible(conn: Connection, user: CurrentUser, scope: Scope) -> list[LibraryOut]:
    """GET /libraries: every library to an admin (they manage them all), the granted ones
    to a member. Counts are of the library's own live items (they are not scoped further:
    whoever sees a library row may see how much it holds; an admin sees it for all)."""
    rows = repo.list_all(conn) if user.is_admin else repo.list_granted(conn, user.id)
    counts = repo.counts(conn, [r["id"] for r in rows])
    return [to_out(r, counts.get(r["id"]), user.is_admin) for r in rows]


def visible_one(conn: Connection, user: CurrentUser, scope: Scope, library_id: int) -> LibraryOut:
    """One library, 404 (the same as a library that does not exist) when not visible."""
    row = repo.get(conn, library_id)
    if row is None or not (user.is_admin or scope.sees(library_id)):
        raise NotFound(f"library {library_id} not found")
    return to_out(row, repo.counts(conn, [library_id]).get(library_id), user.is_admin)


def get(conn: Connection, library_id: int) -> RowMapping:
    row = repo.get(conn, library_id)
    if row is None:
        raise NotFound(f"library {library_id} not found")
    return row


def create(
    conn: Connection,
    body: LibraryCreate,
    data_dirs: list[Path],
    now: float,
    owner: int | None,
) -> int:
    """Create the library; `owner` (the admin creating it) is granted it at once."""
    existing = repo.list_all(conn)
    root = validate_root(body.root_path, data_dirs, [r["root_path"] for r in existing])
    if repo.get_by_name(conn, body.name) is not None:
        raise Conflict(f"a library named {body.name!r} already exists")
    library_id = repo.create(conn, body.name, root, body.enabled, body.excluded_dirs, now)
    if owner is not None:
        repo.grant(conn, library_id, owner, now)
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


def seed(
    conn: Connection,
    seeds: list[LibrarySeed],
    data_dirs: list[Path],
    now: float,
    owner: int | None = None,
) -> int:
    """Create configured libraries once, on the first start (granted to `owner`, the first
    admin); later starts leave them be. A root the rules refuse is logged and skipped."""
    from sqlalchemy import insert, select

    if conn.execute(select(kv.c.value).where(kv.c.key == SEEDED_KEY)).first() is not None:
        return 0
    created = 0
    for seed_ in seeds:
        if repo.get_by_name(conn, seed_.name) is not None:
            continue
        others = [r["root_path"] for r in repo.list_all(conn)]
        try:
            check_placement(str(seed_.root_path), _real(seed_.root_path), data_dirs, others)
        except (Invalid, Conflict) as exc:
            log.error("event=library_seed_refused name=%s reason=%r", seed_.name, exc.message)
            continue
        try:
            root = validate_root(str(seed_.root_path), data_dirs, others)
        except (Invalid, Conflict) as exc:
            # A missing disk at first start still gets its library (it will show stale).
            log.warning("event=library_seed_unverified name=%s reason=%r", seed_.name, exc.message)
            root = str(seed_.root_path)
        excludes = validate_excludes(seed_.excluded_dirs)
        library_id = repo.create(conn, seed_.name, root, True, excludes, now)
        if owner is not None:
            repo.grant(conn, library_id, owner, now)
        created += 1
    conn.execute(insert(kv).values(key=SEEDED_KEY, value=str(now)))
    return created


# --- grants --------------------------------------------------------------------------------


def _user_or_404(conn: Connection, user_id: int) -> RowMapping:
    from imageserver.auth import repo as users_repo

    user = users_repo.get_by_id(conn, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def members(conn: Connection, library_id: int) -> list[LibraryMember]:
    get(conn, library_id)
    return [LibraryMember(**dict(r)) for r in repo.members(conn, library_id)]


def grant(conn: Connection, library_id: int, user_id: int, now: float) -> LibraryMember:
    """Let the user see the library (idempotent); effective from the next request."""
    get(conn, library_id)
    _user_or_404(conn, user_id)
    if repo.grant(conn, library_id, user_id, now):
        log.info("event=library_granted id=%d user=%d", library_id, user_id)
    return next(m for m in members(conn, library_id) if m.user_id == user_id)


def revoke(conn: Connection, library_id: int, user_id: int) -> None:
    """Take the library away from the user (idempotent); effective from the next request."""
    get(conn, library_id)
    _user_or_404(conn, user_id)
    if repo.revoke(conn, library_id, user_id):
        log.info("event=library_revoked id=%d user=%d", library_id, user_id)
