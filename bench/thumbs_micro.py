"""Thumbnail micro-benchmark: make_thumbnails vs one `vipsthumbnail` process, same files.

    .venv/bin/python -m bench.thumbs_micro [--rounds 3] [--threads 1 2] [--pillow] [--giant]

Files: every photo in corpus/photos and corpus/faces that vipsthumbnail can read (RAW
excluded, it cannot). Reference: `vipsthumbnail -s 1440 -o DIR/%s.webp[Q=80] f1 f2 ...`
(one process, one size; also with effort=2, the WebP effort of our large size). Ours:
make_thumbnails(..., 250, 1440, 80) per file (two sizes), sequentially and with N threads
as the drain runs it. Rounds alternate reference and ours;
the best round of each is reported, wall and CPU (user+sys) seconds. `--giant` measures
peak RSS of one make_thumbnails call on broken/giant-image.jpg in a fresh process.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from imageserver.media import decode
from imageserver.media.formats import Format, classify
from imageserver.media.thumbs import ThumbnailError, make_thumbnails

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
# vipsthumbnail as run by hand, and with our large-size WebP effort (same encoder work).
REFERENCES = {"vipsthumbnail": "Q=80", "vipsthumbnail effort=2": "Q=80,effort=2"}


def corpus_photos() -> list[Path]:
    files = []
    for folder in ("photos", "faces"):
        for path in sorted((CORPUS / folder).rglob("*")):
            found = classify(path) if path.is_file() else None
            if found is not None and found.format.kind == "photo" and not found.format.is_raw:
                files.append(path)
    return files


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def reference(files: list[Path], out: Path, options: str) -> tuple[float, float]:
    cpu, start = _cpu_children(), time.perf_counter()
    subprocess.run(
        ["vipsthumbnail", "-s", "1440", "-o", f"{out}/%s.webp[{options}]", *map(str, files)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return time.perf_counter() - start, _cpu_children() - cpu


def ours(files: list[Path], out: Path, threads: int) -> tuple[float, float, int]:
    jobs: list[tuple[Path, Format]] = []
    for path in files:
        found = classify(path)
        assert found is not None
        jobs.append((path, found.format))

    def one(item: tuple[int, tuple[Path, Format]]) -> int:
        n, (path, fmt) = item
        try:
            make_thumbnails(path, fmt, out / f"{n}-s.webp", out / f"{n}-l.webp", 250, 1440, 80)
        except ThumbnailError:
            return 1
        return 0

    cpu, start = _cpu_self(), time.perf_counter()
    if threads == 1:
        failed = sum(map(one, enumerate(jobs)))
    else:
        with ThreadPoolExecutor(threads) as pool:
            failed = sum(pool.map(one, enumerate(jobs)))
    return time.perf_counter() - start, _cpu_self() - cpu, failed


GIANT_CODE = """
import tempfile
from pathlib import Path
from imageserver.media import decode
from imageserver.media.formats import Format, classify
from imageserver.media.thumbs import make_thumbnails

def hwm():  # VmHWM resets at exec; ru_maxrss would inherit the parent's peak
    with open("/proc/self/status") as fh:
        return next(int(ln.split()[1]) for ln in fh if ln.startswith("VmHWM")) / 1024

base = hwm()
src = Path(SRC)
out = Path(tempfile.mkdtemp())
make_thumbnails(src, classify(src).format, out / "s.webp", out / "l.webp", 250, 1440, 80)
print(f"giant-image.jpg (20000x14000 baseline JPEG): peak RSS {hwm():.0f} MB "
      f"({hwm() - base:.0f} MB above the {base:.0f} MB of imported modules)")
"""


def pillow_variant(files: list[Path], out: Path) -> tuple[float, float, int]:
    """The road not taken: Pillow with draft() shrink-on-load, same sizes and WebP method.

    A lower bound for a Pillow design: no ICC conversion, no decode limits, HEIC through the
    pillow-heif plugin. If this is slower than ours, Pillow cannot win with more features.
    """
    from PIL import Image, ImageOps

    decode.pillow_heif_module().register_heif_opener()
    cpu, start = _cpu_self(), time.perf_counter()
    failed = 0
    for n, path in enumerate(files):
        try:
            with Image.open(path) as opened:
                opened.draft("RGB", (1440, 1440))
                image = ImageOps.exif_transpose(opened).convert("RGB")
            image.thumbnail((1440, 1440), Image.Resampling.LANCZOS, reducing_gap=3.0)
            image.save(out / f"{n}-l.webp", "WEBP", quality=80, method=2)
            image.thumbnail((250, 250), Image.Resampling.LANCZOS)
            image.save(out / f"{n}-s.webp", "WEBP", quality=80, method=4)
        except (OSError, ValueError, SyntaxError):
            failed += 1
    return time.perf_counter() - start, _cpu_self() - cpu, failed


def giant() -> None:
    """One call on broken/giant-image.jpg in a fresh process: its peak RSS alone."""
    src = CORPUS / "broken" / "giant-image.jpg"
    subprocess.run([sys.executable, "-c", GIANT_CODE.replace("SRC", repr(str(src)))], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--giant", action="store_true")
    parser.add_argument("--pillow", action="store_true", help="also time the Pillow variant")
    args = parser.parse_args()
    files = corpus_photos()
    n = len(files)
    print(f"{n} photos, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    best: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="thumbs-micro-") as tmp:
        for _ in range(args.rounds):
            variants = [*REFERENCES.items(), *((f"ours x{t}", t) for t in args.threads)]
            if args.pillow:
                variants.append(("pillow variant x1", 0))
            for name, run in variants:
                out = Path(tmp) / str(len(best))
                out.mkdir(exist_ok=True)
                if isinstance(run, str):
                    wall, cpu = reference(files, out, run)
                elif run == 0:
                    wall, cpu, failed = pillow_variant(files, out)
                else:
                    wall, cpu, failed = ours(files, out, run)
                    assert failed == 0, f"{failed} files failed"
                if name not in best or wall < best[name][0]:
                    best[name] = (wall, cpu)
    ref_wall = best["vipsthumbnail"][0]
    for name, (wall, cpu) in best.items():
        print(
            f"{name:24} {wall:6.2f} s wall {n / wall:6.1f} files/s  cpu {cpu:6.2f} s"
            f"  ratio vs vipsthumbnail {ref_wall / wall:4.2f}x"
        )
    if args.giant:
        giant()


if __name__ == "__main__":
    main()
