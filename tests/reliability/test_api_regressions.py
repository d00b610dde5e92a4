"""Regression tests for what the API fuzzing found, on both databases.

- ids beyond the integer columns reached the driver: a 500 (SQLite "int too large",
  PostgreSQL out of range); now a 422 before any query, on every id a client sends;
- NUL in text reached PostgreSQL (camera filter, model_version, login username, a
  person's name): a 500; SQLite stored a NUL in a person's name;
- `to=9999-12-31` overflowed computing "the next day": a 500 on /media and /timeline;
- time-zone aware `from`/`to` compared differently on each database;
- taken_at was documented as an RFC 3339 date-time but is sent without an offset;
- errors were documented as FastAPI's `{"detail": [...]}`, and 401/404/409/... not at
  all, while every error is sent as `{"error": {"code", "message"}}`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from imageserver.inputs import MAX_ID
from tests.reliability.world import World, login_headers

TOO_BIG = (MAX_ID + 1, 2**63, 2**70)


@pytest.fixture(scope="module")
def client(world: World) -> Iterator[TestClient]:
    with TestClient(world.app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def auth(client: TestClient) -> dict[str, str]:
    return login_headers(client)


def assert_error(response: Any, status: int) -> None:
    assert response.status_code == status, (response.request.url, response.text)
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body


def id_operations(openapi: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(method, path, parameter) of every integer path parameter in the document."""
    found = []
    for path, item in openapi["paths"].items():
        for method, op in item.items():
            for param in op.get("parameters", []):
                if param["in"] == "path" and param["schema"].get("type") == "integer":
                    found.append((method, path, param["name"]))
    return found


def test_oversized_ids_in_paths_are_422(
    client: TestClient, auth: dict[str, str], world: World
) -> None:
    openapi = client.get("/openapi.json").json()
    operations = id_operations(openapi)
    assert len(operations) >= 20
    for method, path, name in operations:
        for value in (*TOO_BIG, 0, -1, -(2**63)):
            url = re.sub(r"\{(\w+)\}", lambda m, n=name, v=value: str(v if m[1] == n else 1), path)
            body = {} if method in ("patch", "post") else None
            response = client.request(method.upper(), url, headers=auth, json=body)
            assert_error(response, 422)


@pytest.mark.parametrize(
    ("url", "param"),
    [
        ("/media", "library"),
        ("/media", "person"),
        ("/timeline", "library"),
        ("/duplicates", "library"),
        ("/media/by-path", "library"),
        ("/video/by-path", "library"),
        ("/photos/search", "library"),
    ],
)
def test_oversized_ids_in_queries_are_422(
    client: TestClient, auth: dict[str, str], url: str, param: str
) -> None:
    for value in TOO_BIG:
        params = {param: value, "path": "2021/a.jpg", "q": "dog"}
        assert_error(client.get(url, headers=auth, params=params), 422)


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("POST", "/video/generate", {"media_id": 2**63}),
        ("POST", "/video/generate", {"library_id": 2**40, "path": "clips/clip.mp4"}),
        ("POST", "/people/1/merge", {"ids": [2**31]}),
        ("PATCH", "/people/1", {"cover_face_id": 2**31}),
        ("PATCH", "/faces/1", {"person_id": 2**40}),
    ],
)
def test_oversized_ids_in_bodies_are_422(
    client: TestClient, auth: dict[str, str], method: str, url: str, body: dict[str, Any]
) -> None:
    assert_error(client.request(method, url, headers=auth, json=body), 422)


@pytest.mark.parametrize(
    ("method", "url", "kwargs"),
    [
        ("GET", "/media", {"params": {"camera": "Can\x00on"}}),
        ("GET", "/timeline", {"params": {"camera": "\x00"}}),
        ("GET", "/ml/stats", {"params": {"model_version": "v\x00"}}),
        ("GET", "/photos/1/similar", {"params": {"model_version": "v\x00"}}),
        ("GET", "/photos/search", {"params": {"q": "dog", "model_version": "\x00"}}),
        ("PATCH", "/people/1", {"json": {"name": "Al\x00ice"}}),
        ("PATCH", "/people/1", {"json": {"name": "line\nbreak"}}),
    ],
)
def test_nul_and_control_characters_in_text_are_422(
    client: TestClient,
    auth: dict[str, str],
    world: World,
    method: str,
    url: str,
    kwargs: dict[str, Any],
) -> None:
    assert_error(client.request(method, url, headers=auth, **kwargs), 422)
    names = client.get("/people", headers=auth).json()["items"]
    assert not any("\x00" in (p["name"] or "") for p in names)


def test_nul_in_login_username_is_422(client: TestClient) -> None:
    response = client.post("/auth/login", json={"username": "ad\x00min", "password": "x" * 12})
    assert_error(response, 422)


@pytest.mark.parametrize("url", ["/media", "/timeline"])
def test_last_representable_day_is_a_valid_bound(
    client: TestClient, auth: dict[str, str], url: str
) -> None:
    everything = client.get(url, headers=auth).json()
    response = client.get(url, headers=auth, params={"to": "9999-12-31", "from": "0001-01-01"})
    assert response.status_code == 200, response.text
    assert response.json() == everything


def test_time_zone_of_a_bound_is_ignored_like_the_wall_clock(
    client: TestClient, auth: dict[str, str]
) -> None:
    """a.jpg was taken at 2021-06-01 12:00 (camera clock); an offset does not shift it."""

    def paths(**params: str) -> set[str]:
        page = client.get("/media", headers=auth, params={"limit": 100, **params})
        assert page.status_code == 200, page.text
        return {i["path"] for i in page.json()["items"]}

    window = {"from": "2021-06-01T12:00:00+09:00", "to": "2021-06-01T12:00:01-07:00"}
    assert paths(**window) == {"2021/a.jpg", "copies/a copy.jpg"}
    assert paths(**window) == paths(**{k: v[:19] for k, v in window.items()})


def test_taken_at_is_documented_as_a_local_date_time(
    client: TestClient, auth: dict[str, str], world: World
) -> None:
    openapi = client.get("/openapi.json").json()
    schema = openapi["components"]["schemas"]["MediaSummary"]["properties"]["taken_at"]
    assert "format" not in schema
    item = client.get(f"/media/{world.photo_id}", headers=auth).json()
    assert re.fullmatch(schema["pattern"], item["taken_at"]), item["taken_at"]


def test_errors_are_documented_as_they_are_sent(client: TestClient, auth: dict[str, str]) -> None:
    openapi = client.get("/openapi.json").json()
    schemas = openapi["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert schemas["ErrorBody"]["required"] == ["error"]
    for path, item in openapi["paths"].items():
        for method, op in item.items():
            responses = op["responses"]
            for status, response in responses.items():
                if not status.startswith(("4", "5")) or (path, status) == ("/health", "503"):
                    continue
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ErrorBody"), (method, path, status)
            if op.get("security"):
                assert "401" in responses, (method, path)
            if op.get("parameters") or "requestBody" in op:
                assert "422" in responses, (method, path)
    sent = client.get("/media", headers=auth, params={"limit": 0})
    assert_error(sent, 422)
    assert_error(client.get("/media/99999", headers=auth), 404)
    assert_error(client.get("/media"), 401)
