"""Places and map rules: the countries -> regions -> places tree, the grid a map view is
clustered on, and the bounding box a client sends.

All SQL is in repo.py, scoped there; this module shapes rows into the tree and turns a
zoom level into a grid cell.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, RowMapping

from imageserver.errors import Invalid
from imageserver.places import repo
from imageserver.places.schemas import Cluster, CountryCount, PlaceCount, RegionCount
from imageserver.work.scope import Scope

ATTRIBUTION = (
    "Places: GeoNames (CC BY 4.0); borders: Natural Earth; "
    "time zones: © OpenStreetMap contributors (ODbL)"
)
CELL_PX = 64  # a cluster covers about this many screen pixels on a 256 px tile grid
MAX_CLUSTERS = 2000
MAX_ZOOM = 22


def tree(conn: Connection, scope: Scope) -> list[CountryCount]:
    """Countries (most items first), their regions and places, with counts and covers."""
    rows = repo.place_counts(conn, scope)
    countries: dict[str, tuple[str, dict[tuple[str, str], list[RowMapping]]]] = {}
    for r in rows:
        entry = countries.setdefault(r["country_code"], (r["country"], {}))
        entry[1].setdefault((r["region"], r["region_code"]), []).append(r)
    out = []
    for code, (name, regions) in countries.items():
        region_out = []
        for (region, region_code), members in regions.items():
            place_out = sorted(
                (PlaceCount(place=m["place"], count=m["count"], cover=m["cover"]) for m in members),
                key=lambda p: (-p.count, p.place or ""),
            )
            region_out.append(
                RegionCount(
                    region=region,
                    region_code=region_code,
                    count=sum(p.count for p in place_out),
                    cover=max(p.cover for p in place_out),
                    places=place_out,
                )
            )
        region_out.sort(key=lambda x: (-x.count, x.region))
        out.append(
            CountryCount(
                country_code=code,
                country=name,
                count=sum(x.count for x in region_out),
                cover=max(x.cover for x in region_out),
                regions=region_out,
            )
        )
    out.sort(key=lambda c: (-c.count, c.country))
    return out


@dataclass(frozen=True)
class Box:
    south: float
    west: float
    north: float
    east: float  # east < west: the box crosses the antimeridian


_NUMBER = r"\s*[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*"
# Four decimal numbers, for the OpenAPI document; the ranges (-90 <= south <= north <= 90)
# are checked by `parse_bbox`, which also takes what float() reads (exponents).
BBOX_PATTERN = rf"^{_NUMBER},{_NUMBER},{_NUMBER},{_NUMBER}$"


def parse_bbox(text: str) -> Box:
    """`west,south,east,north` in degrees (Leaflet's toBBoxString order). Longitudes a
    panned map reports beyond ±180 are wrapped; a box 360 degrees wide or more is the world."""
    try:
        west, south, east, north = (float(v) for v in text.split(","))
    except ValueError as exc:
        raise Invalid("bbox: four numbers west,south,east,north") from exc
    values = (west, south, east, north)
    if any(v != v or abs(v) == float("inf") for v in values):
        raise Invalid("bbox: four finite numbers")
    if not (-90 <= south <= north <= 90):
        raise Invalid("bbox: need -90 <= south <= north <= 90")
    if east < west:
        raise Invalid("bbox: east < west (send the unwrapped longitudes)")
    if east - west >= 360:
        return Box(south, -180.0, north, 180.0)

    def wrap(lon: float) -> float:
        return ((lon + 180.0) % 360.0) - 180.0 if not -180 <= lon <= 180 else lon

    return Box(south, wrap(west), north, wrap(east))


def cell_degrees(zoom: int) -> float:
    """The grid cell at a zoom level: CELL_PX screen pixels of a 256 px tile pyramid."""
    return 360.0 / float(1 << zoom) * CELL_PX / 256


def markers(
    conn: Connection, scope: Scope, box: Box, zoom: int
) -> tuple[list[Cluster], float, bool]:
    cell = cell_degrees(zoom)
    rows = repo.clusters(
        conn, scope, box.south, box.west, box.north, box.east, cell, MAX_CLUSTERS + 1
    )
    return [cluster(r) for r in rows[:MAX_CLUSTERS]], cell, len(rows) > MAX_CLUSTERS


def cluster(r: RowMapping) -> Cluster:
    return Cluster(
        lat=round(float(r["lat"]), 6),
        lon=round(float(r["lon"]), 6),
        count=int(r["count"]),
        media_id=int(r["media_id"]),
        bounds=(float(r["south"]), float(r["west"]), float(r["north"]), float(r["east"])),
    )
