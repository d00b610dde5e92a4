"""Thumbnails: our `make_thumbnails` (two sizes) in the drain's pool vs vipsthumbnail (one size)."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from bench import refs, timing
from bench.context import BenchContext
from bench.table import Row, cpu_text

if TYPE_CHECKING:
    from imageserver.media.formats import Format

GROUP = "thumbnails"


def ours(ctx: BenchContext, files: list[Path]) -> tuple[timing.Timed, int, list[str]]:
    """(time, failures, first failure reasons) for both sizes of every file."""
    from imageserver.config import Settings
    from imageserver.media.formats import classify
    from imageserver.media.thumbs import ThumbnailError, make_thumbnails

    s = Settings(_env_file=None)
    out = ctx.path("thumbs-ours")
    out.mkdir(exist_ok=True)
    jobs = []
    for i, path in enumerate(files):
        found = classify(path)
        assert found is not None, path
        jobs.append((i, path, found.format))

    def one(job: tuple[int, Path, Format]) -> str | None:
        i, path, fmt = job
        try:
            make_thumbnails(
                path,
                fmt,
                out / f"{i}-small.webp",
                out / f"{i}-large.webp",
                s.thumb_small_px,
                s.thumb_large_px,
                s.thumb_quality,
            )
        except ThumbnailError as exc:
            return f"{path.name}: {exc.reason.replace(str(path), '<file>')[:120]}"
        return None

    with ThreadPoolExecutor(ctx.threads) as pool:
        measured, results = timing.measure(lambda: list(pool.map(one, jobs)))
    shutil.rmtree(out, ignore_errors=True)
    failures = [r for r in results if r is not None]
    return measured, len(failures), failures[:5]


def run(ctx: BenchContext) -> list[Row]:
    lib = ctx.library()
    count = min(len(lib.files), ctx.args.thumb_files)
    files = lib.subset(count)
    ctx.cache["thumb_subset_size"] = count
    ctx.warm(lib.files)
    ctx.log(f"{GROUP}: ours over {count} files ...")
    measured, failed, reasons = ours(ctx, files)
    our_s = measured.seconds
    ctx.log(f"  ours: {our_s:.1f} s, {failed} failed")
    ctx.log(f"{GROUP}: vipsthumbnail x{ctx.threads} procs over {count} files ...")
    ref = refs.vipsthumbnail(ctx, files, ctx.threads)
    ctx.log(f"  {ref.name}: {ref.seconds:.1f} s ({ref.detail})")
    note = (
        f"{count} files evenly spread over the library; ours writes two WebP sizes "
        f"(250 + 1440 px, Q80) with {ctx.threads} threads, the reference ONE size "
        f"(-s 1440x1440>, never enlarges, WebP Q80) in {ctx.threads} processes over equal "
        f"shares; ours failed on {failed} files, reference: {ref.detail}; "
        + cpu_text(measured.cpu, ref.cpu)
    )
    if reasons:
        note += "; first failures: " + " | ".join(reasons[:3])
    return [
        Row(
            GROUP,
            "files/s",
            "files/s",
            count / our_s,
            count / ref.seconds,
            ref.name,
            target=1.0,
            goal="higher",
            note=note,
            details={
                "ours_seconds": our_s,
                "reference_seconds": ref.seconds,
                "ours_cpu": measured.cpu,
                "reference_cpu": ref.cpu,
                "ours_failed": failed,
                "failures": reasons,
            },
        )
    ]
