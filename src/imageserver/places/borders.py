"""Which boundary polygon a point lies in: Natural Earth 1:10m admin-1, refined at borders
by the time-zone data.

1. Point-in-polygon: every polygon is split into its parts; an STRtree over the parts'
   bounding boxes picks the candidates and prepared geometries answer `contains`.
2. At sea (in no polygon) the nearest polygon within `COASTAL_KM` (20 km; territorial
   waters are 12 nautical miles, 22 km) is taken, with `offshore_km` saying how far it
   was, so a photo from a boat in the Solent is still the United Kingdom. Further out
   (open ocean) there is no polygon.
3. Border refinement: Natural Earth at 1:10m draws a border to within a few hundred metres,
   sometimes a kilometre (its Geneva/France line puts Ferney-Voltaire's centre in
   Switzerland). The time-zone polygons (timezonefinder, from OpenStreetMap, unsimplified)
   follow national borders to the metre wherever the two sides use different IANA zones,
   which most neighbours do (Europe/Paris vs Europe/Zurich, America/Detroit vs
   America/Toronto, America/Tijuana vs America/Los_Angeles). When the point's zone is used
   only in countries other than the polygon's (tzdata's zone.tab and zone1970.tab, vendored
   with the boundaries), the nearest polygon of one of the zone's countries within
   `BORDER_KM` replaces it. Zones shared across a border (Europe/Zurich covers CH, DE and
   LI; Europe/Rome IT, SM, VA) leave Natural Earth's answer alone, and so do the zones
   of `NOT_BORDERS`, whose lines are not national borders.

The lock serialises the GEOS calls: prepared geometries build their index lazily on first
use, which is not safe to race from two threads.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from imageserver.places import data
from imageserver.places.geo import haversine_km

COASTAL_KM = 20.0
BORDER_KM = 10.0
CELL_DEG = 0.25  # grid of the one-point path's candidate cache
# Zones whose boundaries are not national borders: timezone-boundary-builder files Israeli
# settlements in the West Bank under Asia/Jerusalem and Palestinian areas under Asia/Hebron;
# there Natural Earth's line is kept.
NOT_BORDERS = frozenset({"Asia/Jerusalem", "Asia/Hebron", "Asia/Gaza"})


def timezone_at(lat: float, lon: float) -> str | None:
    """IANA zone of a point (timezonefinder's global instance is thread-safe)."""
    import timezonefinder

    return timezonefinder.timezone_at(lng=lon, lat=lat)


class Borders:
    def __init__(
        self,
        boundaries: list[data.Boundary],
        geoms: npt.NDArray[Any],
        zones: dict[str, frozenset[str]],
    ) -> None:
        self.boundaries = boundaries
        parts, owner = shapely.get_parts(geoms, return_index=True)
        self.parts = parts
        self.part_owner = owner.astype(np.int32)
        self.part_cc = np.array([boundaries[i].country_code for i in self.part_owner])
        shapely.prepare(self.parts)
        self.tree = shapely.STRtree(self.parts)
        self.zones = zones
        self._lock = threading.Lock()
        self._part_owner_list: list[int] = self.part_owner.tolist()
        self._cells: dict[tuple[int, int], tuple[int, tuple[int, ...]]] = {}

    @classmethod
    def load(cls) -> Borders:
        return cls(*data.load_boundaries())

    def locate_one(self, lat: float, lon: float) -> tuple[int, float, str | None] | None:
        """`locate` for one point in scalar code (numpy costs microseconds per call):
        (polygon or -1, km offshore, zone); None when the point needs the batch path
        (its zone disagrees with its polygon: border refinement)."""
        zone = timezone_at(lat, lon)
        allowed = self.zones.get(zone) if zone and zone not in NOT_BORDERS else None
        offshore = 0.0
        with self._lock:
            inside, parts = self._cell(lat, lon)
            owner = inside
            if owner < 0:
                for part in parts:
                    if shapely.contains_xy(self.parts[part], lon, lat):
                        owner = self._part_owner_list[part]
                        break
            if owner < 0:
                owner, offshore = self._snap_one(lat, lon)
        if owner >= 0 and allowed and self.boundaries[owner].country_code not in allowed:
            return None
        return owner, offshore, zone

    def _snap_one(self, lat: float, lon: float) -> tuple[int, float]:
        """The nearest polygon within COASTAL_KM of a point at sea, and its distance."""
        reach = round(COASTAL_KM / 111.0 / max(math.cos(math.radians(lat)), 0.05), 2)
        point = shapely.Point(lon, lat)
        found = self.tree.query_nearest(point, max_distance=reach, all_matches=False)
        if not len(found):
            return -1, 0.0
        part = int(found[0])
        end = shapely.get_coordinates(shapely.shortest_line(point, self.parts[part]))[1]
        km = float(haversine_km(lat, lon, end[1], end[0]))
        if km > COASTAL_KM:
            return -1, 0.0
        return self._part_owner_list[part], round(km, 3)

    def _cell(self, lat: float, lon: float) -> tuple[int, tuple[int, ...]]:
        """(polygon covering the whole grid cell or -1, candidate parts) for the point's
        CELL_DEG cell, computed on first use and kept (at most 360/CELL x 180/CELL cells).
        Caller holds the lock."""
        key = (int((lon + 180.0) // CELL_DEG), int((lat + 90.0) // CELL_DEG))
        found = self._cells.get(key)
        if found is None:
            x0, y0 = key[0] * CELL_DEG - 180.0, key[1] * CELL_DEG - 90.0
            box = shapely.box(x0, y0, x0 + CELL_DEG, y0 + CELL_DEG)
            cand = self.tree.query(box)
            cand = cand[shapely.intersects(self.parts[cand], box)]
            owners = {self._part_owner_list[p] for p in cand.tolist()}
            whole = -1
            if len(owners) == 1 and bool(shapely.covers(self.parts[cand], box).any()):
                whole = owners.pop()
            found = (whole, tuple(cand.tolist()))
            self._cells[key] = found
        return found

    def locate(
        self, lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float64], list[str | None]]:
        """Per (valid) point: polygon index (-1 for none), km offshore, IANA zone."""
        n = len(lat)
        polygon = np.full(n, -1, dtype=np.int32)
        offshore = np.zeros(n, dtype=np.float64)
        zones = [timezone_at(a, b) for a, b in zip(lat.tolist(), lon.tolist(), strict=True)]
        if n == 0:
            return polygon, offshore, zones
        points = shapely.points(lon, lat)
        with self._lock:
            pt_idx, part_idx = self.tree.query(points)
            if len(pt_idx):
                inside = shapely.contains_xy(self.parts[part_idx], lon[pt_idx], lat[pt_idx])
                # reversed so that, on a shared border, the first polygon in file order wins
                hit_pt, hit_part = pt_idx[inside][::-1], part_idx[inside][::-1]
                polygon[hit_pt] = self.part_owner[hit_part]
            missing = np.flatnonzero(polygon < 0)
            if len(missing):
                self._snap_offshore(missing, lat, lon, points, polygon, offshore)
            for i, zone in enumerate(zones):
                allowed = self.zones.get(zone) if zone and zone not in NOT_BORDERS else None
                if not allowed or polygon[i] < 0:
                    continue
                if self.boundaries[polygon[i]].country_code not in allowed:
                    self._refine(i, allowed, lat, lon, points, polygon, offshore)
        return polygon, offshore, zones

    def _snap_offshore(
        self,
        missing: npt.NDArray[np.intp],
        lat: npt.NDArray[np.float64],
        lon: npt.NDArray[np.float64],
        points: npt.NDArray[Any],
        polygon: npt.NDArray[np.int32],
        offshore: npt.NDArray[np.float64],
    ) -> None:
        # Planar search in degrees, wide enough in longitude at the point's latitude; the
        # real distance is then measured on the sphere and must be within COASTAL_KM.
        reach = np.round(COASTAL_KM / 111.0 / np.maximum(np.cos(np.radians(lat[missing])), 0.05), 2)
        for r in np.unique(reach):
            group = missing[reach == r]
            near_pt, near_part = self.tree.query_nearest(
                points[group], max_distance=float(r), all_matches=False
            )
            if not len(near_pt):
                continue
            idx = group[near_pt]
            km = self._km_to(points[idx], self.parts[near_part], lat[idx], lon[idx])
            ok = km <= COASTAL_KM
            polygon[idx[ok]] = self.part_owner[near_part[ok]]
            offshore[idx[ok]] = km[ok]

    def _refine(
        self,
        i: int,
        allowed: frozenset[str],
        lat: npt.NDArray[np.float64],
        lon: npt.NDArray[np.float64],
        points: npt.NDArray[Any],
        polygon: npt.NDArray[np.int32],
        offshore: npt.NDArray[np.float64],
    ) -> None:
        reach = BORDER_KM / 111.0 / max(float(np.cos(np.radians(lat[i]))), 0.05)
        box = shapely.box(lon[i] - reach, lat[i] - reach, lon[i] + reach, lat[i] + reach)
        cand = self.tree.query(box)
        cand = cand[np.isin(self.part_cc[cand], list(allowed))]
        if not len(cand):
            return
        pt = np.repeat(points[i], len(cand))
        km = self._km_to(
            pt, self.parts[cand], np.repeat(lat[i], len(cand)), np.repeat(lon[i], len(cand))
        )
        best = int(np.argmin(km))
        if km[best] <= BORDER_KM:
            polygon[i] = self.part_owner[cand[best]]
            offshore[i] = 0.0

    @staticmethod
    def _km_to(
        points: npt.NDArray[Any], geoms: npt.NDArray[Any], lat: Any, lon: Any
    ) -> npt.NDArray[np.float64]:
        """Great-circle km from each point to the nearest point of its geometry."""
        line = shapely.shortest_line(points, geoms)
        end = shapely.get_coordinates(shapely.get_point(line, 1))
        return np.asarray(haversine_km(lat, lon, end[:, 1], end[:, 0]), dtype=np.float64)
