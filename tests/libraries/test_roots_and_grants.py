"""Library roots an admin may choose, grants at creation and seeding, members refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from imageserver.auth import repo as users_repo
from imageserver.auth import service as auth_service
from imageserver.config import LibrarySeed
from imageserver.errors import Conflict, Invalid
from imageserver.libraries import repo
from imageserver.libraries.service import validate_root
from imageserver.server.bootstrap import bootstrap
from imageserver.work.context import AppContext
from tests.conftest import login, make_settings

MEMBER_PASSWORD = "member password one"


@pytest.fixture
def places(tmp_path: Path) -> dict[str, Path]:
    data = tmp_path / "srv" / "data"
    video = tmp_path / "srv" / "video"
    photos = tmp_path / "photos"
    for folder in (data / "thumbs", video / "ab", photos / "2020", tmp_path / "other"):
        folder.mkdir(parents=True)
    (tmp_path / "to-etc").symlink_to("/etc")
    (tmp_path / "to-data").symlink_to(data)
    return {"data": data, "video": video, "photos": photos, "tmp": tmp_path}


def _refused(root: str, p: dict[str, Path], others: list[str] | None = None) -> str:
    with pytest.raises((Invalid, Conflict)) as caught:
        validate_root(root, [p["data"], p["video"]], others or [])
    return str(caught.value.message)


@pytest.mark.parametrize(
    "root",
    [
        "/",
        "/proc",
        "/proc/self",
        "/sys",
        "/sys/kernel",
        "/dev",
        "/run",
        "/etc",
        "/etc/ssl",
        "/boot",
        "/boot/grub",
        "/tmp/../etc",
        "//etc",
    ],
)
def test_system_folders_are_refused(places: dict[str, Path], root: str) -> None:
    message = _refused(root, places)
    assert "system folder" in message or "file system root" in message


def test_the_server_folders_inside_and_around_are_refused(places: dict[str, Path]) -> None:
    p = places
    assert "inside the server's data folder" in _refused(str(p["data"]), p)
    assert "inside the server's data folder" in _refused(str(p["data"] / "thumbs"), p)
    assert "inside the server's data folder" in _refused(str(p["video"]), p)
    assert "inside the server's data folder" in _refused(str(p["video"] / "ab"), p)
    assert "contains the server's data folder" in _refused(str(p["tmp"] / "srv"), p)
    assert "contains the server's data folder" in _refused(str(p["tmp"]), p)


def test_symlinks_are_judged_by_their_real_path(places: dict[str, Path]) -> None:
    assert "system folder" in _refused(str(places["tmp"] / "to-etc"), places)
    assert "data folder" in _refused(str(places["tmp"] / "to-data"), places)


def test_a_root_inside_or_around_another_library_is_refused(places: dict[str, Path]) -> None:
    photos = str(places["photos"])
    for root in (
        photos,
        photos + "/2020",
        str(places["tmp"] / "photos" / "2020" / ".."),
        str(places["photos"].parent),
    ):
        message = _refused(root, places, [photos])
        assert "another library" in message or "data folder" in message, (root, message)
    # a neighbour is fine
    other = str(places["tmp"] / "other")
    assert validate_root(other, [places["data"], places["video"]], [photos]) == other


def test_a_plain_folder_is_accepted(places: dict[str, Path]) -> None:
    root = str(places["photos"])
    assert validate_root(root, [places["data"], places["video"]], []) == os.path.realpath(root)


# --- over HTTP, both databases -------------------------------------------------------------


def _member(client: TestClient, ctx: AppContext) -> dict[str, str]:
    with ctx.engine.begin() as conn:
        auth_service.create_user(conn, "kid", MEMBER_PASSWORD, ctx.clock())
    return {"Authorization": f"Bearer {login(client, 'kid', MEMBER_PASSWORD)}"}


def test_nested_roots_over_http_are_409_and_creator_is_granted(
    client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path
) -> None:
    outer = tmp_path / "lib" / "outer"
    (outer / "inner").mkdir(parents=True)
    created = client.post("/libraries", headers=auth, json={"name": "o", "root_path": str(outer)})
    assert created.status_code == 201, created.text
    for root in (outer / "inner", outer.parent, outer):
        response = client.post(
            "/libraries", headers=auth, json={"name": "n", "root_path": str(root)}
        )
        assert response.status_code == 409, (root, response.text)
    members = client.get(f"/libraries/{created.json()['id']}/members", headers=auth).json()
    assert [m["username"] for m in members] == ["admin"]


def test_members_get_403_before_any_check_of_the_path(
    client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path
) -> None:
    kid = _member(client, ctx)
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "file").write_text("x")
    answers = set()
    for root in ("/etc", "/does/not/exist", str(tmp_path / "file"), str(real), "relative"):
        response = client.post("/libraries", headers=kid, json={"name": "k", "root_path": root})
        assert response.status_code == 403, (root, response.text)
        answers.add(response.text)
    assert len(answers) == 1 and "forbidden" in answers.pop()
    lib = client.post("/libraries", headers=auth, json={"name": "a", "root_path": str(real)})
    library_id = lib.json()["id"]
    assert client.patch(f"/libraries/{library_id}", headers=kid, json={}).status_code == 403
    assert client.delete(f"/libraries/{library_id}", headers=kid).status_code == 403
    assert client.get(f"/libraries/{library_id}", headers=kid).status_code == 404
    assert client.get("/libraries", headers=kid).json() == []


def test_seeded_libraries_are_granted_to_the_first_admin_and_bad_seeds_skipped(
    tmp_path: Path, db_url: str
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    seeds = [
        LibrarySeed(name="home", root_path=photos),
        LibrarySeed(name="etc", root_path=Path("/etc")),
        LibrarySeed(name="nested", root_path=photos / "sub"),
        LibrarySeed(name="unplugged", root_path=tmp_path / "nas" / "photos"),
    ]
    ctx = bootstrap(make_settings(tmp_path, db_url, libraries=seeds)).ctx
    try:
        with ctx.engine.connect() as conn:
            names = {r["name"]: r["id"] for r in repo.list_all(conn)}
            assert set(names) == {"home", "unplugged"}  # a missing disk still gets its library
            admin = users_repo.get_by_username(conn, "admin")
            assert admin is not None
            assert users_repo.granted_library_ids(conn, admin["id"]) == sorted(names.values())
    finally:
        ctx.engine.dispose()
