"""`python -m bench`: build a library from the corpus, run every row group, print the table.

Row groups register below, in the order they run (later groups reuse what earlier ones
measured: the end-to-end row sums the reference runs of the hashing, metadata and
thumbnail rows). A new group is one module in bench/rows/ with `run(ctx) -> list[Row]`
plus one entry in GROUPS.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench import refs
from bench.context import BenchContext
from bench.rows import (
    faces,
    firstframe,
    hashing,
    indexing,
    ladder,
    load,
    metadata,
    places,
    scale,
    scaleout,
    search,
    thumbs,
    tick,
    video,
    web,
)
from bench.table import Row, render, write_json

GROUPS: dict[str, Callable[[BenchContext], list[Row]]] = {
    "hashing": hashing.run,
    "metadata": metadata.run,
    "thumbnails": thumbs.run,
    "indexing": indexing.run,
    "tick": tick.run,
    "video": video.run,
    "ladder": ladder.run,
    "firstframe": firstframe.run,
    "faces": faces.run,
    "search": search.run,
    "places": places.run,
    "web": web.run,
    "scaleout": scaleout.run,
    "scale": scale.run,
    "load": load.run,
}
TOOLS = ("b3sum", "sha256sum", "exiftool", "vipsthumbnail", "find", "xargs")
DEFAULT_CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--files", type=int, default=10_000, help="library size (default 10000)")
    p.add_argument(
        "--tick-files",
        type=int,
        help="files in the quick-tick library "
        "(default: --files, reusing its index; otherwise a separate small-file library)",
    )
    p.add_argument(
        "--rows", type=int, default=100_000, help="media rows of the scale group (default 100000)"
    )
    p.add_argument("--thumb-files", type=int, help="thumbnail subset (default min(files, 2000))")
    p.add_argument(
        "--corpus", default=str(DEFAULT_CORPUS), help="source media (default %(default)s)"
    )
    p.add_argument(
        "--workdir", help="parent folder for the temporary work folder (default: $TMPDIR)"
    )
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    p.add_argument("--only", help=f"comma list of row groups: {','.join(GROUPS)}")
    p.add_argument("--json", help="write rows and run facts to this file")
    p.add_argument(
        "--repeats",
        type=int,
        default=2,
        help="timed runs of the cheap measurements (best/median reported; default 2)",
    )
    p.add_argument(
        "--full-reference",
        action="store_true",
        help="run vipsthumbnail over every file for the end-to-end reference "
        "instead of scaling the --thumb-files run",
    )
    p.add_argument("--profile", action="store_true", help="cProfile one quick tick; print the top")
    args = p.parse_args(argv)
    if args.tick_files is None:
        args.tick_files = args.files
    if args.thumb_files is None:
        args.thumb_files = min(args.files, 2000)
    if min(args.files, args.tick_files, args.thumb_files, args.repeats) < 1:
        p.error("counts must be positive")
    return args


def selected(args: argparse.Namespace) -> list[str]:
    if not args.only:
        return list(GROUPS)
    wanted = [g.strip() for g in args.only.split(",") if g.strip()]
    unknown = [g for g in wanted if g not in GROUPS]
    if unknown:
        raise SystemExit(f"unknown row group(s): {', '.join(unknown)}; known: {', '.join(GROUPS)}")
    return [g for g in GROUPS if g in wanted]


def _version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else "?"


def _lines(argv: list[str]) -> list[str]:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.splitlines()
    except (OSError, subprocess.TimeoutExpired):
        return []


def run_facts() -> dict[str, object]:
    here = Path(__file__).resolve().parent.parent
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "commit": _version(["git", "-C", str(here), "rev-parse", "--short", "HEAD"]),
        "dirty_files": len(_lines(["git", "-C", str(here), "status", "--porcelain"])),
        "tools": {
            "b3sum": _version(["b3sum", "--version"]),
            "exiftool": _version(["exiftool", "-ver"]),
            "vips": _version(["vips", "--version"]),
        },
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    groups = selected(args)
    missing = [t for t in TOOLS if not refs.have(t)]
    if missing:
        raise SystemExit(f"missing reference tools: {', '.join(missing)}")
    if not Path(args.corpus).is_dir():
        raise SystemExit(f"corpus not found: {args.corpus} (use --corpus)")
    parent = Path(args.workdir) if args.workdir else None
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="imageserver-bench-", dir=parent))
    ctx = BenchContext(args=args, workdir=workdir)
    ctx.meta.update(run_facts(), args=vars(args), load_before=os.getloadavg(), cache="warm")
    ctx.log(f"work folder {workdir}; groups: {', '.join(groups)}; load {os.getloadavg()}")
    rows: list[Row] = []
    try:
        for name in groups:
            started = time.perf_counter()
            try:
                rows += GROUPS[name](ctx)
            except Exception as exc:  # one broken group must not hide the others
                traceback.print_exc()
                rows.append(
                    Row(
                        name,
                        "ERROR",
                        "",
                        None,
                        goal="higher",
                        target=0,
                        note=f"{type(exc).__name__}: {str(exc)[:300]}",
                    )
                )
            ctx.meta.setdefault("group_seconds", {})[name] = round(time.perf_counter() - started, 1)
    finally:
        if args.keep:
            ctx.log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    total = time.perf_counter() - ctx.started
    ctx.meta.update(load_after=os.getloadavg(), total_seconds=round(total, 1))
    libs = ctx.meta.get("libraries", {})
    print()
    print(
        f"imageserver bench: {args.files} files; "
        + "; ".join(
            f"{k}: {v['files']} files, {v['bytes'] / 1e6:,.0f} MB, built in {v['build_seconds']} s"
            for k, v in libs.items()
        )
    )
    print(render(rows))
    listing = metadata.disagreements(ctx)
    if listing:
        print()
        print(listing)
    profile = ctx.cache.get("tick", {}).get("profile")
    if profile:
        print()
        print("cProfile of one quick tick (cumulative):")
        print(profile)
    load = ctx.meta["load_before"], ctx.meta["load_after"]
    print(
        f"\ntotal {total / 60:.1f} min on {os.cpu_count()} CPUs; load average before "
        f"{load[0][0]:.2f}, after {load[1][0]:.2f} (anything near or above the CPU count "
        "means other work shared the machine: treat ratios as noisy)"
    )
    if args.json:
        write_json(Path(args.json), rows, ctx.meta)
        print(f"wrote {args.json}")
    return 1 if any(r.status == "ERROR" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
