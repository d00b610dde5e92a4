"""Image preprocessing for CLIP visual models, with Pillow and numpy only.

decode (EXIF orientation applied, RGB) -> resize by the model's mode -> center crop or pad
-> scale to [0, 1] -> normalise by mean/std -> CHW float32. JPEGs are decoded at a reduced
scale when the model needs far fewer pixels (Pillow's draft mode), which is most of the
decode time saved on camera files.
"""

from __future__ import annotations

import io

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps

from imageserver.ml.encoders.model_files import VisualConfig

_RESAMPLING = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
}


# Pillow decodes whole images (a JPEG is drafted down first), at ~12 bytes a pixel through
# orientation and conversion: larger declared sizes are refused before decoding. Library
# images arrive as 1440 px previews and uploads are shrunk by libvips first
# (search.service.upload_preview); only a foreign client of the encoder service sends more.
MAX_DECODE_PIXELS = 40_000_000


class UndecodableImage(Exception):
    """The bytes are not an image Pillow can decode (a permanent property of the file)."""


def decode_rgb(data: bytes, min_side: int | None = None) -> Image.Image:
    """The image as displayed (EXIF orientation applied), in RGB."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            if min_side is not None and opened.format == "JPEG":
                opened.draft("RGB", (min_side, min_side))
            width, height = opened.size
            if width * height > MAX_DECODE_PIXELS:
                raise UndecodableImage(
                    f"{width}x{height} is over the {MAX_DECODE_PIXELS // 1_000_000} MP decode limit"
                )
            image = ImageOps.exif_transpose(opened)
            if image.mode in ("RGBA", "LA", "PA") or (
                image.mode == "P" and "transparency" in image.info
            ):
                rgba = image.convert("RGBA")
                canvas = Image.new("RGB", rgba.size, (255, 255, 255))
                canvas.paste(rgba, mask=rgba.getchannel("A"))
                return canvas
            return image.convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise UndecodableImage(f"{type(exc).__name__}: {exc}") from exc


def resize_to_model(image: Image.Image, cfg: VisualConfig) -> Image.Image:
    size = cfg.size
    resample = _RESAMPLING.get(cfg.interpolation, Image.Resampling.BICUBIC)
    width, height = image.size
    if cfg.resize_mode == "squash":
        return image.resize((size, size), resample)
    if cfg.resize_mode == "longest":
        scale = size / max(width, height)
        new = (max(1, round(width * scale)), max(1, round(height * scale)))
        resized = image.resize(new, resample)
        fill = (cfg.fill_color,) * 3
        canvas = Image.new("RGB", (size, size), fill)
        canvas.paste(resized, ((size - new[0]) // 2, (size - new[1]) // 2))
        return canvas
    scale = size / min(width, height)
    new = (max(size, round(width * scale)), max(size, round(height * scale)))
    resized = image.resize(new, resample)
    left = round((new[0] - size) / 2.0)
    top = round((new[1] - size) / 2.0)
    return resized.crop((left, top, left + size, top + size))


def to_tensor(image: Image.Image, cfg: VisualConfig) -> NDArray[np.float32]:
    """(3, size, size) float32, normalised."""
    array = np.asarray(image, dtype=np.float32) / np.float32(255.0)
    mean = np.asarray(cfg.mean, dtype=np.float32)
    std = np.asarray(cfg.std, dtype=np.float32)
    return np.ascontiguousarray(((array - mean) / std).transpose(2, 0, 1), dtype=np.float32)


def preprocess(data: bytes, cfg: VisualConfig) -> NDArray[np.float32]:
    """Encoded image bytes -> the visual model's input for one image."""
    image = decode_rgb(data, min_side=cfg.size)
    return to_tensor(resize_to_model(image, cfg), cfg)
