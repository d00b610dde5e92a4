"""The in-process JPEG fast path: plain JPEGs read by Pillow into an exiftool-shaped record.

exiftool spends ~5 ms of Perl per file; Pillow reads a plain JPEG's EXIF in ~0.3 ms. The
fast path only takes JPEGs whose every segment it understands and turns them into the same
exiftool-shaped record (same keys, same -n number rounding), so one parser (exif.py)
decides. Files with XMP, IPTC or vendor segments (FLIR, ...) go to exiftool; MakerNotes are
skipped by both paths (-fast2). tests/media/test_metadata_corpus.py checks both agree on
the corpus.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    7: "GPS:GPSTimeStamp",
    29: "GPS:GPSDateStamp",
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


def _exif_time(value: Any) -> str | None:
    """GPSTimeStamp (three rationals) as exiftool prints it: '14:27:07.24'."""
    parts = value if isinstance(value, list) else [value]
    if len(parts) != 3 or not all(isinstance(p, float | int) for p in parts):
        return None
    hour, minute, second = parts
    whole = int(second)
    fraction = f"{second - whole:.6g}"[1:] if second != whole else ""
    return f"{int(hour):02d}:{int(minute):02d}:{whole:02d}{fraction}"


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
            if any(marker == "APP1" for marker, _ in getattr(im, "applist", [])):
                rec["File:ExifByteOrder"] = "II" if exif.endian == "<" else "MM"
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
    if "GPS:GPSTimeStamp" in rec:
        rec["GPS:GPSTimeStamp"] = _exif_time(rec["GPS:GPSTimeStamp"])
    return {k: v for k, v in rec.items() if v is not None}
