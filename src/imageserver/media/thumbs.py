"""Thumbnails (PLACEHOLDER maker with Pillow; the benchmarked one replaces it).

Interface used by the thumbnail drain:
    make_thumbnails(src, fmt, small_out, large_out, small_px, large_px, quality)
raises ThumbnailError(reason, permanent=...) on failure; writes both files atomically.
"""

from __future__ import annotations

import os
from pathlib import Path

from imageserver.media.formats import Format


class ThumbnailError(Exception):
    def __init__(self, reason: str, *, permanent: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


def make_thumbnails(
    src: Path,
    fmt: Format,
    small_out: Path,
    large_out: Path,
    small_px: int,
    large_px: int,
    quality: int,
) -> None:
    from PIL import Image, ImageOps, UnidentifiedImageError

    if fmt.is_video:
        raise ThumbnailError("video thumbnails not implemented yet", permanent=False)
    try:
        with Image.open(src) as opened:
            im = ImageOps.exif_transpose(opened).convert("RGB")
            for out, px in ((large_out, large_px), (small_out, small_px)):
                copy = im.copy()
                copy.thumbnail((px, px))
                out.parent.mkdir(parents=True, exist_ok=True)
                tmp = out.with_name(out.name + ".tmp")
                copy.save(tmp, "WEBP", quality=quality)
                os.replace(tmp, out)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise ThumbnailError(f"cannot decode image: {exc}") from exc
