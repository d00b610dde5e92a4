"""Indexing a whole library with `imageserver scan --full`: peak memory and end-to-end time.

The scan drains until every backlog is empty (rows, hashes, metadata, thumbnails), which
is what "browsable" means. Its reference is the sum of the tools that would do the same
work on the same files: b3sum + exiftool (batch) + vipsthumbnail (one size only).
"""

from __future__ import annotations

import os

from bench import refs, server
from bench.context import BenchContext
from bench.table import Row, cpu_text

GROUP = "indexing"
RSS_LIMIT_MB = 500.0


def run(ctx: BenchContext) -> list[Row]:
    lib = ctx.library()
    n = len(lib.files)
    ctx.warm(lib.files)
    scan = server.indexed(ctx, "lib", lib.root)
    c = scan.counts
    ctx.log(f"{GROUP}: reference tools over the same {n} files (cached runs are reused) ...")
    b3 = refs.b3sum(ctx, lib.files, ctx.args.repeats)
    ex = refs.exiftool(ctx, lib.files)
    vt = refs.vipsthumbnail_for(ctx, lib.files, ctx.args.full_reference)
    ref_total = b3.seconds + ex.seconds + vt.seconds
    parts = (
        f"{b3.name} {b3.seconds:.1f} s + {ex.name} {ex.seconds:.1f} s + {vt.name} "
        f"{vt.seconds:.1f} s" + (f" ({vt.detail})" if vt.extrapolated else "")
    )
    pending, failed = c.get("pending", 0), c.get("failed", 0)
    caveat = f" (NOT COMPLETE: {pending} items still pending)" if pending else ""
    if failed:
        caveat += f" ({failed} drain failures: see the scan log)"
    counts = scan.counts_text()
    rss_mb = scan.max_rss / 1e6 if scan.max_rss is not None else scan.tree_peak / 1e6
    return [
        Row(
            GROUP,
            "peak RSS (scan --full)",
            "MB",
            rss_mb,
            target=RSS_LIMIT_MB,
            goal="lower",
            note=f"largest process (GNU time -v max RSS) of `imageserver scan --full` on {n} "
            f"files; whole process tree sampled every 0.25 s: {scan.tree_peak / 1e6:,.0f} MB "
            "(target quoted for 100k files)"
            + (
                f"; MALLOC_ARENA_MAX={arena}"
                if (arena := os.environ.get("MALLOC_ARENA_MAX"))
                else ""
            ),
            details={"max_rss_bytes": scan.max_rss, "tree_peak_bytes": scan.tree_peak},
        ),
        Row(
            GROUP,
            "time to browsable (scan --full)",
            "s",
            scan.wall,
            ref_total,
            "sum of tools",
            target=1.3,
            goal="lower",
            note=f"whole `imageserver scan --full` process, {n} files, warm cache: {counts}"
            + caveat
            + f"; reference = {parts}; "
            + cpu_text(scan.cpu, b3.cpu + ex.cpu + vt.cpu),
            details={
                "scan_wall_seconds": scan.wall,
                "scan_reported_seconds": scan.reported,
                "scan_cpu": scan.cpu,
                "reference_cpu": b3.cpu + ex.cpu + vt.cpu,
                "counts": c,
                "reference": {r.name: r.seconds for r in (b3, ex, vt)},
                "vips_extrapolated": vt.extrapolated,
            },
        ),
    ]
