"""Which picture a scan reads: the preview by default, the original when more is asked."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from imageserver.config import Settings
from imageserver.faces.source import SourceError, load
from imageserver.media.layout import thumb_path
from tests.fixtures import make_jpeg

DIGEST = "ab" * 32


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "data", **values)  # type: ignore[arg-type]


def row(tmp_path: Path, width: int | None, height: int | None) -> dict[str, object]:
    return {
        "content_hash": DIGEST,
        "root_path": str(tmp_path / "lib"),
        "rel_path": "photo.jpg",
        "width": width,
        "height": height,
    }


def preview(s: Settings, size: tuple[int, int]) -> None:
    path = thumb_path(s.thumbs_dir, DIGEST, "large")
    path.parent.mkdir(parents=True)
    Image.new("RGB", size, (90, 90, 90)).save(path, "WEBP")


def test_the_preview_is_read_and_shrunk_to_face_max_side(tmp_path: Path) -> None:
    s = settings(tmp_path, face_max_side=720)
    preview(s, (1440, 960))
    image = load(s, row(tmp_path, 6000, 4000))
    assert (image.source, image.displayed) == ("preview", (6000, 4000))
    assert image.pixels.shape == (480, 720, 3)


def test_a_small_preview_is_the_original_when_metadata_is_missing(tmp_path: Path) -> None:
    s = settings(tmp_path)
    preview(s, (500, 375))
    assert load(s, row(tmp_path, None, None)).displayed == (500, 375)


def test_the_original_is_decoded_when_face_max_side_exceeds_the_preview(tmp_path: Path) -> None:
    s = settings(tmp_path, thumb_large_px=256, face_max_side=600)
    preview(s, (256, 192))
    make_jpeg(tmp_path / "lib" / "photo.jpg", size=(480, 640), orientation=6)
    image = load(s, row(tmp_path, 640, 480))
    assert image.source == "original"
    assert image.pixels.shape == (450, 600, 3)  # turned upright (EXIF 6) and shrunk
    # An original Pillow cannot read falls back to the preview.
    (tmp_path / "lib" / "photo.jpg").write_bytes(b"not a picture")
    assert load(s, row(tmp_path, 640, 480)).source == "preview"


def test_a_missing_preview_is_a_transient_failure(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        load(settings(tmp_path), row(tmp_path, 100, 100))
    assert not info.value.permanent and "preview missing" in info.value.reason
