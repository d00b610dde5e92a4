"""The offline map layer's country outlines."""

from __future__ import annotations

import gzip
import json

import shapely
from shapely.geometry import shape

from imageserver.places import outlines


def test_outlines_are_small_valid_geojson_with_every_country() -> None:
    raw = outlines.country_outlines_geojson()
    assert len(raw) < 2_000_000
    assert len(outlines.country_outlines_geojson_gz()) < 600_000
    assert gzip.decompress(outlines.country_outlines_geojson_gz()) == raw
    doc = json.loads(raw)
    assert doc["type"] == "FeatureCollection"
    by_cc = {f["properties"]["cc"]: f for f in doc["features"]}
    assert len(by_cc) > 200
    assert by_cc["CH"]["properties"]["name"] == "Switzerland"
    swiss = shape(by_cc["CH"]["geometry"])
    assert swiss.is_valid
    assert swiss.contains(shapely.Point(7.4474, 46.9480))  # Bern
    assert not swiss.contains(shapely.Point(2.3522, 48.8566))  # Paris
