"""Fixtures of the reliability suites: one indexed world per database, built once a module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import world_database_url
from tests.ml.ml_fixtures import tiny_model
from tests.ml.tiny_clip import TinyClip
from tests.reliability.world import World, build_world, make_library

__all__ = ["tiny_model"]


@pytest.fixture(scope="session")
def world_sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_library(tmp_path_factory.mktemp("world-sources"))


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
    world_sources: Path,
    tiny_model: TinyClip,
) -> Iterator[World]:
    """A fully indexed server on each database (module scope: tests must not break it)."""
    tmp = tmp_path_factory.mktemp(f"world-{request.param}")
    url = world_database_url(request, tmp, sqlite_template)
    built = build_world(tmp, url, world_sources, tiny_model)
    yield built
    built.close()
