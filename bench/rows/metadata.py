"""Metadata: our reader's `read_many` in chunks of 200 (as the drain calls it) vs exiftool."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import refs, timing
from bench.agreement import Agreement, compare
from bench.context import BenchContext
from bench.table import Row, cpu_text

GROUP = "metadata"
CHUNK = 200  # imageserver.media.drains.WRITE_CHUNK: one read_many call per write chunk


def ours(items: list[tuple[Path, Any]]) -> tuple[timing.Timed, list[Any], str]:
    """(seconds, results, reader name): open the reader, read every chunk, close it."""
    from imageserver.media.metadata import open_reader

    def go() -> tuple[list[Any], str]:
        reader = open_reader()
        results: list[Any] = []
        try:
            for start in range(0, len(items), CHUNK):
                results += reader.read_many(items[start : start + CHUNK])
        finally:
            reader.close()
        return results, str(getattr(reader, "name", type(reader).__name__))

    measured, (results, name) = timing.measure(go)
    return measured, results, name


def run(ctx: BenchContext) -> list[Row]:
    from imageserver.media.formats import classify
    from imageserver.media.metadata import MetadataError

    lib = ctx.library()
    files = lib.files
    ctx.warm(files)
    items = []
    for path in files:
        found = classify(path)
        assert found is not None, path
        items.append((path, found.format))
    ctx.log(f"{GROUP}: ours over {len(files)} files ...")
    measured, results, reader_name = ours(items)
    our_s = measured.seconds
    ctx.log(f"  ours ({reader_name}): {our_s:.1f} s")
    ctx.log(f"{GROUP}: exiftool -j -n over {len(files)} files ...")
    ref = refs.exiftool(ctx, files)
    ctx.log(f"  {ref.name}: {ref.seconds:.1f} s")

    by_path = refs.exiftool_json(ctx, files)
    agreement = Agreement()
    for path, (_, fmt), origin, result in zip(files, items, lib.origins, results, strict=True):
        if isinstance(result, MetadataError):
            agreement.failed += 1
            continue
        entry = by_path.get(str(path))
        if entry is not None:
            compare(agreement, origin, entry, result, heif=fmt.name == "heic")
    ctx.cache["agreement"] = agreement
    n = len(files)
    return [
        Row(
            GROUP,
            "files/s",
            "files/s",
            n / our_s,
            n / ref.seconds,
            ref.name,
            target=1.0,
            goal="higher",
            note=f"reader {reader_name!r}: open_reader(), read_many() in chunks of {CHUNK}, "
            f"close(), one thread (as the drain); warm cache; {n} files; "
            + cpu_text(measured.cpu, ref.cpu),
            details={
                "ours_seconds": our_s,
                "reference_seconds": ref.seconds,
                "ours_cpu": measured.cpu,
                "reference_cpu": ref.cpu,
                "reader": reader_name,
            },
        ),
        Row(
            GROUP,
            "agreement with exiftool",
            "%",
            agreement.percent(),
            goal="info",
            note=f"all {n} files; {agreement.summary()}; reader errors on {agreement.failed} "
            "files; disagreeing sources are listed below the table",
            details={
                "failed": agreement.failed,
                "fields": {
                    k: {"compared": agreement.compared[k], "agreed": agreement.agreed[k]}
                    for k in agreement.compared
                },
                "examples": {
                    k: {s: [str(a), str(b)] for s, (a, b) in v.items()}
                    for k, v in agreement.examples.items()
                },
            },
        ),
    ]


def disagreements(ctx: BenchContext, limit: int = 6) -> str:
    """A short listing of which corpus sources disagree, per field, for the console."""
    agreement: Agreement | None = ctx.cache.get("agreement")
    if agreement is None or not agreement.examples:
        return ""
    lines = ["metadata disagreements (corpus source: exiftool vs ours):"]
    for name, examples in agreement.examples.items():
        lines.append(f"  {name}: {len(examples)} sources")
        for source, (theirs, got) in list(examples.items())[:limit]:
            lines.append(f"    {source}: {theirs!s} vs {got!s}")
    return "\n".join(lines)
