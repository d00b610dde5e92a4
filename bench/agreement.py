"""Does our MediaMetadata say what exiftool says? Field by field, on the same files.

Rules, so that legitimate differences are not counted as disagreements:
- a field absent on both sides agrees; absent on one side disagrees;
- DateTimeOriginal is compared only where exiftool has a valid one (a reader may fall
  back to other dates when it is missing), to the second;
- Orientation: a missing tag counts as 1; not compared for HEIF, whose `irot` box is
  authoritative (decoders apply it and readers may normalise the EXIF tag);
- ImageSize is compared as displayed: exiftool's stored size swapped for EXIF orientations
  5-8 (HEIF: for a 90/270 `Rotation`); GPS within 1e-5 degrees.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

FIELDS = ("Make", "Model", "DateTimeOriginal", "Orientation", "GPS", "ImageSize")
GPS_TOLERANCE = 1e-5


@dataclass
class Agreement:
    compared: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    agreed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # field -> {corpus source: (exiftool value, our value)}: one example per source
    examples: dict[str, dict[str, tuple[Any, Any]]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    failed: int = 0  # files our reader returned a MetadataError for

    def add(self, name: str, source: str, theirs: Any, ours: Any, ok: bool) -> None:
        self.compared[name] += 1
        if ok:
            self.agreed[name] += 1
        else:
            self.examples[name].setdefault(source, (theirs, ours))

    def percent(self, name: str | None = None) -> float:
        names = [name] if name else list(self.compared)
        total = sum(self.compared[n] for n in names)
        return 100.0 * sum(self.agreed[n] for n in names) / total if total else float("nan")

    def summary(self) -> str:
        return ", ".join(
            f"{n} {self.percent(n):.0f}% (n={self.compared[n]})" for n in FIELDS if self.compared[n]
        )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _exif_date(value: Any) -> datetime | None:
    text = _text(value)
    if text is None:
        return None
    try:
        return datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None


def _gps(entry: dict[str, Any]) -> tuple[float, float] | None:
    position = entry.get("GPSPosition")
    if isinstance(position, str) and len(position.split()) == 2:
        lat, lon = position.split()
        return float(lat), float(lon)
    if isinstance(entry.get("GPSLatitude"), int | float) and isinstance(
        entry.get("GPSLongitude"), int | float
    ):
        return float(entry["GPSLatitude"]), float(entry["GPSLongitude"])
    return None


def _displayed_size(entry: dict[str, Any], heif: bool) -> tuple[int, int] | None:
    size = entry.get("ImageSize")
    if not isinstance(size, str):
        return None
    parts = size.replace("x", " ").split()
    if len(parts) != 2:
        return None
    w, h = int(float(parts[0])), int(float(parts[1]))
    # HEIF: the irot box (exiftool's Rotation) turns the image; others: EXIF Orientation.
    turn = entry.get("Rotation") in (90, 270)
    swap = turn if heif else entry.get("Orientation") in (5, 6, 7, 8)
    return (h, w) if swap else (w, h)


def compare(
    agreement: Agreement, source: str, entry: dict[str, Any], meta: Any, heif: bool
) -> None:
    """Add one file's comparison (exiftool JSON entry vs our MediaMetadata) to the tally."""
    for name, ours in (("Make", meta.make), ("Model", meta.model)):
        theirs = _text(entry.get(name))
        agreement.add(name, source, theirs, _text(ours), theirs == _text(ours))

    taken = _exif_date(entry.get("DateTimeOriginal"))
    if taken is not None:
        got = meta.taken_at.replace(microsecond=0, tzinfo=None) if meta.taken_at else None
        agreement.add("DateTimeOriginal", source, taken, got, got == taken)

    if not heif:
        theirs_o = int(entry.get("Orientation") or 1)
        ours_o = int(meta.orientation or 1)
        agreement.add("Orientation", source, theirs_o, ours_o, theirs_o == ours_o)

    gps = _gps(entry)
    ours_gps = (
        (meta.latitude, meta.longitude)
        if meta.latitude is not None and meta.longitude is not None
        else None
    )
    if gps is None or ours_gps is None:
        ok = gps is None and ours_gps is None
    else:
        ok = all(abs(a - b) <= GPS_TOLERANCE for a, b in zip(gps, ours_gps, strict=True))
    agreement.add("GPS", source, gps, ours_gps, ok)

    size = _displayed_size(entry, heif)
    ours_size = (meta.width, meta.height) if meta.width and meta.height else None
    agreement.add("ImageSize", source, size, ours_size, size == ours_size)
