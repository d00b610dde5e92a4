"""Run Alembic migrations programmatically (at start, and from `imageserver migrate`)."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

log = logging.getLogger("imageserver.db")

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
MIGRATION_LOCK_KEY = 0x696D677372766D67  # "imgsrvmg"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`; a no-op when it is already there."""
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
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
