"""A small world for `GET /search`, built once per module and database: two libraries
(A granted to the member bob, B not), photos with dates, cameras, GPS, text, people,
albums and marks, one video, and two clients on the same database (with the tiny CLIP
model and without any model)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, update

from imageserver.clock import FakeClock
from imageserver.db.tables import faces, media, people
from imageserver.db.tables import places as places_table
from imageserver.ml.encoders import close_encoder
from imageserver.ocr import repo as ocr_repo
from imageserver.scan.pipeline import STAGES
from imageserver.scan.watcher import Watcher
from imageserver.server.app import create_app
from imageserver.server.background import close_services
from imageserver.server.bootstrap import bootstrap
from imageserver.work.context import AppContext
from tests.conftest import MEMBER_PASSWORD, login, make_settings
from tests.faces.scene import face_row
from tests.fixtures import make_jpeg, make_video
from tests.ml.tiny_clip import TinyClip

LYON = (45.7640, 4.8357)
LISBON = (38.7223, -9.1393)
SKIPPED = {"hls", "faces", "ocr"}  # faces and text are written as rows below


@dataclass
class World:
    ctx: AppContext  # with the tiny model
    clip: TestClient  # with the tiny model
    plain: TestClient  # no model configured
    admin: dict[str, str]
    bob: dict[str, str]
    lib_a: int
    lib_b: int
    ids: dict[str, int] = field(default_factory=dict)  # "a/red.jpg" -> media id
    hashes: dict[str, str] = field(default_factory=dict)
    album: int = 0
    place_lyon: str = ""
    country_pt: str = ""

    def names(self, hits: list[dict[str, object]]) -> set[str]:
        by_id = {v: k for k, v in self.ids.items()}
        return {by_id[int(h["item"]["id"])] for h in hits}  # type: ignore[index]


def _files(root_a: Path, root_b: Path) -> None:
    make_jpeg(
        root_a / "red.jpg",
        size=(80, 60),
        color=(250, 10, 10),
        taken=datetime(2019, 7, 14, 12),
        make="Google",
        model="Pixel 7",
        gps=LYON,
    )
    make_jpeg(
        root_a / "trip" / "blue.jpg",
        size=(80, 60),
        color=(10, 10, 250),
        taken=datetime(2020, 2, 1, 9),
        make="Canon",
        model="EOS R6",
        gps=LISBON,
    )
    make_jpeg(
        root_a / "trip" / "green.jpg",
        size=(80, 60),
        color=(10, 250, 10),
        taken=datetime(2018, 12, 31, 23),
    )
    make_jpeg(
        root_a / "receipt_scan.jpg",
        size=(80, 60),
        color=(240, 240, 20),
        taken=datetime(2021, 3, 5, 10),
    )
    make_video(root_a / "clips" / "walk.mp4", seconds=1.0, size="160x120", audio=False)
    make_jpeg(
        root_b / "secret-red.jpg",
        size=(80, 60),
        color=(240, 20, 20),
        taken=datetime(2019, 7, 20, 8),
        make="Google",
        model="Pixel 7",
        gps=LYON,
    )
    make_jpeg(
        root_b / "trip" / "secret-sign.jpg",
        size=(80, 60),
        color=(20, 200, 220),
        taken=datetime(2021, 3, 6, 10),
    )


def _post(client: TestClient, auth: dict[str, str], url: str, body: object) -> dict[str, object]:
    response = client.post(url, headers=auth, json=body)
    assert response.status_code in (200, 201), response.text
    found: dict[str, object] = response.json()
    return found


def build_world(tmp: Path, db_url: str, tiny: TinyClip) -> Iterator[World]:
    root_a, root_b = tmp / "alpha", tmp / "bravo"
    _files(root_a, root_b)
    clock = FakeClock()
    ctx = bootstrap(
        make_settings(tmp, db_url, clip_model_path=tiny.root, clip_search_threshold=-1.0),
        clock=clock,
    ).ctx
    plain_ctx = bootstrap(make_settings(tmp / "plain", db_url), clock=clock).ctx
    with (
        TestClient(create_app(ctx, background=False)) as clip,
        TestClient(create_app(plain_ctx, background=False)) as plain,
    ):
        admin = {"Authorization": f"Bearer {login(clip)}"}
        lib_a = int(
            _post(clip, admin, "/libraries", {"name": "alpha", "root_path": str(root_a)})["id"]
        )  # type: ignore[call-overload]
        lib_b = int(
            _post(clip, admin, "/libraries", {"name": "bravo", "root_path": str(root_b)})["id"]
        )  # type: ignore[call-overload]
        user = _post(
            clip,
            admin,
            "/users",
            {"username": "bob", "password": MEMBER_PASSWORD, "role": "member"},
        )
        bob_id = int(user["id"])  # type: ignore[call-overload]
        granted = clip.put(f"/libraries/{lib_a}/members/{bob_id}", headers=admin)
        assert granted.status_code in (200, 201, 204), granted.text
        bob = {"Authorization": f"Bearer {login(clip, 'bob', MEMBER_PASSWORD)}"}
        watcher = Watcher(ctx, stages=[s for s in STAGES if s.name not in SKIPPED])
        results = watcher.tick(full=True)
        for _ in range(10):
            if not any(t.pending.get("embeddings", 0) for t in results):
                break
            results = watcher.tick(full=False)
        world = World(ctx, clip, plain, admin, bob, lib_a, lib_b)
        _rows(world)
        _derived(world)
        _collections(world, bob_id)
        yield world
    for c in (ctx, plain_ctx):
        close_encoder(c)
        close_services(c)
        c.engine.dispose()


def _rows(world: World) -> None:
    with world.ctx.engine.begin() as conn:
        rows = conn.execute(
            select(media.c.id, media.c.library_id, media.c.rel_path, media.c.content_hash)
        ).all()
        for r in rows:
            key = ("a/" if r.library_id == world.lib_a else "b/") + r.rel_path
            world.ids[key], world.hashes[key] = int(r.id), str(r.content_hash)
        # the fixture JPEGs carry no lens tag: the metadata reader's column, set here
        conn.execute(
            update(media)
            .where(media.c.id == world.ids["a/trip/blue.jpg"])
            .values(lens="RF 50mm F1.8")
        )
    assert len(world.ids) == 7, world.ids


def _derived(world: World) -> None:
    h = world.hashes
    with world.ctx.engine.begin() as conn:
        ocr_repo.insert_texts(
            conn,
            [
                _text(h["a/receipt_scan.jpg"], "BAKERY\nTOTAL 12.50\nEXIT only"),
                _text(h["a/red.jpg"], "Exit"),
                _text(h["b/trip/secret-sign.jpg"], "EXIT only\nBakery"),
            ],
        )
        for person_id, name in ((1, "Anna Maria"), (2, "Bob")):
            conn.execute(
                insert(people).values(
                    id=person_id, name=name, hidden=False, created_at=1.0, updated_at=1.0
                )
            )
        rng = np.random.default_rng(1)
        for i, (key, person) in enumerate(
            (("a/red.jpg", 1), ("b/secret-red.jpg", 1), ("a/trip/blue.jpg", 2))
        ):
            row = face_row(h[key], 0, rng.normal(size=128).astype(np.float32), (1, 1, 20, 20))
            row.update(id=100 + i, person_id=person, assignment="user")
            conn.execute(insert(faces).values(**row))
        placed = {r.content_hash: r for r in conn.execute(select(places_table))}
    lyon, lisbon = placed[h["a/red.jpg"]], placed[h["a/trip/blue.jpg"]]
    world.place_lyon = str(lyon.place or lyon.region)
    world.country_pt = str(lisbon.country)
    assert lisbon.country_code == "PT" and lyon.country_code == "FR"


def _text(digest: str, text: str) -> dict[str, object]:
    lines = [
        {"text": t, "confidence": 0.9, "box": [[0, 0], [1, 0], [1, 1], [0, 1]]}
        for t in text.split("\n")
    ]
    return {
        "content_hash": digest,
        "text": text,
        "lines": lines,
        "engine": "test",
        "created_at": 1.0,
    }


def _collections(world: World, bob_id: int) -> None:
    c, admin, ids = world.clip, world.admin, world.ids
    album = _post(c, admin, "/albums", {"name": "Holidays"})
    world.album = int(album["id"])  # type: ignore[call-overload]
    _post(
        c,
        admin,
        f"/albums/{world.album}/items",
        {"ids": [ids["a/trip/blue.jpg"], ids["b/secret-red.jpg"]]},
    )
    _post(c, admin, f"/albums/{world.album}/members", {"user_id": bob_id, "role": "viewer"})
    assert c.put(f"/media/{ids['a/red.jpg']}/favorite", headers=admin).status_code == 200
    assert c.put(f"/media/{ids['b/secret-red.jpg']}/favorite", headers=admin).status_code == 200
    assert c.put(f"/media/{ids['a/trip/green.jpg']}/archive", headers=admin).status_code == 200
    # bob's own marks: his favorite is not the admin's
    assert (
        c.put(f"/media/{ids['a/receipt_scan.jpg']}/favorite", headers=world.bob).status_code == 200
    )
