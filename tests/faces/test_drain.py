"""The face drain in a real tick with the real detector, on both databases."""

from __future__ import annotations

import shutil
from pathlib import Path

import piexif
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from imageserver.clock import FakeClock
from imageserver.config import Settings
from imageserver.db.tables import faces, media
from imageserver.faces import drain
from imageserver.media.layout import thumb_path
from imageserver.scan.pipeline import Stage
from imageserver.scan.watcher import Watcher, summary_line
from imageserver.work import artefacts
from imageserver.work.artefacts import FACES_KIND
from imageserver.work.context import AppContext
from tests.conftest import make_settings
from tests.fixtures import make_jpeg
from tests.scan.test_watcher import add_library


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Face detection on: the shared default turns it off to keep other suites fast."""
    return make_settings(tmp_path, db_url, faces_enabled=True)


DATA = Path(__file__).resolve().parents[1] / "data" / "faces"
# Where dlib finds the face of obama-240p.jpg (427x240), measured once.
FACE_CENTER = (221, 63)


def face_root(tmp_path: Path, *names: str) -> Path:
    """A library folder holding the face picture under each of these names."""
    root = tmp_path / "lib"
    root.mkdir()
    for name in names:
        shutil.copy(DATA / "obama-240p.jpg", root / name)
    return root


def rotated_copy(src: Path, dst: Path) -> Path:
    """The same picture stored turned a quarter left, with EXIF orientation 6 to undo it."""
    with Image.open(src) as image:
        stored = image.transpose(Image.Transpose.ROTATE_90)
    exif = piexif.dump({"0th": {piexif.ImageIFD.Orientation: 6}})
    stored.save(dst, "JPEG", quality=95, exif=exif)
    return dst


def faces_by_path(ctx: AppContext) -> dict[str, list[dict[str, object]]]:
    with ctx.engine.connect() as conn:
        rows = conn.execute(select(media.c.rel_path, media.c.content_hash)).all()
        found: dict[str, list[dict[str, object]]] = {}
        for path, digest in rows:
            query = select(faces).where(faces.c.content_hash == digest).order_by(faces.c.id)
            found[path] = [dict(r) for r in conn.execute(query).mappings()]
    return found


def center(face: dict[str, object]) -> tuple[float, float]:
    x, y, w, h = (int(face[k]) for k in ("box_x", "box_y", "box_w", "box_h"))  # type: ignore[call-overload]
    return x + w / 2, y + h / 2


def test_tick_detects_maps_orientation_clusters_and_fails_broken_files(
    client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path
) -> None:
    root = face_root(tmp_path, "upright.jpg")
    rotated_copy(DATA / "obama-240p.jpg", root / "rotated.jpg")
    make_jpeg(root / "plain.jpg")
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 300)
    add_library(client, auth, root)

    [t] = Watcher(ctx).tick(full=True)

    assert (t.counts["face_scanned"], t.counts["faces_found"], t.pending["faces"]) == (3, 2, 0)
    line = summary_line(t, 1.0)
    assert "faces_found=2" in line and "pending_faces=0" in line
    found = faces_by_path(ctx)
    assert len(found["upright.jpg"]) == len(found["rotated.jpg"]) == 1
    assert found["plain.jpg"] == [] and found["broken.jpg"] == []
    upright, rotated = found["upright.jpg"][0], found["rotated.jpg"][0]
    # Boxes are in displayed pixels: the EXIF-rotated copy's face is where the upright one is.
    assert (rotated["image_width"], rotated["image_height"]) == (427, 240)
    for face in (upright, rotated):
        cx, cy = center(face)
        assert abs(cx - FACE_CENTER[0]) <= 6 and abs(cy - FACE_CENTER[1]) <= 6, face
        assert len(face["landmarks"]) == 5  # type: ignore[arg-type]
        assert len(face["embedding"]) == 512  # type: ignore[arg-type]
    # Two pictures of one man: one person, made by the incremental step.
    assert upright["person_id"] is not None and upright["person_id"] == rotated["person_id"]
    with ctx.engine.connect() as conn:
        digest = conn.execute(
            select(media.c.content_hash).where(media.c.rel_path == "broken.jpg")
        ).scalar_one()
        state = artefacts.get(conn, digest, FACES_KIND)
    assert state is not None and state["status"] == "failed"
    assert str(state["detail"]).startswith("no decodable preview")

    # Nothing is scanned twice: the next tick finds no work.
    [again] = Watcher(ctx).tick(full=False)
    assert again.counts["face_scanned"] == 0 and again.pending["faces"] == 0


def test_missing_preview_is_retried_then_given_up(
    client: TestClient, auth: dict[str, str], ctx: AppContext, clock: FakeClock, tmp_path: Path
) -> None:
    root = face_root(tmp_path, "one.jpg")
    add_library(client, auth, root)
    ctx.settings.faces_enabled = False
    [t] = Watcher(ctx).tick(full=True)
    assert "face_scanned" not in t.counts and "faces" not in t.pending
    with ctx.engine.connect() as conn:
        digest = conn.execute(select(media.c.content_hash)).scalar_one()
    thumb_path(ctx.settings.thumbs_dir, digest, "large").unlink()
    ctx.settings.faces_enabled = True
    only_faces = Watcher(ctx, stages=[Stage("faces", drain.faces_stage)])
    for attempt in range(1, drain.MAX_ATTEMPTS + 1):
        only_faces.tick(full=False)
        with ctx.engine.connect() as conn:
            state = artefacts.get(conn, digest, FACES_KIND)
        assert state is not None and state["attempts"] == attempt
        expected = "failed" if attempt == drain.MAX_ATTEMPTS else "retry"
        assert state["status"] == expected, state
        clock.advance(artefacts.backoff(attempt) + 1)
    assert "preview missing" in str(state["detail"])
