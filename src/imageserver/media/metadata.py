"""Metadata of media files: exiftool for every file, ffprobe in addition for videos.

Interface used by the metadata drain:
    reader = open_reader()            # long-lived, thread-safe
    results = reader.read_many([(path, fmt), ...])   # MediaMetadata | MetadataError each
    reader.close()

`from_exiftool` (exiftool JSON -> MediaMetadata) and the date, GPS, size and motion-photo
helpers are pure; the reader only batches files, runs the tools and merges their answers.
"""

from __future__ import annotations

import logging
import math
import os
import re
import struct
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from imageserver.media import probe as ffprobe
from imageserver.media.exiftool import MESSAGES_KEY, ExifTool, ExifToolFailure, Record
from imageserver.media.formats import Format

log = logging.getLogger("imageserver.metadata")

READER_NAME = "exiftool"
FAST_READER_NAME = "pillow"  # plain JPEGs read in-process (see jpeg_record)


@dataclass
class MediaMetadata:
    """What the library knows about one file; every field is None when the file is silent.

    - `taken_at` is the camera's wall clock (naive); `taken_at_offset_min` its UTC offset in
      minutes east when the file states one. QuickTime:CreateDate is UTC by specification,
      so a video dated only by it gets its UTC time with offset 0.
    - `width`/`height` are the size a viewer shows: swapped for EXIF orientations 5-8; for
      HEIF/AVIF the container's clean aperture and `irot` decide (decoders apply them, and
      `orientation` then only records the EXIF tag); for videos swapped when `rotation`
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


# --- the exiftool request ------------------------------------------------------------------

# Named tags only: exiftool still parses the file but converts and prints far less.
TAGS = (
    *("FileType", "Error", "Warning", "Make", "Model", "LensModel", "Lens"),
    *("ISO", "FNumber", "ExposureTime", "FocalLength", "Duration"),
    *("Orientation", "ImageWidth", "ImageHeight", "Rotation", "CleanAperture"),
    *("DateTimeOriginal", "CreateDate", "CreationDate", "DateCreated", "TimeCreated"),
    *("DateTimeDigitized", "ContentCreateDate", "CreationTime"),
    *("OffsetTimeOriginal", "OffsetTimeDigitized", "SubSecTimeOriginal", "SubSecTimeDigitized"),
    *("GPSLatitude", "GPSLatitudeRef", "GPSLongitude", "GPSLongitudeRef", "GPSAltitude"),
    *("GPSAltitudeRef", "GPSCoordinates", "LocationInformation"),
    *("MicroVideoOffset", "XMP-Container:Directory"),
)

# Formats whose metadata sits before the image data: `-fast` stops at the first scan and
# skips the trailer search (our own tail read finds Samsung trailers). `-fast2` also skips
# MakerNotes, which cost half of exiftool's time on a camera JPEG and would only add a lens
# name for some older cameras (Canon, Olympus) that do not write EXIF LensModel: everyday
# formats take it, RAW files (whose owners care about lenses) keep their MakerNotes. HEIF,
# CR3 and videos may keep metadata after the media data, so they are read in full.
FAST2_FORMATS = frozenset({"jpeg", "png", "gif", "webp", "tiff"})
FAST_FORMATS = frozenset({"cr2", "nef", "dng", "arw", "pef", "srw", "orf"})
HEIF_FORMATS = frozenset({"heic", "avif"})


_CONTAINER_ITEMS = ",".join(
    f"DirectoryItem{name}" for name in ("Mime", "Semantic", "Length", "Padding")
)


def exiftool_options(fmt: Format) -> tuple[str, ...]:
    """exiftool arguments for one format; files sharing them go in one request."""
    options = ["-struct", *(f"-{tag}" for tag in TAGS)]
    if fmt.is_raw:
        # the raw image size, not the preview's: a Composite tag built from unrequested tags
        options.append("-Composite:ImageSize")
    else:
        # no Composite tags (~25% of the time), and IgnoreTags=all stops exiftool storing
        # every tag it meets (~20%); the Container directory struct is rebuilt from its
        # flattened tags, so those must be requested too
        options += ["-e", "-api", "IgnoreTags=all", "-api", f"RequestTags={_CONTAINER_ITEMS}"]
    if fmt.name in FAST2_FORMATS:
        options.append("-fast2")
    elif fmt.name in FAST_FORMATS:
        options.append("-fast")
    return tuple(options)


# --- small value helpers -------------------------------------------------------------------


def _text(value: Any) -> str | None:
    """A stripped string; exiftool hands numeric-looking strings over as numbers."""
    if value is None or isinstance(value, (list, dict)):
        return None
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    text = text.replace("\x00", "").strip()
    return text or None


def _number(value: Any) -> float | None:
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        value = value.split(" ")[0]
    try:
        number = float(value)
    except (TypeError, ValueError, ArithmeticError):
        return None
    return number if math.isfinite(number) else None


def _positive(value: Any) -> float | None:
    number = _number(value)
    return number if number is not None and number > 0 else None


def _first(rec: dict[str, Any], keys: tuple[str, ...], name: str | None = None) -> Any:
    """The first present key; then, when `name` is given, any other group's `name` tag."""
    for key in keys:
        if rec.get(key) not in (None, ""):
            return rec[key]
    if name is not None:
        for key, value in rec.items():
            if key.endswith(f":{name}") and value not in (None, ""):
                return value
    return None


def _json_safe(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    return value


# --- dates ---------------------------------------------------------------------------------

_DATE = re.compile(
    r"^\s*(\d{4})[:-](\d{2})[:-](\d{2})"
    r"(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?\s*$"
)


def parse_offset(value: Any) -> int | None:
    """'+05:30' -> 330, '-0400' -> -240, 'Z' -> 0; None when absent or malformed."""
    text = _text(value)
    if text is None:
        return None
    if text.upper() == "Z":
        return 0
    match = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", text)
    if not match:
        return None
    minutes = int(match[2]) * 60 + int(match[3])
    if minutes > 14 * 60 or int(match[3]) >= 60:
        return None
    return -minutes if match[1] == "-" else minutes


_EPOCH_ZEROS = frozenset({datetime(1904, 1, 1), datetime(1970, 1, 1)})


def parse_datetime(value: Any) -> tuple[datetime, int | None] | None:
    """An exiftool date ('2020:05:04 18:39:11.644-04:00', '2003:08:31', ...) as (naive wall
    clock, offset minutes or None); None for zero, blank or impossible dates."""
    text = _text(value)
    match = _DATE.match(text) if text else None
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    if int(year) < 1800:  # '0000:00:00 00:00:00': exiftool's spelling of "not set"
        return None
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        parsed = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            micro,
        )
    except ValueError:
        return None
    if parsed in _EPOCH_ZEROS:  # a zero timestamp (QuickTime / Unix epoch), not a date
        return None
    return parsed, parse_offset(offset) if offset else None


def _subsec(value: Any) -> timedelta:
    digits = re.sub(r"\D", "", _text(value) or "")[:6]
    return timedelta(microseconds=int(digits.ljust(6, "0"))) if digits else timedelta()


def _family(group: str) -> str:
    if group in ("ExifIFD", "IFD0", "SubIFD"):
        return "EXIF"
    if group.startswith("XMP"):
        return "XMP"
    if group in ("Keys", "UserData", "ItemList", "QuickTime"):
        return "QuickTime"
    return group


# (exiftool key, its offset tag, its sub-second tag) in order of trust. EXIF original
# first; Keys:CreationDate (local time + offset) before QuickTime:CreateDate (UTC).
DATE_SOURCES: tuple[tuple[str, str | None, str | None], ...] = (
    ("ExifIFD:DateTimeOriginal", "ExifIFD:OffsetTimeOriginal", "ExifIFD:SubSecTimeOriginal"),
    ("IFD0:DateTimeOriginal", None, None),
    ("XMP-exif:DateTimeOriginal", None, None),
    ("Keys:CreationDate", None, None),
    ("UserData:DateTimeOriginal", None, None),
    ("ItemList:ContentCreateDate", None, None),
    ("UserData:ContentCreateDate", None, None),
    ("*:DateTimeOriginal", None, None),  # maker notes (FLIR), RIFF, Matroska, ...
    ("ExifIFD:CreateDate", "ExifIFD:OffsetTimeDigitized", "ExifIFD:SubSecTimeDigitized"),
    ("XMP-photoshop:DateCreated", None, None),
    ("IPTC:DateCreated", None, None),
    ("XMP-xmp:CreateDate", None, None),
    ("XMP-exif:DateTimeDigitized", None, None),
    ("QuickTime:CreateDate", None, None),
    ("PNG:CreationTime", None, None),
)
_UTC_SOURCES = frozenset({"QuickTime:CreateDate"})


def _date_candidates(rec: dict[str, Any]) -> Iterator[tuple[str, Any, str | None, str | None]]:
    explicit = {key for key, _, _ in DATE_SOURCES}
    for key, offset_key, subsec_key in DATE_SOURCES:
        if key.startswith("*:"):
            suffix = key[1:]
            for other in rec:
                if other.endswith(suffix) and other not in explicit:
                    yield other, rec[other], None, None
        elif key in rec:
            value = rec[key]
            if key == "IPTC:DateCreated" and "IPTC:TimeCreated" in rec:
                value = f"{value} {rec['IPTC:TimeCreated']}"
            yield key, value, offset_key, subsec_key


def taken_at(rec: dict[str, Any]) -> tuple[datetime, int | None, str] | None:
    """(wall clock, offset minutes, source) from the most trusted valid date tag.

    Invalid dates fall through to the next tag. A date without an offset borrows one from
    another tag that states the same wall-clock second with an offset (Lightroom writes
    the EXIF date again in XMP with its zone).
    """
    parsed: list[tuple[str, datetime, int | None]] = []
    chosen: tuple[str, datetime, int | None] | None = None
    for key, value, offset_key, subsec_key in _date_candidates(rec):
        result = parse_datetime(value)
        if result is None:
            continue
        when, offset = result
        if offset is None and offset_key is not None:
            offset = parse_offset(rec.get(offset_key))
        if subsec_key is not None and when.microsecond == 0:
            when += _subsec(rec.get(subsec_key))
        if offset is None and key in _UTC_SOURCES:
            offset = 0
        parsed.append((key, when, offset))
        if chosen is None:
            chosen = parsed[-1]
    if chosen is None:
        return None
    key, when, offset = chosen
    if offset is None:
        second = when.replace(microsecond=0)
        offset = next(
            (
                o
                for k, w, o in parsed
                if o is not None and k not in _UTC_SOURCES and w.replace(microsecond=0) == second
            ),
            None,
        )
    group, _, name = key.partition(":")
    return when, offset, f"{_family(group)}:{name}"


# --- GPS -----------------------------------------------------------------------------------

_LOCI = re.compile(r"Lat=(-?[\d.]+)\s+Lon=(-?[\d.]+)(?:\s+Alt=(-?[\d.]+))?")


def _signed(value: Any, ref: Any, negative: str) -> float | None:
    number = _number(value)
    if number is None:
        return None
    reference = (_text(ref) or "").upper()[:1]
    if reference:
        return -abs(number) if reference == negative else abs(number)
    return number


def _valid_position(lat: float | None, lon: float | None) -> bool:
    return lat is not None and lon is not None and abs(lat) <= 90 and abs(lon) <= 180


def gps(rec: dict[str, Any]) -> tuple[float, float, float | None] | None:
    """(lat, lon, altitude) in signed decimal degrees / metres, from EXIF, XMP, maker
    notes (FLIR) or a video's ISO 6709 coordinates / 3GPP location box."""
    groups = ["GPS", "XMP-exif"]
    groups += sorted(
        {k.split(":")[0] for k in rec if k.endswith(":GPSLatitude")} - set(groups) - {"Composite"}
    )
    for group in groups:
        lat = _signed(rec.get(f"{group}:GPSLatitude"), rec.get(f"{group}:GPSLatitudeRef"), "S")
        lon = _signed(rec.get(f"{group}:GPSLongitude"), rec.get(f"{group}:GPSLongitudeRef"), "W")
        if lat is not None and lon is not None and _valid_position(lat, lon):
            alt = _number(rec.get(f"{group}:GPSAltitude"))
            if alt is not None and str(rec.get(f"{group}:GPSAltitudeRef")) == "1":
                alt = -abs(alt)
            return lat, lon, alt
    for key in ("Keys:GPSCoordinates", "UserData:GPSCoordinates", "ItemList:GPSCoordinates"):
        parts = [_number(p) for p in (_text(rec.get(key)) or "").split()]
        lat, lon = [*parts, None, None][:2]
        if lat is not None and lon is not None and _valid_position(lat, lon):
            return lat, lon, parts[2] if len(parts) > 2 else None
    match = _LOCI.search(_text(rec.get("UserData:LocationInformation")) or "")
    if match:
        lat, lon = float(match[1]), float(match[2])
        if _valid_position(lat, lon):
            return lat, lon, float(match[3]) if match[3] else None
    return None


# --- size and orientation ------------------------------------------------------------------


def orientation(rec: dict[str, Any]) -> int | None:
    """EXIF (IFD0, not the thumbnail's IFD1) then XMP; a present but invalid value is 1."""
    for key in ("IFD0:Orientation", "XMP-tiff:Orientation"):
        if key in rec:
            value = _number(rec[key])
            return int(value) if value is not None and value in range(1, 9) else 1
    return None


def _pair(value: Any) -> tuple[float, float] | None:
    parts = [_number(p) for p in (_text(value) or "").split()]
    if len(parts) >= 2 and parts[0] and parts[1] and parts[0] > 0 and parts[1] > 0:
        return parts[0], parts[1]
    return None


def image_size(rec: dict[str, Any], fmt: Format, orient: int | None) -> tuple[int, int] | None:
    """The displayed size of a still (see MediaMetadata)."""
    size = _pair(rec.get("Composite:ImageSize")) if fmt.is_raw else None
    if size is None:
        for group in ("File", "PNG", "GIF", "RIFF", "IFD0"):
            width = _positive(rec.get(f"{group}:ImageWidth"))
            height = _positive(rec.get(f"{group}:ImageHeight"))
            if width and height:
                size = width, height
                break
    if size is None:
        return None
    width, height = size
    heif = fmt.name in HEIF_FORMATS or _text(rec.get("File:FileType")) in ("HEIC", "HEIF", "AVIF")
    if heif:
        aperture = _pair(rec.get("QuickTime:CleanAperture"))
        if aperture:
            width, height = min(width, aperture[0]), min(height, aperture[1])
        turn = _number(rec.get("QuickTime:Rotation")) or 0
        swap = int(turn) % 180 == 90
    else:
        swap = orient in (5, 6, 7, 8)
    width_px, height_px = round(width), round(height)
    return (height_px, width_px) if swap else (width_px, height_px)


# --- motion photos -------------------------------------------------------------------------

ReadAt = Callable[[int, int], bytes]


def motion_from_xmp(rec: dict[str, Any], file_size: int) -> tuple[int, int, str] | None:
    """(offset, length, kind) of an embedded video announced in XMP, counted from the end.

    Google MicroVideo gives the distance from the end; Motion Photo lists the items after
    the primary image with their lengths (and padding before the next item).
    """
    micro = _number(rec.get("XMP-GCamera:MicroVideoOffset"))
    if micro and 0 < micro < file_size:
        return file_size - int(micro), int(micro), "MicroVideo"
    directory = rec.get("XMP-Container:Directory")
    if not isinstance(directory, list):
        return None
    items = [entry.get("Item", entry) if isinstance(entry, dict) else {} for entry in directory]
    end = file_size
    for index in range(len(items) - 1, 0, -1):
        item = items[index]
        length = int(_number(item.get("Length")) or 0)
        start = end - length
        if _text(item.get("Semantic")) == "MotionPhoto" and length > 0 and start > 0:
            return start, length, "MotionPhoto"
        end = start - int(_number(items[index - 1].get("Padding")) or 0)
    return None


_SAMSUNG_VIDEO = b"MotionPhoto_Data"


def samsung_trailer(read_at: ReadAt, file_size: int) -> tuple[int, int] | None:
    """(offset, length) of the MotionPhoto_Data block of a Samsung "SEFT" trailer.

    Layout (as ExifTool's Samsung.pm reads it): the file ends with the SEFH directory,
    its length (uint32 LE) and b"SEFT". Each 12-byte entry holds a type, the block's
    distance back from the directory start and its size; a block is 4 bytes, a name
    length (uint32 LE), the name, then the payload.
    """
    if file_size < 20:
        return None
    tail = read_at(file_size - 8, 8)
    if len(tail) != 8 or tail[4:] != b"SEFT":
        return None
    (dir_len,) = struct.unpack("<I", tail[:4])
    dir_pos = file_size - 8 - dir_len
    if not 12 <= dir_len < 0x10000 or dir_pos < 0:  # ExifTool's bound: never read far
        return None
    directory = read_at(dir_pos, dir_len)
    if len(directory) != dir_len or directory[:4] != b"SEFH":
        return None
    (count,) = struct.unpack_from("<I", directory, 8)
    for index in range(min(count, (dir_len - 12) // 12)):
        _, noff, size = struct.unpack_from("<III", directory, 12 + 12 * index)
        start = dir_pos - noff
        if noff > dir_pos or size > noff or size < 8:
            continue
        header = read_at(start, 8)
        if len(header) != 8:
            continue
        (name_len,) = struct.unpack_from("<I", header, 4)
        if name_len != len(_SAMSUNG_VIDEO) or name_len + 8 > size:
            continue
        if read_at(start + 8, name_len) == _SAMSUNG_VIDEO:
            return start + 8 + name_len, size - 8 - name_len
    return None


def looks_like_mp4(read_at: ReadAt, offset: int) -> bool:
    head = read_at(offset, 12)
    return len(head) == 12 and head[4:8] == b"ftyp"


def motion_photo(
    rec: dict[str, Any], read_at: ReadAt, file_size: int
) -> tuple[int, int, str] | None:
    """The embedded video of a still, verified by an MP4 `ftyp` box at the offset."""
    trailer = samsung_trailer(read_at, file_size)
    if trailer and looks_like_mp4(read_at, trailer[0]):
        return trailer[0], trailer[1], "Samsung"
    announced = motion_from_xmp(rec, file_size)
    if announced and looks_like_mp4(read_at, announced[0]):
        return announced
    return None


# --- in-process JPEG fast path -------------------------------------------------------------
#
# exiftool spends ~5 ms of Perl per file; Pillow reads a plain JPEG's EXIF in ~0.3 ms. The
# fast path only takes JPEGs whose every segment it understands and turns them into the same
# exiftool-shaped record (same keys, same -n number rounding), so one parser decides. Files
# with XMP, IPTC or vendor segments (FLIR, ...) go to exiftool; MakerNotes are skipped by
# both paths (-fast2). tests/media/test_metadata_corpus.py checks both agree on the corpus.

_PLAIN_APP = {
    "APP0": (b"JFIF\x00", b"JFXX\x00"),
    "APP1": (b"Exif\x00\x00",),
    "APP2": (b"ICC_PROFILE\x00", b"MPF\x00"),
    "APP14": (b"Adobe",),
}
_IFD0_TAGS = {
    0x010F: "IFD0:Make",
    0x0110: "IFD0:Model",
    0x0112: "IFD0:Orientation",
    0x9003: "IFD0:DateTimeOriginal",  # misplaced by some writers; exiftool reads it there
}
_EXIF_TAGS = {
    0x9003: "ExifIFD:DateTimeOriginal",
    0x9004: "ExifIFD:CreateDate",
    0x9011: "ExifIFD:OffsetTimeOriginal",
    0x9012: "ExifIFD:OffsetTimeDigitized",
    0x9291: "ExifIFD:SubSecTimeOriginal",
    0x9292: "ExifIFD:SubSecTimeDigitized",
    0x8827: "ExifIFD:ISO",
    0x829D: "ExifIFD:FNumber",
    0x829A: "ExifIFD:ExposureTime",
    0x920A: "ExifIFD:FocalLength",
    0xA434: "ExifIFD:LensModel",
}
_GPS_TAGS = {
    1: "GPS:GPSLatitudeRef",
    2: "GPS:GPSLatitude",
    3: "GPS:GPSLongitudeRef",
    4: "GPS:GPSLongitude",
    5: "GPS:GPSAltitudeRef",
    6: "GPS:GPSAltitude",
}


def _exif_number(value: Any) -> Any:
    """A TIFF value as exiftool -n prints it: rationals rounded to 10 significant digits."""
    if isinstance(value, tuple):
        return _exif_number(value[0]) if len(value) == 1 else [_exif_number(v) for v in value]
    if isinstance(value, bytes):
        return value[0] if len(value) == 1 else value.split(b"\x00")[0].decode("latin-1")
    if isinstance(value, str):
        return value.split("\x00")[0]  # exiftool ends a string at its first NUL
    denominator = getattr(value, "denominator", None)
    if denominator is not None and not isinstance(value, int):
        numerator = value.numerator
        if not denominator:
            return None  # exiftool: 'undef' / 'inf'
        return float(f"{numerator / denominator:.10g}")
    return value


def _exif_degrees(value: Any) -> float | None:
    """GPS d/m/s like exiftool's ToDegrees on its 10-digit components, printed as %.15g."""
    parts = value if isinstance(value, list) else [value]
    if not parts or len(parts) > 3 or not all(isinstance(p, float | int) for p in parts):
        return None
    d, m, sec = [*parts, 0, 0][:3]
    return float(f"{d + (m + sec / 60) / 60:.15g}")


def jpeg_record(path: Path) -> dict[str, Any] | None:
    """An exiftool-shaped record of a plain JPEG via Pillow; None: let exiftool read it."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            if im.format not in ("JPEG", "MPO"):  # MPO: a JPEG with an MPF index
                return None
            for marker, data in getattr(im, "applist", []):
                allowed = _PLAIN_APP.get(marker)
                if marker != "COM" and not (allowed and data.startswith(allowed)):
                    return None
            exif = im.getexif()
            sub = exif.get_ifd(0x8769)
            rec: dict[str, Any] = {
                "File:FileType": "JPEG",
                "File:ImageWidth": im.width,
                "File:ImageHeight": im.height,
            }
            for tags, ifd in (
                (_IFD0_TAGS, exif),
                (_EXIF_TAGS, sub),
                (_GPS_TAGS, exif.get_ifd(0x8825)),
            ):
                for tag, key in tags.items():
                    if tag in ifd:
                        rec[key] = _exif_number(ifd[tag])
    except Exception:  # anything odd (bomb guard, broken EXIF): exiftool decides
        return None
    for key in ("GPS:GPSLatitude", "GPS:GPSLongitude"):
        if key in rec:
            rec[key] = _exif_degrees(rec[key])
    return {k: v for k, v in rec.items() if v is not None}


# --- exiftool JSON -> MediaMetadata --------------------------------------------------------

USEFUL = ("width", "taken_at", "make", "model", "latitude", "duration")


def _failure_reason(rec: dict[str, Any]) -> str:
    """Why exiftool found nothing: its first real warning, else what little it knew."""
    messages = [_text(rec.get("ExifTool:Warning")), *(rec.get(MESSAGES_KEY) or [])]
    texts = [
        m.split(":", 1)[-1].strip() if m.startswith(("Warning", "Error")) else m
        for m in messages
        if m
    ]
    major = [t for t in texts if not t.lower().startswith("[minor]")]
    if major:
        return f"exiftool: {major[0]}"
    file_type = _text(rec.get("File:FileType"))
    reason = f"no image information in {file_type} file" if file_type else "no metadata found"
    return f"exiftool: {reason}" + (f" ({texts[0]})" if texts else "")


def from_exiftool(
    rec: dict[str, Any], fmt: Format, *, reader: str = READER_NAME
) -> MediaMetadata | MetadataError:
    """A MediaMetadata from one exiftool JSON object (requested with exiftool_options) or
    a `jpeg_record` of the same shape."""
    error = _text(rec.get("ExifTool:Error"))
    if error:
        return MetadataError(f"exiftool: {error}")
    meta = MediaMetadata(reader=reader)
    meta.make = _text(_first(rec, ("IFD0:Make", "Keys:Make", "UserData:Make", "XMP-tiff:Make")))
    meta.model = _text(
        _first(rec, ("IFD0:Model", "Keys:Model", "UserData:Model", "XMP-tiff:Model"))
    )
    meta.lens = _text(
        _first(
            rec,
            ("ExifIFD:LensModel", "XMP-exifEX:LensModel", "XMP-aux:Lens", "Keys:LensModel"),
            "LensModel",
        )
    )
    iso = _positive(_first(rec, ("ExifIFD:ISO", "XMP-exif:ISO"), "ISO"))
    meta.iso = int(iso) if iso else None
    meta.f_number = _positive(_first(rec, ("ExifIFD:FNumber", "XMP-exif:FNumber")))
    meta.exposure_time = _positive(_first(rec, ("ExifIFD:ExposureTime", "XMP-exif:ExposureTime")))
    meta.focal_length = _positive(_first(rec, ("ExifIFD:FocalLength", "XMP-exif:FocalLength")))
    if not fmt.is_video:
        meta.orientation = orientation(rec)
        size = image_size(rec, fmt, meta.orientation)
        if size:
            meta.width, meta.height = size
        if fmt.name in HEIF_FORMATS and "QuickTime:Rotation" in rec:
            meta.extra["heif_rotation"] = _json_safe(rec["QuickTime:Rotation"])
    position = gps(rec)
    if position:
        meta.latitude, meta.longitude, meta.altitude = position
    when = taken_at(rec)
    if when:
        meta.taken_at, meta.taken_at_offset_min, meta.taken_at_source = when
    duration = _positive(_first(rec, ("QuickTime:Duration",), "Duration"))
    if fmt.is_video:
        meta.duration = duration
    if not fmt.is_video and not any(getattr(meta, name) is not None for name in USEFUL):
        return MetadataError(_failure_reason(rec))  # nothing read: the file is not an image
    warning = _text(rec.get("ExifTool:Warning"))
    if warning:
        meta.extra["exiftool_warning"] = warning
    return meta


def with_video(meta: MediaMetadata | None, info: ffprobe.VideoInfo) -> MediaMetadata:
    """Merge ffprobe's stream facts into exiftool's metadata (ffprobe wins on streams)."""
    merged = meta if meta is not None else MediaMetadata(reader=READER_NAME)
    merged = replace(
        merged,
        duration=info.duration if info.duration is not None else merged.duration,
        video_codec=info.video_codec,
        audio_codec=info.audio_codec,
        fps=info.fps,
        rotation=info.rotation,
        extra=dict(merged.extra),
    )
    if info.width and info.height:
        quarter = info.rotation % 180 == 90
        merged.width, merged.height = (
            (info.height, info.width) if quarter else (info.width, info.height)
        )
    keys = ("pix_fmt", "color_transfer", "color_primaries", "color_space", "container")
    for key in (*keys, "field_order"):
        value = getattr(info, key)
        if value:
            merged.extra[key] = value
    if info.bit_rate:
        merged.extra["bit_rate"] = info.bit_rate
    if info.unknown_streams:
        merged.extra["unknown_streams"] = list(info.unknown_streams)
    merged.extra["hdr"] = info.color_transfer in ("smpte2084", "arib-std-b67")
    return merged


# --- the reader ----------------------------------------------------------------------------

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


def _with_motion(meta: MediaMetadata, rec: dict[str, Any], path: Path) -> MediaMetadata:
    """Add the embedded video of a motion photo (a few small reads at the file's end)."""
    try:
        with path.open("rb") as handle:

            def read_at(offset: int, length: int) -> bytes:
                if offset < 0 or length <= 0:
                    return b""
                handle.seek(offset)
                return handle.read(length)

            found = motion_photo(rec, read_at, os.fstat(handle.fileno()).st_size)
    except (OSError, struct.error) as exc:
        log.info("event=motion_check_failed path=%r error=%s", str(path), exc)
        return meta
    if found:
        meta.motion_offset, meta.motion_length, meta.extra["motion_photo"] = found
    return meta


MIN_SHARE = 8  # fewer files than this per process are not worth a second process


class ExifToolReader:
    """exiftool (a pool of stay_open processes) for every file, plus ffprobe for videos.

    `read_many` sends one exiftool request per (format options, process) share of the
    batch; while exiftool works, ffprobe runs beside it and the calling thread reads plain
    JPEGs in-process (`jpeg_record`, unless `fast_jpeg=False`).
    """

    name = READER_NAME

    def __init__(
        self,
        exiftool: ExifTool | None = None,
        *,
        fast_jpeg: bool = True,
        probe_workers: int = 2,
        probe_timeout: float = ffprobe.DEFAULT_TIMEOUT,
        ffprobe_executable: str = "ffprobe",
    ) -> None:
        self._exiftool = exiftool if exiftool is not None else ExifTool()
        self._fast_jpeg = fast_jpeg
        self._probe_timeout = probe_timeout
        self._ffprobe = ffprobe_executable
        self._pool = ThreadPoolExecutor(
            self._exiftool.processes + probe_workers, thread_name_prefix="metadata"
        )
        self._closed = False

    def read_many(self, items: list[tuple[Path, Format]]) -> list[MediaMetadata | MetadataError]:
        """One result per item, in order; never raises for a bad file."""
        if self._closed:
            return [MetadataError("metadata: reader closed", permanent=False) for _ in items]
        probes = {
            i: self._pool.submit(self._probe, path)
            for i, (path, fmt) in enumerate(items)
            if fmt.is_video
        }
        jpegs = [i for i, (_, fmt) in enumerate(items) if fmt.name == "jpeg"]
        others = [i for i, (_, fmt) in enumerate(items) if fmt.name != "jpeg"]
        jobs = self._submit(items, others)  # exiftool starts while Pillow reads the JPEGs
        records: dict[int, Record] = {}
        if self._fast_jpeg:
            for index in jpegs:
                record = jpeg_record(items[index][0])
                if record is not None:
                    records[index] = record
        jobs += self._submit(items, [i for i in jpegs if i not in records])
        fast = set(records)
        for part, future in jobs:
            records.update(zip(part, self._collect(future, len(part)), strict=True))
        results: list[MediaMetadata | MetadataError] = []
        for index, (path, fmt) in enumerate(items):
            reader = FAST_READER_NAME if index in fast else READER_NAME
            results.append(self._combine(path, fmt, records[index], probes.get(index), reader))
        return results

    def _submit(
        self, items: list[tuple[Path, Format]], indices: list[int]
    ) -> list[tuple[list[int], Future[list[Record]]]]:
        """exiftool requests: items grouped by options, each group shared by the processes."""
        groups: dict[tuple[str, ...], list[int]] = {}
        for index in indices:
            groups.setdefault(exiftool_options(items[index][1]), []).append(index)
        jobs = []
        for options, members in groups.items():
            share = max(MIN_SHARE, math.ceil(len(members) / self._exiftool.processes))
            for start in range(0, len(members), share):
                part = members[start : start + share]
                paths = [items[i][0] for i in part]
                jobs.append((part, self._pool.submit(self._exiftool.read, paths, options)))
        return jobs

    def _collect(self, future: Future[list[Record]], count: int) -> list[Record]:
        try:
            return future.result()
        except Exception as exc:  # an adapter bug must not fail the whole batch
            log.exception("event=exiftool_batch_failed count=%d", count)
            return [ExifToolFailure(f"exiftool: {type(exc).__name__}: {exc}", False)] * count

    def _probe(self, path: Path) -> ffprobe.VideoInfo | MetadataError:
        try:
            return ffprobe.probe(path, timeout=self._probe_timeout, executable=self._ffprobe)
        except ffprobe.ProbeError as exc:
            return MetadataError(exc.reason, permanent=exc.permanent)

    def _combine(
        self,
        path: Path,
        fmt: Format,
        record: Record,
        probed: Future[ffprobe.VideoInfo | MetadataError] | None,
        reader: str,
    ) -> MediaMetadata | MetadataError:
        try:
            if isinstance(record, ExifToolFailure):
                meta: MediaMetadata | MetadataError = MetadataError(
                    record.reason, permanent=record.permanent
                )
            else:
                meta = from_exiftool(record, fmt, reader=reader)
                if isinstance(meta, MediaMetadata) and fmt.name == "jpeg":
                    meta = _with_motion(meta, record, path)
            if probed is not None:
                meta = _merge_video(meta, probed.result())
            return fit_columns(meta) if isinstance(meta, MediaMetadata) else meta
        except Exception as exc:  # a parser bug on one odd file must not fail its batch
            log.exception("event=metadata_parse_failed path=%r", str(path))
            return MetadataError(f"metadata: {type(exc).__name__}: {exc}", permanent=False)

    def close(self) -> None:
        self._closed = True
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._exiftool.close()


def _merge_video(
    meta: MediaMetadata | MetadataError, info: ffprobe.VideoInfo | MetadataError
) -> MediaMetadata | MetadataError:
    """ffprobe decides whether a video is readable; exiftool adds dates, GPS and camera."""
    if isinstance(meta, MetadataError) and not meta.permanent:
        return meta  # retry later rather than store a video without its dates
    if isinstance(info, MetadataError):
        if info.permanent and isinstance(meta, MediaMetadata) and meta.duration:
            meta.extra["probe_error"] = info.reason  # exiftool still read the container
            return meta
        return info
    base = meta if isinstance(meta, MediaMetadata) else None
    merged = with_video(base, info)
    if isinstance(meta, MetadataError):
        merged.extra["exiftool_error"] = meta.reason
    return merged


def open_reader() -> ExifToolReader:
    return ExifToolReader()
