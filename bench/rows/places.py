"""Places rows: offline reverse geocoding throughput on one core and the geocoder's memory.

Points: 100 000 seeded random points within about 5 km of random GeoNames places (where
photos are taken: towns, coasts, borders), not uniform over land, which would be mostly
Antarctica, Siberia and the Sahara. Rows:

- `lookup_many` (the drain's batch path) and `lookup` (one call per point) in points per
  CPU second of this one thread (steadier than wall time on a shared machine; wall time
  is in the note), judged against the issue's 10 000 points/s;
- the same batch against a bare reference in the same run on a 10 000-point subset: shapely
  `STRtree.query(predicate="contains")` over the unprepared admin-1 multipolygons plus one
  `cKDTree` nearest city, no time zone, no coastal snap, no border refinement, no region
  filter (what a minimal implementation does); the note gives how often the two agree on
  the country;
- memory: peak RSS of a fresh interpreter that imports, loads and answers the 100k points,
  and how much of it the loaded data is.

Run alone with `python -m bench.rows.places [--points N]`.
"""

# ruff: noqa: I001, RUF100  (whether `bench` counts as first-party differs until the harness lands)
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.context import BenchContext
from bench.table import Row, render

GROUP = "places"
POINTS = 100_000
REFERENCE_POINTS = 10_000
SINGLE_POINTS = 20_000
TARGET_PER_S = 10_000.0


def sample_points(n: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    from imageserver.places import data

    cities = data.load_cities()
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(cities.lat), n)
    lat = np.clip(cities.lat[pick] + rng.uniform(-0.045, 0.045, n), -90, 90)
    lon = cities.lon[pick] + rng.uniform(-0.045, 0.045, n) / np.maximum(
        np.cos(np.radians(lat)), 0.2
    )
    lon = (lon + 180.0) % 360.0 - 180.0
    return lat, lon


def timed(fn: Any) -> tuple[float, float, Any]:
    """(CPU seconds of this thread, wall seconds, result)."""
    cpu, wall = time.thread_time(), time.perf_counter()
    result = fn()
    return time.thread_time() - cpu, time.perf_counter() - wall, result


def reference_lookup(geoms: Any, city_tree: Any, lat: np.ndarray, lon: np.ndarray) -> list[int]:
    """A minimal point-in-polygon + nearest-city loop: polygon index per point (-1 none)."""
    import shapely

    from imageserver.places.geo import unit_vectors

    tree = shapely.STRtree(geoms)
    out = []
    for la, lo in zip(lat.tolist(), lon.tolist(), strict=True):
        hits = tree.query(shapely.Point(lo, la), predicate="within")
        city_tree.query(unit_vectors([la], [lo])[0])
        out.append(int(hits[0]) if len(hits) else -1)
    return out


# VmHWM, not getrusage's ru_maxrss: Linux keeps ru_maxrss across execve, so a child of
# the bench would report the bench's own peak.
MEMORY_CHILD = """
import json, sys
def rss(field='VmRSS:'):
    for line in open('/proc/self/status'):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
import numpy, shapely, scipy.spatial, timezonefinder
before = rss()
from imageserver.places import geocode
from bench.rows.places import sample_points
lat, lon = sample_points(int(sys.argv[1]))
g = geocode.geocoder()
g.lookup(48.5722, 7.8150)
loaded = rss()
g.lookup_many(lat, lon)
after = rss()
peak = rss('VmHWM:')
print(json.dumps({"before": before, "loaded": loaded, "after": after, "peak": peak}))
"""


def memory(points: int) -> dict[str, int]:
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(root), str(root / "src"), *filter(None, [env.get("PYTHONPATH")])]
    )
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_CHILD, str(points)],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, int] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def rows(points: int = POINTS, log: Any = print) -> list[Row]:
    from imageserver.places import data, geocode

    lat, lon = sample_points(points)
    load_cpu, load_wall, g = timed(geocode.Geocoder.load)
    log(f"{GROUP}: loaded in {load_wall:.2f} s ({load_cpu:.2f} s CPU)")
    g.lookup_many(lat[:2000], lon[:2000])  # warm: prepared-geometry indexes build lazily
    batch_cpu, batch_wall, answers = timed(lambda: g.lookup_many(lat, lon))
    batch = points / batch_cpu
    log(f"  lookup_many: {points} points in {batch_wall:.2f} s wall, {batch_cpu:.2f} s CPU")
    n1 = min(SINGLE_POINTS, points)
    one_lat, one_lon = lat[:n1].tolist(), lon[:n1].tolist()
    cold_cpu, _, _ = timed(lambda: [g.lookup(a, b) for a, b in zip(one_lat, one_lon, strict=True)])
    single_cpu, single_wall, _ = timed(
        lambda: [g.lookup(a, b) for a, b in zip(one_lat, one_lon, strict=True)]
    )
    single = n1 / single_cpu
    log(f"  lookup: {n1} points, first pass {cold_cpu:.2f} s CPU, again {single_cpu:.2f} s CPU")

    nr = min(REFERENCE_POINTS, points)
    names, geoms, _ = data.load_boundaries()
    ref_cpu, ref_wall, ref_poly = timed(
        lambda: reference_lookup(geoms, g.city_tree, lat[:nr], lon[:nr])
    )
    reference = nr / ref_cpu
    ours_cc = [a.country_code if a is not None else "" for a in answers[:nr]]
    ref_cc = [names[p].country_code if p >= 0 else "" for p in ref_poly]
    agree = sum(a == b for a, b in zip(ours_cc, ref_cc, strict=True)) / nr
    landed = sum(1 for a in answers if a is not None and a.country_code) / points
    placed = sum(1 for a in answers if a is not None and a.place) / points
    log(f"  reference: {nr} points in {ref_wall:.2f} s wall, {ref_cpu:.2f} s CPU")

    mem = memory(points)
    mb = 1 / 1e6
    base = f"{points:,} seeded points within ~5 km of random GeoNames places; one thread"
    return [
        Row(
            GROUP,
            "lookup_many throughput",
            "points/s",
            batch,
            target=TARGET_PER_S,
            goal="higher",
            note=f"{base}; points per CPU second ({points / batch_wall:,.0f}/s wall); "
            f"{landed:.1%} got a country, {placed:.1%} a place; warm (2000 points first)",
            details={"cpu_s": batch_cpu, "wall_s": batch_wall, "points": points},
        ),
        Row(
            GROUP,
            "lookup throughput (one call per point)",
            "points/s",
            single,
            target=TARGET_PER_S,
            goal="higher",
            note=f"first {n1:,} of the same points, `lookup(lat, lon)` in a loop, second pass "
            f"(per CPU second; {n1 / single_wall:,.0f}/s wall); the first pass, which fills "
            f"the grid-cell cache of candidate polygons, ran at {n1 / cold_cpu:,.0f}/s",
            details={
                "cpu_s": single_cpu,
                "wall_s": single_wall,
                "first_pass_cpu_s": cold_cpu,
                "points": n1,
            },
        ),
        Row(
            GROUP,
            "lookup_many vs bare shapely + KD-tree",
            "points/s",
            batch,
            reference,
            "STRtree within + cKDTree loop",
            goal="info",
            note=f"reference on the first {nr:,} points (unprepared admin-1 multipolygons, "
            f"one nearest city, no zone/snap/refinement); same country for {agree:.2%} "
            "(the rest: coastal snap and time-zone border refinement)",
            details={"reference_cpu_s": ref_cpu, "reference_wall_s": ref_wall, "agree": agree},
        ),
        Row(
            GROUP,
            "memory: peak RSS",
            "MB",
            mem["peak"] * mb,
            target=400,
            goal="lower",
            note=f"fresh interpreter: {mem['before'] * mb:.0f} MB after importing numpy, "
            f"shapely, scipy, timezonefinder; {mem['loaded'] * mb:.0f} MB loaded; "
            f"{mem['after'] * mb:.0f} MB after {points:,} lookups",
            details=mem,
        ),
        Row(
            GROUP,
            "load time",
            "s",
            load_wall,
            goal="info",
            note=f"Geocoder.load(): vendored data -> shapely parts, STRtree, KD-tree "
            f"({load_cpu:.2f} s CPU)",
        ),
    ]


def run(ctx: BenchContext) -> list[Row]:
    return rows(log=ctx.log)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=POINTS)
    args = ap.parse_args(argv)
    print(render(rows(args.points)))


if __name__ == "__main__":
    main()
