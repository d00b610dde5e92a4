"""Where a photo or video was taken: signed decimal degrees from EXIF, XMP or video boxes.

Positions come as d/m/s with N/S/E/W references (EXIF, XMP, maker notes) or as ISO 6709
strings (QuickTime GPSCoordinates, 3GPP `loci`). An out-of-range pair, and exactly (0, 0)
("Null Island": what phones write before the first fix), is no position; `gps_reading`
hands back the raw values of such a pair so they can be kept in `extra`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
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
    if lat is None or lon is None or (lat == 0 and lon == 0):
        return False
    return abs(lat) <= 90 and abs(lon) <= 180


Position = tuple[float, float, float | None]


def gps(rec: dict[str, Any]) -> Position | None:
    """(lat, lon, altitude) in signed decimal degrees / metres, from EXIF, XMP, maker
    notes (FLIR) or a video's ISO 6709 coordinates / 3GPP location box."""
    return gps_reading(rec)[0]


def gps_reading(rec: dict[str, Any]) -> tuple[Position | None, dict[str, Any] | None]:
    """(the position or None, the first rejected pair as {"source", "latitude",
    "longitude"} or None): a file with a bogus pair is told apart from one with none."""
    rejected: dict[str, Any] | None = None
    for source, lat, lon, alt in _candidates(rec):
        if _valid_position(lat, lon):
            return (lat, lon, alt), None
        if rejected is None:
            rejected = {"source": source, "latitude": lat, "longitude": lon}
    return None, rejected


def _candidates(
    rec: dict[str, Any],
) -> Iterator[tuple[str, float, float, float | None]]:
    """Every (source, lat, lon, altitude) the record states, most trusted first."""
    groups = ["GPS", "XMP-exif"]
    groups += sorted(
        {k.split(":")[0] for k in rec if k.endswith(":GPSLatitude")} - set(groups) - {"Composite"}
    )
    for group in groups:
        lat = _signed(rec.get(f"{group}:GPSLatitude"), rec.get(f"{group}:GPSLatitudeRef"), "S")
        lon = _signed(rec.get(f"{group}:GPSLongitude"), rec.get(f"{group}:GPSLongitudeRef"), "W")
        if lat is not None and lon is not None:
            alt = as_number(rec.get(f"{group}:GPSAltitude"))
            if alt is not None and str(rec.get(f"{group}:GPSAltitudeRef")) == "1":
                alt = -abs(alt)
            yield group, lat, lon, alt
    for key in ("Keys:GPSCoordinates", "UserData:GPSCoordinates", "ItemList:GPSCoordinates"):
        parts = [as_number(p) for p in (as_text(rec.get(key)) or "").split()]
        lat, lon = [*parts, None, None][:2]
        if lat is not None and lon is not None:
            yield key, lat, lon, parts[2] if len(parts) > 2 else None
    match = _LOCI.search(as_text(rec.get("UserData:LocationInformation")) or "")
    if match:
        alt = float(match[3]) if match[3] else None
        yield "UserData:LocationInformation", float(match[1]), float(match[2]), alt
