"""Libraries CRUD and validation over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from imageserver.work.context import AppContext


def make_root(tmp_path: Path, name: str = "photos") -> Path:
    root = tmp_path / name
    root.mkdir()
    (root / "a.jpg").write_bytes(b"\xff\xd8\xff" + b"\x00" * 100)
    return root


def test_create_list_get_patch_delete(
    client: TestClient, auth: dict[str, str], tmp_path: Path
) -> None:
    root = make_root(tmp_path)
    before = hashlib.sha256((root / "a.jpg").read_bytes()).hexdigest()
    created = client.post(
        "/libraries", headers=auth, json={"name": "Family", "root_path": str(root)}
    )
    assert created.status_code == 201, created.text
    lib = created.json()
    assert lib["name"] == "Family" and lib["enabled"] is True and lib["excluded_dirs"] == []
    assert lib["health"]["status"] == "unknown"

    listed = client.get("/libraries", headers=auth).json()
    assert [x["id"] for x in listed] == [lib["id"]]

    patched = client.patch(
        f"/libraries/{lib['id']}",
        headers=auth,
        json={"enabled": False, "excluded_dirs": ["@eaDir", "2019/raw/", "./tmp"], "name": "Fam"},
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["enabled"] is False and body["name"] == "Fam"
    assert body["excluded_dirs"] == ["@eaDir", "2019/raw", "tmp"]
    assert client.get(f"/libraries/{lib['id']}", headers=auth).json()["enabled"] is False

    assert client.delete(f"/libraries/{lib['id']}", headers=auth).status_code == 204
    assert client.get("/libraries", headers=auth).json() == []
    # Removing a library never touches its files.
    assert hashlib.sha256((root / "a.jpg").read_bytes()).hexdigest() == before


@pytest.mark.parametrize(
    "excludes",
    [
        ["../etc"],
        ["/abs"],
        ["a/../../b"],
        ["nul\x00byte"],
        ["back\\slash"],
        [""],
        ["x" * 2000],
        [f"d{i}" for i in range(201)],
        "not-a-list",
        [1],
    ],
)
def test_bad_excludes_are_422(
    client: TestClient, auth: dict[str, str], tmp_path: Path, excludes: object
) -> None:
    root = make_root(tmp_path)
    lib = client.post("/libraries", headers=auth, json={"name": "L", "root_path": str(root)}).json()
    response = client.patch(
        f"/libraries/{lib['id']}", headers=auth, json={"excluded_dirs": excludes}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid"
    created = client.post(
        "/libraries",
        headers=auth,
        json={"name": "L2", "root_path": str(root), "excluded_dirs": excludes},
    )
    assert created.status_code == 422


def test_unknown_id_is_404(client: TestClient, auth: dict[str, str]) -> None:
    for method in ("get", "patch", "delete"):
        kwargs = {"json": {"enabled": True}} if method == "patch" else {}
        response = getattr(client, method)("/libraries/9999", headers=auth, **kwargs)
        assert response.status_code == 404, (method, response.text)
        assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x"},
        {"root_path": "/tmp"},
        {"name": "", "root_path": "/tmp"},
        {"name": "x", "root_path": "relative/path"},
        {"name": "x", "root_path": "/does/not/exist/at/all"},
        {"name": "x", "root_path": "/tmp", "surprise": 1},
        {"name": "x", "root_path": "/etc/hostname"},
    ],
)
def test_bad_create_bodies_are_422(
    client: TestClient, auth: dict[str, str], body: dict[str, object]
) -> None:
    response = client.post("/libraries", headers=auth, json=body)
    assert response.status_code == 422, response.text
    assert set(response.json()) == {"error"}


def test_patch_rejects_unknown_fields_and_bad_types(
    client: TestClient, auth: dict[str, str], tmp_path: Path
) -> None:
    lib = client.post(
        "/libraries", headers=auth, json={"name": "L", "root_path": str(make_root(tmp_path))}
    ).json()
    for body in ({"root_path": "/tmp"}, {"enabled": "maybe"}, {"name": "   "}):
        assert client.patch(f"/libraries/{lib['id']}", headers=auth, json=body).status_code == 422


def test_duplicate_name_or_root_is_409(
    client: TestClient, auth: dict[str, str], tmp_path: Path
) -> None:
    root = make_root(tmp_path)
    other = make_root(tmp_path, "other")
    assert (
        client.post(
            "/libraries", headers=auth, json={"name": "A", "root_path": str(root)}
        ).status_code
        == 201
    )
    assert (
        client.post(
            "/libraries", headers=auth, json={"name": "A", "root_path": str(other)}
        ).status_code
        == 409
    )
    assert (
        client.post(
            "/libraries", headers=auth, json={"name": "B", "root_path": str(root)}
        ).status_code
        == 409
    )


def test_root_inside_data_dir_is_refused(
    client: TestClient, auth: dict[str, str], ctx: AppContext
) -> None:
    inside = ctx.settings.data_dir / "sub"
    inside.mkdir(parents=True)
    response = client.post("/libraries", headers=auth, json={"name": "X", "root_path": str(inside)})
    assert response.status_code == 422
    assert "data folder" in response.json()["error"]["message"]


def test_libraries_require_auth(client: TestClient) -> None:
    assert client.get("/libraries").status_code == 401
    assert client.post("/libraries", json={"name": "x", "root_path": "/tmp"}).status_code == 401
