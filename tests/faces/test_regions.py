"""Faces named by sidecar face regions: parsing MWG / Microsoft regions, turning them with
the EXIF orientation, matching them to detected boxes, and real ticks with the real
detector on both databases (a region that arrives before or after the face scan, one that
goes away, and a recluster that keeps what a sidecar said)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from imageserver.config import Settings
from imageserver.curation import regions as curation_regions
from imageserver.db.tables import faces, media, people
from imageserver.faces import regions, service
from imageserver.scan.watcher import Watcher
from imageserver.work.context import AppContext
from tests.conftest import make_settings
from tests.curation.test_sidecars import xmp_sidecar
from tests.faces.test_drain import DATA, FACE_CENTER, face_root, rotated_copy
from tests.fixtures import make_jpeg
from tests.scan.test_watcher import add_library

WIDTH, HEIGHT = 427, 240  # obama-240p.jpg
FACE = (FACE_CENTER[0] / WIDTH, FACE_CENTER[1] / HEIGHT)  # its face's centre, fractions


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return make_settings(tmp_path, db_url, faces_enabled=True)


def mwg(*regions_: tuple[str, float, float, float, float]) -> str:
    """An exiftool assignment of MWG regions: (name, centre x, centre y, w, h) fractions."""
    listed = ",".join(
        f"{{Area={{X={x},Y={y},W={w},H={h},Unit=normalized}},Name={name},Type=Face}}"
        for name, x, y, w, h in regions_
    )
    return f"-XMP-mwg-rs:RegionInfo={{RegionList=[{listed}]}}"


# --- pure parts ---------------------------------------------------------------------------


def test_mwg_and_microsoft_regions_become_named_boxes() -> None:
    record: dict[str, Any] = {
        "XMP-mwg-rs:RegionInfo": {
            "AppliedToDimensions": {"W": 400, "H": 200, "Unit": "pixel"},
            "RegionList": [
                {"Area": {"X": 0.5, "Y": 0.5, "W": 0.2, "H": 0.4, "Unit": "normalized"},
                 "Name": "Ann", "Type": "Face"},
                {"Area": {"X": 100, "Y": 50, "W": 40, "H": 20, "Unit": "pixel"}, "Name": "Bo"},
                {"Area": {"X": 0.2, "Y": 0.2, "W": 0.1, "H": 0.1}, "Type": "Face"},  # no name
                {"Area": {"X": 0.7, "Y": 0.7, "W": 0.1, "H": 0.1}, "Name": "Rex", "Type": "Pet"},
                {"Area": {"X": 3.0, "Y": 0.5, "W": 0.1, "H": 0.1}, "Name": "Far"},  # outside
                {"Name": "Cy"},  # a name without a box (RegionName written alone)
            ],
        },
        "XMP-MP:RegionInfoMP": {
            "Regions": [{"PersonDisplayName": "Di", "Rectangle": "0.1, 0.2, 0.3, 0.4"}]
        },
    }  # fmt: skip
    names, boxes = curation_regions.from_record(record)
    assert names == ["Ann", "Bo", "Rex", "Far", "Cy", "Di"]
    assert boxes == [
        {"name": "Ann", "x": 0.4, "y": 0.3, "w": 0.2, "h": 0.4},
        {"name": "Bo", "x": 0.2, "y": 0.2, "w": 0.1, "h": 0.1},
        {"name": "Di", "x": 0.1, "y": 0.2, "w": 0.3, "h": 0.4},
    ]


def test_a_stored_box_turns_with_each_orientation() -> None:
    box = (0.1, 0.2, 0.3, 0.1)  # left, top, w, h of the stored image
    expected = {
        1: (0.1, 0.2, 0.3, 0.1),
        2: (0.6, 0.2, 0.3, 0.1),
        3: (0.6, 0.7, 0.3, 0.1),
        4: (0.1, 0.7, 0.3, 0.1),
        5: (0.2, 0.1, 0.1, 0.3),
        6: (0.7, 0.1, 0.1, 0.3),
        7: (0.7, 0.6, 0.1, 0.3),
        8: (0.2, 0.6, 0.1, 0.3),
    }
    for orientation, want in expected.items():
        got = regions.displayed(box, orientation)
        assert got == pytest.approx(want), orientation
    assert regions.displayed(box, None) == pytest.approx(box)


def test_matching_pairs_best_overlaps_once_and_skips_strangers() -> None:
    faces_ = [(0.1, 0.1, 0.2, 0.2), (0.6, 0.1, 0.2, 0.2), (0.4, 0.7, 0.1, 0.1)]
    regions_ = [(0.62, 0.12, 0.2, 0.2), (0.08, 0.1, 0.22, 0.22), (0.0, 0.9, 0.05, 0.05)]
    assert regions.match(faces_, regions_) == {0: 1, 1: 0}
    assert regions.iou((0, 0, 1, 1), (2, 2, 1, 1)) == 0.0


# --- real ticks ---------------------------------------------------------------------------


def face_of(ctx: AppContext, rel: str) -> dict[str, Any]:
    with ctx.engine.connect() as conn:
        digest = conn.execute(select(media.c.content_hash).where(media.c.rel_path == rel)).scalar()
        [row] = conn.execute(
            select(faces.c.id, faces.c.person_id, faces.c.assignment, people.c.name)
            .select_from(faces.outerjoin(people, people.c.id == faces.c.person_id))
            .where(faces.c.content_hash == digest)
        ).mappings()
        return dict(row)


def test_regions_name_faces_whichever_comes_first_and_follow_their_sidecar(
    client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path
) -> None:
    root = face_root(tmp_path, "upright.jpg")
    rotated_copy(DATA / "obama-240p.jpg", root / "rotated.jpg")  # stored 240x427, orientation 6
    make_jpeg(root / "plain.jpg")
    # before the face scan: a region on the face, and one on nobody (it names no one)
    xmp_sidecar(
        root / "upright.jpg.xmp",
        mwg(("Barack", FACE[0], FACE[1], 0.2, 0.35), ("Stranger", 0.1, 0.85, 0.1, 0.1)),
    )
    add_library(client, auth, root)

    Watcher(ctx).tick(full=True)
    upright = face_of(ctx, "upright.jpg")
    assert (upright["name"], upright["assignment"]) == ("Barack", "sidecar")
    with ctx.engine.connect() as conn:
        named = {n for (n,) in conn.execute(select(people.c.name)) if n}
    assert named == {"Barack"}  # no person for a region that covers no face

    # after the face scan: the rotated copy's region, on its *stored* pixels (MWG), turned
    # with orientation 6 lands on the displayed face; read as displayed it would not
    stored_x, stored_y = FACE[1], 1 - FACE[0]
    xmp_sidecar(root / "rotated.jpg.xmp", mwg(("Barack", stored_x, stored_y, 0.35, 0.2)))
    Watcher(ctx).tick(full=False)
    rotated = face_of(ctx, "rotated.jpg")
    assert (rotated["person_id"], rotated["assignment"]) == (upright["person_id"], "sidecar")
    listed = client.get("/people", headers=auth).json()["items"]
    assert [(p["name"], p["face_count"]) for p in listed if p["name"]] == [("Barack", 2)]

    # a recluster keeps what the sidecars said
    with ctx.engine.begin() as conn:
        service.recluster(conn, ctx.settings, 0.0)
    assert face_of(ctx, "rotated.jpg")["assignment"] == "sidecar"

    # the sidecar goes: its face is unnamed at the next quick tick; the other stays
    (root / "upright.jpg.xmp").unlink()
    Watcher(ctx).tick(full=False)
    assert face_of(ctx, "upright.jpg")["assignment"] == "none"
    assert face_of(ctx, "upright.jpg")["person_id"] is None
    assert face_of(ctx, "rotated.jpg")["name"] == "Barack"


def test_a_persons_own_assignment_wins_over_a_region(
    client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path
) -> None:
    root = face_root(tmp_path, "upright.jpg")
    add_library(client, auth, root)
    Watcher(ctx).tick(full=True)
    face = face_of(ctx, "upright.jpg")
    with ctx.engine.begin() as conn:
        mine = service.repo.create_person(conn, 0.0, "Mr President")
        service.repo.assign(conn, [face["id"]], mine, "user")
    xmp_sidecar(root / "upright.jpg.xmp", mwg(("Barack", FACE[0], FACE[1], 0.2, 0.35)))
    Watcher(ctx).tick(full=False)
    after = face_of(ctx, "upright.jpg")
    assert (after["name"], after["assignment"]) == ("Mr President", "user")
