"""The web page in Debian's Chromium over a --files library: page weight of the first load
of the timeline and the time until its first screen of thumbnails is visible.

The library is cheap to make at any size: a few corpus photos are indexed for real (so
their thumbnails exist), then --files media rows are inserted straight into the database,
copies of those rows with their own paths and dates spread over the years (~4 a day), so
the grid, the month counts and the listing queries see --files items. The server is the
real `imageserver serve` (background loops off: the rows point at files that do not
exist, which a full scan would rightly retire). Every load is a cold one (a fresh browser
context, empty HTTP cache, token injected into sessionStorage as the login page leaves it).

Rows:
- first load JS+CSS: bytes of every script and stylesheet the timeline's first load
  transferred (hls.js must not be among them: it loads when a video is opened);
- first screen: navigation start -> every tile intersecting the viewport shows a decoded
  thumbnail (median of 3 cold loads; 1280x800 viewport);
- scroll: a scripted scroll through the whole grid, one viewport per frame, then back to
  the middle: the longest frame and the largest number of tiles alive (windowing works
  when it stays a few hundred at any library size).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tests.fixtures import CHROMIUM, CHROMIUM_ARGS

from bench import server
from bench.context import BenchContext
from bench.table import Row

GROUP = "web"
SEED_PHOTOS = 48
WEIGHT_LIMIT_KB = 500.0
FIRST_SCREEN_LIMIT_S = 1.0
LOADS = 3

FIRST_SCREEN_PROBE = """
window.__firstScreen = new Promise((resolve) => {
  const check = () => {
    const scroller = document.querySelector('.scroller');
    if (scroller) {
      const r = scroller.getBoundingClientRect();
      const tiles = [...document.querySelectorAll('.canvas .tile')].filter((t) => {
        const b = t.getBoundingClientRect();
        return b.bottom > r.top && b.top < r.bottom && b.width > 0;
      });
      const shown = (t) => { const i = t.querySelector('img');
        return i && i.complete && i.naturalWidth > 0 && i.classList.contains('loaded'); };
      if (tiles.length >= 12 && tiles.every(shown)) {
        resolve({ ms: performance.now(), tiles: tiles.length });
        return;
      }
    }
    requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
});
"""

RESOURCES = """() => performance.getEntriesByType('resource').map((e) => ({
  path: new URL(e.name).pathname, type: e.initiatorType,
  transfer: e.transferSize, body: e.encodedBodySize }))"""

SCROLL = """async () => {
  const s = document.querySelector('.scroller');
  const frames = []; let maxTiles = 0; let last = performance.now();
  const frame = () => new Promise((r) => requestAnimationFrame(r));
  while (s.scrollTop + s.clientHeight < s.scrollHeight - 2) {
    s.scrollTop += s.clientHeight;
    await frame();
    const now = performance.now(); frames.push(now - last); last = now;
    maxTiles = Math.max(maxTiles, document.querySelectorAll('.canvas .tile').length);
  }
  s.scrollTop = s.scrollHeight / 2;
  await new Promise((r) => setTimeout(r, 1500));
  const middle = document.querySelectorAll('.canvas .tile img.loaded').length;
  frames.sort((a, b) => a - b);
  return { frames: frames.length, max: frames[frames.length - 1],
           p95: frames[Math.floor(frames.length * 0.95)],
           over50: frames.filter((f) => f > 50).length, maxTiles,
           middleLoaded: middle, height: s.scrollHeight };
}"""


def seed_library(ctx: BenchContext) -> Path:
    """SEED_PHOTOS real corpus photos (unique copies) to index for real."""
    key = "web-seed"
    if key not in ctx.cache:
        ctx.cache[key] = ctx.build(key, SEED_PHOTOS, max_source_bytes=2_000_000)
    root: Path = ctx.cache[key].root
    return root


def index_and_fill(ctx: BenchContext, data_dir: Path, root: Path, count: int) -> int:
    """Index the seed photos, then insert `count` rows copying them; returns live rows."""
    from sqlalchemy import func, select

    from imageserver.db.tables import artefacts, media
    from imageserver.scan.watcher import Watcher
    from imageserver.server.background import close_services
    from imageserver.work.artefacts import THUMB_KIND

    app = server.open_in_process(data_dir, root)
    try:
        watcher = Watcher(app)
        results = watcher.tick(full=True)
        for _ in range(20):
            if not any(sum(t.pending.values()) for t in results):
                break
            results = watcher.tick(full=False)
        with app.engine.begin() as conn:
            seeds = list(
                conn.execute(
                    select(media)
                    .join(
                        artefacts,
                        (artefacts.c.content_hash == media.c.content_hash)
                        & (artefacts.c.kind == THUMB_KIND)
                        & (artefacts.c.status == "done"),
                    )
                    .where(media.c.retired_at.is_(None))
                ).mappings()
            )
            if not seeds:
                raise RuntimeError("no seed photo got a thumbnail")
            start = datetime(2025, 6, 30, 18, 0, 0)
            rows: list[dict[str, Any]] = []
            for i in range(count):
                seed = dict(seeds[i % len(seeds)])
                seed.pop("id")
                folder = f"synthetic/{i // 1000:02d}/{(i // 100) % 10:02d}"
                name = f"{i:06d}_{seed['name']}"
                taken = start - timedelta(hours=6 * i, minutes=(i * 7) % 60)
                seed.update(rel_path=f"{folder}/{name}", folder=folder, name=name, taken_at=taken)
                seed.pop("taken_at_utc")  # the insert default derives it from taken_at
                rows.append(seed)
                if len(rows) == 2000:
                    conn.execute(media.insert(), rows)
                    rows = []
            if rows:
                conn.execute(media.insert(), rows)
            live: int = conn.execute(
                select(func.count()).select_from(media).where(media.c.retired_at.is_(None))
            ).scalar_one()
    finally:
        close_services(app)
        app.engine.dispose()
    return live


def start_server(
    ctx: BenchContext, data_dir: Path, root: Path, workers: bool = False
) -> tuple[subprocess.Popen[bytes], str]:
    """The real `imageserver serve`; background workers off unless asked for (the rows of
    this group point at files that do not exist, which a full scan would retire)."""
    import httpx

    port = _free_port()
    env = server.scan_env(data_dir, root)
    env.update(
        IMAGESERVER_HOST="127.0.0.1", IMAGESERVER_PORT=str(port), IMAGESERVER_LOG_LEVEL="warning"
    )
    log = ctx.path("web-server.log").open("wb")
    proc = subprocess.Popen(
        [*server.cli_argv(), "serve", "--workers" if workers else "--no-workers"],
        cwd=ctx.workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {ctx.path('web-server.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start in 60 s")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def measure(url: str, token: str) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    seed = (
        f"sessionStorage.setItem('imageserver.token', '{token}');"
        "sessionStorage.setItem('imageserver.expires', String(Date.now() + 3600e3));"
    )
    loads: list[dict[str, Any]] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for n in range(LOADS + 1):  # the first load warms the server, not judged
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                context.add_init_script(seed + FIRST_SCREEN_PROBE)
                page = context.new_page()
                page.goto(f"{url}/#/timeline")
                first = page.evaluate("() => window.__firstScreen")
                page.wait_for_timeout(300)
                resources = page.evaluate(RESOURCES)
                result: dict[str, Any] = {"first": first, "resources": resources}
                if n == LOADS:
                    result["scroll"] = page.evaluate(SCROLL)
                    result["count"] = page.inner_text(".filters .count")
                if n:
                    loads.append(result)
                context.close()
        finally:
            browser.close()
    return {"loads": loads}


def run(ctx: BenchContext) -> list[Row]:
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} missing (apt-get install chromium)")
    import httpx

    count = ctx.args.files
    root = seed_library(ctx)
    data_dir = ctx.path("data-web")
    shutil.rmtree(data_dir, ignore_errors=True)
    ctx.log(f"{GROUP}: indexing {SEED_PHOTOS} seed photos, inserting {count} rows ...")
    started = time.perf_counter()
    live = index_and_fill(ctx, data_dir, root, count)
    ctx.log(f"{GROUP}: {live} live rows in {time.perf_counter() - started:.1f} s; serving ...")
    proc, url = start_server(ctx, data_dir, root)
    try:
        login = httpx.post(
            f"{url}/auth/login", json={"username": "admin", "password": server.ADMIN_PASSWORD}
        )
        login.raise_for_status()
        ctx.log(f"{GROUP}: {LOADS} cold loads of the timeline in Chromium ...")
        result = measure(url, login.json()["access_token"])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    loads = result["loads"]
    firsts = [load["first"]["ms"] / 1000 for load in loads]
    first_s = statistics.median(firsts)

    def weight(load: dict[str, Any], suffixes: tuple[str, ...]) -> int:
        return sum(
            r["transfer"] or r["body"] for r in load["resources"] if r["path"].endswith(suffixes)
        )

    last = loads[-1]
    code = weight(last, (".js", ".mjs", ".css"))
    thumbs = [r for r in last["resources"] if r["path"].endswith("/thumbnail")]
    api = [
        r
        for r in last["resources"]
        if r["type"] == "fetch" and not r["path"].endswith("/thumbnail")
    ]
    hls_loaded = any("hls" in r["path"] for r in last["resources"])
    scroll = last["scroll"]
    tiles = last["first"]["tiles"]
    return [
        Row(
            GROUP,
            "first load JS+CSS",
            "KB",
            code / 1000,
            target=WEIGHT_LIMIT_KB,
            goal="lower",
            note=f"cold load of /#/timeline over {live} items: "
            f"{sum(1 for r in last['resources'] if r['path'].endswith(('.js', '.mjs', '.css')))} "
            f"scripts and stylesheets (transfer size, uncompressed), hls.js "
            f"{'LOADED (wrong)' if hls_loaded else 'not loaded'}; the same load also fetched "
            f"{len(api)} API responses ({sum(r['transfer'] for r in api) / 1000:,.0f} KB) and "
            f"{len(thumbs)} thumbnails ({sum(r['transfer'] for r in thumbs) / 1000:,.0f} KB)",
            details={"resources": last["resources"]},
        ),
        Row(
            GROUP,
            f"first screen of thumbnails ({live} items)",
            "s",
            first_s,
            target=FIRST_SCREEN_LIMIT_S,
            goal="lower",
            note=f"navigation start -> all {tiles} tiles in the 1280x800 viewport show a decoded "
            f"thumbnail; median of {LOADS} cold loads ({', '.join(f'{f:.2f}' for f in firsts)} s),"
            f" local server, {os.cpu_count()} CPUs shared with the browser",
            details={"first_screen_seconds": firsts},
        ),
        Row(
            GROUP,
            "scroll: longest frame",
            "ms",
            scroll["max"],
            note=f"scripted scroll through all {live} items ({scroll['height'] / 1000:,.0f}k px),"
            f" one viewport per frame: {scroll['frames']} frames, p95 {scroll['p95']:.0f} ms, "
            f"{scroll['over50']} over 50 ms; at most {scroll['maxTiles']} tiles alive; "
            f"{scroll['middleLoaded']} thumbnails shown 1.5 s after a jump to the middle; "
            f"grid count says {last['count']!r}",
            details=scroll,
        ),
    ]
