"""A small world for the collections tests: two libraries, three users, rows written
directly (no scan), once per database per module.

Library A ("home") is granted to bob and carol, library B ("vault") to carol only; the
admin has both. Files exist on disk (originals, zips) and A's thumbnails are planted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, insert

from imageserver.auth import service as auth_service
from imageserver.clock import FakeClock
from imageserver.db.tables import media
from imageserver.libraries import repo as libraries_repo
from imageserver.media.layout import thumb_path
from imageserver.server.app import create_app
from imageserver.server.bootstrap import bootstrap
from imageserver.work.context import AppContext
from tests.conftest import MEMBER_PASSWORD, login, make_settings, truncate_all
from tests.fixtures import insert_library

A_FILES = {
    "trip/one.jpg": datetime(2020, 6, 15, 10, 0),
    "trip/two.jpg": datetime(2021, 6, 15, 9, 0),
    "trip/sub/three.jpg": datetime(2022, 6, 16, 8, 0),
    "home/four.jpg": datetime(2023, 1, 1, 12, 0),
    "home/five.jpg": datetime(2021, 6, 15, 18, 0),
}
B_FILES = {
    "zulu/secret.jpg": datetime(2020, 6, 15, 11, 0),
    "zulu/other.jpg": datetime(2019, 6, 15, 11, 0),
}


@dataclass
class World:
    ctx: AppContext
    client: TestClient
    lib_a: int
    lib_b: int
    root_a: Path
    a: dict[str, int] = field(default_factory=dict)
    b: dict[str, int] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    uid: dict[str, int] = field(default_factory=dict)

    def h(self, name: str) -> dict[str, str]:
        return self.headers[name]


def insert_item(
    conn: Connection,
    lib: int,
    rel: str,
    taken: datetime,
    content_hash: str,
    kind: str = "photo",
    **values: Any,
) -> int:
    """One live, hashed, described media row (no file): the collections tests' unit."""
    folder, _, name = rel.rpartition("/")
    video = kind == "video"
    row = {
        "library_id": lib,
        "rel_path": rel,
        "folder": folder,
        "name": name,
        "kind": kind,
        "format": "mp4" if video else "jpeg",
        "mime": "video/mp4" if video else "image/jpeg",
        "size": 1,
        "mtime_ns": 1,
        "created_at": 1.0,
        "updated_at": 1.0,
        "seen_at": 1.0,
        "content_hash": content_hash,
        "hash_attempts": 0,
        "meta_status": "ok",
        "meta_attempts": 0,
        "taken_at": taken,
        "taken_at_source": "exif",
        **values,
    }
    return int(conn.execute(insert(media).values(**row).returning(media.c.id)).scalar_one())


def _files(root: Path, lib: int, files: dict[str, datetime], ctx: AppContext) -> dict[str, int]:
    out = {}
    with ctx.engine.begin() as conn:
        for rel, taken in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            data = f"jpeg bytes of {rel}".encode()
            path.write_bytes(data)
            digest = f"{lib:08x}{len(out):056x}"
            out[rel] = insert_item(
                conn,
                lib,
                rel,
                taken,
                digest,
                size=len(data),
                make="Canon",
                model="EOS 5D",
                latitude=48.85,
                longitude=2.35,
            )
            thumb = thumb_path(ctx.settings.thumbs_dir, digest, "small")
            thumb.parent.mkdir(parents=True, exist_ok=True)
            thumb.write_bytes(b"RIFF webp " + digest.encode())
    return out


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def w(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp(f"albums-{request.param}")
    if request.param == "sqlite":
        db = tmp / "imageserver.db"
        db.write_bytes(sqlite_template.read_bytes())
        url = f"sqlite:///{db}"
    else:
        url = request.getfixturevalue("pg_session_url")
        truncate_all(url)
    ctx = bootstrap(make_settings(tmp, url), clock=FakeClock()).ctx
    root_a, root_b = tmp / "home-root", tmp / "vault-root"
    root_a.mkdir()
    root_b.mkdir()
    lib_a = insert_library(ctx.engine, "home", root_a)
    lib_b = insert_library(ctx.engine, "vault", root_b)
    world = World(
        ctx=ctx,
        client=TestClient(create_app(ctx, background=False)),
        lib_a=lib_a,
        lib_b=lib_b,
        root_a=root_a,
    )
    world.a = _files(root_a, lib_a, A_FILES, ctx)
    world.b = _files(root_b, lib_b, B_FILES, ctx)
    with ctx.engine.begin() as conn:
        for name in ("bob", "carol", "dave"):
            world.uid[name] = auth_service.create_user(conn, name, MEMBER_PASSWORD, 1.0)
        libraries_repo.grant(conn, lib_a, world.uid["bob"], 1.0)
        libraries_repo.grant(conn, lib_a, world.uid["carol"], 1.0)
        libraries_repo.grant(conn, lib_b, world.uid["carol"], 1.0)
    with world.client:
        world.uid["admin"] = 1
        world.headers["admin"] = {"Authorization": f"Bearer {login(world.client)}"}
        for name in ("bob", "carol", "dave"):
            token = login(world.client, name, MEMBER_PASSWORD)
            world.headers[name] = {"Authorization": f"Bearer {token}"}
        yield world
    from imageserver.server.background import close_services

    close_services(ctx)
    ctx.engine.dispose()
