"""Derived from the OpenAPI document: OPTIONS answers every path with an `Allow` header
naming exactly its methods, and a literal path (`/faces/stats`) is never captured by a
sibling template (`/faces/{face_id}`) for a method only the template has."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

HTTP = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def spec(client: TestClient) -> dict[str, Any]:
    document: dict[str, Any] = client.get("/openapi.json").json()
    return document


def methods(item: dict[str, Any]) -> set[str]:
    return {m.upper() for m in item if m in HTTP}


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_options_names_the_methods_of_every_path(
    client: TestClient, auth: dict[str, str], spec: dict[str, Any]
) -> None:
    assert len(spec["paths"]) > 30
    for path, item in spec["paths"].items():
        response = client.options(concrete(path), headers=auth)
        assert response.status_code == 204, (path, response.status_code, response.text)
        allow = {m.strip() for m in response.headers["allow"].split(",")}
        assert "OPTIONS" in allow
        assert allow - {"OPTIONS", "HEAD"} == methods(item), (path, allow)


def test_options_on_an_unknown_path_is_404(client: TestClient) -> None:
    response = client.options("/no/such/route")
    assert response.status_code == 404
    assert "allow" not in response.headers


def captures(template: str, literal: str) -> bool:
    a, b = template.strip("/").split("/"), literal.strip("/").split("/")
    return len(a) == len(b) and all(x == y or x.startswith("{") for x, y in zip(a, b, strict=True))


def test_literal_paths_are_not_captured_by_templates(
    client: TestClient, auth: dict[str, str], spec: dict[str, Any]
) -> None:
    paths = spec["paths"]
    literals = [p for p in paths if "{" not in p.rsplit("/", 1)[-1]]
    checked = 0
    for template, item in paths.items():
        if "{" not in template:
            continue
        for literal in literals:
            if literal == template or not captures(template, literal):
                continue
            for method in methods(item) - methods(paths[literal]):
                response = client.request(method, concrete(literal), headers=auth, json={})
                checked += 1
                assert response.status_code == 405, (method, literal, template, response.text)
    assert checked >= 2  # DELETE-less /faces/stats against PATCH /faces/{face_id}, at least
