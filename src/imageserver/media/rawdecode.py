"""Camera RAW to an upright sRGB image: the embedded JPEG preview first, LibRaw demosaic second.

Decoding the sensor data costs seconds; most cameras embed a large JPEG preview (often
full size) that is what the camera showed. The preview is used when it is at least as large as the
thumbnail we need (or as the RAW itself); otherwise the RAW is demosaiced (half size when
that is still big enough); when that fails, a small preview is better than nothing. The
preview's pixels are stored unrotated, so the RAW's orientation is applied to it; LibRaw
already applies it to its own demosaic.

Metadata-only test files (image data stripped, no usable preview) end as a permanent error.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyvips
import rawpy

from imageserver.media.decode import (
    MAX_PIXELS,
    STRICT,
    DecodeError,
    finish,
    from_array,
    vips_detail,
)
from imageserver.media.formats import Format

# LibRaw's `flip` back to the EXIF orientation it was read from (dcraw: "50132467"[exif & 7]).
FLIP_TO_EXIF = {0: 1, 1: 2, 2: 4, 3: 3, 4: 5, 5: 8, 6: 6, 7: 7}


@dataclass(frozen=True)
class _Preview:
    width: int
    height: int
    jpeg: bytes | None = None  # decoded with shrink-on-load
    bitmap: np.ndarray[Any, Any] | None = None  # (h, w, 3) uint8


def load_raw(src: Path, fmt: Format, box: int) -> pyvips.Image:
    """Upright 8-bit sRGB, longest side <= box; DecodeError when nothing is decodable."""
    try:
        raw = _imread(src)
    except rawpy.LibRawError as exc:
        raise DecodeError(f"unreadable {fmt.name} RAW: LibRaw {_libraw(exc)}") from exc
    with raw:
        flip, longest = raw.sizes.flip, max(raw.sizes.width, raw.sizes.height)
        preview = _preview(raw)
        large_enough = preview is not None and max(preview.width, preview.height) >= min(
            box, longest
        )
        if preview is not None and large_enough:
            with contextlib.suppress(DecodeError):
                return _orient(preview, flip, box)
        try:
            return _demosaic(raw, box)
        except DecodeError as exc:
            if preview is not None and not large_enough:
                return _orient(preview, flip, box)
            raise DecodeError(
                f"{fmt.name} RAW has no usable embedded preview and {exc.reason}"
            ) from exc


def _imread(src: Path) -> rawpy.RawPy:
    try:
        return rawpy.imread(str(src))
    except UnicodeEncodeError:  # a non-UTF-8 file name: let LibRaw read from memory
        with src.open("rb") as fh:
            return rawpy.imread(fh)


def _preview(raw: rawpy.RawPy) -> _Preview | None:
    """The largest embedded preview, None when absent or unreadable."""
    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawError, ValueError):
        return None
    if isinstance(thumb.data, np.ndarray):  # ThumbFormat.BITMAP
        height, width = thumb.data.shape[:2]
        return _Preview(width, height, bitmap=thumb.data)
    if thumb.format != rawpy.ThumbFormat.JPEG:
        return None
    try:
        header = pyvips.Image.new_from_buffer(thumb.data, "")
    except pyvips.Error:
        return None
    if header.get("vips-loader") != "jpegload_buffer" or header.width * header.height == 0:
        return None
    return _Preview(header.width, header.height, jpeg=bytes(thumb.data))


def _orient(preview: _Preview, flip: int, box: int) -> pyvips.Image:
    """The preview shrunk to `box`, turned by the RAW's orientation (its own EXIF ignored)."""
    try:
        if preview.jpeg is not None:
            image = pyvips.Image.thumbnail_buffer(
                preview.jpeg, box, height=box, size="down", no_rotate=True, option_string=STRICT
            )
            image = finish(image)
        else:
            assert preview.bitmap is not None
            image = from_array(preview.bitmap, box)
    except pyvips.Error as exc:
        raise DecodeError(f"embedded preview is undecodable: {vips_detail(exc)}") from exc
    orientation = FLIP_TO_EXIF.get(flip, 1)
    if orientation == 1:
        return image
    image = image.copy()
    image.set_type(pyvips.GValue.gint_type, "orientation", orientation)
    return image.autorot().copy_memory()


def _demosaic(raw: rawpy.RawPy, box: int) -> pyvips.Image:
    sizes = raw.sizes
    pixels = sizes.raw_width * sizes.raw_height
    if pixels > MAX_PIXELS:
        raise DecodeError(
            f"its {pixels / 1e6:.0f} MP sensor data is over the {MAX_PIXELS / 1e6:.0f} MP limit"
        )
    half = max(sizes.width, sizes.height) // 2 >= box
    try:
        rgb = raw.postprocess(half_size=half, use_camera_wb=True, output_bps=8)
    except rawpy.LibRawError as exc:
        raise DecodeError(f"its sensor data is undecodable (LibRaw: {_libraw(exc)})") from exc
    return from_array(_default_crop(rgb, sizes), box)


def _default_crop(rgb: np.ndarray[Any, Any], sizes: Any) -> np.ndarray[Any, Any]:
    """The DNG DefaultCrop (LibRaw reports it, postprocess does not apply it), so the
    thumbnail shows what the metadata size says; the flip is already applied to `rgb`."""
    width, height = sizes.crop_width, sizes.crop_height
    if not (0 < width <= sizes.width and 0 < height <= sizes.height):
        return rgb
    left, top = sizes.crop_left_margin, sizes.crop_top_margin
    if left + width > sizes.width or top + height > sizes.height:
        return rgb
    if sizes.flip != 0:  # the box is in sensor coordinates, rgb already turned: keep it all
        return rgb
    scale_y, scale_x = rgb.shape[0] / sizes.height, rgb.shape[1] / sizes.width
    y0, x0 = round(top * scale_y), round(left * scale_x)
    y1, x1 = round((top + height) * scale_y), round((left + width) * scale_x)
    return rgb[y0:y1, x0:x1] if y1 > y0 and x1 > x0 else rgb


def _libraw(exc: Exception) -> str:
    """LibRaw's message (rawpy passes bytes) with the exception's name."""
    message = exc.args[0] if exc.args else ""
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
