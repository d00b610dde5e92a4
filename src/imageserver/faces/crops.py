"""Face-crop thumbnails, made on request from the large preview and cached (Pillow).

A face row never changes its box, so its crop is immutable: cached once under FACES_DIR,
keyed by hash and face id, and served with an immutable Cache-Control.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from imageserver.errors import NotFound
from imageserver.faces.geometry import scale_box, square_crop
from imageserver.media.layout import thumb_path

CROP_PX = 192
CROP_MARGIN = 0.35  # of the face size, on every side: hair and chin in the picture


def crop_path(faces_dir: Path, content_hash: str, face_id: int) -> Path:
    """faces/{hash[0:2]}/{hash}-{face id}.webp (sharded like the thumbnails)."""
    return faces_dir / content_hash[:2] / f"{content_hash}-{face_id}.webp"


def ensure_crop(face: Any, thumbs_dir: Path, faces_dir: Path, quality: int) -> Path:
    """The cached crop of this face row, made from the large preview when missing."""
    from PIL import Image, UnidentifiedImageError

    out = crop_path(faces_dir, face["content_hash"], face["id"])
    if out.is_file():
        return out
    preview = thumb_path(thumbs_dir, face["content_hash"], "large")
    try:
        with Image.open(preview) as opened:
            image = opened.convert("RGB")
    except FileNotFoundError as exc:
        raise NotFound("no preview of this picture yet") from exc
    except (OSError, UnidentifiedImageError) as exc:
        raise NotFound(f"preview unreadable: {exc}") from exc
    frame = (face["image_width"], face["image_height"])
    box = (face["box_x"], face["box_y"], face["box_w"], face["box_h"])
    region = square_crop(scale_box(box, frame, image.size), image.size, CROP_MARGIN)
    crop = image.crop(region)
    crop.thumbnail((CROP_PX, CROP_PX))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.{uuid.uuid4().hex}.tmp")
    crop.save(tmp, "WEBP", quality=quality)
    os.replace(tmp, out)
    return out
