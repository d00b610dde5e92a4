"""Migrations from empty on both databases; the migrated schema equals db/tables.py."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from imageserver.db import migrate
from imageserver.db.engine import make_engine
from imageserver.db.tables import metadata
from tests.conftest import IN_CI, PG_DEFAULT


@pytest.fixture(params=["sqlite", "postgres"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
        yield engine
        engine.dispose()
        return
    admin_url = os.environ.get("IMAGESERVER_TEST_DATABASE_URL", PG_DEFAULT)
    try:
        admin = make_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL unreachable in CI: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    name = f"imageserver_mig_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url, poolclass=sa.NullPool)
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_upgrade_from_empty_matches_tables(empty_engine: sa.Engine) -> None:
    assert migrate.current_revision(empty_engine) is None
    migrate.upgrade(empty_engine)
    assert migrate.current_revision(empty_engine) == migrate.head_revision()
    with empty_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == [], f"migrations and db/tables.py disagree: {diff}"
    names = set(sa.inspect(empty_engine).get_table_names())
    assert {"users", "libraries", "media", "artefacts", "clip_embeddings", "faces"} <= names


def test_upgrade_is_idempotent_and_downgrade_works(empty_engine: sa.Engine) -> None:
    migrate.upgrade(empty_engine)
    migrate.upgrade(empty_engine)
    migrate.downgrade(empty_engine, "base")
    remaining = set(sa.inspect(empty_engine).get_table_names()) - {"alembic_version"}
    assert remaining == set()
    migrate.upgrade(empty_engine)
    assert migrate.current_revision(empty_engine) == migrate.head_revision()
