"""Sphere arithmetic shared by the geocoder modules."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

EARTH_KM = 6371.0088


def valid_point(lat: float, lon: float) -> bool:
    """Real coordinates: finite, in range, and not the (0, 0) of a camera without a fix."""
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return False
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return False
    return not (lat == 0.0 and lon == 0.0)


def valid_mask(lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    with np.errstate(invalid="ignore"):
        return np.asarray(
            np.isfinite(lat)
            & np.isfinite(lon)
            & (np.abs(lat) <= 90.0)
            & (np.abs(lon) <= 180.0)
            & ~((lat == 0.0) & (lon == 0.0)),
            dtype=np.bool_,
        )


def haversine_km(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> Any:
    """Great-circle distance in km (numpy-vectorised)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def unit_vectors(lat: Any, lon: Any) -> npt.NDArray[np.float64]:
    la = np.radians(np.asarray(lat, dtype=np.float64))
    lo = np.radians(np.asarray(lon, dtype=np.float64))
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def chord_to_km(chord: Any) -> Any:
    """Great-circle km for a chord length between unit vectors."""
    return 2 * EARTH_KM * np.arcsin(np.clip(np.asarray(chord) / 2, 0.0, 1.0))
