"""The dlib adapter on a real face: HOG, CNN, verification, and that nothing else imports dlib."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image

from imageserver.faces import detector

DATA = Path(__file__).resolve().parents[1] / "data" / "faces"
SRC = Path(__file__).resolve().parents[2] / "src" / "imageserver"


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"))


def test_hog_and_cnn_find_the_same_man() -> None:
    with Image.open(DATA / "obama-240p.jpg") as opened:
        photo = opened.convert("RGB")
    [hog] = detector.detect(pixels(photo), upsample=1)
    assert hog.detector == "hog" and hog.score > detector.HOG_SURE_SCORE
    assert len(hog.landmarks) == 5 and hog.embedding.shape == (128,)
    x, y = hog.landmarks[4]  # the nose sits inside the box
    assert hog.box.x < x < hog.box.x + hog.box.w and hog.box.y < y < hog.box.y + hog.box.h
    # The CNN (slow) on a small enlarged crop around the face.
    crop = photo.crop((150, 0, 300, 130)).resize((225, 195))
    [cnn] = detector.detect(pixels(crop), detector="cnn")
    assert cnn.detector == "cnn" and cnn.box.w > 60
    assert float(np.linalg.norm(cnn.embedding - hog.embedding)) < 0.3  # same man


def test_nothing_on_pictures_without_faces() -> None:
    flat = np.full((300, 400, 3), 128, dtype=np.uint8)
    assert detector.detect(flat, upsample=1) == []
    noise = np.random.default_rng(1).integers(0, 255, (300, 400, 3), dtype=np.uint8)
    assert detector.detect(noise, upsample=1, verify=True) == []


def test_only_the_adapter_imports_dlib() -> None:
    importers = [
        path.relative_to(SRC).as_posix()
        for path in SRC.rglob("*.py")
        if re.search(r"^\s*(import dlib|from dlib)", path.read_text(), re.M)
    ]
    assert importers == ["faces/detector.py"]
