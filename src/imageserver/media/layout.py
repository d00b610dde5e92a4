"""Where hash-keyed media artefacts live under the data folder."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

ThumbSize = Literal["small", "large"]
THUMB_EXT = "webp"


def thumb_path(thumbs_dir: Path, content_hash: str, size: ThumbSize) -> Path:
    """thumbs/{hash[0:2]}/{hash}-{small|large}.webp; sharded so no folder grows huge."""
    return thumbs_dir / content_hash[:2] / f"{content_hash}-{size}.{THUMB_EXT}"
