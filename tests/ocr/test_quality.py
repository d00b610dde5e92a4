"""The real PP-OCR models read generated photographs and the corpus's labelled photo."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from imageserver.ocr import engine
from tests.ocr.pictures import normalised, text_photo

CASES = [
    (["RECEIPT 4711", "Coffee shop total"], {"receipt", "4711", "coffee", "shop", "total"}, 0),
    (["Trailhead North", "Parking ahead"], {"trailhead", "north", "parking", "ahead"}, 1),
    (["Welcome to Lisbon"], {"welcome", "lisbon"}, 2),
]


@pytest.fixture(scope="module")
def ocr() -> object:
    return engine.get_engine()  # one engine for the module (and the process)


@pytest.mark.parametrize(("lines", "words", "seed"), CASES)
def test_reads_the_words_of_a_photo(
    ocr: object, tmp_path: Path, lines: list[str], words: set[str], seed: int
) -> None:
    angle = (-2.0, 2.5, 4.0)[seed]
    picture = text_photo(tmp_path / "p.jpg", lines, seed=seed, angle=angle)
    reading = engine.read(picture.read_bytes(), 0.5)
    found = normalised(reading.text)
    missing = {w for w in words if w not in found}
    assert not missing, f"not read: {missing} in {reading.text!r}"
    assert len(reading.lines) == len(lines)
    for line in reading.lines:
        assert 0.5 <= line.confidence <= 1
        assert len(line.box) == 4 and all(0 <= c <= 1 for p in line.box for c in p)
    # top to bottom, and the boxes sit on the card (upper part of the picture)
    tops = [min(p[1] for p in line.box) for line in reading.lines]
    assert tops == sorted(tops) and tops[0] < 0.35


def test_a_picture_without_text_reads_nothing(ocr: object) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (120, 160, 90)).save(buffer, "JPEG")
    assert engine.read(buffer.getvalue(), 0.5).lines == []


def test_undecodable_bytes_are_the_picture_s_fault(ocr: object) -> None:
    with pytest.raises(engine.Unreadable):
        engine.read(b"\xff\xd8\xff\xe0" + b"\0" * 64, 0.5)


def test_corpus_orientation_photo_labels(ocr: object, corpus: Path) -> None:
    """photos/orientation/Landscape_6.jpg carries 'top/left/right/bottom' labels (MANIFEST);
    upright (EXIF applied) and at preview-like size, all four words are read."""
    with Image.open(corpus / "photos" / "orientation" / "Landscape_6.jpg") as image:
        upright = ImageOps.exif_transpose(image)
        upright.thumbnail((720, 720))
        buffer = io.BytesIO()
        upright.convert("RGB").save(buffer, "JPEG", quality=85)
    reading = engine.read(buffer.getvalue(), 0.5)
    words = {line.text.lower().strip(".,:;") for line in reading.lines}
    assert {"top", "left", "right", "bottom"} <= words, reading.text
    top = next(line for line in reading.lines if line.text.lower().strip(".") == "top")
    bottom = next(line for line in reading.lines if line.text.lower().strip(".") == "bottom")
    assert max(p[1] for p in top.box) < min(p[1] for p in bottom.box)
