"""Two indexed libraries and three users, for the scope proof (test_scope_leaks.py).

Library A ("family", the reliability world's files) and library B ("zanzibar-vault")
are both indexed for real: photos hashed, thumbnailed and embedded, a video in each with
its HLS stream, and one photo of A copied into B (a duplicate across the two). Faces and
people are written directly: Alice only in A, Bob in both (his cover is a B face), Carol
only in B. Everything of B carries a name or a number nobody else has ("zulu", "zanzibar",
ids from 700001 / 880001 / 990001 / 9191), so a leak is a plain substring or value match.

Users: the admin (both libraries granted, as an admin's own libraries are), `member`
(granted A only) and `nobody` (granted nothing).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import delete, insert, select, text

from imageserver.auth import service as auth_service
from imageserver.clock import FakeClock
from imageserver.db.tables import faces, media, people
from imageserver.faces import repo as faces_repo
from imageserver.libraries import repo as libraries_repo
from imageserver.scan.watcher import Watcher
from imageserver.server.app import create_app
from imageserver.server.bootstrap import bootstrap
from imageserver.work import artefacts
from imageserver.work.artefacts import FACES_KIND, Outcome
from imageserver.work.context import AppContext
from tests.conftest import make_settings
from tests.faces.scene import face_row
from tests.faces.synthetic import faces_of, identities
from tests.fixtures import insert_library, make_jpeg, make_video
from tests.ml.tiny_clip import TinyClip

A_ID, B_ID = 4242, 9191
A_NAME, B_NAME = "family", "zanzibar-vault"
B_MEDIA_FROM = 700_001
B_FACE_FROM = 880_001
ALICE, BOB, CAROL = 501, 502, 990_001
MEMBER_PASSWORD = "member password one"
ZANZIBAR = (-6.1659, 39.2026)  # B's one GPS fix of its own: its place name is a secret
B_FILES = (
    "zulu-folder/zulu-secret.jpg",
    "zulu-folder/zulu-second.jpg",
    "zulu-dupes/zulu-copy-of-a.jpg",
    "zulu-clips/zulu-movie.mp4",
)


@dataclass
class ScopeWorld:
    ctx: AppContext
    client: TestClient
    root_a: Path
    root_b: Path
    media_a: dict[str, int]
    media_b: dict[str, int]
    hashes_a: dict[str, str]
    hashes_b: dict[str, str]
    faces_a: list[int] = field(default_factory=list)
    faces_b: list[int] = field(default_factory=list)
    bob_faces_a: list[int] = field(default_factory=list)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)
    # Albums and share links (tests/albums): values for the "a" and "b" probes.
    collections: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def b_only_hashes(self) -> set[str]:
        return set(self.hashes_b.values()) - set(self.hashes_a.values())

    def secret_strings(self) -> list[str]:
        """Text of B that must never reach a caller who may not see B."""
        out = [str(self.root_b), B_NAME, "zanzibar", "Zanzibar", "zulu"]
        for digest in self.b_only_hashes:
            out += [digest, digest[:16]]
        return out

    def secret_ints(self) -> set[int]:
        return {B_ID, CAROL, *self.media_b.values(), *self.faces_b}


def make_b_sources(root: Path, a_sources: Path) -> Path:
    make_jpeg(root / B_FILES[0], color=(10, 200, 10), size=(480, 360), gps=ZANZIBAR)
    make_jpeg(root / B_FILES[1], color=(240, 240, 10), size=(360, 480))
    (root / B_FILES[2]).parent.mkdir(parents=True)
    shutil.copy(a_sources / "2021" / "a.jpg", root / B_FILES[2])
    make_video(root / B_FILES[3], seconds=1.5, audio=False, extra=["-g", "25"])
    # curation: a sidecar whose tags and title name B ("zulu"): /tags and item details
    # must never show them to a member without B
    (root / (B_FILES[0] + ".xmp")).write_text(B_SIDECAR)
    return root


B_SIDECAR = """<?xpacket begin='' id='W5M0MpCehiHzreSzNTczkc9d'?>
<x:xmpmeta xmlns:x='adobe:ns:meta/'>
 <rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>
  <rdf:Description rdf:about=''
    xmlns:dc='http://purl.org/dc/elements/1.1/'
    xmlns:lr='http://ns.adobe.com/lightroom/1.0/'
    xmlns:xmp='http://ns.adobe.com/xap/1.0/'>
   <xmp:Rating>5</xmp:Rating>
   <dc:title><rdf:Alt><rdf:li xml:lang='x-default'>zulu title</rdf:li></rdf:Alt></dc:title>
   <dc:subject><rdf:Bag><rdf:li>zulu-keyword</rdf:li></rdf:Bag></dc:subject>
   <lr:hierarchicalSubject><rdf:Bag><rdf:li>Zulu|zulu-place</rdf:li></rdf:Bag></lr:hierarchicalSubject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end='w'?>
"""


def _tick_until_idle(watcher: Watcher) -> None:
    results = watcher.tick(full=True)
    for _ in range(10):
        if not any(sum(t.pending.values()) for t in results):
            return
        results = watcher.tick(full=False)


def _rows(ctx: AppContext, library_id: int) -> list[tuple[str, int, str]]:
    with ctx.engine.connect() as conn:
        query = select(media.c.rel_path, media.c.id, media.c.content_hash).where(
            media.c.library_id == library_id, media.c.retired_at.is_(None)
        )
        return [(r[0], r[1], r[2]) for r in conn.execute(query)]


def _bump_media_ids(ctx: AppContext, root_a: Path) -> None:
    """Make B's media ids start at B_MEDIA_FROM on both databases (a placeholder row)."""
    with ctx.engine.begin() as conn:
        row = dict(conn.execute(select(media).limit(1)).mappings().one())
        row.update(id=B_MEDIA_FROM - 1, rel_path="placeholder.jpg", retired_at=1.0)
        conn.execute(insert(media).values(**row))
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"SELECT setval('media_id_seq', {B_MEDIA_FROM - 1})"))


def build_scope_world(
    tmp: Path, db_url: str, a_sources: Path, b_sources: Path, model: TinyClip
) -> ScopeWorld:
    settings = make_settings(
        tmp, db_url, clip_model_path=model.root, hls_preset="ultrafast", hls_segment_seconds=1
    )
    ctx = bootstrap(settings, clock=FakeClock()).ctx
    root_a, root_b = tmp / "family-root", tmp / "zanzibar-root"
    shutil.copytree(a_sources, root_a)
    shutil.copytree(b_sources, root_b)
    watcher = Watcher(ctx)
    insert_library(ctx.engine, A_NAME, root_a, A_ID)
    _tick_until_idle(watcher)
    _bump_media_ids(ctx, root_a)
    insert_library(ctx.engine, B_NAME, root_b, B_ID)
    _tick_until_idle(watcher)
    with ctx.engine.begin() as conn:
        conn.execute(delete(media).where(media.c.id == B_MEDIA_FROM - 1))
    rows_a, rows_b = _rows(ctx, A_ID), _rows(ctx, B_ID)
    assert len(rows_a) == 6 and len(rows_b) == len(B_FILES), (rows_a, rows_b)
    assert all(r[2] for r in rows_a + rows_b), "every file is hashed"
    assert min(r[1] for r in rows_b) >= B_MEDIA_FROM
    world = ScopeWorld(
        ctx=ctx,
        client=TestClient(create_app(ctx, background=False)),
        root_a=root_a,
        root_b=root_b,
        media_a={r[0]: r[1] for r in rows_a},
        media_b={r[0]: r[1] for r in rows_b},
        hashes_a={r[0]: r[2] for r in rows_a},
        hashes_b={r[0]: r[2] for r in rows_b},
    )
    _add_people(world)
    _add_users(world)
    _add_collections(world)
    return world


def _add_people(world: ScopeWorld) -> None:
    ids = identities(3, seed=7)
    alice, bob, carol = (faces_of(ids[i], 3, seed=10 + i) for i in range(3))
    a, b = world.hashes_a, world.hashes_b
    now = 1.0
    with world.ctx.engine.begin() as conn:
        for person_id, name in ((ALICE, "Alice"), (BOB, "Bob"), (CAROL, "Carol")):
            conn.execute(
                insert(people).values(
                    id=person_id, name=name, hidden=False, created_at=now, updated_at=now
                )
            )

        def put(
            face_id: int,
            digest: str,
            index: int,
            vector: object,
            person: int,
            box: tuple[int, int, int, int],
            how: str = "auto",
        ) -> int:
            row = face_row(digest, index, vector, box)  # type: ignore[arg-type]
            row.update(id=face_id, person_id=person, assignment=how)
            conn.execute(insert(faces).values(**row))
            return face_id

        world.faces_a = [
            put(101, a["2021/a.jpg"], 0, alice[0], ALICE, (100, 100, 80, 80)),
            put(102, a["2021/b.jpg"], 0, alice[1], ALICE, (200, 150, 120, 120)),
            put(103, a["2022/c d.jpg"], 0, bob[0], BOB, (10, 10, 50, 50)),
        ]
        world.bob_faces_a = [103]
        world.faces_b = [
            # Bob's biggest, user-confirmed face is in B: his stored cover.
            put(
                B_FACE_FROM,
                b["zulu-folder/zulu-secret.jpg"],
                0,
                bob[1],
                BOB,
                (50, 50, 300, 300),
                "user",
            ),
            put(
                B_FACE_FROM + 1,
                b["zulu-folder/zulu-secret.jpg"],
                1,
                carol[0],
                CAROL,
                (20, 20, 90, 90),
            ),
            put(
                B_FACE_FROM + 2,
                b["zulu-folder/zulu-second.jpg"],
                0,
                carol[1],
                CAROL,
                (40, 40, 100, 100),
            ),
        ]
        for person_id, cover in ((ALICE, 102), (BOB, B_FACE_FROM), (CAROL, B_FACE_FROM + 2)):
            faces_repo.update_person(conn, person_id, {"cover_face_id": cover})
        for digest in {h for p, h in [*a.items(), *b.items()] if not p.endswith(".mp4")}:
            artefacts.record(conn, digest, FACES_KIND, Outcome.done(), now)


def _add_users(world: ScopeWorld) -> None:
    ctx = world.ctx
    with ctx.engine.begin() as conn:
        for name in ("member", "nobody"):
            world.user_ids[name] = auth_service.create_user(conn, name, MEMBER_PASSWORD, 1.0)
        libraries_repo.grant(conn, A_ID, world.user_ids["member"], 1.0)
    from tests.conftest import ADMIN_PASSWORD

    for name, password in (
        ("admin", ADMIN_PASSWORD),
        ("member", MEMBER_PASSWORD),
        ("nobody", MEMBER_PASSWORD),
    ):
        response = world.client.post("/auth/login", json={"username": name, "password": password})
        assert response.status_code == 200, response.text
        world.headers[name] = {"Authorization": f"Bearer {response.json()['access_token']}"}


def _add_collections(world: ScopeWorld) -> None:
    """An admin album mixing A and B shared with `member` (who must see only A of it, and
    not its B cover), a private admin album of B, a member's link to a photo of A and an
    admin's link to B."""
    c, h = world.client, world.headers
    a, b = world.media_a, world.media_b
    mixed = c.post("/albums", json={"name": "Household trip"}, headers=h["admin"]).json()["id"]
    ids = [a["2021/a.jpg"], a["2021/b.jpg"], b[B_FILES[0]], b[B_FILES[1]]]
    added = c.post(f"/albums/{mixed}/items", json={"ids": ids}, headers=h["admin"])
    assert added.status_code == 200, added.text
    cover = c.patch(f"/albums/{mixed}", json={"cover_media_id": b[B_FILES[0]]}, headers=h["admin"])
    assert cover.status_code == 200, cover.text
    member = {"user_id": world.user_ids["member"], "role": "editor"}
    assert c.post(f"/albums/{mixed}/members", json=member, headers=h["admin"]).status_code == 200
    private = c.post("/albums", json={"name": "Vault album"}, headers=h["admin"]).json()["id"]
    c.post(f"/albums/{private}/items", json={"ids": [b[B_FILES[0]]]}, headers=h["admin"])
    mine = c.post(
        "/shares",
        json={"media_ids": [a["2021/a.jpg"]], "allow_download": True},
        headers=h["member"],
    )
    assert mine.status_code == 201, mine.text
    theirs = c.post("/shares", json={"media_ids": [b[B_FILES[0]]]}, headers=h["admin"]).json()
    world.collections = {
        "a": {
            "album_id": str(mixed),
            "share_id": str(mine.json()["id"]),
            "token": mine.json()["token"],
        },
        "b": {"album_id": str(private), "share_id": str(theirs["id"]), "token": theirs["token"]},
    }
