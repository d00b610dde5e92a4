"""`imageserver faces recluster` over a real database: named people and pins stay put."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from imageserver.config import Settings
from imageserver.faces import repo
from imageserver.work.context import AppContext
from tests.conftest import make_settings
from tests.faces.scene import Scene, build, face_row
from tests.faces.synthetic import faces_of, identities
from tests.test_cli import run_cli


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return make_settings(tmp_path, db_url, faces_enabled=False)


def person_of(ctx: AppContext, face_id: int) -> tuple[int | None, str]:
    with ctx.engine.connect() as conn:
        face = repo.get_face(conn, face_id)
    assert face is not None
    return face["person_id"], face["assignment"]


def test_recluster_fixes_mistakes_but_keeps_names_and_user_choices(
    client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path, db_url: str
) -> None:
    scene: Scene = build(client, auth, ctx, tmp_path)
    client.patch(f"/people/{scene.alice}", headers=auth, json={"name": "Alice"})
    # The user confirms bob's face on a.jpg; the matcher had wrongly put bob's c.jpg face
    # into Alice; carol was seen twice but never grouped; one face was rejected.
    client.patch(f"/faces/{scene.faces['a1']}", headers=auth, json={"person_id": scene.bob})
    with ctx.engine.begin() as conn:
        repo.assign(conn, [scene.faces["c0"]], scene.alice, "auto")
        carol = faces_of(identities(3)[2], 2, seed=11)
        h = scene.hashes
        made = repo.insert_faces(
            conn,
            [
                face_row(h["d.jpg"], 0, carol[0], (5, 5, 70, 70)),
                face_row(h["e.jpg"], 0, carol[1], (9, 9, 70, 70)),
            ],
        )
        repo.assign(conn, [scene.faces["b0"]], None, "rejected")
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGESERVER_")}
    env.update(IMAGESERVER_DATA_DIR=str(tmp_path / "data"), IMAGESERVER_DATABASE_URL=db_url)

    result = run_cli(["faces", "recluster"], env)

    assert result.returncode == 0, result.stderr
    assert "people_new=1" in result.stdout, result.stdout
    assert person_of(ctx, scene.faces["a0"]) == (scene.alice, "auto")  # Alice keeps hers
    assert person_of(ctx, scene.faces["c0"]) == (scene.bob, "auto")  # back with bob's pin
    assert person_of(ctx, scene.faces["a1"]) == (scene.bob, "user")  # pins never move
    assert person_of(ctx, scene.faces["b0"]) == (None, "rejected")  # rejections stay
    carol_person, how = person_of(ctx, made[0][0])
    assert carol_person not in (None, scene.alice, scene.bob) and how == "auto"
    assert person_of(ctx, made[1][0])[0] == carol_person
    alice = client.get(f"/people/{scene.alice}", headers=auth).json()
    assert (alice["name"], alice["face_count"]) == ("Alice", 1)
    assert alice["cover_face_id"] == scene.faces["a0"]  # the rejected cover was replaced
