"""Load and soak: concurrent clients against a real server while a full scan runs.

A real `imageserver serve` (uvicorn, background loops on, localhost only) serves a library
indexed beforehand by `imageserver scan` (thumbnails, HLS playlists, CLIP embeddings from
the tiny test model) while it indexes a second, fresh library from scratch. N async
clients (default 50) loop for the given time over a mix of listing, thumbnails, originals
with Range, text search, HLS playlists and segments. Reported: per route the count, p50,
p99 and max latency and the errors (any status but 200/206/304, any transport error or
timeout), the server's RSS after warm-up, at the end and at its peak, and how far the
fresh library got meanwhile (the scan must still be running when the load stops, or the
run did not measure what it claims).

The load starts with a warm-up (default 60 s, same clients, same scan) whose answers are
checked but not timed; the RSS baseline is taken at its end, when the scan's working set
(a thumbnail batch, libvips and malloc arenas) has settled, and the measured window
follows. Run alone (bounded: warm-up + load + about a minute of preparation):

    .venv/bin/python -m bench.rows.load [--seconds 60] [--clients 50] [--warmup 60]
        [--seed-files 150] [--fresh-files 2500] [--json out.json]

or as the `load` row group of `python -m bench`. It exits non-zero when any request
failed or RSS grew 10 % or more after warm-up.
"""

# ruff: noqa: I001, RUF100  (whether `bench` counts as first-party differs until the harness lands)
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.library import build_library, find_sources
from bench.table import Row, render

GROUP = "load"
PASSWORD = "load-bench-password"
VIDEOS = (
    "videos/testvid_1022ms.mp4",
    "videos/sample_android_slow_motion.mp4",
    "videos/silent-black-10s.mp4",
    "videos/sample_h264.ts",
)
QUERIES = ("a photo of a dog", "red car", "beach at sunset", "snow mountain", "city at night")
OK = {200, 206, 304}
DEFAULT_CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
RSS_GROWTH_LIMIT = 10.0  # percent, after warm-up


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def record(self, route: str, seconds: float, error: str | None) -> None:
        self.latencies[route].append(seconds)
        if error is not None:
            self.errors[route].append(error)


@dataclass
class Targets:
    """What the clients ask for: real ids, hashes and segment names of the seed library."""

    photos: list[int]
    etags: dict[int, str]
    sizes: dict[int, int]
    videos: list[tuple[str, list[str]]]  # (hash, segment names)
    seed_library: int
    fresh_library: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cli() -> list[str]:
    script = Path(sys.executable).with_name("imageserver")
    return [str(script)] if script.exists() else [sys.executable, "-m", "imageserver.server.cli"]


def env_for(data_dir: Path, model: Path, port: int, faces: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGESERVER_")}
    env.update(
        IMAGESERVER_DATA_DIR=str(data_dir),
        IMAGESERVER_ADMIN_PASSWORD=PASSWORD,
        IMAGESERVER_HOST="127.0.0.1",
        IMAGESERVER_PORT=str(port),
        IMAGESERVER_CLIP_MODEL_PATH=str(model),
        IMAGESERVER_FACES_ENABLED=str(faces).lower(),
        IMAGESERVER_HLS_PRESET="ultrafast",
        IMAGESERVER_LOG_LEVEL="warning",
        # quick ticks back to back while there is a backlog; a full scan every 20 s
        IMAGESERVER_WATCH_QUICK_INTERVAL_SECONDS="2",
        IMAGESERVER_WATCH_FULL_INTERVAL_SECONDS="20",
    )
    return env


def rss_of(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0


class RssSampler(threading.Thread):
    def __init__(self, pid: int, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, int]] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self.samples.append((time.monotonic(), rss_of(self.pid)))

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    def around(self, moment: float, span: float = 10.0) -> int:
        """Median RSS of the `span` seconds before `moment` (single samples jitter by a
        few tens of MB with the drains' batches)."""
        near = sorted(rss for when, rss in self.samples if moment - span <= when <= moment)
        return near[len(near) // 2] if near else 0


# --- preparation -------------------------------------------------------------------------------


def prepare(
    workdir: Path, corpus: Path, seed_files: int, fresh_files: int, log: Any
) -> dict[str, Path]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.ml.tiny_clip import build_tiny_clip

    model = build_tiny_clip(workdir / "tiny-clip").root
    sources = find_sources(corpus)
    seed = workdir / "seed"
    build_library(seed / "photos", sources, seed_files, seed=1)
    (seed / "videos").mkdir()
    for rel in VIDEOS:
        if (corpus / rel).is_file():
            shutil.copy(corpus / rel, seed / "videos" / Path(rel).name)
    fresh = workdir / "fresh"
    if fresh_files:
        build_library(fresh, sources, fresh_files, seed=2)
    data = workdir / "data"
    log(f"{GROUP}: indexing the seed library ({seed_files} photos, {len(VIDEOS)} videos) ...")
    env = env_for(data, model, 8080, faces=False)  # the scan serves nothing
    env["IMAGESERVER_LIBRARIES"] = f"seed={seed}"
    started = time.perf_counter()
    done = subprocess.run(
        [*cli(), "scan", "--full"],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode != 0:
        raise RuntimeError(f"seed scan failed: {done.stdout[-2000:]} {done.stderr[-2000:]}")
    log(f"{GROUP}: seed library indexed in {time.perf_counter() - started:.0f} s")
    return {"model": model, "seed": seed, "fresh": fresh, "data": data}


def start_server(
    workdir: Path, paths: dict[str, Path], port: int, faces: bool
) -> subprocess.Popen[bytes]:
    log_file = (workdir / "server.log").open("wb")
    return subprocess.Popen(
        [*cli(), "serve", *([str(paths["fresh"])] if paths["fresh"].is_dir() else [])],
        env=env_for(paths["data"], paths["model"], port, faces),
        cwd=workdir,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code in (200, 503):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("server did not answer /health in time")


def discover(client: httpx.Client, auth: dict[str, str]) -> Targets:
    libraries = {lib["name"]: lib["id"] for lib in client.get("/libraries", headers=auth).json()}
    seed, fresh = libraries["seed"], libraries.get("fresh", -1)
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"library": seed, "limit": 1000}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/media", headers=auth, params=params).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    photos, etags, sizes = [], {}, {}
    videos = []
    for item in items:
        if item["kind"] == "photo":
            thumb = client.get(f"/media/{item['id']}/thumbnail", headers=auth)
            if thumb.status_code == 200:
                photos.append(item["id"])
                etags[item["id"]] = thumb.headers["etag"]
                sizes[item["id"]] = int(
                    client.get(f"/media/{item['id']}", headers=auth).json()["size"]
                )
        else:
            playlist = client.get(
                f"/video/stream/{item['content_hash']}/playlist.m3u8", headers=auth
            )
            if playlist.status_code == 200:
                segments = [
                    line.rsplit("/", 1)[-1]
                    for line in playlist.text.splitlines()
                    if line and not line.startswith("#")
                ]
                videos.append((item["content_hash"], segments))
    if not photos or not videos:
        raise RuntimeError(f"seed library not ready: {len(photos)} photos, {len(videos)} videos")
    return Targets(photos, etags, sizes, videos, seed, fresh)


def thumbnails_made(client: httpx.Client) -> int:
    """Thumbnails the server made since it started (all of the fresh library's: the seed
    library was indexed before): the drain counter of /metrics, live within a tick."""
    for line in client.get("/metrics").text.splitlines():
        if line.startswith('imageserver_drain_items_total{drain="thumbnails"}'):
            return int(float(line.rsplit(" ", 1)[1]))
    return 0


def embeddings_pending(client: httpx.Client, auth: dict[str, str]) -> int:
    """Images of the fresh library without an embedding (the last stage of indexing)."""
    counts = client.get("/ml/stats", headers=auth).json()["libraries"].get("fresh")
    return 0 if counts is None else int(counts["pending"]) + int(counts["hashless"])


# --- the load ------------------------------------------------------------------------------------


async def one_request(
    client: httpx.AsyncClient, auth: dict[str, str], t: Targets, rng: random.Random
) -> tuple[str, httpx.Response]:
    pick = rng.random()
    if pick < 0.20:
        params: dict[str, Any] = {"limit": rng.choice((50, 100, 200))}
        if rng.random() < 0.5 and t.fresh_library > 0:
            params["library"] = rng.choice((t.seed_library, t.fresh_library))
        return "GET /media", await client.get("/media", headers=auth, params=params)
    if pick < 0.25:
        return "GET /timeline", await client.get("/timeline", headers=auth)
    if pick < 0.50:
        media_id = rng.choice(t.photos)
        headers = dict(auth)
        if rng.random() < 0.3:
            headers["If-None-Match"] = t.etags[media_id]
        size = rng.choice(("small", "small", "large"))
        url = f"/media/{media_id}/thumbnail"
        return "GET /media/{id}/thumbnail", await client.get(
            url, headers=headers, params={"size": size}
        )
    if pick < 0.65:
        media_id = rng.choice(t.photos)
        start = rng.randrange(max(1, t.sizes[media_id] - 65536))
        headers = {**auth, "Range": f"bytes={start}-{start + 65535}"}
        return "GET /media/{id}/original", await client.get(
            f"/media/{media_id}/original", headers=headers
        )
    if pick < 0.75:
        params = {"q": rng.choice(QUERIES), "limit": 50, "threshold": -1}
        return "GET /photos/search", await client.get("/photos/search", headers=auth, params=params)
    digest, segments = rng.choice(t.videos)
    if pick < 0.80:
        url = f"/video/stream/{digest}/playlist.m3u8"
        return "GET /video/stream/{hash}/playlist.m3u8", await client.get(url, headers=auth)
    url = f"/video/stream/{digest}/{rng.choice(segments)}"
    return "GET /video/stream/{hash}/{segment}", await client.get(url, headers=auth)


async def client_loop(
    n: int, base: str, auth: dict[str, str], t: Targets, window: tuple[float, float], stats: Stats
) -> None:
    """Requests back to back until the window ends; only those started inside it count."""
    rng = random.Random(n)
    measure_from, until = window
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while time.monotonic() < until:
            started = time.monotonic()
            route = "?"
            try:
                route, response = await one_request(client, auth, t, rng)
                error = None if response.status_code in OK else f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            if started >= measure_from:
                stats.record(route, time.monotonic() - started, error)
            elif error is not None:  # warm-up answers are not timed, but errors count
                stats.record(f"{route} (warm-up)", time.monotonic() - started, error)


async def run_load(
    base: str, auth: dict[str, str], t: Targets, clients: int, window: tuple[float, float]
) -> Stats:
    stats = Stats()
    await asyncio.gather(*(client_loop(n, base, auth, t, window, stats) for n in range(clients)))
    return stats


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


# --- the whole run -----------------------------------------------------------------------------


@dataclass
class Result:
    stats: Stats
    seconds: float
    clients: int
    rss_warm: int
    rss_end: int
    rss_peak: int
    fresh_before: int
    fresh_after: int
    fresh_pending: int
    fresh_total: int
    timeline: list[tuple[float, int]] = field(default_factory=list)  # (seconds, RSS)


def measure(args: argparse.Namespace, workdir: Path, log: Any) -> Result:
    paths = prepare(workdir, Path(args.corpus), args.seed_files, args.fresh_files, log)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(workdir, paths, port, args.faces)
    try:
        wait_ready(base, proc)
        with httpx.Client(base_url=base, timeout=60) as client:
            token = client.post("/auth/login", json={"username": "admin", "password": PASSWORD})
            token.raise_for_status()
            auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
            targets = discover(client, auth)
            fresh_before = thumbnails_made(client)
        log(
            f"{GROUP}: {args.clients} clients, {args.warmup:.0f} s warm-up + {args.seconds:.0f} s"
            f" measured on {base}; {len(targets.photos)} photos, {len(targets.videos)} videos; "
            f"fresh library: {fresh_before}/{args.fresh_files} thumbnails at the start"
        )
        sampler = RssSampler(proc.pid)
        sampler.start()
        started = time.monotonic()
        window = (started + args.warmup, started + args.warmup + args.seconds)
        stats = asyncio.run(run_load(base, auth, targets, args.clients, window))
        ended = time.monotonic()
        sampler.stop()
        with httpx.Client(base_url=base, timeout=60) as client:
            fresh_after = thumbnails_made(client)
            fresh_pending = embeddings_pending(client, auth)
        rss = [r for when, r in sampler.samples if window[0] <= when <= ended]
        return Result(
            stats=stats,
            seconds=ended - window[0],
            clients=args.clients,
            rss_warm=sampler.around(window[0]),
            rss_end=sampler.around(ended),
            rss_peak=max(rss) if rss else 0,
            fresh_before=fresh_before,
            fresh_after=fresh_after,
            fresh_pending=fresh_pending,
            fresh_total=args.fresh_files,
            timeline=[(round(when - started, 1), r) for when, r in sampler.samples],
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def rows_of(result: Result) -> list[Row]:
    rows: list[Row] = []
    all_errors = 0
    for route in sorted(result.stats.latencies):
        values = result.stats.latencies[route]
        errors = result.stats.errors.get(route, [])
        all_errors += len(errors)
        ms = [v * 1000 for v in values]
        rows.append(
            Row(
                GROUP,
                f"{route} p99",
                "ms",
                round(percentile(ms, 99), 1),
                note=f"n={len(values)} p50={percentile(ms, 50):.1f} ms max={max(ms):.0f} ms "
                f"errors={len(errors)}" + (f" first: {errors[0]}" if errors else ""),
            )
        )
    total = sum(len(v) for v in result.stats.latencies.values())
    rows.append(
        Row(
            GROUP,
            "errors (any status but 200/206/304, transport errors, timeouts)",
            "requests",
            float(all_errors),
            target=0,
            goal="lower",
            note=f"{total} requests in {result.seconds:.0f} s by {result.clients} clients "
            f"({total / max(result.seconds, 1e-9):.0f}/s)",
        )
    )
    growth = 100 * (result.rss_end - result.rss_warm) / max(result.rss_warm, 1)
    rows.append(
        Row(
            GROUP,
            "server RSS growth after warm-up",
            "%",
            round(growth, 1),
            target=RSS_GROWTH_LIMIT,
            goal="lower",
            note=f"median of the last 10 s of warm-up {result.rss_warm / 2**20:.0f} MB, of the "
            f"last 10 s {result.rss_end / 2**20:.0f} MB, peak {result.rss_peak / 2**20:.0f} MB "
            "(the uvicorn process; exiftool/ffmpeg children not counted)",
        )
    )
    rows.append(
        Row(
            GROUP,
            "fresh library thumbnailed during the load",
            "files",
            float(result.fresh_after - result.fresh_before),
            note=f"{result.fresh_before} -> {result.fresh_after} of {result.fresh_total}, "
            f"{result.fresh_pending} still without an embedding at the end: "
            + (
                "indexing was still running when the load stopped"
                if result.fresh_pending
                else "indexing FINISHED before the load stopped (use more --fresh-files)"
            ),
        )
    )
    return rows


def run(ctx: Any) -> list[Row]:
    """Entry for bench/__main__.py's GROUPS (defaults of the standalone run)."""
    args = parse_args(["--corpus", str(ctx.corpus)])
    workdir = ctx.path("load")
    workdir.mkdir()
    return rows_of(measure(args, workdir, ctx.log))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.rows.load", description=__doc__.splitlines()[0]
    )
    p.add_argument("--seconds", type=float, default=60.0, help="load duration (default 60)")
    p.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    p.add_argument(
        "--warmup",
        type=float,
        default=60.0,
        help="seconds of load before the measured window and the RSS baseline (default 60: "
        "the scan's working set takes about that long to settle on 2 cores)",
    )
    p.add_argument("--seed-files", type=int, default=150, help="photos indexed beforehand")
    p.add_argument("--fresh-files", type=int, default=2500, help="photos indexed during the load")
    p.add_argument("--faces", action="store_true", help="run face detection too (slow)")
    p.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    p.add_argument("--json", help="write the rows as JSON here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    workdir = Path(tempfile.mkdtemp(prefix="imageserver-load-"))
    try:
        result = measure(args, workdir, log)
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    rows = rows_of(result)
    print(render(rows))
    steps = result.timeline[:: max(1, len(result.timeline) // 24)]
    print("server RSS (s: MB): " + ", ".join(f"{t:.0f}: {r / 2**20:.0f}" for t, r in steps))
    print(f"load average: {os.getloadavg()}; {os.cpu_count()} CPUs", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps([r.__dict__ for r in rows], indent=1, default=str))
    failed = any(r.status == "MISS" for r in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
