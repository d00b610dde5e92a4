"""A small, fully indexed server for the reliability suites: every route has real data.

One library with a few generated photos (one duplicated), one short H.264 video whose HLS
playlist and preview are made, CLIP embeddings from the tiny test model, and two people
whose faces are written directly (no detector). `World` holds the ids a test needs to
reach the item routes with real values.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from imageserver.clock import FakeClock
from imageserver.db.tables import media
from imageserver.faces import repo as faces_repo
from imageserver.faces import service as faces_service
from imageserver.ml.encoders import close_encoder
from imageserver.scan.watcher import Watcher
from imageserver.server.app import create_app
from imageserver.server.background import close_services
from imageserver.server.bootstrap import bootstrap
from imageserver.work import artefacts
from imageserver.work.artefacts import FACES_KIND
from imageserver.work.context import AppContext
from imageserver.work.outcome import Outcome
from tests.conftest import ADMIN_PASSWORD, make_settings
from tests.faces.scene import face_row
from tests.faces.synthetic import faces_of, identities
from tests.fixtures import insert_library, make_jpeg, make_png, make_video
from tests.ml.tiny_clip import TinyClip

LIBRARY_NAME = "family"
# Far from the small ids a fuzzer favours: a generated DELETE /libraries/{id} or PATCH
# (disable) almost never hits the world's own library. Media, faces and people keep small
# ids, so generated item requests do reach real rows.
LIBRARY_ID = 4242


@dataclass
class World:
    ctx: AppContext
    app: FastAPI
    root: Path
    library_id: int
    media: dict[str, int]  # rel_path -> media id
    hashes: dict[str, str]  # rel_path -> content hash
    faces: list[int] = field(default_factory=list)
    people: list[int] = field(default_factory=list)

    @property
    def photo_id(self) -> int:
        return self.media["2021/a.jpg"]

    @property
    def video_id(self) -> int:
        return self.media["clips/clip.mp4"]

    @property
    def video_hash(self) -> str:
        return self.hashes["clips/clip.mp4"]

    def close(self) -> None:
        close_encoder(self.ctx)
        close_services(self.ctx)
        self.ctx.engine.dispose()


def make_library(root: Path) -> Path:
    """The files of the library (made once per session, copied per world)."""
    make_jpeg(
        root / "2021" / "a.jpg",
        taken=datetime(2021, 6, 1, 12, 0),
        make="Canon",
        model="EOS 5D",
        gps=(48.85, 2.35),
    )
    make_jpeg(root / "2021" / "b.jpg", color=(20, 120, 200), taken=datetime(2021, 7, 2, 8, 30))
    make_jpeg(root / "2022" / "c d.jpg", color=(90, 90, 20), orientation=6)
    make_png(root / "2022" / "e.png")
    (root / "copies").mkdir()
    shutil.copy(root / "2021" / "a.jpg", root / "copies" / "a copy.jpg")
    make_video(root / "clips" / "clip.mp4", seconds=2, extra=["-g", "25"])
    return root


def build_world(tmp: Path, db_url: str, sources: Path, model: TinyClip) -> World:
    """Bootstrap, index until every drain is empty, add faces and people."""
    settings = make_settings(
        tmp,
        db_url,
        clip_model_path=model.root,
        hls_preset="ultrafast",
        hls_segment_seconds=1,
    )
    ctx = bootstrap(settings, clock=FakeClock()).ctx
    root = tmp / "lib"
    shutil.copytree(sources, root)
    library_id = insert_library(ctx.engine, LIBRARY_NAME, root, LIBRARY_ID)
    watcher = Watcher(ctx)
    results = watcher.tick(full=True)
    for _ in range(10):
        if not any(sum(t.pending.values()) for t in results):
            break
        results = watcher.tick(full=False)
    with ctx.engine.connect() as conn:
        rows = conn.execute(select(media.c.rel_path, media.c.id, media.c.content_hash)).all()
    world = World(
        ctx=ctx,
        app=create_app(ctx, background=False),
        root=root,
        library_id=library_id,
        media={r[0]: r[1] for r in rows},
        hashes={r[0]: r[2] for r in rows},
    )
    _add_people(world)
    return world


def _add_people(world: World) -> None:
    ids = identities(2)
    alice, bob = faces_of(ids[0], 2, seed=1), faces_of(ids[1], 2, seed=2)
    h = world.hashes
    with world.ctx.engine.begin() as conn:
        created = faces_repo.insert_faces(
            conn,
            [
                face_row(h["2021/a.jpg"], 0, alice[0], (100, 100, 80, 80)),
                face_row(h["2021/a.jpg"], 1, bob[0], (300, 120, 60, 60)),
                face_row(h["2021/b.jpg"], 0, alice[1], (200, 150, 120, 120)),
                face_row(h["2022/c d.jpg"], 0, bob[1], (10, 10, 50, 50)),
            ],
        )
        for name in ("2021/a.jpg", "2021/b.jpg", "2022/c d.jpg"):
            artefacts.record(conn, h[name], FACES_KIND, Outcome.done(), 1.0)
        faces_service.assign_new_faces(conn, created, world.ctx.settings, 1.0)
        world.faces = [face_id for face_id, _ in created]
        world.people = sorted(
            {int(faces_repo.get_face(conn, f)["person_id"]) for f in world.faces}  # type: ignore[index]
        )


def login_headers(client: TestClient) -> dict[str, str]:
    response = client.post("/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
