"""Named face regions that photo tools wrote (MWG `mwg-rs:RegionInfo`, as Lightroom,
digiKam, Picasa and darktable write it, and Microsoft's `MP:RegionInfoMP`), read from
exiftool's structured (`-struct`) answer into plain boxes.

A box is `{"name", "x", "y", "w", "h"}`: top-left corner and size as fractions of the
*stored* image, before its EXIF orientation is applied. The MWG guidelines (2.0, 5.9)
apply regions to the stored image and ask readers to rotate them with it; tools that
ignore that put portrait photos' faces in the wrong place (faces/regions.py turns the
boxes with the orientation before it matches them to detected faces). MWG areas are
centre-based (`X`, `Y` the centre); Microsoft rectangles are "left, top, width, height".
Regions without a name, of another type (Pet, Focus, BarCode), or with an area outside
the picture are left out; their names still count as people when they have one.
"""

from __future__ import annotations

import math
from typing import Any

from imageserver.curation import fields

MAX_REGIONS = 100
Box = dict[str, Any]


def _fraction(value: object) -> float | None:
    try:
        number = float(str(value))
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _box(name: str, left: float, top: float, w: float, h: float) -> Box | None:
    """A box inside the unit square (a sliver over the edge is clipped), else None."""
    if w <= 0 or h <= 0 or w > 1.01 or h > 1.01:
        return None
    x0, y0 = max(left, 0.0), max(top, 0.0)
    x1, y1 = min(left + w, 1.0), min(top + h, 1.0)
    if x1 - x0 < w * 0.5 or y1 - y0 < h * 0.5:
        return None  # mostly outside the picture: not this picture's region
    return {"name": name, "x": round(x0, 6), "y": round(y0, 6),
            "w": round(x1 - x0, 6), "h": round(y1 - y0, 6)}  # fmt: skip


def _mwg_area(area: dict[str, Any], applied: dict[str, Any]) -> tuple[float, ...] | None:
    """(left, top, w, h) as fractions from an MWG Area (normalized, or pixels of the
    AppliedToDimensions)."""
    values = [_fraction(area.get(k)) for k in ("X", "Y", "W", "H")]
    if any(v is None for v in values):
        return None
    x, y, w, h = (float(v) for v in values)  # type: ignore[arg-type]
    if str(area.get("Unit", "normalized")).lower() == "pixel":
        dims = [_fraction(applied.get(k)) for k in ("W", "H")]
        if not all(dims):
            return None
        width, height = float(dims[0]), float(dims[1])  # type: ignore[arg-type]
        x, w, y, h = x / width, w / width, y / height, h / height
    return x - w / 2, y - h / 2, w, h


def _listed(value: object) -> list[dict[str, Any]]:
    items = value if isinstance(value, list) else [value]
    return [i for i in items if isinstance(i, dict)]


def from_record(record: dict[str, Any]) -> tuple[list[str], list[Box]]:
    """(every region name, in order; the named face boxes)."""
    names: list[str] = []
    boxes: list[Box] = []
    mwg = record.get("XMP-mwg-rs:RegionInfo")
    if isinstance(mwg, dict):
        applied = mwg.get("AppliedToDimensions")
        applied = applied if isinstance(applied, dict) else {}
        for region in _listed(mwg.get("RegionList")):
            name = fields.text(region.get("Name"))
            if name is None:
                continue
            names.append(name)
            kind = str(region.get("Type", "Face")).lower()
            area = region.get("Area")
            edges = _mwg_area(area, applied) if isinstance(area, dict) else None
            box = _box(name, *edges) if edges and kind == "face" else None
            if box:
                boxes.append(box)
    microsoft = record.get("XMP-MP:RegionInfoMP")
    if isinstance(microsoft, dict):
        for region in _listed(microsoft.get("Regions")):
            name = fields.text(region.get("PersonDisplayName"))
            if name is None:
                continue
            names.append(name)
            parts = [_fraction(p) for p in str(region.get("Rectangle", "")).split(",")]
            if len(parts) == 4 and all(p is not None for p in parts):
                box = _box(name, *(float(p) for p in parts))  # type: ignore[arg-type]
                if box:
                    boxes.append(box)
    return list(dict.fromkeys(names)), boxes[:MAX_REGIONS]
