"""API keys: made by a user for themselves, shown once, stored hashed, read-only or not,
revocable from the next request, last use recorded (at most once a minute)."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from imageserver.auth.deps import TOUCH_EVERY, user_from_api_key
from imageserver.auth.streams import issue_stream_token
from imageserver.clock import FakeClock
from imageserver.db.tables import api_keys
from imageserver.work.context import AppContext


def make_key(
    client: TestClient, auth: dict[str, str], name: str, read_only: bool = False
) -> dict[str, Any]:
    body = {"name": name, "read_only": read_only}
    response = client.post("/auth/api-keys", headers=auth, json=body)
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


def test_key_is_shown_once_and_stored_hashed(
    client: TestClient, ctx: AppContext, auth: dict[str, str]
) -> None:
    made = make_key(client, auth, "backup script")
    secret = made["key"]
    assert secret.startswith("isk_") and len(secret) >= 40
    assert secret.startswith(made["prefix"]) and made["last_used_at"] is None
    listed = client.get("/auth/api-keys", headers=auth).json()
    assert [k["name"] for k in listed] == ["backup script"]
    assert "key" not in listed[0] and secret not in str(listed)
    with ctx.engine.connect() as conn:
        stored = conn.execute(select(api_keys.c.secret_hash)).scalar_one()
    assert stored == hashlib.sha256(secret.encode()).hexdigest()


def test_key_works_as_bearer_and_x_api_key_until_revoked(
    client: TestClient, auth: dict[str, str]
) -> None:
    made = make_key(client, auth, "phone")
    for headers in ({"Authorization": f"Bearer {made['key']}"}, {"x-api-key": made["key"]}):
        me = client.get("/auth/me", headers=headers).json()
        assert me["api_key_id"] == made["id"] and me["session_id"] is None
        assert (
            client.post("/video/generate", headers=headers, json={"media_id": 1}).status_code == 404
        )
    assert client.delete(f"/auth/api-keys/{made['id']}", headers=auth).status_code == 204
    assert client.get("/libraries", headers={"x-api-key": made["key"]}).status_code == 401
    assert client.delete(f"/auth/api-keys/{made['id']}", headers=auth).status_code == 404
    assert client.get("/libraries", headers={"x-api-key": "isk_" + "a" * 43}).status_code == 401


def test_read_only_key_reads_but_never_writes(client: TestClient, auth: dict[str, str]) -> None:
    key = {"x-api-key": make_key(client, auth, "frame", read_only=True)["key"]}
    assert client.get("/libraries", headers=key).status_code == 200
    refused = client.post("/video/generate", headers=key, json={"media_id": 1})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert client.get("/auth/me", headers=key).json()["read_only"] is True


def test_keys_cannot_manage_credentials(client: TestClient, auth: dict[str, str]) -> None:
    key = {"x-api-key": make_key(client, auth, "script")["key"]}
    for method, url in [
        ("GET", "/auth/api-keys"),
        ("POST", "/auth/api-keys"),
        ("GET", "/auth/sessions"),
        ("POST", "/auth/logout-all"),
        ("POST", "/auth/password"),
    ]:
        response = client.request(method, url, headers=key, json={"name": "x"})
        assert response.status_code == 403, (method, url, response.text)


def test_keys_are_per_user(
    client: TestClient, auth: dict[str, str], member: dict[str, str]
) -> None:
    admin_key = make_key(client, auth, "admin's")
    assert client.get("/auth/api-keys", headers=member).json() == []
    assert client.delete(f"/auth/api-keys/{admin_key['id']}", headers=member).status_code == 404
    member_key = {"x-api-key": make_key(client, member, "bob's")["key"]}
    assert client.get("/auth/me", headers=member_key).json()["username"] == "bob"
    assert client.get("/users", headers=member_key).status_code == 403


def test_key_of_a_disabled_user_stops(
    client: TestClient, auth: dict[str, str], member: dict[str, str]
) -> None:
    key = {"x-api-key": make_key(client, member, "bob's")["key"]}
    bob = client.get("/auth/me", headers=key).json()["id"]
    client.patch(f"/users/{bob}", headers=auth, json={"disabled": True})
    assert client.get("/libraries", headers=key).status_code == 401


def test_last_used_is_recorded_at_most_once_a_minute(
    client: TestClient, auth: dict[str, str], clock: FakeClock
) -> None:
    made = make_key(client, auth, "sync")
    key = {"x-api-key": made["key"]}

    def last_used(wanted: float | None) -> float | None:
        """The recorded last use, once it is `wanted` (written off the request path)."""
        deadline = time.monotonic() + 5
        while True:
            value: float | None = client.get("/auth/api-keys", headers=auth).json()[0][
                "last_used_at"
            ]
            if value == wanted or time.monotonic() > deadline:
                return value
            time.sleep(0.02)

    client.get("/libraries", headers=key)
    first = clock()
    assert last_used(first) == first
    clock.advance(TOUCH_EVERY / 2)
    client.get("/libraries", headers=key)
    time.sleep(0.2)  # a write, if one had been scheduled, would have landed by now
    assert last_used(first) == first
    clock.advance(TOUCH_EVERY)
    client.get("/libraries", headers=key)
    assert last_used(clock()) == clock()


def test_stream_tokens_minted_for_a_key_die_with_it(
    client: TestClient, ctx: AppContext, auth: dict[str, str]
) -> None:
    made = make_key(client, auth, "tv")
    digest = "ef" * 32
    stream, _ = issue_stream_token(ctx, user_from_api_key(ctx, made["key"]), digest)
    url = f"/video/stream/{digest}/preview.mp4"
    assert client.get(url, params={"token": stream}).status_code == 404  # authorized
    client.delete(f"/auth/api-keys/{made['id']}", headers=auth)
    assert client.get(url, params={"token": stream}).status_code == 401
