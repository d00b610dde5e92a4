"""Start-up steps shared by `serve`, `worker`, `scan` and the tests: one place, one order."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from imageserver.auth import repo as users_repo
from imageserver.auth import service as auth_service
from imageserver.auth.tokens import load_or_create_secret
from imageserver.clock import Clock, system_clock
from imageserver.config import Settings
from imageserver.db import migrate
from imageserver.db.engine import make_engine
from imageserver.libraries import repo as libraries_repo
from imageserver.libraries import service as libraries_service
from imageserver.libraries.registry import LibraryRegistry
from imageserver.video import ownership
from imageserver.work import leases
from imageserver.work.context import AppContext

log = logging.getLogger("imageserver.server.bootstrap")


@dataclass
class Bootstrapped:
    ctx: AppContext
    generated_admin_password: str | None


class StartupRefused(SystemExit):
    """A configuration that would make the server write into (or index) the wrong place.

    A SystemExit carrying one line: uncaught, Python prints it and exits with status 1."""


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def check_placement(settings: Settings, roots: Iterable[tuple[str, str]]) -> None:
    """Refuse VIDEO_PATH (or the data folder) inside a library root, and a library root
    inside VIDEO_PATH or the data folder: the server would delete or index the wrong files.
    `roots` are (name, root_path) pairs: configured seeds and the database's libraries."""
    video, data = _real(settings.resolved_video_path), _real(settings.data_dir)
    for name, root_path in roots:
        root = _real(Path(root_path))
        for own, label in ((video, "IMAGESERVER_VIDEO_PATH"), (data, "IMAGESERVER_DATA_DIR")):
            if own == root or own.is_relative_to(root):
                raise StartupRefused(
                    f"refusing to start: {label} {own} is inside library {name!r} ({root}); "
                    "the server never writes into a library"
                )
            if root.is_relative_to(own):
                raise StartupRefused(
                    f"refusing to start: library {name!r} ({root}) is inside {label} {own}; "
                    "move the library or the folder"
                )


PRIVATE_UMASK = 0o077


def make_private(settings: Settings) -> None:
    """umask 0077 for this process (and ffmpeg, exiftool, everything it starts): every
    folder the server makes is 0700 and every file 0600 from creation, as the data folder
    holds password hashes, sessions and the GPS position of every photo. The data folder
    itself and an SQLite database made by an older version are tightened too."""
    os.umask(PRIVATE_UMASK)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.data_dir.chmod(0o700)
    url = settings.resolved_database_url
    if url.startswith("sqlite:///"):
        database = Path(url.removeprefix("sqlite:///").split("?", 1)[0])
        for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            if path.is_file() and not path.is_symlink():
                path.chmod(0o600)


def prepare_dirs(settings: Settings) -> None:
    """The private folders (the umask makes them 0700) and the video folder's marker."""
    for folder in (settings.data_dir, settings.thumbs_dir):
        folder.mkdir(parents=True, exist_ok=True)
    ownership.claim(settings.resolved_video_path)


def bootstrap(settings: Settings, clock: Clock = system_clock) -> Bootstrapped:
    """Folders, engine, migrations, secret, first admin, seeded libraries: ready to serve."""
    check_placement(settings, ((s.name, str(s.root_path)) for s in settings.libraries))
    make_private(settings)
    leases.configure(settings.lease_seconds)
    engine = make_engine(settings.resolved_database_url)
    migrate.upgrade(engine)
    with engine.connect() as conn:
        known = [(str(r["name"]), str(r["root_path"])) for r in libraries_repo.list_all(conn)]
    try:
        check_placement(settings, known)
    except StartupRefused:
        engine.dispose()
        raise
    prepare_dirs(settings)
    secret = load_or_create_secret(
        settings.data_dir,
        settings.jwt_secret.get_secret_value() if settings.jwt_secret else None,
    )
    ctx = AppContext(
        settings=settings,
        engine=engine,
        jwt_secret=secret,
        registry=LibraryRegistry(engine),
        clock=clock,
    )
    now = clock()
    with engine.begin() as conn:
        migrate.serialize_startup(conn)  # several workers starting at once: one seeds
        configured = settings.admin_password.get_secret_value() if settings.admin_password else None
        generated = auth_service.ensure_admin(conn, settings.admin_username, configured, now)
        admin = users_repo.get_by_username(conn, settings.admin_username)
        owner = int(admin["id"]) if admin is not None else None
        seeded = libraries_service.seed(conn, settings.libraries, settings.owned_dirs(), now, owner)
        # A predecessor killed on this machine: its leases are free now, not in a lease.
        leases.release_dead(conn)
    if seeded:
        log.info("event=libraries_seeded count=%d", seeded)
    return Bootstrapped(ctx=ctx, generated_admin_password=generated)
