"""Start-up steps shared by `serve`, `worker`, `scan` and the tests: one place, one order."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from imageserver.auth import repo as users_repo
from imageserver.auth import service as auth_service
from imageserver.auth.tokens import load_or_create_secret
from imageserver.clock import Clock, system_clock
from imageserver.config import Settings
from imageserver.db import migrate
from imageserver.db.engine import make_engine
from imageserver.libraries import service as libraries_service
from imageserver.libraries.registry import LibraryRegistry
from imageserver.work import leases
from imageserver.work.context import AppContext

log = logging.getLogger("imageserver.server.bootstrap")


@dataclass
class Bootstrapped:
    ctx: AppContext
    generated_admin_password: str | None


def prepare_dirs(settings: Settings) -> None:
    for folder in (settings.data_dir, settings.thumbs_dir, settings.resolved_video_path):
        folder.mkdir(parents=True, exist_ok=True)


def bootstrap(settings: Settings, clock: Clock = system_clock) -> Bootstrapped:
    """Folders, engine, migrations, secret, first admin, seeded libraries: ready to serve."""
    prepare_dirs(settings)
    leases.configure(settings.lease_seconds)
    engine = make_engine(settings.resolved_database_url)
    migrate.upgrade(engine)
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
