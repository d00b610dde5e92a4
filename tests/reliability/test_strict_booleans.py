"""Booleans in request bodies are booleans: `0`, `1`, `"true"` and `null` (where the
document does not allow it) are refused with a 422 naming the field, derived from OpenAPI
so a new body with a boolean is covered without being listed here."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

NOT_BOOLEANS: list[Any] = [0, 1, "true", "false", "yes"]


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = doc["components"]["schemas"][name]
    return schema


def _boolean_fields(doc: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(method, path, field, nullable) of every boolean property of a JSON request body."""
    found = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            content = op.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            schema = _resolve(doc, content["application/json"]["schema"])
            for name, prop in schema.get("properties", {}).items():
                types = [_resolve(doc, p).get("type") for p in prop.get("anyOf", [prop])]
                if "boolean" in types:
                    found.append((method.upper(), path, name, "null" in types))
    return found


def _concrete(path: str) -> str:
    """Path parameters as ids that do not exist: validation answers before any lookup."""
    out = []
    for part in path.split("/"):
        out.append("999999" if part.startswith("{") else part)
    return "/".join(out)


def test_every_boolean_of_every_body_is_strict(client: TestClient, auth: dict[str, str]) -> None:
    doc = client.get("/openapi.json").json()
    fields = _boolean_fields(doc)
    # The bodies known today: libraries (create/patch), people, users, API keys.
    assert len({(m, p) for m, p, _, _ in fields}) >= 5, fields
    for method, path, field, nullable in fields:
        url = _concrete(path)
        for value in NOT_BOOLEANS + ([] if nullable else [None]):
            response = client.request(method, url, json={field: value}, headers=auth)
            assert response.status_code == 422, (method, path, field, value, response.text)
            assert field in response.json()["error"]["message"], (method, path, response.text)


@pytest.mark.parametrize("value", [True, False])
def test_a_real_boolean_passes_validation(
    client: TestClient, auth: dict[str, str], value: bool
) -> None:
    """The control: the same body with a boolean is not refused for that field."""
    created = client.post(
        "/auth/api-keys", json={"name": f"k{value}", "read_only": value}, headers=auth
    )
    assert created.status_code == 201, created.text
    assert created.json()["read_only"] is value
