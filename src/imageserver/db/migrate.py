"""Run Alembic migrations programmatically (at start, and from `imageserver migrate`).

Every process start asks whether the schema is current. Alembic (and Mako beneath it)
costs a noticeable part of a quick `imageserver scan`'s start-up, so that question is
answered first from the migration files' own `revision` lines and the `alembic_version`
row; Alembic is loaded only when there is something to migrate.
"""

from __future__ import annotations

import logging
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger("imageserver.db")

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
MIGRATION_LOCK_KEY = 0x696D677372766D67  # "imgsrvmg"


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


_REVISION = re.compile(r'^(down_revision|revision)\s*(?::[^=]*)?=\s*["\']([^"\']+)["\']', re.M)


@cache
def file_head() -> str | None:
    """The single head of the chain, read from the migration files without Alembic (None
    when the files do not name exactly one: Alembic then decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        for key, value in _REVISION.findall(path.read_text(encoding="utf-8")):
            (revisions if key == "revision" else parents).add(value)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def stored_revision(engine: Engine) -> str | None:
    """The `alembic_version` row, or None on an empty database."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    except DBAPIError:
        return None
    return str(rows[0][0]) if len(rows) == 1 else None


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def is_current(engine: Engine) -> bool:
    """True when the database is at the files' head: nothing to migrate, Alembic not needed."""
    head = file_head()
    return head is not None and stored_revision(engine) == head


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`; a no-op when it is already there."""
    if revision == "head" and is_current(engine):
        return
    from alembic import command

    before = current_revision(engine)
    cfg = alembic_config()
    with engine.begin() as conn:
        # Several processes may start at once: one migrates, the others wait and find the
        # schema current. (SQLite: BEGIN IMMEDIATE already makes this transaction wait.)
        serialize_startup(conn)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    after = current_revision(engine)
    if before != after:
        log.info("event=migrated from=%s to=%s", before or "empty", after)


def serialize_startup(conn: Connection) -> None:
    """Make concurrent starts take turns for the rest of this transaction.

    PostgreSQL: a transaction-level advisory lock. SQLite needs nothing: every writing
    transaction begins IMMEDIATE and so already waits for the previous one.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
