"""Drive the real server code: the `imageserver scan` CLI in a subprocess, or in-process.

The subprocess gets its own data folder and one library named `bench` through the
environment, runs in the work folder (so no developer's `.env` leaks in), and writes its
log to a file there.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.context import BenchContext
from bench.rss import TreeSampler, gnu_time_prefix, parse_gnu_time
from bench.timing import cpu_seconds

LIBRARY_NAME = "bench"
ADMIN_PASSWORD = "benchbench"
# "Browsable" means rows, hashes, metadata and thumbnails: the drains with their own
# benchmarks to come (faces; CLIP runs only when a model is configured) are switched off.
SCOPE: dict[str, Any] = {"faces_enabled": False}
SUMMARY = re.compile(r"scan done in ([\d.]+) s: (.*?)(?:\n|$)")


@dataclass
class ScanRun:
    data_dir: Path
    root: Path
    wall: float  # process start to exit
    reported: float | None  # the CLI's own "scan done in X s"
    counts: dict[str, int] = field(default_factory=dict)
    max_rss: int | None = None  # largest single process (GNU time)
    tree_peak: int = 0  # sampled sum over the process tree
    returncode: int = 0
    log: Path | None = None
    cpu: float = 0.0  # user+sys seconds of the whole process tree

    def counts_text(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.counts.items())


def cli_argv() -> list[str]:
    script = Path(sys.executable).with_name("imageserver")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from imageserver.server.cli import main; main()"]


def scan_env(data_dir: Path, root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGESERVER_")}
    env.update(
        IMAGESERVER_DATA_DIR=str(data_dir),
        IMAGESERVER_LIBRARIES=f"{LIBRARY_NAME}={root}",
        IMAGESERVER_ADMIN_PASSWORD=ADMIN_PASSWORD,
        **{f"IMAGESERVER_{k.upper()}": str(v).lower() for k, v in SCOPE.items()},
        COLUMNS="250",  # rich wraps its summary line at the terminal width otherwise
    )
    return env


def run_scan(ctx: BenchContext, data_dir: Path, root: Path, *flags: str) -> ScanRun:
    """`imageserver scan FLAGS` to completion, timed, with its peak memory."""
    tag = data_dir.name + ("-" + "-".join(f.strip("-") for f in flags) if flags else "")
    log_path = ctx.path(f"{tag}.log")
    report = ctx.path(f"{tag}.time")
    argv = [*gnu_time_prefix(report), *cli_argv(), "scan", *flags]
    cpu, start = cpu_seconds(), time.perf_counter()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            argv,
            cwd=ctx.workdir,
            env=scan_env(data_dir, root),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        with TreeSampler(proc.pid) as sampler:
            proc.wait()
    wall, used = time.perf_counter() - start, cpu_seconds() - cpu
    text = log_path.read_text(encoding="utf-8", errors="replace")
    match = SUMMARY.search(text)
    counts: dict[str, int] = {}
    if match:
        for part in match.group(2).split():
            key, _, value = part.partition("=")
            if value.isdigit():
                counts[key] = int(value)
    return ScanRun(
        data_dir=data_dir,
        root=root,
        wall=wall,
        reported=float(match.group(1)) if match else None,
        counts=counts,
        max_rss=parse_gnu_time(report),
        tree_peak=sampler.peak,
        returncode=proc.returncode,
        log=log_path,
        cpu=used,
    )


def indexed(ctx: BenchContext, name: str, root: Path) -> ScanRun:
    """A data folder holding `root` fully indexed by `imageserver scan --full` (made once)."""
    key = f"indexed:{name}"
    if key not in ctx.cache:
        ctx.log(
            f"indexing {root} with `imageserver scan --full` (hashes, metadata, thumbnails) ..."
        )
        run = run_scan(ctx, ctx.path(f"data-{name}"), root, "--full")
        ctx.log(f"  scan done: {run.wall:.1f} s, rc={run.returncode}, {run.counts_text()}")
        if run.returncode != 0 or not run.counts:
            tail = run.log.read_text(errors="replace")[-3000:] if run.log else ""
            raise RuntimeError(f"imageserver scan failed (rc={run.returncode}):\n{tail}")
        ctx.cache[key] = run
    scan: ScanRun = ctx.cache[key]
    return scan


def open_in_process(data_dir: Path, root: Path) -> Any:
    """An AppContext on an existing data folder, as the server process would build it."""
    from imageserver.config import LibrarySeed, Settings
    from imageserver.server.bootstrap import bootstrap

    settings = Settings(
        _env_file=None,
        data_dir=data_dir,
        libraries=[LibrarySeed(name=LIBRARY_NAME, root_path=root)],
        admin_password=ADMIN_PASSWORD,
        **SCOPE,
    )
    return bootstrap(settings).ctx
