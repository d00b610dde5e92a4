"""Migrations from empty on both databases; the migrated schema equals db/tables.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
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


def test_grants_migration_grants_existing_libraries_to_existing_admins(
    empty_engine: sa.Engine,
) -> None:
    """An upgraded server hides nothing from its admins: every library is granted to them."""
    migrate.upgrade(empty_engine, "20261125_0005")
    with empty_engine.begin() as conn:
        for user_id, name, admin in ((1, "root", True), (2, "kid", False)):
            conn.execute(
                sa.text(
                    "INSERT INTO users (id, username, password_hash, is_admin, created_at, "
                    "password_changed_at) VALUES (:i, :n, 'x', :a, 0, 0)"
                ),
                {"i": user_id, "n": name, "a": admin},
            )
        for library_id in (7, 8):
            conn.execute(
                sa.text(
                    "INSERT INTO libraries (id, name, root_path, enabled, excluded_dirs, "
                    "created_at, updated_at, health) "
                    "VALUES (:i, :n, '/srv/x', true, '[]', 5, 5, 'unknown')"
                ),
                {"i": library_id, "n": f"lib{library_id}"},
            )
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT library_id, user_id FROM library_members ORDER BY library_id")
        ).all()
    assert [tuple(r) for r in rows] == [(7, 1), (8, 1)]


def test_taken_at_utc_migration_fills_the_instant_from_offset_and_gps_zone(
    empty_engine: sa.Engine,
) -> None:
    """An upgraded database sorts by the instant at once: offset first, then the places
    drain's zone, else the server's zone (here UTC, as in CI: TZ is unset)."""
    migrate.upgrade(empty_engine, "20261203_0010")
    tokyo_hash, plain_hash = "a" * 64, "b" * 64
    with empty_engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO libraries (id, name, root_path, enabled, excluded_dirs, "
                "created_at, updated_at, health) VALUES (1, 'l', '/srv/x', true, '[]', 5, 5, "
                "'unknown')"
            )
        )
        rows = (
            (1, "offset.jpg", None, 120, "exif"),
            (2, "tokyo.jpg", tokyo_hash, None, "exif"),
            (3, "plain.jpg", plain_hash, None, "exif"),
            (4, "mtime.jpg", tokyo_hash, None, "file_mtime"),  # a file time is server zone
        )
        for media_id, name, digest, offset, source in rows:
            conn.execute(
                sa.text(
                    "INSERT INTO media (id, library_id, rel_path, folder, name, kind, format, "
                    "mime, size, mtime_ns, created_at, updated_at, seen_at, hash_attempts, "
                    "meta_status, meta_attempts, taken_at, taken_at_offset_min, "
                    "taken_at_source, content_hash) VALUES (:i, 1, :n, '', :n, 'photo', "
                    "'jpeg', 'image/jpeg', 1, 1, 0, 0, 0, 0, 'ok', 0, :t, :o, :s, :h)"
                ),
                {
                    "i": media_id,
                    "n": name,
                    "t": datetime(2026, 1, 10, 12, 0),
                    "o": offset,
                    "s": source,
                    "h": digest,
                },
            )
        conn.execute(
            sa.text(
                "INSERT INTO places (content_hash, latitude, longitude, country_code, country, "
                "region, region_code, timezone, created_at) "
                "VALUES (:h, 35.6, 139.6, 'JP', 'Japan', 'Tokyo', '13', 'Asia/Tokyo', 0)"
            ),
            {"h": tokyo_hash},
        )
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        got = dict(conn.execute(sa.text("SELECT id, taken_at_utc FROM media ORDER BY id")).all())
    server = datetime(2026, 1, 10, 12, 0).astimezone().astimezone(UTC).replace(tzinfo=None)
    assert {k: to_datetime(v) for k, v in got.items()} == {
        1: datetime(2026, 1, 10, 10, 0),
        2: datetime(2026, 1, 10, 3, 0),
        3: server,
        4: server,
    }


def to_datetime(value: object) -> datetime:
    """SQLite hands raw text back to a textual query; PostgreSQL a datetime."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def test_face_regions_migration_has_every_xmp_read_again(empty_engine: sa.Engine) -> None:
    """XMP read before 0015 kept region names only: after it, each XMP sidecar and each
    file's embedded XMP is stale (read again by the next scan), Takeout JSON is not."""
    from imageserver.db.tables import curation_items, sidecars
    from tests.fixtures import insert_library
    from tests.video.test_stats import insert_media

    migrate.upgrade(empty_engine, "20261204_0014")
    library_id = insert_library(empty_engine, "lib", Path("/srv/lib"))
    with empty_engine.begin() as conn:
        media_id = insert_media(conn, library_id, "a/b.jpg", "0" * 64, kind="photo")
        for path, kind in (("a/b.jpg.xmp", "xmp"), ("a/b.jpg.json", "takeout")):
            conn.execute(
                sa.text(
                    "INSERT INTO sidecars (library_id, media_path, path, folder, kind, size, "
                    "mtime_ns, data, read_at) VALUES (:l, 'a/b.jpg', :p, 'a', :k, 10, 99, "
                    "'{}', 1)"
                ),
                {"l": library_id, "p": path, "k": kind},
            )
        conn.execute(
            sa.text(
                "INSERT INTO curation_items (media_id, embedded_key, sources, updated_at) "
                "VALUES (:m, '1:99', '{}', 1)"
            ),
            {"m": media_id},
        )
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        stamps = dict(conn.execute(sa.select(sidecars.c.kind, sidecars.c.mtime_ns)).all())
        item = conn.execute(sa.select(curation_items)).mappings().one()
    assert stamps == {"xmp": -1, "takeout": 99}
    assert item["embedded_key"] is None
    assert (item["regions"], item["regions_changed"]) == (None, False)
