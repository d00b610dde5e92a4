"""The picture a face scan looks at, read at the resolution detection needs (Pillow).

Usually the large preview the thumbnail drain made: already decoded from any format (HEIC,
RAW, ...), EXIF orientation applied, and at most THUMB_LARGE_PX on its long side, so a
scan costs one small WebP decode. Only when FACE_MAX_SIDE asks for more pixels than the
preview has is the original decoded (JPEG at reduced DCT scale), with the preview as the
fallback for formats Pillow cannot read.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from imageserver.config import Settings
from imageserver.errors import ImageServerError
from imageserver.faces.detector import Pixels
from imageserver.faces.geometry import Size, fit_within
from imageserver.media.layout import thumb_path
from imageserver.media.paths import open_file_inside

log = logging.getLogger("imageserver.faces")

_ROTATED_ORIENTATIONS = (5, 6, 7, 8)


class SourceError(Exception):
    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


@dataclass(frozen=True)
class DetectionImage:
    pixels: Pixels  # RGB, long side <= FACE_MAX_SIDE
    displayed: Size  # the original as displayed: the frame stored boxes are in
    source: str  # preview | original


def _decode_errors() -> tuple[type[BaseException], ...]:
    from PIL import Image, UnidentifiedImageError

    return (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError)


def _register_heif() -> None:
    # Through decode: a plain `import pillow_heif` after pyvips binds Debian's libheif and
    # crashes on the first HEIC (see media/decode.py).
    from imageserver.media.decode import pillow_heif_module

    pillow_heif_module().register_heif_opener()


def _to_pixels(image: Any, max_side: int) -> Pixels:
    from PIL import Image

    if image.mode != "RGB":
        image = image.convert("RGB")
    target = fit_within(image.size, max_side)
    if target != image.size:
        image = image.resize(target, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(image, dtype=np.uint8)


def read_preview(path: Path, max_side: int) -> Pixels:
    """The preview's pixels; a missing or unreadable preview is transient (it gets remade)."""
    from PIL import Image

    try:
        with Image.open(path) as opened, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _to_pixels(opened, max_side)
    except FileNotFoundError as exc:
        raise SourceError("preview missing", permanent=False) from exc
    except _decode_errors() as exc:
        raise SourceError(f"preview unreadable: {exc}", permanent=False) from exc


def read_original(path: Path, max_side: int) -> Pixels:
    """The original, EXIF orientation applied, decoded at a reduced scale where possible."""
    from PIL import Image, ImageOps

    _register_heif()
    with Image.open(path) as opened, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opened.draft("RGB", (max_side, max_side))
        return _to_pixels(ImageOps.exif_transpose(opened), max_side)


def original_size(path: Path) -> Size | None:
    """Displayed size from the file header (no decode), for rows without metadata."""
    from PIL import Image

    _register_heif()
    try:
        with Image.open(path) as opened:
            w, h = opened.size
            orientation = opened.getexif().get(0x0112)
    except _decode_errors():
        return None
    return (h, w) if orientation in _ROTATED_ORIENTATIONS else (w, h)


def _original(row: Any) -> Path | None:
    """The original's real path, None when it is gone or now leads out of its library root
    (never read then: the preview, made from the indexed bytes, is used alone)."""
    try:
        return open_file_inside(Path(row["root_path"]), row["rel_path"])
    except ImageServerError as exc:
        log.debug("event=faces_original_refused path=%r reason=%r", row["rel_path"], exc.message)
        return None


def load(settings: Settings, row: Any) -> DetectionImage:
    """The detection image for one media row (with content_hash, root_path, rel_path, ...)."""
    max_side = settings.face_max_side
    original = _original(row)
    displayed: Size | None = None
    if row["width"] and row["height"]:
        displayed = (int(row["width"]), int(row["height"]))
    if (
        original is not None
        and settings.face_max_side > settings.thumb_large_px
        and displayed is not None
        and max(displayed) > settings.thumb_large_px
    ):
        try:
            return DetectionImage(read_original(original, max_side), displayed, "original")
        except _decode_errors() as exc:
            log.debug("event=faces_original_unreadable path=%r error=%r", str(original), exc)
    preview = thumb_path(settings.thumbs_dir, row["content_hash"], "large")
    pixels = read_preview(preview, max_side)
    if displayed is None:
        # A preview smaller than its size cap is the original at full size.
        h, w = pixels.shape[:2]
        full = max(w, h) < min(settings.thumb_large_px, max_side)
        from_header = original_size(original) if original is not None and not full else None
        displayed = (w, h) if full else (from_header or (w, h))
    return DetectionImage(pixels, displayed, "preview")
