"""Property-based fuzzing of every operation in the app's own OpenAPI document.

schemathesis generates requests from the document (its examples and boundary "coverage"
cases, then random valid and invalid ones), sends them in-process to the ASGI app of a
fully indexed world with a real login token, and checks every response: never a 5xx,
the status code is documented, the body matches the documented schema. Deterministic
(derandomized) and bounded, so CI sees the same cases every run.

Before the fuzzer, `test_every_operation_with_real_ids` calls each operation once with
ids that exist, so the documented 200 bodies are validated on real data whatever the
fuzzer happens to draw.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.pytest.lazy import get_all_tests
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select, update

from imageserver.auth import passwords
from imageserver.db.tables import users
from tests.conftest import ADMIN_PASSWORD
from tests.reliability.world import World, login_headers

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Generated cases per operation on top of the explicit and coverage cases (the coverage
# phase already sends every operation its boundary values: about half of the run time);
# 12 keeps both databases' runs near a minute each on 2 cores. IMAGESERVER_FUZZ_EXAMPLES
# raises it for a longer local run (25 took 46 s more per database).
MAX_EXAMPLES = int(os.environ.get("IMAGESERVER_FUZZ_EXAMPLES", "12"))


@pytest.fixture(scope="module")
def headers(world: World) -> dict[str, str]:
    with TestClient(world.app) as client:
        return login_headers(client)


@pytest.fixture(scope="module")
def fuzz_schema(world: World) -> Iterator[Any]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.app)
    yield schema
    asgi.shutdown_lifespans()  # the app's lifespan, started by schemathesis' ASGI client


def real_values(world: World) -> dict[str, Any]:
    """Existing ids for every path and query parameter the document names."""
    return {
        "library_id": world.library_id,
        "library": world.library_id,
        "media_id": world.photo_id,
        "person_id": world.people[0],
        "face_id": world.faces[0],
        "content_hash": world.video_hash,
        "segment": "seg_00000.ts",
        "user_id": 1,
        "path": "2021/a.jpg",
        "q": "red dog",
    }


def collection_values(world: World, headers: dict[str, str]) -> dict[str, Any]:
    """An album holding the photo and a public link to it, made through the API."""
    with TestClient(world.app) as client:
        album = client.post("/albums", headers=headers, json={"name": "fuzz album"})
        assert album.status_code == 201, album.text
        album_id = album.json()["id"]
        added = client.post(
            f"/albums/{album_id}/items", headers=headers, json={"ids": [world.photo_id]}
        )
        assert added.status_code == 200, added.text
        share = client.post(
            "/shares", headers=headers, json={"album_id": album_id, "allow_download": True}
        )
        assert share.status_code == 201, share.text
    return {"album_id": album_id, "share_id": share.json()["id"], "token": share.json()["token"]}


VIDEO_ITEM_ROUTES = ("/video/{media_id}", "/video/stream/library/{library_id}/")


def test_every_operation_with_real_ids(world: World, headers: dict[str, str]) -> None:
    """One well-formed request per GET operation, with ids that exist: documented 2xx and
    bodies that match their schema (the fuzzer mostly draws ids that do not exist)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.app)
    values = real_values(world) | collection_values(world, headers)
    problems: list[str] = []
    statuses: dict[str, int] = {}
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.method.upper() != "GET":
                continue
            given = dict(values)
            if operation.path.startswith(VIDEO_ITEM_ROUTES) or operation.path == "/video/by-path":
                given.update(media_id=world.video_id, path="clips/clip.mp4")
            path_params = {
                p.name: given[p.name] for p in operation.path_parameters if p.name in given
            }
            query = {p.name: given[p.name] for p in operation.query if p.name in given}
            case = operation.Case(path_parameters=path_params, query=query)
            response = case.call(headers=headers)
            statuses[operation.label] = response.status_code
            if response.status_code >= 300:
                problems.append(f"{operation.label}: {response.status_code} {response.text[:200]}")
                continue
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except BaseException as exc:
                if isinstance(exc, KeyboardInterrupt):
                    raise
                problems.append(f"{operation.label}: {str(exc)[:2000]}")
    finally:
        asgi.shutdown_lifespans()
    assert len(statuses) >= 25, statuses
    assert not problems, "\n".join(problems)


SETTINGS = hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # examples + coverage cases, then random ones
    suppress_health_check=list(HealthCheck),
)


ACCOUNT_ROUTES = ("/users", "/auth/")


def heal(world: World, headers: dict[str, str]) -> None:
    """Undo what a fuzzed account operation may have done to the fuzzer's own login
    (logout, a password reset, a demotion or disabling once it made a second admin), so
    every later operation still runs as the admin."""
    with world.ctx.engine.begin() as conn:
        admin = conn.execute(select(users).where(users.c.id == 1)).mappings().one()
        if admin["role"] != "admin" or admin["disabled_at"] is not None:
            conn.execute(
                update(users).where(users.c.id == 1).values(role="admin", disabled_at=None)
            )
        if not passwords.verify_password(admin["password_hash"], ADMIN_PASSWORD):
            conn.execute(
                update(users)
                .where(users.c.id == 1)
                .values(password_hash=passwords.hash_password(ADMIN_PASSWORD))
            )
    with TestClient(world.app) as client:
        if client.get("/auth/me", headers=headers).status_code == 401:
            headers.update(login_headers(client))


def test_no_server_error_and_documented_responses(
    fuzz_schema: Any, headers: dict[str, str], world: World
) -> None:
    """Every operation, valid and invalid inputs: no 5xx, documented statuses and bodies.

    Runs the Hypothesis test schemathesis' pytest plugin builds for each operation (the
    plugin's own wrapper does not run under pytest 9), one operation after another, and
    reports every failing operation at the end rather than stopping at the first.
    """
    calls: Counter[str] = Counter()

    def check(case: schemathesis.Case) -> None:
        calls[case.operation.label] += 1
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)
        if case.operation.path.startswith(ACCOUNT_ROUTES):
            heal(world, headers)

    failures: dict[str, str] = {}
    tests = list(
        get_all_tests(schema=fuzz_schema, test_func=check, settings=SETTINGS, given_kwargs={})
    )
    for result in tests:
        operation, run = result.ok()
        try:
            run()
        except hypothesis.errors.Unsatisfiable:
            failures[operation.label] = "no request could be generated"
        except FailureGroup as exc:
            failures[operation.label] = str(exc)[:3000]
    assert len(tests) >= 30
    assert all(calls[label] > 0 for label in (r.ok()[0].label for r in tests)), calls
    assert not failures, "\n\n".join(f"=== {k}\n{v}" for k, v in failures.items())
