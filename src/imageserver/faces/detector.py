"""The dlib adapter: the only module that imports dlib.

Weights are the files the `face-recognition-models` package installs (5-point landmarks,
ResNet 128-d embeddings, the MMOD CNN detector); the HOG detector is built into dlib.
Nothing is fetched over the network.

dlib's detectors and networks keep scratch state inside the object, so one model set must
not serve two threads at once. Sets are loaded lazily, at most one per concurrent caller,
and returned to a free list after each use: loading costs ~1 s, detection ~0.1-0.5 s.

HOG proposes; doubtful HOG candidates are confirmed by the CNN detector on a small crop
around them. On the corpus this removes HOG's false positives (a mission patch, dog faces)
and keeps its weak true ones (a child looking down, a three-quarter view) for ~0.1 s per
doubtful candidate, where running the CNN on a whole photo costs 10-20 s on a CPU.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from imageserver.faces.geometry import Box, Point

DetectorKind = Literal["hog", "cnn"]
Pixels = npt.NDArray[np.uint8]

# HOG scores: candidates start here; at or above SURE they are accepted as they are, below
# it they are confirmed by the CNN. Without verification dlib's own threshold (0) applies.
HOG_CANDIDATE_SCORE = -0.3
HOG_SURE_SCORE = 0.5
HOG_PLAIN_SCORE = 0.0
# The crop given to the CNN: the candidate scaled to this many pixels plus a margin (the
# CNN's smallest face is ~80 px; a 140 px crop takes ~0.1 s).
VERIFY_FACE_PX = 90
VERIFY_MARGIN = 0.3
MAX_VERIFY_PER_IMAGE = 8


class FaceModelsMissing(RuntimeError):
    """The weights package is not installed (a deployment problem: retried later)."""


@dataclass(frozen=True)
class RawFace:
    """One face in detection-image pixels."""

    box: Box
    landmarks: tuple[Point, ...]
    embedding: npt.NDArray[np.float32]
    score: float
    detector: str  # hog | hog+cnn | cnn


class _Models:
    """One set of dlib objects; used by one thread at a time."""

    def __init__(self) -> None:
        try:
            import face_recognition_models as weights
        except ImportError as exc:  # pragma: no cover - a broken install
            raise FaceModelsMissing(f"face-recognition-models not installed: {exc}") from exc
        import dlib

        self._weights = weights
        self.hog: Any = dlib.get_frontal_face_detector()
        self.shape: Any = dlib.shape_predictor(weights.pose_predictor_five_point_model_location())
        self.encoder: Any = dlib.face_recognition_model_v1(
            weights.face_recognition_model_location()
        )
        self._cnn: Any = None

    @property
    def cnn(self) -> Any:
        if self._cnn is None:
            import dlib

            self._cnn = dlib.cnn_face_detection_model_v1(
                self._weights.cnn_face_detector_model_location()
            )
        return self._cnn


_free: list[_Models] = []
_free_lock = threading.Lock()


@contextmanager
def _borrow() -> Iterator[_Models]:
    with _free_lock:
        models = _free.pop() if _free else None
    if models is None:
        models = _Models()
    try:
        yield models
    finally:
        with _free_lock:
            _free.append(models)


def warm_up(sets: int = 1) -> None:
    """Load `sets` model sets now (one per thread that will detect at once), so the first
    tick or a benchmark does not pay for loading."""
    with ExitStack() as stack:
        for _ in range(sets):
            stack.enter_context(_borrow())


def detect(
    image: Pixels, *, detector: DetectorKind = "hog", upsample: int = 0, verify: bool = True
) -> list[RawFace]:
    """Every face in an RGB HxWx3 uint8 image, with landmarks and embeddings."""
    import dlib

    image = np.ascontiguousarray(image, dtype=np.uint8)
    with _borrow() as m:
        if detector == "cnn":
            found = [(d.rect, float(d.confidence), "cnn") for d in m.cnn(image, upsample)]
        else:
            found = _hog(m, image, upsample, verify)
        if not found:
            return []
        shapes = dlib.full_object_detections([m.shape(image, rect) for rect, _, _ in found])
        vectors = m.encoder.compute_face_descriptor(image, shapes)
    faces = []
    for (rect, score, name), shape, vector in zip(found, shapes, vectors, strict=True):
        faces.append(
            RawFace(
                box=Box(rect.left(), rect.top(), rect.width(), rect.height()),
                landmarks=tuple((float(p.x), float(p.y)) for p in shape.parts()),
                embedding=np.asarray(vector, dtype=np.float32),
                score=score,
                detector=name,
            )
        )
    return faces


def _hog(m: _Models, image: Pixels, upsample: int, verify: bool) -> list[tuple[Any, float, str]]:
    rects, scores, _ = m.hog.run(image, upsample, HOG_CANDIDATE_SCORE)
    found: list[tuple[Any, float, str]] = []
    doubtful: list[tuple[Any, float]] = []
    accept = HOG_SURE_SCORE if verify else HOG_PLAIN_SCORE
    for rect, score in zip(rects, scores, strict=True):
        if score >= accept:
            found.append((rect, float(score), "hog"))
        elif verify:
            doubtful.append((rect, float(score)))
    doubtful.sort(key=lambda item: -item[1])
    for rect, score in doubtful[:MAX_VERIFY_PER_IMAGE]:
        if _confirmed(m, image, rect):
            found.append((rect, score, "hog+cnn"))
    return found


def _confirmed(m: _Models, image: Pixels, rect: Any) -> bool:
    """Does the CNN see a face in a small crop around this HOG candidate?"""
    from PIL import Image

    side = max(1, rect.width())
    pad = side * VERIFY_MARGIN
    extent = (rect.left() - pad, rect.top() - pad, rect.right() + pad, rect.bottom() + pad)
    scale = VERIFY_FACE_PX / side
    size = (
        max(1, round((extent[2] - extent[0]) * scale)),
        max(1, round((extent[3] - extent[1]) * scale)),
    )
    crop = Image.fromarray(image).transform(
        size, Image.Transform.EXTENT, extent, Image.Resampling.BILINEAR
    )
    return len(m.cnn(np.asarray(crop), 0)) > 0
