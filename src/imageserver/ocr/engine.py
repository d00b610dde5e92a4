"""The one adapter to rapidocr-onnxruntime (PP-OCR detection + recognition ONNX models that
ship inside its wheel: nothing is downloaded).

One engine per process, built on first use and shared by every thread; calls are
serialised (onnxruntime already uses the cores for one image, and the engine's pre- and
post-processing is not documented as thread-safe).
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

ENGINE_NAME = "rapidocr-onnxruntime"

_lock = threading.Lock()
_engine: Any = None


class Unreadable(Exception):
    """The image bytes do not decode: the picture itself is the problem."""


@dataclass(frozen=True)
class Line:
    text: str
    confidence: float
    box: list[list[float]]  # four corners, (x, y) as fractions of the image size


@dataclass(frozen=True)
class Reading:
    lines: list[Line]
    width: int
    height: int

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


def engine_version() -> str:
    from importlib.metadata import version

    return f"{ENGINE_NAME} {version(ENGINE_NAME)}"


def get_engine() -> Any:
    """The process's engine (loaded once; about 0.3 s)."""
    global _engine
    with _lock:
        if _engine is None:
            from rapidocr_onnxruntime import RapidOCR

            _engine = RapidOCR()
        return _engine


def decode(data: bytes) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """BGR pixels (what the engine expects) of an image file's bytes."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            rgb = np.asarray(image.convert("RGB"))
    except Exception as exc:  # Pillow raises many types for broken files
        raise Unreadable(f"{type(exc).__name__}: {exc}") from exc
    return np.ascontiguousarray(rgb[:, :, ::-1])


def read_pixels(pixels: np.ndarray[Any, np.dtype[np.uint8]], min_confidence: float) -> Reading:
    """Lines read in BGR pixels, top to bottom, those below `min_confidence` dropped."""
    height, width = pixels.shape[:2]
    engine = get_engine()
    with _lock:
        found, _elapsed = engine(pixels)
    lines = []
    for box, text, score in found or []:
        if float(score) < min_confidence or not str(text).strip():
            continue
        corners = [[round(float(x) / width, 4), round(float(y) / height, 4)] for x, y in box]
        lines.append(Line(str(text).strip(), round(float(score), 4), corners))
    lines.sort(key=lambda line: (min(p[1] for p in line.box), min(p[0] for p in line.box)))
    return Reading(lines, width, height)


def read(data: bytes, min_confidence: float) -> Reading:
    return read_pixels(decode(data), min_confidence)
