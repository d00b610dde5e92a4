"""Country outlines for the map's offline layer: every country's Natural Earth polygons
merged and simplified to 0.05 degree (build_data.py), as one small GeoJSON
FeatureCollection (properties: `cc`, ISO alpha-2, and `name`). Served as is when map
tiles cannot be loaded."""

from __future__ import annotations

import gzip
from functools import lru_cache

from imageserver.places.data import DATA_DIR

OUTLINES = DATA_DIR / "outlines.geojson.gz"


@lru_cache(maxsize=1)
def country_outlines_geojson_gz() -> bytes:
    """The GeoJSON gzip-compressed, for a response with `Content-Encoding: gzip`."""
    return OUTLINES.read_bytes()


def country_outlines_geojson() -> bytes:
    """The GeoJSON document (UTF-8 bytes, `application/geo+json`)."""
    return gzip.decompress(country_outlines_geojson_gz())
