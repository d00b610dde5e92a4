"""Migrations from empty on both databases; the migrated schema equals db/tables.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from imageserver.db import migrate
from imageserver.db.engine import make_engine
from imageserver.db.tables import metadata
from tests.conftest import fresh_pg_database


@pytest.fixture(params=["sqlite", "postgres"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
        yield engine
        engine.dispose()
        return
    with fresh_pg_database("imageserver_mig") as url:
        engine = make_engine(url, poolclass=sa.NullPool)
        yield engine
        engine.dispose()


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
