"""Offline reverse geocoding: (lat, lon) -> country, first-level region, nearest populated
place in that region, IANA time zone.

- Country and region: `borders.Borders` (point-in-polygon on Natural Earth 1:10m admin-1,
  snapped from the sea within 20 km, refined at borders by the OpenStreetMap-derived
  time-zone polygons). Country and region come from one polygon, so they never disagree.
- Place: the GeoNames cities (population >= 1000) *in the point's first-level region*
  (falling back to its country when the region has none) found on a KD-tree of unit
  vectors (great-circle order). Among the region's places no further than the nearest one
  plus `TOWN_SLACK_KM`, the one with the smallest distance / sqrt(population) wins, so a
  point in St Albans's centre reads "St Albans", not the suburb whose GeoNames point is
  600 m closer; a village keeps its name unless a much larger town is almost as near.
  Beyond `MAX_PLACE_KM` there is no place.
- Time zone: timezonefinder (OpenStreetMap time-zone boundaries, unsimplified); at sea its
  Etc/GMT±N nautical zones.

Invalid input (NaN, infinities, |lat| > 90, |lon| > 180) and the exact point (0, 0), which
cameras write when they have no fix, give None; so does a point with neither a country nor
a time zone. The data loads once per process on first use (about a second, see the bench
row for memory); afterwards everything is read-only and lookups may run in any thread.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from imageserver.places import data
from imageserver.places.borders import Borders
from imageserver.places.geo import EARTH_KM, chord_to_km, unit_vectors, valid_mask, valid_point

MAX_PLACE_KM = 100.0
TOWN_SLACK_KM = 3.0
CANDIDATES = 16  # nearest cities tried before a per-region tree is built
CHUNK = 4096  # points per vectorised step of lookup_many


@dataclass(frozen=True, slots=True)
class Place:
    """What one point is. Empty country fields: at sea (only a time zone is known)."""

    country_code: str  # ISO 3166-1 alpha-2
    country: str
    region: str  # first level: state, Land, province, England/Scotland/..., French région
    region_code: str  # ISO 3166-2 where Natural Earth has it, else ""
    subregion: str  # the Natural Earth polygon (== region where admin-1 is first-level)
    subregion_code: str
    place: str | None  # None when no populated place is within MAX_PLACE_KM
    place_km: float | None  # great-circle km to the place's GeoNames point
    place_population: int | None
    timezone: str | None  # IANA name
    offshore_km: float  # 0.0 on land; > 0 when snapped from the sea


Coords = npt.ArrayLike


class Geocoder:
    """Loaded data and indexes; `geocoder()` shares one per process."""

    def __init__(self, borders: Borders, cities: data.Cities) -> None:
        self.borders = borders
        b = borders.boundaries
        regions: dict[tuple[str, str, str], int] = {}
        self.polygon_region = np.array(
            [
                regions.setdefault((x.country_code, x.region_code, x.region), len(regions))
                for x in b
            ],
            dtype=np.int32,
        )
        countries: dict[str, int] = {}
        self.polygon_country = np.array(
            [countries.setdefault(x.country_code, len(countries)) for x in b], dtype=np.int32
        )
        self.cities = cities
        self.city_region = self.polygon_region[cities.polygon]
        self.city_country = self.polygon_country[cities.polygon]
        self.city_weight = np.sqrt(np.maximum(cities.population, 1).astype(np.float64))
        self.city_xyz = unit_vectors(cities.lat, cities.lon)
        self.city_tree = cKDTree(self.city_xyz)
        # plain lists for the scalar path (numpy indexing costs microseconds per call)
        self._polygon_region_list: list[int] = self.polygon_region.tolist()
        self._city_region_list: list[int] = self.city_region.tolist()
        self._city_weight_list: list[float] = self.city_weight.tolist()
        self._subtrees: dict[tuple[str, int], tuple[cKDTree | None, npt.NDArray[np.intp]]] = {}
        self._subtree_lock = threading.Lock()

    @classmethod
    def load(cls) -> Geocoder:
        return cls(Borders.load(), data.load_cities())

    def _subtree(self, kind: str, ident: int) -> tuple[cKDTree | None, npt.NDArray[np.intp]]:
        key = (kind, ident)
        found = self._subtrees.get(key)
        if found is None:
            with self._subtree_lock:
                found = self._subtrees.get(key)
                if found is None:
                    ids = self.city_region if kind == "region" else self.city_country
                    members = np.flatnonzero(ids == ident)
                    tree = cKDTree(self.city_xyz[members]) if len(members) else None
                    found = (tree, members)
                    self._subtrees[key] = found
        return found

    def _choose(self, cand: npt.NDArray[np.intp], km: npt.NDArray[np.float64]) -> tuple[int, float]:
        """The town among candidates (nearest first) that the point is best named after."""
        close = km <= km[0] + TOWN_SLACK_KM
        score = km[close] / self.city_weight[cand[close]]
        j = int(np.argmin(score))
        return int(cand[close][j]), float(km[close][j])

    def places_near(
        self,
        lat: npt.NDArray[np.float64],
        lon: npt.NDArray[np.float64],
        polygon: npt.NDArray[np.int32],
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
        """Per point: the chosen city (-1 for none) in its region (else country), and km."""
        n = len(lat)
        city = np.full(n, -1, dtype=np.intp)
        dist = np.full(n, np.inf)
        has = np.flatnonzero(polygon >= 0)
        if not len(has):
            return city, dist
        xyz = unit_vectors(lat[has], lon[has])
        chord, cand = self.city_tree.query(xyz, k=CANDIDATES)
        km_all = chord_to_km(chord)
        region = self.polygon_region[polygon[has]]
        same = self.city_region[cand] == region[:, None]
        found = same.any(axis=1)
        # vectorised _choose for the rows whose region is among the candidates
        first = np.argmax(same, axis=1)
        rows = np.arange(len(has))
        km0 = km_all[rows, first]
        close = same & (km_all <= (km0 + TOWN_SLACK_KM)[:, None])
        score = np.where(close, km_all / self.city_weight[cand], np.inf)
        best = np.argmin(score, axis=1)
        ok = np.flatnonzero(found)
        city[has[ok]] = cand[ok, best[ok]]
        dist[has[ok]] = km_all[ok, best[ok]]
        for row in np.flatnonzero(~found).tolist():  # the region's places are further away
            i = has[row]
            for kind, ident in (
                ("region", int(region[row])),
                ("country", int(self.polygon_country[polygon[i]])),
            ):
                tree, members = self._subtree(kind, ident)
                if tree is None:
                    continue
                k = min(CANDIDATES, len(members))
                d, j = tree.query(xyz[row], k=k)
                d, j = np.atleast_1d(d), np.atleast_1d(j)
                city[i], dist[i] = self._choose(members[j], chord_to_km(d))
                break
        return city, dist

    def lookup_many(self, lats: Coords, lons: Coords) -> list[Place | None]:
        """`lookup` for many points at once (the drain's batch path), `CHUNK` points at a
        time so the temporaries stay small whatever the batch."""
        lat = np.asarray(lats, dtype=np.float64).ravel()
        lon = np.asarray(lons, dtype=np.float64).ravel()
        if lat.shape != lon.shape:
            raise ValueError("lats and lons differ in length")
        out: list[Place | None] = []
        for start in range(0, len(lat), CHUNK):
            out += self._lookup_chunk(lat[start : start + CHUNK], lon[start : start + CHUNK])
        return out

    def _lookup_chunk(
        self, lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64]
    ) -> list[Place | None]:
        idx = np.flatnonzero(valid_mask(lat, lon))
        out: list[Place | None] = [None] * len(lat)
        la, lo = lat[idx], lon[idx]
        polygon, offshore, zones = self.borders.locate(la, lo)
        city, km = self.places_near(la, lo, polygon)
        names, pops = self.cities.names, self.cities.population
        boundaries = self.borders.boundaries
        for row, i in enumerate(idx.tolist()):
            p, zone = int(polygon[row]), zones[row]
            if p < 0:
                if zone is not None:
                    out[i] = Place("", "", "", "", "", "", None, None, None, zone, 0.0)
                continue
            b = boundaries[p]
            c = int(city[row])
            near = c >= 0 and float(km[row]) <= MAX_PLACE_KM
            out[i] = Place(
                b.country_code,
                b.country,
                b.region,
                b.region_code,
                b.subregion,
                b.subregion_code,
                names[c] if near else None,
                round(float(km[row]), 3) if near else None,
                int(pops[c]) if near else None,
                zone,
                round(float(offshore[row]), 3),
            )
        return out

    def lookup(self, lat: Any, lon: Any) -> Place | None:
        """The place of one point, or None (invalid, (0, 0), nothing known there)."""
        try:
            la, lo = float(lat), float(lon)
        except (TypeError, ValueError):
            return None
        if not valid_point(la, lo):
            return None
        return self._lookup_one(la, lo) or self.lookup_many([la], [lo])[0]

    def _lookup_one(self, lat: float, lon: float) -> Place | None:
        """The common case (on land, its region's places among the nearest) in scalar
        code; None hands the point to `lookup_many`, which answers every case."""
        located = self.borders.locate_one(lat, lon)
        if located is None:
            return None
        polygon, offshore, zone = located
        if polygon < 0:
            return Place("", "", "", "", "", "", None, None, None, zone, 0.0) if zone else None
        la, lo = math.radians(lat), math.radians(lon)
        xyz = (math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la))
        chords, cands = self.city_tree.query(xyz, k=CANDIDATES)
        region = self._polygon_region_list[polygon]
        city_region, weight = self._city_region_list, self._city_weight_list
        c, km, best, limit = -1, 0.0, math.inf, math.inf
        for chord, cand in zip(chords.tolist(), cands.tolist(), strict=True):
            if city_region[cand] != region:
                continue
            d = 2 * EARTH_KM * math.asin(min(chord / 2, 1.0))
            if limit == math.inf:
                limit = d + TOWN_SLACK_KM
            elif d > limit:
                break
            score = d / weight[cand]
            if score < best:
                c, km, best = cand, d, score
        if c < 0:
            return None
        b = self.borders.boundaries[polygon]
        near = km <= MAX_PLACE_KM
        return Place(
            b.country_code,
            b.country,
            b.region,
            b.region_code,
            b.subregion,
            b.subregion_code,
            self.cities.names[c] if near else None,
            round(km, 3) if near else None,
            int(self.cities.population[c]) if near else None,
            zone,
            offshore,
        )


_GEOCODER = data.Once(Geocoder.load)


def geocoder() -> Geocoder:
    """The process's one Geocoder, loaded on first use (thread-safe)."""
    return _GEOCODER.get()


def lookup(lat: Any, lon: Any) -> Place | None:
    return geocoder().lookup(lat, lon)


def lookup_many(lats: Coords, lons: Coords) -> list[Place | None]:
    return geocoder().lookup_many(lats, lons)
