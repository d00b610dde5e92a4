"""Metadata of one media file (PLACEHOLDER reader; the exiftool-based one replaces it).

Interface used by the metadata drain:
    reader = open_reader()            # long-lived, thread-safe
    results = reader.read_many([(path, fmt), ...])   # MediaMetadata | MetadataError each
    reader.close()
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from imageserver.media.formats import Format


@dataclass
class MediaMetadata:
    reader: str
    taken_at: datetime | None = None  # camera wall-clock time, naive
    taken_at_offset_min: int | None = None  # UTC offset when the file states one
    taken_at_source: str | None = None  # e.g. "EXIF:DateTimeOriginal"
    make: str | None = None
    model: str | None = None
    lens: str | None = None
    width: int | None = None  # as displayed (after orientation / rotation)
    height: int | None = None
    orientation: int | None = None  # EXIF 1..8
    latitude: float | None = None
    longitude: float | None = None
    altitude: float | None = None
    iso: int | None = None
    f_number: float | None = None
    exposure_time: float | None = None  # seconds
    focal_length: float | None = None  # mm
    duration: float | None = None  # seconds (videos)
    video_codec: str | None = None
    audio_codec: str | None = None
    fps: float | None = None
    rotation: int | None = None  # degrees clockwise to display upright (0/90/180/270)
    motion_offset: int | None = None  # byte offset of a video embedded in a still
    motion_length: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class MetadataError(Exception):
    """A file whose metadata cannot be read; `permanent` says whether a retry could help."""

    def __init__(self, reason: str, *, permanent: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class PillowReader:
    """Minimal reader: dimensions and orientation via Pillow. Replaced by the real one."""

    name = "pillow"

    def read_many(self, items: list[tuple[Path, Format]]) -> list[MediaMetadata | MetadataError]:
        return [self._read(path, fmt) for path, fmt in items]

    def _read(self, path: Path, fmt: Format) -> MediaMetadata | MetadataError:
        from PIL import Image, UnidentifiedImageError

        if fmt.is_video:
            return MediaMetadata(reader=self.name)
        try:
            with Image.open(path) as im:
                width, height = im.size
                orientation = int(im.getexif().get(0x0112, 1) or 1)
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            return MetadataError(f"cannot read image: {exc}")
        if orientation in (5, 6, 7, 8):
            width, height = height, width
        return MediaMetadata(reader=self.name, width=width, height=height, orientation=orientation)

    def close(self) -> None:
        return None


def open_reader() -> PillowReader:
    return PillowReader()
