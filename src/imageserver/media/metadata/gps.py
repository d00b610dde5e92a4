"""Where a photo or video was taken: signed decimal degrees from EXIF, XMP or video boxes.

Positions come as d/m/s with N/S/E/W references (EXIF, XMP, maker notes) or as ISO 6709
strings (QuickTime GPSCoordinates, 3GPP `loci`); an out-of-range pair is no position.
"""

from __future__ import annotations

import re
from typing import Any

from imageserver.media.metadata.values import as_number, as_text

_LOCI = re.compile(r"Lat=(-?[\d.]+)\s+Lon=(-?[\d.]+)(?:\s+Alt=(-?[\d.]+))?")


def _signed(value: Any, ref: Any, negative: str) -> float | None:
    number = as_number(value)
    if number is None:
        return None
    reference = (as_text(ref) or "").upper()[:1]
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
            alt = as_number(rec.get(f"{group}:GPSAltitude"))
            if alt is not None and str(rec.get(f"{group}:GPSAltitudeRef")) == "1":
                alt = -abs(alt)
            return lat, lon, alt
    for key in ("Keys:GPSCoordinates", "UserData:GPSCoordinates", "ItemList:GPSCoordinates"):
        parts = [as_number(p) for p in (as_text(rec.get(key)) or "").split()]
        lat, lon = [*parts, None, None][:2]
        if lat is not None and lon is not None and _valid_position(lat, lon):
            return lat, lon, parts[2] if len(parts) > 2 else None
    match = _LOCI.search(as_text(rec.get("UserData:LocationInformation")) or "")
    if match:
        lat, lon = float(match[1]), float(match[2])
        if _valid_position(lat, lon):
            return lat, lon, float(match[3]) if match[3] else None
    return None
