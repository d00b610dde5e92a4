"""RAW+JPEG pairs and live photos are linked; both rows stay."""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from imageserver.scan.companions import desired_links
from imageserver.scan.watcher import Watcher
from imageserver.work.context import AppContext
from tests.conftest import CORPUS
from tests.fixtures import make_jpeg, make_video
from tests.scan.test_watcher import add_library, rows


def row(i: int, name: str, kind: str, fmt: str, duration: float | None = None) -> dict[str, object]:
    return {"id": i, "folder": "f", "name": name, "kind": kind, "format": fmt, "duration": duration}


def test_desired_links_rules() -> None:
    links = desired_links(
        [
            row(1, "IMG_1.JPG", "photo", "jpeg"),
            row(2, "IMG_1.CR2", "photo", "cr2"),
            row(3, "IMG_2.HEIC", "photo", "heic"),
            row(4, "IMG_2.MOV", "video", "mov", 2.9),
            row(5, "IMG_3.HEIC", "photo", "heic"),
            row(6, "IMG_3.MOV", "video", "mov", 120.0),  # too long for a live photo
            row(7, "IMG_4.NEF", "photo", "nef"),  # RAW alone: nothing to link to
            row(8, "IMG_5.jpg", "photo", "jpeg"),
            row(9, "IMG_5.heic", "photo", "heic"),  # two stills: the JPEG leads
        ]
    )
    # Two stills of one name are both shown: only RAWs and short videos become companions.
    assert links == {2: (1, "raw"), 4: (3, "live")}


def test_raw_and_live_photo_are_linked_in_a_tick(
    client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path
) -> None:
    root = tmp_path / "lib"
    make_jpeg(root / "IMG_0001.JPG", size=(64, 48))
    raw = CORPUS / "photos" / "raw" / "Nikon.nef"
    if raw.exists():
        shutil.copy(raw, root / "IMG_0001.NEF")
    else:  # without the corpus a TIFF-bodied .nef is enough to exercise linking
        (root / "IMG_0001.NEF").write_bytes(b"II*\x00\x08\x00\x00\x00" + b"\x00" * 64)
    make_jpeg(root / "IMG_0002.JPG", size=(64, 48), color=(0, 90, 0))
    make_video(root / "IMG_0002.MOV", seconds=1.0, audio=False)
    add_library(client, auth, root)
    Watcher(ctx).tick(full=True)
    found = rows(ctx)
    assert found["IMG_0001.NEF"]["companion_id"] == found["IMG_0001.JPG"]["id"]
    assert found["IMG_0001.NEF"]["companion_role"] == "raw"
    assert found["IMG_0002.MOV"]["companion_id"] == found["IMG_0002.JPG"]["id"]
    assert found["IMG_0002.MOV"]["companion_role"] == "live"
    # The grid shows one item per group; the detail lists the companions.
    listed = client.get("/media", headers=auth).json()["items"]
    assert {i["path"] for i in listed} == {"IMG_0001.JPG", "IMG_0002.JPG"}
    jpeg = client.get(f"/media/{found['IMG_0002.JPG']['id']}", headers=auth).json()
    assert jpeg["companions"] == [found["IMG_0002.MOV"]["id"]]
    everything = client.get("/media", headers=auth, params={"include_companions": True}).json()
    assert len(everything["items"]) == 4
