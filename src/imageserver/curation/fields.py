"""The one shape every curation source is read into, and its JSON form in the database.

A field that a source does not state is None (or an empty list): precedence.py then asks
the next source. Dates are the wall-clock time with the UTC offset when one is stated.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

MAX_TEXT = 10_000
MAX_TAGS = 500
MAX_TAG = 500

_DATE = re.compile(
    r"^(?P<y>\d{4})[:-](?P<mo>\d{2})[:-](?P<d>\d{2})"
    r"(?:[ T](?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?(?:\.\d+)?)?"
    r"(?P<z>Z|[+-]\d{2}:?\d{2})?$"
)


@dataclass
class Fields:
    rating: int | None = None  # -1 (rejected) .. 5
    label: str | None = None  # colour label as written ("Red", "Green", ...)
    title: str | None = None
    description: str | None = None
    tags: list[str] = field(default_factory=list)  # "Places/France/Paris"
    people: list[str] = field(default_factory=list)
    # named face boxes, fractions of the stored image (curation/regions.py)
    regions: list[dict[str, Any]] = field(default_factory=list)
    taken_at: str | None = None  # ISO "2019-07-14T10:20:30", wall clock
    offset_min: int | None = None
    latitude: float | None = None
    longitude: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Fields:
        if not data:
            return cls()
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)

    def empty(self) -> bool:
        return self == Fields()


def text(value: object) -> str | None:
    """A stripped, bounded string; exiftool hands numeric-looking text over as numbers."""
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None or isinstance(value, dict | bool):
        return None
    out = str(value).strip()
    return out[:MAX_TEXT] if out else None


def strings(value: object) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [s for s in (text(v) for v in items if not isinstance(v, list)) if s]


def rating(value: object) -> int | None:
    try:
        number = round(float(str(value)))
    except (TypeError, ValueError):
        return None
    return number if -1 <= number <= 5 else None


def coordinate(value: object, limit: float) -> float | None:
    try:
        number = float(str(value))
    except (TypeError, ValueError):
        return None
    return number if -limit <= number <= limit else None


def date(value: object) -> tuple[str, int | None] | None:
    """("2019-07-14T10:20:30", 120) from exiftool/XMP text; None when it is not a date."""
    raw = text(value)
    if raw is None:
        return None
    match = _DATE.match(raw)
    if not match:
        return None
    g = match.groupdict()
    try:
        when = datetime(
            int(g["y"]), int(g["mo"]), int(g["d"]),
            int(g["h"] or 0), int(g["mi"] or 0), int(g["s"] or 0),
        )  # fmt: skip
    except ValueError:
        return None
    if when.year < 1800:
        return None
    zone = g["z"]
    offset = None
    if zone == "Z":
        offset = 0
    elif zone:
        digits = zone[1:].replace(":", "")
        offset = int(digits[:2]) * 60 + int(digits[2:])
        offset = -offset if zone[0] == "-" else offset
        if abs(offset) > 18 * 60:
            offset = None
    return when.isoformat(), offset


def tag_paths(flat: list[str], hierarchical: list[list[str]]) -> list[str]:
    """Hierarchical paths joined by "/", plus the flat keywords that are not one of their
    levels (Lightroom writes every level of a path as a flat keyword too)."""
    out: list[str] = []
    levels: set[str] = set()
    for parts in hierarchical:
        clean = [p.strip() for p in parts if p.strip()]
        if clean:
            out.append("/".join(clean)[:MAX_TAG])
            levels.update(p.lower() for p in clean)
    out += [k.strip()[:MAX_TAG] for k in flat if k.strip().lower() not in levels]
    seen: set[str] = set()
    unique = []
    for tag in out:
        if tag not in seen:
            seen.add(tag)
            unique.append(tag)
    return unique[:MAX_TAGS]
