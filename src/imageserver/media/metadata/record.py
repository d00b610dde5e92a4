"""The record the metadata drain stores: one MediaMetadata (or a MetadataError) per file.

Every reader (exiftool, the in-process JPEG path, ffprobe for videos) fills this one shape,
so the drain writes one set of columns whatever read the file. `fit_columns` is the last
step before the write: a hostile file's over-long make or absurd width must not fail the
INSERT of the whole chunk it arrived in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

READER_NAME = "exiftool"
FAST_READER_NAME = "pillow"  # plain JPEGs read in-process (see jpeg_record)


@dataclass
class MediaMetadata:
    """What the library knows about one file; every field is None when the file is silent.

    - `taken_at` is the camera's wall clock (naive); `taken_at_offset_min` its UTC offset in
      minutes east when the file states one. QuickTime:CreateDate is UTC by specification,
      so a video dated only by it gets its UTC time with offset 0.
    - `width`/`height` are the size a viewer shows: swapped for EXIF orientations 5-8; for
      HEIF/AVIF the container's clean aperture and `irot` decide when the file has them
      (decoders apply them, and `orientation` then only records the EXIF tag), EXIF
      Orientation when it has no transform; for videos swapped when `rotation`
      is a quarter turn; for RAW files the full raw image, not the embedded preview.
    - `rotation` (videos) is the display-matrix rotation exactly as ffprobe reports it:
      counter-clockwise degrees such as -90, 90, 180 or -180 (-90 = turn 90 clockwise to
      show upright); 0 when the stream has none.
    - `motion_offset`/`motion_length` locate a video embedded in a still (Google Motion
      Photo / MicroVideo, Samsung MotionPhoto_Data): byte offset from the file start, length.
    """

    reader: str
    taken_at: datetime | None = None  # camera wall-clock time, naive
    taken_at_offset_min: int | None = None  # minutes east of UTC when the file states it
    taken_at_source: str | None = None  # e.g. "EXIF:DateTimeOriginal"
    make: str | None = None
    model: str | None = None
    lens: str | None = None
    width: int | None = None  # as displayed (after orientation / rotation)
    height: int | None = None
    orientation: int | None = None  # EXIF 1..8 (an invalid value reads as 1)
    latitude: float | None = None
    longitude: float | None = None
    altitude: float | None = None  # metres, negative below sea level
    iso: int | None = None
    f_number: float | None = None
    exposure_time: float | None = None  # seconds
    focal_length: float | None = None  # mm
    duration: float | None = None  # seconds (videos)
    video_codec: str | None = None  # ffprobe codec_name: h264, hevc, vp9, mpeg4, ...
    audio_codec: str | None = None
    fps: float | None = None  # average frame rate
    rotation: int | None = None  # ffprobe display-matrix degrees (-90, 90, -180, ...), 0 = none
    motion_offset: int | None = None  # byte offset of a video embedded in a still
    motion_length: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # JSON-serialisable details


class MetadataError(Exception):
    """A file whose metadata cannot be read; `permanent` says whether a retry could help."""

    def __init__(self, reason: str, *, permanent: bool = True) -> None:
        reason = reason.replace("\x00", "")  # stored in a text column (PostgreSQL refuses NUL)
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent

    def __repr__(self) -> str:
        return f"MetadataError({self.reason!r}, permanent={self.permanent})"


# The media table's column sizes: a hostile file must not fail the write of its whole chunk.
_TEXT_LIMITS = {
    "make": 255,
    "model": 255,
    "lens": 255,
    "video_codec": 32,
    "audio_codec": 32,
    "taken_at_source": 40,
}
_INT_LIMIT = 2**31 - 1


def fit_columns(meta: MediaMetadata) -> MediaMetadata:
    """Truncate over-long strings, drop integers outside the INTEGER columns."""
    for name, limit in _TEXT_LIMITS.items():
        value = getattr(meta, name)
        if value is not None and len(value) > limit:
            setattr(meta, name, value[:limit])
    for name in ("width", "height", "iso"):
        value = getattr(meta, name)
        if value is not None and not 0 < value <= _INT_LIMIT:
            setattr(meta, name, None)
    return meta
