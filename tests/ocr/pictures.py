"""Photo-like pictures with known text, made by the tests (DejaVu fonts, fonts-dejavu-core):
a noisy gradient background, a lit card carrying the lines, turned a little, JPEG-compressed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONTS = Path("/usr/share/fonts/truetype/dejavu")


def text_photo(
    path: Path,
    lines: list[str],
    *,
    seed: int = 0,
    angle: float = 2.5,
    size: tuple[int, int] = (800, 520),
    font: str = "DejaVuSans-Bold.ttf",
    quality: int = 72,
) -> Path:
    rng = np.random.default_rng(seed)
    width, height = size
    ramp = np.linspace(70 + 20 * (seed % 3), 190, width)[None, :, None]
    tint = np.array([1.0, 0.92 + 0.03 * (seed % 2), 0.85])[None, None, :]
    background = ramp * tint * np.ones((height, 1, 3)) + rng.normal(0, 14, (height, width, 3))
    image = Image.fromarray(np.clip(background, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    # BASIC layout: with libvips loaded in the process (imageserver imports pyvips), Pillow's
    # raqm layout renders garbage glyph masks.
    face = ImageFont.truetype(str(FONTS / font), 46, layout_engine=ImageFont.Layout.BASIC)
    top = 90
    draw.rectangle((70, top - 30, width - 70, top + 80 * len(lines) + 10), fill=(232, 226, 214))
    for n, line in enumerate(lines):
        draw.text((100, top + 80 * n), line, font=face, fill=(35, 30, 30))
    image = image.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=(90, 90, 90))
    image = image.filter(ImageFilter.GaussianBlur(0.6))
    image.save(path, "JPEG", quality=quality)
    return path


def normalised(text: str) -> str:
    """Lower case without spaces: the recogniser may drop a space between words."""
    return "".join(text.lower().split())
