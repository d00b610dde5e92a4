"""Quick tick over an unchanged, fully indexed tree vs `find ROOT -newer MARKER`.

Both answer "what changed since last time?" over the same tree with a warm cache. Ours is
timed in-process (a long-running server does not pay interpreter start-up per tick); the
whole `imageserver scan --no-drain` process is reported too, for information.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import server, timing
from bench.context import BenchContext
from bench.table import Row

GROUP = "tick"
SMALL_SOURCE_BYTES = 64 * 1024  # a separate tick library only needs many files, not big ones


def tick_library(ctx: BenchContext) -> tuple[str, Any]:
    count = ctx.args.tick_files
    if count == ctx.args.files:
        return "lib", ctx.library()
    key = "tick-lib"
    if key not in ctx.cache:
        ctx.cache[key] = ctx.build(key, count, max_source_bytes=SMALL_SOURCE_BYTES)
    return key, ctx.cache[key]


def time_find(root: Path, marker: Path, repeats: int) -> tuple[float, int]:
    argv = ["find", str(root), "-newer", str(marker)]
    warm = timing.run(argv, check=True)  # warm the dentry/inode caches
    samples = [timing.run(argv, check=True).seconds for _ in range(repeats)]
    return timing.median(samples), len(warm.stdout.split("\n")) - 1


def _timed_stages(acc: dict[str, list[float]]) -> list[Any]:
    from imageserver.scan.pipeline import STAGES, Stage

    def wrap(name: str, fn: Callable[[Any], None]) -> Callable[[Any], None]:
        def timed(t: Any) -> None:
            start = time.perf_counter()
            fn(t)
            acc[name].append(time.perf_counter() - start)

        return timed

    return [Stage(s.name, wrap(s.name, s.run), s.needs_disk, s.full_only) for s in STAGES]


def time_ticks(ctx: BenchContext, data_dir: Path, root: Path, repeats: int) -> dict[str, Any]:
    """Median in-process quick tick, per-stage medians, and (with --profile) a cProfile."""
    from imageserver.scan.watcher import Watcher
    from imageserver.server.background import close_services

    app = server.open_in_process(data_dir, root)
    try:
        watcher = Watcher(app)
        first = watcher.tick(full=False)  # warm: imports, SQLite page cache
        leftover = {k: v for t in first for k, v in t.counts.items() if v}
        pending = sum(sum(t.pending.values()) for t in first)
        samples = [timing.time_call(lambda: watcher.tick(full=False))[0] for _ in range(repeats)]
        acc: dict[str, list[float]] = defaultdict(list)
        staged = Watcher(app, stages=_timed_stages(acc))
        totals = [timing.time_call(lambda: staged.tick(full=False))[0] for _ in range(repeats)]
        stages = {name: timing.median(v) for name, v in acc.items()}
        stages["(outside stages)"] = timing.median(totals) - sum(stages.values())
        profile_text = ""
        if ctx.args.profile:
            prof = cProfile.Profile()
            prof.runcall(watcher.tick, False)
            prof.dump_stats(ctx.path("quick-tick.prof"))
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats("imageserver/", 30)
            profile_text = out.getvalue()
    finally:
        close_services(app)
        app.engine.dispose()
    return {
        "median": timing.median(samples),
        "samples": samples,
        "stages": stages,
        "first_tick_counts": leftover,
        "pending_after_first": pending,
        "profile": profile_text,
    }


def run(ctx: BenchContext) -> list[Row]:
    name, lib = tick_library(ctx)
    n = len(lib.files)
    scan = server.indexed(ctx, name, lib.root)
    marker = ctx.path(f"{name}.marker")
    marker.touch()
    repeats = max(3, ctx.args.repeats * 2 + 1)
    ctx.log(f"{GROUP}: find -newer over {n} files ...")
    find_s, changed = time_find(lib.root, marker, repeats)
    ctx.log(f"  find: {find_s * 1000:.0f} ms (median of {repeats}), {changed} paths printed")
    ctx.log(f"{GROUP}: in-process quick ticks ...")
    ours = time_ticks(ctx, scan.data_dir, lib.root, repeats)
    ctx.log(f"  quick tick: {ours['median'] * 1000:.0f} ms (median of {repeats})")
    ctx.cache["tick"] = ours
    proc = server.run_scan(ctx, scan.data_dir, lib.root, "--no-drain")
    ctx.log(f"  `imageserver scan --no-drain` process: {proc.wall:.2f} s")
    stages = ", ".join(
        f"{k} {v * 1000:.0f}" for k, v in sorted(ours["stages"].items(), key=lambda kv: -kv[1])
    )
    dirty = ""
    if ours["pending_after_first"] or ours["first_tick_counts"].keys() - {"seen"}:
        dirty = (
            f"; NOT IDLE: first tick did {ours['first_tick_counts']}, "
            f"pending {ours['pending_after_first']}"
        )
    return [
        Row(
            GROUP,
            "quick tick, unchanged tree",
            "ms",
            ours["median"] * 1000,
            find_s * 1000,
            "find -newer",
            target=2.0,
            goal="lower",
            note=f"{n} indexed files, warm cache, medians of {repeats}; ours = Watcher.tick"
            f"(full=False) in-process; per stage (ms): {stages}{dirty}",
            details={k: v for k, v in ours.items() if k != "profile"} | {"find_seconds": find_s},
        ),
        Row(
            GROUP,
            "quick tick, whole process",
            "ms",
            proc.wall * 1000,
            find_s * 1000,
            "find -newer",
            goal="info",
            note="`imageserver scan --no-drain` from exec to exit: interpreter start-up, "
            "imports, migrations check, one quick tick",
            details={"wall_seconds": proc.wall, "counts": proc.counts},
        ),
    ]
