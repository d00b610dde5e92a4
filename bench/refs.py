"""Reference tools on the same files: b3sum, sha256sum, exiftool, vipsthumbnail.

Each measurement is cached on the context by name, so the end-to-end row sums the very
runs the per-stage rows printed. Lists go through `xargs -0` (no argv length limit at
100k files); `-n ceil(N/P) -P P` gives P processes over equal shares of the files.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import timing
from bench.context import BenchContext

THUMB_GEOMETRY = "1440x1440>"  # like ours: fit in 1440 px, never enlarge


@dataclass
class RefRun:
    name: str  # what ran, as printed in the table
    seconds: float
    files: int
    detail: str = ""
    extrapolated: bool = False
    cpu: float = 0.0  # user+sys seconds of the tool's processes


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


def _xargs(listfile: Path, procs: int, count: int, argv: list[str]) -> list[str]:
    per = max(1, math.ceil(count / procs))
    return ["xargs", "-0", "-a", str(listfile), "-P", str(procs), "-n", str(per), *argv]


def b3sum(ctx: BenchContext, files: list[Path], repeats: int) -> RefRun:
    """The faster of `b3sum` (its own threads) and two single-threaded b3sum processes."""
    key = f"b3sum:{len(files)}"
    if key in ctx.cache:
        run: RefRun = ctx.cache[key]
        return run
    listfile = ctx.file_list(f"{key}.list", files)
    variants = {
        "b3sum": _xargs(listfile, 1, len(files), ["b3sum"]),
        f"b3sum --num-threads 1 x{ctx.threads} procs": _xargs(
            listfile, ctx.threads, len(files), ["b3sum", "--num-threads", "1"]
        ),
    }
    timings: dict[str, timing.Timed] = {}
    for name, argv in variants.items():
        samples = [
            timing.run(argv, stdout_path=ctx.path(f"{key}.out"), check=True) for _ in range(repeats)
        ]
        timings[name] = min(samples, key=lambda t: t.seconds)
        ctx.log(f"  {name}: {timings[name].seconds:.2f} s")
    fastest = min(timings, key=lambda k: timings[k].seconds)
    detail = ", ".join(f"{k}: {v.seconds:.2f} s" for k, v in timings.items())
    best = timings[fastest]
    run = RefRun(fastest, best.seconds, len(files), detail, cpu=best.cpu)
    ctx.cache[key] = run
    return run


def b3sum_digests(ctx: BenchContext, files: list[Path]) -> dict[str, str]:
    """path -> digest from the last b3sum output (for a correctness cross-check)."""
    out = ctx.path(f"b3sum:{len(files)}.out").read_text(encoding="utf-8", errors="replace")
    digests = {}
    for line in out.splitlines():
        digest, _, name = line.partition("  ")
        digests[name.lstrip("\\")] = digest.lstrip("\\")
    return digests


def sha256sum(ctx: BenchContext, files: list[Path]) -> RefRun:
    """Context only (a well-known baseline), so one timed run is enough."""
    listfile = ctx.file_list(f"sha256:{len(files)}.list", files)
    argv = _xargs(listfile, ctx.threads, len(files), ["sha256sum"])
    done = timing.run(argv, stdout_path=ctx.path("sha256.out"), check=True)
    return RefRun(f"sha256sum x{ctx.threads} procs", done.seconds, len(files), cpu=done.cpu)


def exiftool(ctx: BenchContext, files: list[Path]) -> RefRun:
    """`exiftool -j -n -@ ARGFILE`: one batch process, the way exiftool is fastest."""
    key = f"exiftool:{len(files)}"
    if key in ctx.cache:
        run: RefRun = ctx.cache[key]
        return run
    argfile = ctx.file_list(f"{key}.args", files, sep="\n")
    out = ctx.path(f"{key}.json")
    done = timing.run(["exiftool", "-j", "-n", "-@", argfile], stdout_path=out)
    if done.returncode not in (0, 1):  # 1: some files had errors (their JSON still says so)
        raise RuntimeError(f"exiftool exited {done.returncode}: {done.stderr[-1000:]}")
    run = RefRun("exiftool -j -n (1 batch)", done.seconds, len(files), cpu=done.cpu)
    ctx.cache[key] = run
    return run


def exiftool_json(ctx: BenchContext, files: list[Path]) -> dict[str, dict[str, Any]]:
    data = json.loads(ctx.path(f"exiftool:{len(files)}.json").read_text(encoding="utf-8"))
    return {entry["SourceFile"]: entry for entry in data}


def vipsthumbnail(ctx: BenchContext, files: list[Path], procs: int) -> RefRun:
    """`vipsthumbnail -s 1440x1440> -o OUT/%s.webp[Q=80]` in `procs` parallel processes."""
    key = f"vips:{len(files)}:{procs}"
    if key in ctx.cache:
        run: RefRun = ctx.cache[key]
        return run
    out = ctx.path(f"thumbs-vips-{len(files)}-{procs}")
    out.mkdir()
    listfile = ctx.file_list(f"{key}.list", files)
    argv = _xargs(
        listfile,
        procs,
        len(files),
        ["vipsthumbnail", "-s", THUMB_GEOMETRY, "-o", f"{out}/%s.webp[Q=80]"],
    )
    done = timing.run(argv)
    made = sum(1 for _ in out.iterdir())
    run = RefRun(
        f"vipsthumbnail x{procs} procs",
        done.seconds,
        len(files),
        detail=f"{made}/{len(files)} thumbnails written",
        cpu=done.cpu,
    )
    shutil.rmtree(out, ignore_errors=True)
    ctx.cache[key] = run
    return run


def vipsthumbnail_for(ctx: BenchContext, files: list[Path], measure_all: bool) -> RefRun:
    """vipsthumbnail over `files`, or scaled from the --thumb-files run when that is smaller.

    Thumbnailing dominates both sides and the subset has the library's mix, so the per-file
    time of the subset run is a fair estimate; --full-reference measures every file instead.
    """
    procs = ctx.threads
    subset = ctx.cache.get("thumb_subset_size")
    if measure_all or subset is None or subset >= len(files):
        return vipsthumbnail(ctx, files, procs)
    sample: RefRun = ctx.cache[f"vips:{subset}:{procs}"]
    scale = len(files) / subset
    return RefRun(
        sample.name,
        sample.seconds * scale,
        len(files),
        detail=f"scaled from {subset} files ({sample.seconds:.1f} s)",
        extrapolated=True,
        cpu=sample.cpu * scale,
    )
