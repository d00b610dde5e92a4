"""Fixtures shared by tests/ml and tests/search: a tiny model, a context and app using it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from imageserver.clock import FakeClock
from imageserver.ml.encoders import close_encoder
from imageserver.scan.pipeline import STAGES, Stage
from imageserver.scan.watcher import Watcher
from imageserver.server.app import create_app
from imageserver.server.background import close_services
from imageserver.server.bootstrap import bootstrap
from imageserver.work.context import AppContext
from imageserver.work.tick import TickContext
from tests.conftest import login, make_settings
from tests.ml.tiny_clip import TinyClip, build_tiny_clip


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> TinyClip:
    return build_tiny_clip(tmp_path_factory.mktemp("models") / "tiny-clip")


@pytest.fixture
def ml_ctx(
    tmp_path: Path, db_url: str, tiny_model: TinyClip, clock: FakeClock
) -> Iterator[AppContext]:
    settings = make_settings(tmp_path, db_url, clip_model_path=tiny_model.root)
    ctx = bootstrap(settings, clock=clock).ctx
    yield ctx
    close_encoder(ctx)
    close_services(ctx)
    ctx.engine.dispose()


@pytest.fixture
def ml_client(ml_ctx: AppContext) -> Iterator[TestClient]:
    with TestClient(create_app(ml_ctx, background=False)) as client:
        yield client


@pytest.fixture
def ml_auth(ml_client: TestClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {login(ml_client)}"}


def add_library(client: TestClient, auth: dict[str, str], root: Path) -> int:
    response = client.post(
        "/libraries", headers=auth, json={"name": root.name, "root_path": str(root)}
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


# Stages of other features that embeddings never wait for; left out to keep tests fast.
UNRELATED = {"faces", "hls", "previews", "video"}


def search_stages() -> list[Stage]:
    return [s for s in STAGES if s.name not in UNRELATED]


def tick_until_drained(ctx: AppContext, max_ticks: int = 10) -> list[TickContext]:
    """Full tick, then quick ticks while the embedding drain reports a backlog."""
    watcher = Watcher(ctx, stages=search_stages())
    results = watcher.tick(full=True)
    for _ in range(max_ticks):
        if not any(t.pending.get("embeddings", 0) for t in results):
            break
        results = watcher.tick(full=False)
    return results
