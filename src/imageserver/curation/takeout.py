"""A Google Takeout JSON document (the file beside each photo) -> Fields.

`photoTakenTime.timestamp` is an instant (UTC seconds) without the zone it was taken in;
it is kept as UTC wall-clock time with offset 0. `geoData` is where Google Photos places
the picture (edited by the user there), `geoDataExif` what the file said; 0/0 means none.
`title` is the file name, not a caption, and is not read.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from imageserver.curation import fields
from imageserver.curation.fields import Fields

MAX_BYTES = 1_000_000
KEYS = frozenset(
    {"title", "description", "photoTakenTime", "creationTime", "geoData", "geoDataExif", "people"}
)


class NotTakeout(ValueError):
    """Not a JSON document of Takeout's photo shape (an album's metadata.json, ...)."""


def parse(raw: bytes) -> Fields:
    if len(raw) > MAX_BYTES:
        raise NotTakeout("too large for a Takeout sidecar")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise NotTakeout(f"not JSON: {exc}") from None
    if not isinstance(doc, dict) or not KEYS & doc.keys():
        raise NotTakeout("not a Takeout photo document")
    return from_document(doc)


def _timestamp(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    try:
        seconds = int(str(value.get("timestamp")))
    except ValueError:
        return None
    if seconds <= 0 or seconds > 32_503_680_000:  # before 1970 (unset) or after 3000
        return None
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None).isoformat()


def _geo(value: Any) -> tuple[float, float] | None:
    if not isinstance(value, dict):
        return None
    lat = fields.coordinate(value.get("latitude"), 90)
    lon = fields.coordinate(value.get("longitude"), 180)
    if lat is None or lon is None or (lat == 0 and lon == 0):
        return None
    return lat, lon


def from_document(doc: dict[str, Any]) -> Fields:
    out = Fields(description=fields.text(doc.get("description")))
    taken = _timestamp(doc.get("photoTakenTime"))
    if taken is not None:
        out.taken_at, out.offset_min = taken, 0
    where = _geo(doc.get("geoData")) or _geo(doc.get("geoDataExif"))
    if where is not None:
        out.latitude, out.longitude = where
    people = doc.get("people")
    if isinstance(people, list):
        names = [fields.text(p.get("name")) for p in people if isinstance(p, dict)]
        out.people = list(dict.fromkeys(n for n in names if n))
    return out
