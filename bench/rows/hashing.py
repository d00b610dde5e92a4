"""Content hashing: our blake3 `hash_file` in the drain's thread pool vs b3sum / sha256sum."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench import refs, timing
from bench.context import BenchContext
from bench.table import Row, cpu_text

GROUP = "hashing"


def ours(files: list[Path], threads: int) -> tuple[timing.Timed, list[str]]:
    """hash_file over every file, `threads` at a time: how the hash drain runs."""
    from imageserver.media.hashing import hash_file

    with ThreadPoolExecutor(threads) as pool:
        return timing.measure(lambda: list(pool.map(hash_file, files)))


def run(ctx: BenchContext) -> list[Row]:
    lib = ctx.library()
    files = lib.files
    mb = lib.total_bytes / 1e6
    repeats = max(3, ctx.args.repeats)  # a run is ~1 s at 10k files: cheap, and noisy alone
    ctx.log(f"{GROUP}: warming the page cache ({mb:,.0f} MB) ...")
    ctx.warm(files)
    samples: list[timing.Timed] = []
    digests: list[str] = []
    for _ in range(repeats):
        measured, digests = ours(files, ctx.threads)
        samples.append(measured)
    best = min(samples, key=lambda t: t.seconds)
    our_s = best.seconds
    ctx.log(f"  ours (hash_file x{ctx.threads} threads): {our_s:.2f} s")
    b3 = refs.b3sum(ctx, files, repeats)
    theirs = refs.b3sum_digests(ctx, files)
    wrong = sum(1 for p, d in zip(files, digests, strict=True) if theirs.get(str(p)) != d)
    sha = refs.sha256sum(ctx, files)
    ctx.log(f"  {sha.name}: {sha.seconds:.2f} s")
    base = (
        f"warm page cache, best of {repeats}; ours = hash_file in a {ctx.threads}-thread pool "
        f"over {len(files)} files ({mb:,.0f} MB)"
    )
    check = "digests match b3sum" if wrong == 0 else f"{wrong} DIGESTS DIFFER FROM b3sum"
    return [
        Row(
            GROUP,
            "blake3 throughput",
            "MB/s",
            mb / our_s,
            mb / b3.seconds,
            b3.name,
            target=0.9,
            goal="higher",
            note=f"{base}; reference = faster of {b3.detail}; {check}; "
            + cpu_text(best.cpu, b3.cpu),
            details={
                "ours_seconds": our_s,
                "reference_seconds": b3.seconds,
                "ours_cpu": best.cpu,
                "reference_cpu": b3.cpu,
                "mismatches": wrong,
            },
        ),
        Row(
            GROUP,
            "vs sha256sum",
            "MB/s",
            mb / our_s,
            mb / sha.seconds,
            sha.name,
            goal="info",
            note="one sha256sum run (context only)",
            details={"reference_seconds": sha.seconds},
        ),
    ]
