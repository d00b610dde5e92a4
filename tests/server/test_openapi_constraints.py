"""The OpenAPI document states the constraints the code enforces: each pattern and length
read from the document is checked against the server's own validator and against the
answers of real requests (a value the schema allows is not a 422, one it forbids is)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from imageserver.auth.service import validate_password, validate_username
from imageserver.errors import Invalid

SAMPLES = ["alice", "a.b@c-d_e", "x" * 150, "x" * 151, "", "bad name", "tab\there", "é", "a/b"]


@pytest.fixture
def spec(client: TestClient) -> dict[str, Any]:
    document: dict[str, Any] = client.get("/openapi.json").json()
    return document


def model(spec: dict[str, Any], name: str) -> dict[str, Any]:
    schema: dict[str, Any] = spec["components"]["schemas"][name]
    return schema


def parameter(spec: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    for param in spec["paths"][path][method].get("parameters", []):
        if param["name"] == name:
            schema: dict[str, Any] = param["schema"]
            return schema
    raise AssertionError(f"{method} {path} has no parameter {name}")


def allowed(schema: dict[str, Any], value: str) -> bool:
    """What a JSON Schema validator says of a string (pattern is an unanchored search)."""
    if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", 10**9):
        return False
    return "pattern" not in schema or re.search(schema["pattern"], value) is not None


def accepts(check: Any, value: str) -> bool:
    try:
        check(value)
    except Invalid:
        return False
    return True


def test_username_and_password_rules_are_the_services(spec: dict[str, Any]) -> None:
    props = model(spec, "UserCreate")["properties"]
    for value in SAMPLES:
        assert allowed(props["username"], value) == accepts(validate_username, value), value
    for value in ["", "1234567", "12345678", "p" * 1024, "p" * 1025]:
        assert allowed(props["password"], value) == accepts(validate_password, value), value
    new = model(spec, "PasswordChange")["properties"]["new_password"]
    assert new["minLength"] == props["password"]["minLength"] == 8


def test_user_creation_follows_the_schema(
    client: TestClient, auth: dict[str, str], spec: dict[str, Any]
) -> None:
    props = model(spec, "UserCreate")["properties"]
    for username, password in [("bad name", "longenough"), ("okname", "short"), ("ok", "x" * 8)]:
        expected = allowed(props["username"], username) and allowed(props["password"], password)
        response = client.post(
            "/users", headers=auth, json={"username": username, "password": password}
        )
        assert (response.status_code == 201) == expected, (username, response.text)
        assert response.status_code in {201, 422}


def test_search_q_must_not_be_blank(
    client: TestClient, auth: dict[str, str], spec: dict[str, Any]
) -> None:
    q = parameter(spec, "/photos/search", "get", "q")
    assert not allowed(q, "   ") and allowed(q, " cat ")
    response = client.get("/photos/search", params={"q": "   "}, headers=auth)
    assert response.status_code == 422, response.text


def test_content_hashes_are_64_lowercase_hex(
    client: TestClient, auth: dict[str, str], spec: dict[str, Any]
) -> None:
    paths = [p for p in spec["paths"] if "{content_hash}" in p]
    assert len(paths) >= 3
    for path in paths:
        schema = parameter(spec, path, "get", "content_hash")
        assert allowed(schema, "a" * 64)
        for bad in ["A" * 64, "a" * 63, "a" * 65, "g" * 64]:
            assert not allowed(schema, bad), (path, bad)
            url = path.replace("{content_hash}", bad).replace("{segment}", "seg_00000.ts")
            assert client.get(url, headers=auth).status_code == 422, url


def test_library_names_must_not_be_blank(
    client: TestClient, auth: dict[str, str], spec: dict[str, Any], tmp_path: Path
) -> None:
    for schema_name in ("LibraryCreate", "LibraryPatch"):
        props = model(spec, schema_name)["properties"]["name"]
        name = props if "pattern" in props else next(s for s in props["anyOf"] if "pattern" in s)
        assert name["maxLength"] == 200
        assert not allowed(name, "   ") and not allowed(name, "a\x01") and allowed(name, " a b ")
    (tmp_path / "lib").mkdir()
    response = client.post(
        "/libraries", headers=auth, json={"name": "   ", "root_path": str(tmp_path / "lib")}
    )
    assert response.status_code == 422


def test_generate_body_states_its_two_shapes(
    client: TestClient, auth: dict[str, str], spec: dict[str, Any]
) -> None:
    shapes = model(spec, "GenerateRequest")["oneOf"]
    assert sorted(tuple(s["required"]) for s in shapes) == [("library_id", "path"), ("media_id",)]
    for body in [{}, {"library_id": 1}, {"media_id": 1, "library_id": 1, "path": "a.mp4"}]:
        matching = [s for s in shapes if all(body.get(k) is not None for k in s["required"])]
        assert len(matching) != 1
        response = client.post("/video/generate", headers=auth, json=body)
        assert response.status_code == 422, (body, response.text)


def test_merge_needs_a_person(spec: dict[str, Any]) -> None:
    assert model(spec, "MergeRequest")["properties"]["ids"]["minItems"] == 1
