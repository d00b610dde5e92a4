"""Metadata micro-benchmark: our reader vs one batched `exiftool -j -n` over the same files.

    .venv/bin/python -m bench.metadata_micro [--copies 20] [--processes 1 2] [--rounds 2]

Copies the corpus photos (all formats, RAW included) `--copies` times into a temp folder,
warms the page cache, then times the reference and our reader (open_reader-equivalent,
read_many in chunks of 200 as the drain calls it, close) alternately, best of `--rounds`.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from imageserver.media.exiftool import ExifTool
from imageserver.media.formats import classify
from imageserver.media.metadata import ExifToolReader, MetadataError

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
CHUNK = 200


def cpu_seconds() -> float:
    """CPU of this process and its waited-for children: steadier than wall time on a
    shared machine (exiftool processes count once they have exited)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def build(dest: Path, copies: int) -> list[Path]:
    for n in range(copies):
        shutil.copytree(CORPUS / "photos", dest / f"c{n:03d}")
    files = sorted(p for p in dest.rglob("*") if p.is_file())
    for path in files:
        path.read_bytes()  # warm the page cache
    return files


def reference(files: list[Path], workdir: Path) -> tuple[float, float]:
    argfile = workdir / "files.args"
    argfile.write_text("".join(f"{p}\n" for p in files), encoding="utf-8")
    cpu = cpu_seconds()
    start = time.perf_counter()
    subprocess.run(
        ["exiftool", "-j", "-n", "-@", str(argfile)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return time.perf_counter() - start, cpu_seconds() - cpu


def ours(files: list[Path], processes: int, fast_jpeg: bool) -> tuple[float, float, int]:
    items = []
    for path in files:
        found = classify(path)
        if found is not None:
            items.append((path, found.format))
    cpu = cpu_seconds()
    start = time.perf_counter()
    reader = ExifToolReader(ExifTool(processes=processes), fast_jpeg=fast_jpeg)
    failed = 0
    try:
        for at in range(0, len(items), CHUNK):
            results = reader.read_many(items[at : at + CHUNK])
            failed += sum(isinstance(r, MetadataError) for r in results)
    finally:
        reader.close()
    return time.perf_counter() - start, cpu_seconds() - cpu, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="metadata-micro-") as tmp:
        work = Path(tmp)
        files = build(work / "lib", args.copies)
        n = len(files)
        print(f"{n} files ({args.copies} copies of corpus/photos)")
        ref_wall, ref_cpu = min(reference(files, work) for _ in range(args.rounds))
        print(
            f"exiftool -j -n (1 batch): {ref_wall:6.2f} s  {n / ref_wall:7.1f} files/s  "
            f"cpu {ref_cpu:6.2f} s"
        )
        for fast_jpeg in (False, True):
            for processes in args.processes:
                wall, cpu, failed = min(
                    ours(files, processes, fast_jpeg) for _ in range(args.rounds)
                )
                print(
                    f"ours, {processes} exiftool process(es), fast_jpeg={fast_jpeg!s:5}: "
                    f"{wall:6.2f} s  {n / wall:7.1f} files/s ({ref_wall / wall:.2f}x)  "
                    f"cpu {cpu:6.2f} s ({ref_cpu / cpu:.2f}x less)  {failed} MetadataError"
                )


if __name__ == "__main__":
    main()
