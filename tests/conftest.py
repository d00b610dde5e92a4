"""Shared fixtures: settings in temp folders, real SQLite and real PostgreSQL, an app client.

`db_url` is parametrized over both databases. PostgreSQL comes from
IMAGESERVER_TEST_DATABASE_URL (default: the local server, database `test`); each test
session gets its own database, migrated once and truncated between tests. When CI=true an
unreachable PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from imageserver.clock import FakeClock
from imageserver.config import Settings
from imageserver.db import migrate
from imageserver.db.engine import make_engine
from imageserver.db.tables import metadata
from imageserver.server.app import create_app
from imageserver.server.bootstrap import Bootstrapped, bootstrap
from imageserver.work.context import AppContext
from tests.fixtures import throwaway_pg_database

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
ADMIN_PASSWORD = "correct horse battery"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_report_header(config: pytest.Config) -> list[str]:
    corpus = f"corpus: {CORPUS}" if CORPUS.is_dir() else f"corpus: NOT FOUND at {CORPUS}"
    return [corpus + ("" if CORPUS.is_dir() else " (corpus tests will be skipped)")]


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """argon2id with tiny costs in-process (~1 ms, not ~0.5 s on a busy 2-core machine):
    tests log in a lot. Servers started as subprocesses (throttling, browser, CLI tests)
    keep the real costs."""
    from argon2 import PasswordHasher

    from imageserver.auth import passwords

    real = passwords._hasher
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    passwords._hasher = real


# --- databases -------------------------------------------------------------------------


def _pg_admin_url() -> str:
    return os.environ.get("IMAGESERVER_TEST_DATABASE_URL", PG_DEFAULT)


@contextmanager
def fresh_pg_database(prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database (dropped afterwards); in CI never a skip."""
    admin_url = _pg_admin_url()
    try:
        admin = make_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL unreachable at {admin_url} in CI: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {admin_url}: {exc}")
    admin.dispose()
    with throwaway_pg_database(admin_url, f"{prefix}_{os.getpid()}") as url:
        yield url


@pytest.fixture(scope="session")
def pg_session_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated to head."""
    with fresh_pg_database("imageserver_test") as url:
        engine = make_engine(url, poolclass=sa.NullPool)
        migrate.upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


def world_database_url(request: pytest.FixtureRequest, tmp: Path, sqlite_template: Path) -> str:
    """The database of a module-scoped world parametrized over ["sqlite", "postgres"]: a
    copy of the migrated SQLite template, or the session's PostgreSQL database emptied."""
    if request.param == "sqlite":
        db = tmp / "imageserver.db"
        db.write_bytes(sqlite_template.read_bytes())
        return f"sqlite:///{db}"
    url: str = request.getfixturevalue("pg_session_url")
    truncate_all(url)
    return url


def truncate_all(url: str) -> None:
    engine = make_engine(url, poolclass=sa.NullPool)
    # `changes` holds trigger-maintained counters seeded by a migration: keep its rows.
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables if t.name != "changes")
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        target = tmp_path / "imageserver.db"
        shutil.copy(sqlite_template, target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("pg_session_url")
    truncate_all(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    target = tmp_path / "imageserver.db"
    shutil.copy(sqlite_template, target)
    return f"sqlite:///{target}"


# --- settings, context, client ---------------------------------------------------------


def make_settings(tmp_path: Path, db_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "database_url": db_url,
        "admin_password": ADMIN_PASSWORD,
        "jwt_secret": "test-secret-" + "x" * 32,
        "run_background": False,
        # Face detection costs ~0.3 s a picture; only tests/faces turns it on.
        "faces_enabled": False,
        "_env_file": None,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return make_settings(tmp_path, db_url)


@pytest.fixture
def booted(settings: Settings, clock: FakeClock) -> Iterator[Bootstrapped]:
    result = bootstrap(settings, clock=clock)
    yield result
    from imageserver.server.background import close_services

    close_services(result.ctx)
    result.ctx.engine.dispose()


@pytest.fixture
def ctx(booted: Bootstrapped) -> AppContext:
    return booted.ctx


@pytest.fixture
def client(ctx: AppContext) -> Iterator[TestClient]:
    with TestClient(create_app(ctx, background=False)) as test_client:
        yield test_client


def login(client: TestClient, username: str = "admin", password: str = ADMIN_PASSWORD) -> str:
    response = client.post("/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


@pytest.fixture
def auth(client: TestClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {login(client)}"}


# --- corpus ----------------------------------------------------------------------------


def skip_outside_ci(reason: str) -> NoReturn:
    """Skip here, fail in CI: CI has every tool, root and the services, so a skip there
    would hide a test that stopped running."""
    if IN_CI:
        pytest.fail(f"{reason} (in CI this is a failure, not a skip)")
    pytest.skip(reason)


def require_corpus() -> Path:
    """The shared corpus; in CI its absence is a failure, elsewhere a visible skip."""
    if not CORPUS.is_dir():
        if IN_CI:
            pytest.fail(f"corpus missing at {CORPUS} (CI always has it)")
        pytest.skip(f"corpus not found at {CORPUS}")
    return CORPUS


@pytest.fixture
def corpus() -> Path:
    return require_corpus()


MEMBER_PASSWORD = "member password 1"


def add_member(
    client: TestClient, admin: dict[str, str], username: str = "bob", role: str = "member"
) -> dict[str, str]:
    """A user created by the admin over HTTP, logged in: their Authorization header."""
    created = client.post(
        "/users",
        headers=admin,
        json={"username": username, "password": MEMBER_PASSWORD, "role": role},
    )
    assert created.status_code == 201, created.text
    return {"Authorization": f"Bearer {login(client, username, MEMBER_PASSWORD)}"}


@pytest.fixture
def member(client: TestClient, auth: dict[str, str]) -> dict[str, str]:
    return add_member(client, auth)
