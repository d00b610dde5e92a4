"""Property-based fuzzing of every operation in the app's own OpenAPI document.

schemathesis generates requests from the document (its examples and boundary "coverage"
cases, then random valid and invalid ones), sends them in-process to the ASGI app of a
fully indexed world with a real login token, and runs every check schemathesis has on
every response: never a 5xx, documented statuses, headers and bodies, valid data accepted
(but for STATE_REFUSALS, which no schema can state) and invalid data rejected, missing
auth refused, unsupported methods answered with 405 and Allow. Deterministic
(derandomized) and bounded, so CI sees the same cases every run.

Before the fuzzer, `test_every_operation_with_real_ids` calls each operation once with
ids that exist, so the documented 200 bodies are validated on real data whatever the
fuzzer happens to draw.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase
from schemathesis.checks import CHECKS as REGISTERED
from schemathesis.checks import CheckContext, not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.pytest.lazy import get_all_tests
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    ensure_resource_availability,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    object_level_authorization,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
    use_after_free,
)
from sqlalchemy import select, update

from imageserver.auth import passwords
from imageserver.db.tables import users
from tests.conftest import ADMIN_PASSWORD
from tests.reliability.world import World, login_headers

# Requests the document calls valid that the server refuses (422) for a reason no JSON
# Schema can state: what is on the server's disk, in its database or its clock, what the
# bytes of an upload hold, or a relation between the path and the body. Each is matched
# on the operation and its error message, so any other refusal of valid data still fails.
EDIT_DATE = (
    r"^taken_at\.local: Value error, "
    r"(not a calendar date and time|year outside 1800\.\.2200)$"
)
STATE_REFUSALS: dict[str, tuple[str, ...]] = {
    # the folder must exist, be readable, not be a system folder nor overlap a library
    "POST /libraries": (r"^root_path: ",),
    # cursors are opaque tokens the server handed out
    "GET /media": (r"^cursor: ",),
    "GET /timeline": (r"^cursor: ",),
    # the query language's grammar (a phrase's quotes, a filter's value) is no JSON Schema
    "GET /search": (r"^cursor: ", r"^q: position \d+: "),
    "GET /ocr/search": (r"^cursor: ",),
    # the text encoder is the model loaded now
    "GET /photos/search": (r"^model_version: ",),
    # an upload must decode as a picture
    "POST /photos/search/image": (r"^image: ",),
    # the face must belong to that person; a person is not merged into itself (the path's id)
    "PATCH /people/{person_id}": (r"^cover_face_id: face \d+ is not a face of person \d+$",),
    "POST /people/{person_id}/merge": (r"^ids: a person cannot be merged into itself$",),
    # an expiry must lie in the future of the server's clock
    "POST /shares": (r"^expires_at is in the past$",),
    # an edited date matches YYYY-MM-DDTHH:MM:SS and must also be on the calendar (no
    # month 00, no 30 February) in the years a photo can have (1800..2200)
    "PATCH /media": (EDIT_DATE,),
    "PATCH /media/{media_id}": (EDIT_DATE,),
    # four numbers in the document; their order (south <= north, within +-90) is checked here
    "GET /map/markers": (r"^bbox: need -90 <= south <= north <= 90$", r"^bbox: east < west "),
}


def refused_for_state(label: str, response: Any) -> bool:
    """Whether a 422 to valid data is one of STATE_REFUSALS."""
    if response.status_code != 422:
        return False
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return False
    return any(re.search(p, message) for p in STATE_REFUSALS.get(label, ()))


def positive_data_accepted(ctx: CheckContext, response: Any, case: schemathesis.Case) -> None:
    """schemathesis' `positive_data_acceptance`, less the refusals of STATE_REFUSALS."""
    try:
        positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        if not refused_for_state(case.operation.label, response):
            raise


# Every check schemathesis has (test_every_check_runs keeps the list complete).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    positive_data_accepted,
    missing_required_header,
    unsupported_method,
    allow_header_conformance,
    use_after_free,
    ensure_resource_availability,
    ignored_auth,
    object_level_authorization,
]


def test_every_check_runs() -> None:
    names = {c.__name__ for c in CHECKS} - {"positive_data_accepted"}
    assert names | {"positive_data_acceptance"} == set(REGISTERED.get_all_names())
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


def test_every_operation_with_real_ids(
    fuzz_schema: Any, world: World, headers: dict[str, str]
) -> None:
    """One well-formed request per GET operation, with ids that exist: documented 2xx and
    bodies that match their schema (the fuzzer mostly draws ids that do not exist)."""
    schema = fuzz_schema
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


class Healer:
    """Undoes what a fuzzed account operation may have done to the fuzzer's own login
    (logout, a password reset, a demotion or disabling once it made a second admin), so
    every later operation still runs as the admin.

    Cheap, as it runs after every case of an account route: one SELECT, the password
    verified only when its hash changed, and a client without the app's lifespan (which
    schemathesis' client has started; starting it again per case loads the search index).
    """

    def __init__(self, world: World, headers: dict[str, str]) -> None:
        self.world, self.headers = world, headers
        self.client = TestClient(world.app)
        self.good_hash: str | None = None

    def __call__(self) -> None:
        with self.world.ctx.engine.begin() as conn:
            admin = conn.execute(select(users).where(users.c.id == 1)).mappings().one()
            if admin["role"] != "admin" or admin["disabled_at"] is not None:
                conn.execute(
                    update(users).where(users.c.id == 1).values(role="admin", disabled_at=None)
                )
            stored = admin["password_hash"]
            if stored != self.good_hash:
                if not passwords.verify_password(stored, ADMIN_PASSWORD):
                    stored = passwords.hash_password(ADMIN_PASSWORD)
                    conn.execute(update(users).where(users.c.id == 1).values(password_hash=stored))
                self.good_hash = stored
        if self.client.get("/auth/me", headers=self.headers).status_code == 401:
            self.headers.update(login_headers(self.client))


# Every operation with all checks takes 2-3 minutes per database on 2 cores; the suite's
# 300 s per-test limit is too close when another test file runs on the other core.
@pytest.mark.timeout(900)
def test_no_server_error_and_documented_responses(
    fuzz_schema: Any, headers: dict[str, str], world: World
) -> None:
    """Every operation, valid and invalid inputs: no 5xx, documented statuses and bodies.

    Runs the Hypothesis test schemathesis' pytest plugin builds for each operation (the
    plugin's own wrapper does not run under pytest 9), one operation after another, and
    reports every failing operation at the end rather than stopping at the first.
    """
    calls: Counter[str] = Counter()
    heal = Healer(world, headers)

    def check(case: schemathesis.Case) -> None:
        calls[case.operation.label] += 1
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)
        if case.operation.path.startswith(ACCOUNT_ROUTES):
            heal()

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
