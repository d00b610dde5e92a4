"""A write is committed before its answer leaves: a client that gets 201 and reads at once
sees what it wrote. (A dependency with yield ends after the response is sent unless its
scope is "function"; the web page's "add user" then re-listed the users before the commit
and showed the list without the new one.) A real uvicorn, with every commit slowed down."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import event

from imageserver.server.app import create_app
from imageserver.work.context import AppContext
from tests.conftest import ADMIN_PASSWORD
from tests.web.harness import free_port

SLOW_COMMIT = 0.4


@pytest.fixture
def served(ctx: AppContext) -> Iterator[str]:
    def slow(conn: Any) -> None:
        time.sleep(SLOW_COMMIT)

    event.listen(ctx.engine, "commit", slow)
    port = free_port()
    config = uvicorn.Config(
        create_app(ctx, background=False), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        event.remove(ctx.engine, "commit", slow)


def test_a_created_user_is_listed_by_the_very_next_request(served: str) -> None:
    with httpx.Client(base_url=served, timeout=30) as client:
        login = client.post("/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        created = client.post(
            "/users", headers=headers, json={"username": "kid", "password": "kid password 1"}
        )
        assert created.status_code == 201, created.text
        listed = client.get("/users", headers=headers)
        assert "kid" in [u["username"] for u in listed.json()]
        renamed = client.patch(
            f"/users/{created.json()['id']}", headers=headers, json={"disabled": True}
        )
        assert renamed.status_code == 200
        again = client.get(f"/users/{created.json()['id']}", headers=headers)
        assert again.json()["disabled"] is True
