"""A small indexed library with face rows written directly (no detector), for route tests."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from imageserver.db.tables import media
from imageserver.faces import repo, service
from imageserver.scan.watcher import Watcher
from imageserver.work import artefacts
from imageserver.work.artefacts import FACES_KIND
from imageserver.work.context import AppContext
from imageserver.work.outcome import Outcome
from tests.faces.synthetic import faces_of, identities
from tests.fixtures import make_jpeg
from tests.scan.test_watcher import add_library


@dataclass
class Scene:
    library_id: int
    media: dict[str, int]  # rel_path -> media id
    hashes: dict[str, str]  # rel_path -> content hash
    faces: dict[str, int] = field(default_factory=dict)  # "a0" -> face id
    alice: int = 0
    bob: int = 0


def face_row(
    content_hash: str, index: int, vector: npt.NDArray[np.float32], box: tuple[int, int, int, int]
) -> dict[str, object]:
    return {
        "content_hash": content_hash,
        "face_index": index,
        "box_x": box[0],
        "box_y": box[1],
        "box_w": box[2],
        "box_h": box[3],
        "image_width": 640,
        "image_height": 480,
        "landmarks": [[1.0, 2.0]] * 5,
        "embedding": repo.encode(vector),
        "detector": "hog",
        "detection_score": 1.5,
        "person_id": None,
        "assignment": "none",
        "created_at": 1.0,
    }


def build(client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path) -> Scene:
    """a.jpg: alice + bob; b.jpg: alice; c.jpg: bob; d.jpg: nobody; e.jpg: not scanned;
    f.jpg: scan failed; g.jpg: not hashed; sub/a-copy.jpg: the bytes of a.jpg."""
    root = tmp_path / "lib"
    for i, name in enumerate("abcdefg"):
        make_jpeg(root / f"{name}.jpg", color=(i * 30, 20, 20))
    (root / "sub").mkdir()
    shutil.copy(root / "a.jpg", root / "sub" / "a-copy.jpg")
    library_id = add_library(client, auth, root)
    Watcher(ctx).tick(full=True)
    with ctx.engine.begin() as conn:
        rows = conn.execute(select(media.c.rel_path, media.c.id, media.c.content_hash)).all()
        scene = Scene(library_id, {r[0]: r[1] for r in rows}, {r[0]: r[2] for r in rows})
        conn.execute(update(media).where(media.c.rel_path == "g.jpg").values(content_hash=None))
        ids = identities(2)
        alice, bob = faces_of(ids[0], 2, seed=1), faces_of(ids[1], 2, seed=2)
        h = scene.hashes
        rows_in = [
            face_row(h["a.jpg"], 0, alice[0], (100, 100, 80, 80)),
            face_row(h["a.jpg"], 1, bob[0], (300, 120, 60, 60)),
            face_row(h["b.jpg"], 0, alice[1], (200, 150, 120, 120)),
            face_row(h["c.jpg"], 0, bob[1], (10, 10, 50, 50)),
        ]
        created = repo.insert_faces(conn, rows_in)
        scene.faces = dict(zip(["a0", "a1", "b0", "c0"], [i for i, _ in created], strict=True))
        for name in "abcd":
            artefacts.record(conn, h[f"{name}.jpg"], FACES_KIND, Outcome.done(), 1.0)
        artefacts.record(conn, h["f.jpg"], FACES_KIND, Outcome.failed("broken"), 1.0)
        placed = service.assign_new_faces(conn, created, ctx.settings, 1.0)
        assert placed.people_created == 2 and placed.assigned == 4
        scene.alice = repo.get_face(conn, scene.faces["a0"])["person_id"]  # type: ignore[index]
        scene.bob = repo.get_face(conn, scene.faces["a1"])["person_id"]  # type: ignore[index]
    assert scene.alice != scene.bob
    return scene
