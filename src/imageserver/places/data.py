"""Loading the vendored data files (`places/data/*.npz`) into numpy arrays and shapely
geometries. Pure reads: no caching here (the geocoder owns its one loaded copy, made by
`Once`)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt
import shapely

DATA_DIR = Path(__file__).parent / "data"
T = TypeVar("T")


class Once(Generic[T]):
    """A value made on first use, once per process, whichever thread asks first (loaded
    data is big: two threads must not both build it)."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._value: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._make()
        return self._value


@dataclass(frozen=True, slots=True)
class Boundary:
    """One Natural Earth admin-1 polygon's names (see regions.py for the rules)."""

    country_code: str
    country: str
    region: str
    region_code: str
    subregion: str
    subregion_code: str


@dataclass(frozen=True, slots=True)
class Cities:
    lat: npt.NDArray[np.float64]
    lon: npt.NDArray[np.float64]
    population: npt.NDArray[np.int32]
    polygon: npt.NDArray[np.int32]  # index into the boundaries the city lies in
    names: list[str]


def load_boundaries(
    path: Path = DATA_DIR / "boundaries.npz",
) -> tuple[list[Boundary], npt.NDArray[Any], dict[str, frozenset[str]]]:
    """(names per polygon, MultiPolygon per polygon in the same order, IANA zone -> the
    countries it is used in)."""
    with np.load(path) as z:
        meta = json.loads(z["meta"].tobytes().decode("utf-8"))
        zones = {zone: frozenset(ccs) for zone, ccs in meta["zones"].items()}
        scale = float(z["scale"][0])
        coords = np.cumsum(z["coords_delta"].astype(np.int64), axis=0) / scale
        offsets = tuple(z[f"offsets{i}"] for i in range(3))
    geoms = shapely.from_ragged_array(shapely.GeometryType.MULTIPOLYGON, coords, offsets)
    names = [
        Boundary(m["cc"], m["country"], m["region"], m["region_code"], m["sub"], m["sub_code"])
        for m in meta["polygons"]
    ]
    return names, geoms, zones


def load_cities(path: Path = DATA_DIR / "cities.npz") -> Cities:
    with np.load(path) as z:
        names = z["names"].tobytes().decode("utf-8").split("\0")
        return Cities(
            lat=z["lat"].astype(np.float64),
            lon=z["lon"].astype(np.float64),
            population=z["population"],
            polygon=z["polygon"],
            names=names,
        )
