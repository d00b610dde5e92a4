"""exiftool's side of a read: which tags we ask for, and how its JSON becomes MediaMetadata.

The request (`TAGS`, `exiftool_options`) and the mapping (`from_exiftool`) live together
because they must agree: a tag that is mapped but not requested is silently never read.
Dates and GPS have their own modules (dates.py, gps.py); camera fields, exposure, the
displayed size and orientation are mapped here. `jpeg_record` (jpeg.py) builds records of
the same shape, so this one mapping decides for both paths.
"""

from __future__ import annotations

from typing import Any

from imageserver.media.exiftool import MESSAGES_KEY
from imageserver.media.formats import Format
from imageserver.media.metadata.dates import taken_at
from imageserver.media.metadata.gps import gps_reading
from imageserver.media.metadata.record import READER_NAME, MediaMetadata, MetadataError
from imageserver.media.metadata.values import (
    as_number,
    as_positive,
    as_text,
    first_of,
    json_safe,
)

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
    *("GPSDateStamp", "GPSTimeStamp", "GPSDateTime", "ExifByteOrder", "DefaultCropSize"),
    *("ExifImageWidth", "ExifImageHeight"),
    *("MicroVideoOffset", "XMP-Container:Directory"),
)

# Formats whose metadata sits before the image data: `-fast` stops at the first scan and
# skips the trailer search (our own tail read finds Samsung trailers). `-fast2` also skips
# MakerNotes, which cost half of exiftool's time on a camera JPEG and would only add a lens
# name for some older cameras (Canon, Olympus) that do not write EXIF LensModel: everyday
# formats take it, RAW files (whose owners care about lenses) keep their MakerNotes. HEIF,
# CR3 and videos may keep metadata after the media data, so they are read in full, and so
# is PNG: writers put eXIf / tEXt chunks after IDAT (the spec allows it) and `-fast` stops
# at IDAT (exiftool seeks over the pixel data, so reading on is cheap).
FAST2_FORMATS = frozenset({"jpeg", "gif", "webp", "tiff"})
FAST_FORMATS = frozenset({"cr2", "nef", "dng", "arw", "pef", "srw", "orf"})
HEIF_FORMATS = frozenset({"heic", "avif"})


_CONTAINER_ITEMS = ",".join(
    f"DirectoryItem{name}" for name in ("Mime", "Semantic", "Length", "Padding")
)


def exiftool_options(fmt: Format, *, maker_notes: bool = False) -> tuple[str, ...]:
    """exiftool arguments for one format; files sharing them go in one request.

    `maker_notes` drops `-fast2` for a second read of a camera file that had no date
    elsewhere: some cameras (Reconyx trail cameras) date a picture only in their MakerNote.
    """
    options = ["-struct", *(f"-{tag}" for tag in TAGS)]
    if fmt.is_raw:
        # the raw image size, not the preview's: a Composite tag built from unrequested tags
        options.append("-Composite:ImageSize")
    else:
        # no Composite tags (~25% of the time), and IgnoreTags=all stops exiftool storing
        # every tag it meets (~20%); the Container directory struct is rebuilt from its
        # flattened tags, so those must be requested too
        options += ["-e", "-api", "IgnoreTags=all", "-api", f"RequestTags={_CONTAINER_ITEMS}"]
    if fmt.name in FAST2_FORMATS and not maker_notes:
        options.append("-fast2")
    elif fmt.name in FAST_FORMATS:
        options.append("-fast")
    return tuple(options)


def orientation(rec: dict[str, Any]) -> int | None:
    """EXIF (IFD0, not the thumbnail's IFD1) then XMP; a present but invalid value is 1, and
    so is an absent one in a file that carries EXIF; None for a file without EXIF."""
    for key in ("IFD0:Orientation", "XMP-tiff:Orientation"):
        if key in rec:
            value = as_number(rec[key])
            return int(value) if value is not None and value in range(1, 9) else 1
    # EXIF without the tag means its default, 1 (a PNG eXIf chunk, a camera that omits it)
    return 1 if "File:ExifByteOrder" in rec else None


def _pair(value: Any) -> tuple[float, float] | None:
    parts = [as_number(p) for p in (as_text(value) or "").split()]
    if len(parts) >= 2 and parts[0] and parts[1] and parts[0] > 0 and parts[1] > 0:
        return parts[0], parts[1]
    return None


def _default_crop(rec: dict[str, Any], full: tuple[float, float]) -> tuple[float, float]:
    """A DNG's DefaultCropSize (what rawpy's crop_width/height, Lightroom and the camera
    show) when it fits inside the raw image; the full sensor size otherwise."""
    crops = {k.split(":")[0]: _pair(v) for k, v in rec.items() if k.endswith(":DefaultCropSize")}
    # the raw image's IFD (its width is the full size) first, then any other
    ordered = sorted(crops, key=lambda g: as_number(rec.get(f"{g}:ImageWidth")) != full[0])
    for group in ordered:
        crop = crops[group]
        if crop and crop[0] <= full[0] and crop[1] <= full[1]:
            return crop
    return full


def image_size(rec: dict[str, Any], fmt: Format, orient: int | None) -> tuple[int, int] | None:
    """The displayed size of a still (see MediaMetadata)."""
    size = _pair(rec.get("Composite:ImageSize")) if fmt.is_raw else None
    if size is not None:
        size = _default_crop(rec, size)
    if size is None:
        for group in ("File", "PNG", "GIF", "RIFF", "IFD0"):
            width = as_positive(rec.get(f"{group}:ImageWidth"))
            height = as_positive(rec.get(f"{group}:ImageHeight"))
            if width and height:
                size = width, height
                break
    if size is None:
        # a JPEG whose frame header is unusable (libexif's makernote samples): the size
        # the camera wrote in EXIF, as exiftool shows it
        width = as_positive(rec.get("ExifIFD:ExifImageWidth"))
        height = as_positive(rec.get("ExifIFD:ExifImageHeight"))
        size = (width, height) if width and height else None
    if size is None:
        return None
    width, height = size
    heif = fmt.name in HEIF_FORMATS or as_text(rec.get("File:FileType")) in ("HEIC", "HEIF", "AVIF")
    if heif:
        aperture = _pair(rec.get("QuickTime:CleanAperture"))
        if aperture:
            width, height = min(width, aperture[0]), min(height, aperture[1])
        if "QuickTime:Rotation" in rec:  # an irot box: it wins, the EXIF tag is ignored
            turn = as_number(rec.get("QuickTime:Rotation")) or 0
            swap = int(turn) % 180 == 90
        else:  # no container transform: EXIF Orientation applies (media/decode.py)
            swap = orient in (5, 6, 7, 8)
    else:
        swap = orient in (5, 6, 7, 8)
    width_px, height_px = round(width), round(height)
    return (height_px, width_px) if swap else (width_px, height_px)


USEFUL = ("width", "taken_at", "make", "model", "latitude", "duration")


def failure_reason(rec: dict[str, Any]) -> str:
    """Why exiftool found nothing: its first real warning, else what little it knew."""
    messages = [as_text(rec.get("ExifTool:Warning")), *(rec.get(MESSAGES_KEY) or [])]
    texts = [
        m.split(":", 1)[-1].strip() if m.startswith(("Warning", "Error")) else m
        for m in messages
        if m
    ]
    major = [t for t in texts if not t.lower().startswith("[minor]")]
    if major:
        return f"exiftool: {major[0]}"
    file_type = as_text(rec.get("File:FileType"))
    reason = f"no image information in {file_type} file" if file_type else "no metadata found"
    return f"exiftool: {reason}" + (f" ({texts[0]})" if texts else "")


def from_exiftool(
    rec: dict[str, Any], fmt: Format, *, reader: str = READER_NAME
) -> MediaMetadata | MetadataError:
    """A MediaMetadata from one exiftool JSON object (requested with exiftool_options) or
    a `jpeg_record` of the same shape."""
    error = as_text(rec.get("ExifTool:Error"))
    if error:
        return MetadataError(f"exiftool: {error}")
    meta = MediaMetadata(reader=reader)
    meta.make = as_text(first_of(rec, ("IFD0:Make", "Keys:Make", "UserData:Make", "XMP-tiff:Make")))
    meta.model = as_text(
        first_of(rec, ("IFD0:Model", "Keys:Model", "UserData:Model", "XMP-tiff:Model"))
    )
    meta.lens = as_text(
        first_of(
            rec,
            ("ExifIFD:LensModel", "XMP-exifEX:LensModel", "XMP-aux:Lens", "Keys:LensModel"),
            "LensModel",
        )
    )
    iso = as_positive(first_of(rec, ("ExifIFD:ISO", "XMP-exif:ISO"), "ISO"))
    meta.iso = int(iso) if iso else None
    meta.f_number = as_positive(first_of(rec, ("ExifIFD:FNumber", "XMP-exif:FNumber")))
    meta.exposure_time = as_positive(
        first_of(rec, ("ExifIFD:ExposureTime", "XMP-exif:ExposureTime"))
    )
    meta.focal_length = as_positive(first_of(rec, ("ExifIFD:FocalLength", "XMP-exif:FocalLength")))
    if not fmt.is_video:
        meta.orientation = orientation(rec)
        size = image_size(rec, fmt, meta.orientation)
        if size:
            meta.width, meta.height = size
        if fmt.name in HEIF_FORMATS and "QuickTime:Rotation" in rec:
            meta.extra["heif_rotation"] = json_safe(rec["QuickTime:Rotation"])
    position, rejected = gps_reading(rec)
    if position:
        meta.latitude, meta.longitude, meta.altitude = position
    elif rejected:
        meta.extra["gps_rejected"] = rejected  # (0, 0) or out of range: kept, not shown
    when = taken_at(rec)
    if when:
        meta.taken_at, meta.taken_at_offset_min, meta.taken_at_source = when
    duration = as_positive(first_of(rec, ("QuickTime:Duration",), "Duration"))
    if fmt.is_video:
        meta.duration = duration
    if not fmt.is_video and not any(getattr(meta, name) is not None for name in USEFUL):
        return MetadataError(failure_reason(rec))  # nothing read: the file is not an image
    warning = as_text(rec.get("ExifTool:Warning"))
    if warning:
        meta.extra["exiftool_warning"] = warning
    return meta
